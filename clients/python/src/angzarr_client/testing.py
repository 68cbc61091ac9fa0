"""Handler tests without any framework running: given events, when a
command, then events or a rejection.

.. code-block:: python

    out = Scenario(player).given(registered, deposited_100).when(DepositFunds(amount=usd(50)))
    assert out.event(FundsDeposited).new_balance.amount == 150
    assert Scenario(player).when(DepositFunds(amount=usd(5))).rejection == "player does not exist"
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import grpc
from google.protobuf import any_pb2, message

from .aggregate import Aggregate
from .anys import full_name, pack, type_name, unpack, unpack_as
from .errors import StatusError
from .proto.angzarr import process_manager_pb2, saga_pb2, types_pb2, upcaster_pb2

S = TypeVar("S", bound=message.Message)
E = TypeVar("E", bound=message.Message)


def cover(domain: str, root: uuid.UUID | bytes | None = None, correlation_id: str = "") -> types_pb2.Cover:
    """A cover for ``domain``; ``root`` as a UUID or its 16 bytes."""
    c = types_pb2.Cover(domain=domain, correlation_id=correlation_id)
    if root is not None:
        c.root.value = root.bytes if isinstance(root, uuid.UUID) else bytes(root)
    return c


def event_book(
    the_cover: types_pb2.Cover, events: Iterable[message.Message | any_pb2.Any], first_sequence: int = 0
) -> types_pb2.EventBook:
    """A book of ``events`` at sequences ``first_sequence``.., with
    ``next_sequence`` set: a history for an aggregate, or what a projector or
    saga is delivered (``first_sequence`` > 0 for a later slice of a stream)."""
    pages = [
        types_pb2.EventPage(header=types_pb2.PageHeader(sequence=first_sequence + i), event=pack(e))
        for i, e in enumerate(events)
    ]
    return types_pb2.EventBook(cover=the_cover, pages=pages, next_sequence=first_sequence + len(pages))


def saga_request(source: types_pb2.EventBook) -> saga_pb2.SagaHandleRequest:
    """What the coordinator sends a saga: ``source``, the events to react to."""
    return saga_pb2.SagaHandleRequest(source=source)


def pm_prepare_request(
    trigger: types_pb2.EventBook, process_state: types_pb2.EventBook | None = None
) -> process_manager_pb2.ProcessManagerPrepareRequest:
    """What the coordinator sends a process manager's ``Prepare``."""
    out = process_manager_pb2.ProcessManagerPrepareRequest(trigger=trigger)
    if process_state is not None:
        out.process_state.CopyFrom(process_state)
    return out


def pm_handle_request(
    trigger: types_pb2.EventBook,
    process_state: types_pb2.EventBook | None = None,
    destinations: Mapping[str, int] | None = None,
) -> process_manager_pb2.ProcessManagerHandleRequest:
    """What the coordinator sends a process manager's ``Handle``: the
    trigger, the process's stored book (``None``: a new process) and the
    next sequence of each prepared destination, by domain."""
    out = process_manager_pb2.ProcessManagerHandleRequest(trigger=trigger, destination_sequences=dict(destinations or {}))
    if process_state is not None:
        out.process_state.CopyFrom(process_state)
    return out


def upcast_request(domain: str, events: Iterable[message.Message | any_pb2.Any], first_sequence: int = 0) -> upcaster_pb2.UpcastRequest:
    """What the coordinator sends an upcaster: ``events`` of ``domain`` at
    sequences ``first_sequence``.."""
    book = event_book(types_pb2.Cover(domain=domain), events, first_sequence)
    return upcaster_pb2.UpcastRequest(domain=domain, events=book.pages)


def contextual_command(
    history: types_pb2.EventBook, command: message.Message, expected_sequence: int | None = None
) -> types_pb2.ContextualCommand:
    """What the coordinator would send: ``history`` and ``command`` (one page
    whose header carries ``expected_sequence``, by default ``next_sequence``)."""
    seq = history.next_sequence if expected_sequence is None else expected_sequence
    book = types_pb2.CommandBook(
        cover=history.cover,
        pages=[types_pb2.CommandPage(header=types_pb2.PageHeader(sequence=seq), command=pack(command))],
    )
    return types_pb2.ContextualCommand(events=history, command=book)


@dataclass
class Outcome(Generic[S]):
    """What a command produced."""

    #: Accepted events (packed), empty on failure.
    anys: list[any_pb2.Any]
    #: The state after the events (unchanged on failure).
    state: S
    #: The failure the coordinator would report, or ``None``.
    error: StatusError | None = None
    #: The full response on success.
    response: object = field(default=None, repr=False)

    @property
    def accepted(self) -> bool:
        return self.error is None

    @property
    def code(self) -> grpc.StatusCode:
        """``OK`` or the failure's status code."""
        return grpc.StatusCode.OK if self.error is None else self.error.code

    @property
    def events(self) -> list[message.Message]:
        """The accepted events, decoded; raises ``AssertionError`` if the command failed."""
        if self.error is not None:
            raise AssertionError(f"expected events, the command failed: {self.error!r}")
        return [unpack(a) for a in self.anys]

    @property
    def event_types(self) -> list[str]:
        return [type_name(a.type_url) for a in self.anys]

    def event(self, event_type: type[E]) -> E:
        """The first event of ``event_type``; raises ``AssertionError`` if absent."""
        if self.error is not None:
            raise AssertionError(f"expected a {full_name(event_type)}, the command failed: {self.error!r}")
        for a in self.anys:
            found = unpack_as(a, event_type)
            if found is not None:
                return found
        raise AssertionError(f"no {full_name(event_type)} among {self.event_types}")

    @property
    def rejection(self) -> str:
        """The rejection reason; raises ``AssertionError`` if the command was
        accepted or failed for another reason than a business rule."""
        if self.error is None or self.error.code != grpc.StatusCode.FAILED_PRECONDITION:
            got = repr(self.error) if self.error is not None else f"accepted {self.event_types}"
            raise AssertionError(f"expected a rejection, got {got}")
        return self.error.message


class Scenario(Generic[S]):
    """A given/when/then run of one aggregate. ``given`` returns a new
    scenario, so one history can be reused for several ``when``."""

    def __init__(self, aggregate: Aggregate[S], history: Iterable[message.Message | any_pb2.Any] = (), root=None):
        self.aggregate = aggregate
        self.history: list[any_pb2.Any] = [pack(e) for e in history]
        self.root = root if root is not None else uuid.uuid4()

    def given(self, *events: message.Message | any_pb2.Any) -> Scenario[S]:
        """A scenario with ``events`` appended to the history."""
        return Scenario(self.aggregate, [*self.history, *events], self.root)

    @property
    def state(self) -> S:
        """The state the history builds."""
        return self.aggregate.state_of(self.book())

    def book(self) -> types_pb2.EventBook:
        return event_book(cover(self.aggregate.domain, self.root), self.history)

    def when(self, command: message.Message) -> Outcome[S]:
        """Runs ``command`` against the history (through :meth:`Aggregate.execute`)."""
        book = self.book()
        before = self.aggregate.state_of(book)
        try:
            response = self.aggregate.execute(contextual_command(book, command))
        except StatusError as e:
            return Outcome(anys=[], state=before, error=e)
        anys = [p.event for p in response.events.pages]
        state = before
        for a in anys:
            state = self.aggregate.apply_event(state, a)
        return Outcome(anys=anys, state=state, response=response)
