"""A process manager: a saga with memory. Its state is event-sourced like an
aggregate's, one process per correlation id; each trigger event (from any
domain it listens to) may record process events and send commands.

.. code-block:: python

    flow = ProcessManager("hand-flow", orchestration_pb2.HandFlowState)

    @flow.apply(orchestration_pb2.HandFlowStarted)
    def started(state, event):
        state.phase = "dealing"

    @flow.prepare(table_pb2.HandStarted)
    def hand_of(event, state):             # -> list[Cover]: whose next sequence Handle needs
        return [Cover(domain="hand", root=UUID(value=event.hand_root))]

    @flow.on(table_pb2.HandStarted)
    def deal(event, state, trigger):       # -> Reaction | None
        if state.phase or trigger.destinations.get("hand", 0):
            return Reaction.none()
        return (Reaction.none()
                .record(orchestration_pb2.HandFlowStarted(...))
                .send(command("hand", event.hand_root, hand_pb2.DealCards(...))))

The coordinator calls ``ProcessManagerService.Prepare`` (which aggregates'
next sequences the reaction needs), then ``Handle`` with the trigger, the
process's stored book and those sequences. It commits the process events,
the commands and the consumed trigger in one transaction, so a process never
forgets a step it took nor takes one twice.
"""

from __future__ import annotations

import logging
from types import MappingProxyType
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any as AnyType, Generic, TypeVar

from google.protobuf import any_pb2, message

from ._events import EventHandlers
from .aggregate import Aggregate, next_sequence
from .anys import full_name, pack
from .errors import InternalError, InvalidArgumentError, StatusError
from .proto.angzarr import process_manager_pb2, types_pb2
from .saga import _problem

log = logging.getLogger("angzarr_client")

S = TypeVar("S", bound=message.Message)

#: ``def react(event, state, trigger) -> Reaction | None``.
OnHandler = Callable[[AnyType, AnyType, "Trigger"], "Reaction | None"]
#: ``def prepare(event, state) -> list[Cover]``.
PrepareHandler = Callable[[AnyType, AnyType], "Iterable[types_pb2.Cover] | types_pb2.Cover | None"]
#: ``def apply(state, event) -> None`` (mutate ``state``), or return a new state.
Applier = Callable[[AnyType, AnyType], "message.Message | None"]


@dataclass(frozen=True)
class Trigger:
    """The trigger an ``on`` handler reacts to, beyond the event itself."""

    #: Cover of the aggregate that emitted the event.
    cover: types_pb2.Cover
    #: The event's sequence in that aggregate.
    sequence: int
    #: Next sequence of each destination named by ``prepare``, by domain.
    destinations: Mapping[str, int]


@dataclass
class Reaction:
    """What a process manager does about one trigger: process events to
    record (its own history) and commands for other aggregates."""

    events: list[any_pb2.Any] = field(default_factory=list)
    commands: list[types_pb2.CommandBook] = field(default_factory=list)

    @classmethod
    def none(cls) -> Reaction:
        """Nothing to do."""
        return cls()

    def record(self, event: message.Message) -> Reaction:
        """Records a process event (packed); returns the reaction."""
        if not isinstance(event, message.Message):
            raise TypeError(f"a process event must be a protobuf message, not {event!r}")
        self.events.append(pack(event))
        return self

    def send(self, command: types_pb2.CommandBook) -> Reaction:
        """Emits a command (see :func:`angzarr_client.command`); returns the reaction."""
        if not isinstance(command, types_pb2.CommandBook):
            raise TypeError(f"send takes a CommandBook (see angzarr_client.command), not {command!r}")
        self.commands.append(command)
        return self


def _register(registry: EventHandlers, event_type, fn, chain):
    """``fn`` given: registers it and returns ``chain``; else a decorator."""
    decorator = registry.register(event_type)
    if fn is None:
        return decorator
    decorator(fn)
    return chain


class ProcessManager(Generic[S]):
    """A process manager called ``name`` (also the domain of its own log),
    with state type ``state_type``.

    ``apply``, ``on`` and ``prepare`` are decorators (``@pm.on(Type)``), or
    take the function as a second argument and return the process manager
    (``pm.on(Type, fn).on(Other, fn2)``)."""

    def __init__(self, name: str, state_type: type[S]):
        if not name:
            raise ValueError("a process manager needs a name")
        self.name = name
        self.state_type = state_type
        self._state: Aggregate[S] = Aggregate(name, state_type)
        self._on = EventHandlers(f"process manager {name}")
        self._prepare = EventHandlers(f"process manager {name} (prepare)")

    def __repr__(self) -> str:
        return f"ProcessManager({self.name!r}, {full_name(self.state_type)})"

    # -- registration -----------------------------------------------------

    def apply(self, event_type: type[message.Message], fn: Applier | None = None):
        """How process event ``event_type`` changes the state:
        ``def apply(state, event)`` mutating ``state`` (or returning a new one)."""
        decorator = self._state.applier(event_type)
        if fn is None:
            return decorator
        decorator(fn)
        return self

    def on(self, event_type: type[message.Message], fn: OnHandler | None = None):
        """The reaction to trigger events of ``event_type``:
        ``def react(event, state, trigger) -> Reaction | None``. ``state`` is
        a copy: the state changes only by the recorded events."""
        return _register(self._on, event_type, fn, self)

    def prepare(self, event_type: type[message.Message], fn: PrepareHandler | None = None):
        """The aggregates whose next sequence the reaction to ``event_type``
        needs: ``def prepare(event, state) -> list[Cover]``; ``Handle`` gets
        them in ``trigger.destinations`` by domain."""
        return _register(self._prepare, event_type, fn, self)

    @property
    def event_types(self) -> list[str]:
        """Full names of the trigger event types this process manager reacts to."""
        return self._on.event_types

    # -- state --------------------------------------------------------------

    def state_of(self, book: types_pb2.EventBook | None) -> S:
        """The state of a process's stored book (snapshot, then pages)."""
        return self._state.state_of(book if book is not None else types_pb2.EventBook())

    # -- the contract -------------------------------------------------------

    def handle_prepare(
        self, request: process_manager_pb2.ProcessManagerPrepareRequest
    ) -> process_manager_pb2.ProcessManagerPrepareResponse:
        """``ProcessManagerService.Prepare`` without any network: the covers
        named by ``prepare`` for each trigger event. Raises only
        :class:`StatusError`."""
        state = self.state_of(request.process_state if request.HasField("process_state") else None)
        out = process_manager_pb2.ProcessManagerPrepareResponse()
        for delivered in self._prepare.pages(request.trigger):
            entry = self._prepare.handlers.get(delivered.name)
            if entry is None:
                continue
            cls, fn = entry
            event = self._decode(cls, delivered.page.event.value, delivered.sequence)
            result = self._call("prepare", delivered.name, fn, event, self._copy(state))
            out.destinations.extend(self._covers(delivered.name, result))
        return out

    def handle(
        self, request: process_manager_pb2.ProcessManagerHandleRequest
    ) -> process_manager_pb2.ProcessManagerHandleResponse:
        """``ProcessManagerService.Handle`` without any network: each trigger
        page's reaction; the process events numbered after the process's
        history, each applied to the state; the new state as the snapshot.
        Raises only :class:`StatusError` (``INVALID_ARGUMENT`` for an
        unreadable request, ``INTERNAL`` for a failing handler)."""
        if not request.HasField("trigger"):
            raise InvalidArgumentError("no trigger")
        process = request.process_state if request.HasField("process_state") else types_pb2.EventBook()
        state = self.state_of(process)
        nxt = next_sequence(process)
        trigger = request.trigger
        destinations = MappingProxyType(dict(request.destination_sequences))
        pages: list[types_pb2.EventPage] = []
        commands: list[types_pb2.CommandBook] = []
        for delivered in self._on.pages(trigger):
            if delivered.page.header.WhichOneof("sequence_type") != "sequence":
                continue
            entry = self._on.handlers.get(delivered.name)
            if entry is None:
                continue
            cls, fn = entry
            event = self._decode(cls, delivered.page.event.value, delivered.sequence)
            t = Trigger(cover=trigger.cover, sequence=delivered.sequence, destinations=destinations)
            reaction = self._reaction(delivered.name, self._call("handler", delivered.name, fn, event, self._copy(state), t))
            for e in reaction.events:
                state = self._state.apply_event(state, e)
                pages.append(types_pb2.EventPage(header=types_pb2.PageHeader(sequence=nxt + len(pages)), event=e))
            commands.extend(reaction.commands)
        book = types_pb2.EventBook(pages=pages)
        if process.HasField("cover"):
            book.cover.CopyFrom(process.cover)
        if pages:
            book.snapshot.CopyFrom(types_pb2.Snapshot(sequence=nxt + len(pages) - 1, state=pack(state)))
        out = process_manager_pb2.ProcessManagerHandleResponse(commands=commands)
        out.process_events.CopyFrom(book)
        return out

    # -- helpers ------------------------------------------------------------

    def _copy(self, state: S) -> S:
        view = self.state_type()
        view.CopyFrom(state)
        return view

    def _decode(self, cls: type[message.Message], payload: bytes, sequence: int) -> message.Message:
        event = cls()
        try:
            event.ParseFromString(payload)
        except message.DecodeError as e:
            raise InvalidArgumentError(
                f"process manager {self.name}: malformed {full_name(cls)} at sequence {sequence}: {e}"
            ) from e
        return event

    def _call(self, what: str, name: str, fn, *args):
        try:
            return fn(*args)
        except StatusError:
            raise
        except Exception as e:  # noqa: BLE001 - a handler bug must not crash the service
            log.exception("process manager %s: %s for %s failed", self.name, what, name)
            raise InternalError(
                f"process manager {self.name}: {what} for `{name}` failed: {type(e).__name__}: {e}"
            ) from e

    def _reaction(self, name: str, result: object) -> Reaction:
        if result is None:
            return Reaction()
        if not isinstance(result, Reaction):
            raise InternalError(
                f"process manager {self.name}: handler for `{name}` returned {type(result).__name__}; "
                "expected a Reaction or None"
            )
        for book in result.commands:
            problem = _problem(book)
            if problem:
                raise InternalError(f"process manager {self.name}: handler for `{name}` sent a bad command book: {problem}")
        return result

    def _covers(self, name: str, result: object) -> list[types_pb2.Cover]:
        if result is None:
            return []
        if isinstance(result, types_pb2.Cover):
            return [result]
        if isinstance(result, (str, bytes, message.Message)) or not isinstance(result, Iterable):
            raise InternalError(
                f"process manager {self.name}: prepare for `{name}` returned {type(result).__name__}; "
                "expected a list of Covers"
            )
        covers = list(result)
        for c in covers:
            if not isinstance(c, types_pb2.Cover):
                raise InternalError(
                    f"process manager {self.name}: prepare for `{name}` returned a {type(c).__name__} among its covers"
                )
        return covers


__all__ = ["OnHandler", "PrepareHandler", "ProcessManager", "Reaction", "Trigger"]
