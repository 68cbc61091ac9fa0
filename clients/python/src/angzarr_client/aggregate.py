"""An aggregate: a state type, appliers and command handlers, dispatched by
proto type name.

.. code-block:: python

    player = Aggregate("player", player_pb2.PlayerState)

    @player.command_handler(player_pb2.DepositFunds)
    def handle_deposit_funds(cmd, state, seq):
        ensure(cmd.amount.amount > 0, "amount must be positive")
        return player_pb2.FundsDeposited(amount=cmd.amount, new_balance=...)

    @player.applier(player_pb2.FundsDeposited)
    def apply_deposited(state, event):
        state.bankroll.CopyFrom(event.new_balance)

The coordinator does everything else: loading history, checking sequences,
persisting, snapshots.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any as AnyType, Generic, TypeVar

from google.protobuf import any_pb2, message

from .anys import full_name, pack, type_name
from .errors import InternalError, InvalidArgumentError, StatusError

# Generated from proto/ when the package is built (angzarr_client.codegen).
from .proto.angzarr import command_handler_pb2, types_pb2

log = logging.getLogger("angzarr_client")

S = TypeVar("S", bound=message.Message)
C = TypeVar("C", bound=message.Message)
E = TypeVar("E", bound=message.Message)
M = TypeVar("M", bound=message.Message)

#: ``def handle(cmd, state, seq) -> event | list[event] | None``. ``seq`` is the
#: sequence the first new event will get.
Handler = Callable[[AnyType, AnyType, int], "message.Message | Iterable[message.Message] | None"]
#: ``def apply(state, event) -> None`` (mutate ``state``), or return a new state.
Applier = Callable[[AnyType, AnyType], "message.Message | None"]


def _decode(cls: type[M], payload: bytes, what: str) -> M:
    out = cls()
    try:
        out.ParseFromString(payload)
    except message.DecodeError as e:
        raise InvalidArgumentError(f"malformed {what} {full_name(cls)}: {e}") from e
    return out


def next_sequence(book: types_pb2.EventBook) -> int:
    """The sequence the next event gets: the coordinator sends it in
    ``next_sequence``; older coordinators did not, so fall back to counting."""
    if book.next_sequence > 0:
        return book.next_sequence
    seqs = [p.header.sequence for p in book.pages if p.header.WhichOneof("sequence_type") == "sequence"]
    if seqs:
        return max(seqs) + 1
    if book.HasField("snapshot") and book.snapshot.HasField("state"):
        return book.snapshot.sequence + 1
    return len(book.pages)


class Aggregate(Generic[S]):
    """An aggregate of one domain, with state type ``state_type``.

    The state is rebuilt for every command from the snapshot and events the
    coordinator sends, and returned as the snapshot state so the coordinator
    can store snapshots without knowing the type."""

    def __init__(self, domain: str, state_type: type[S]):
        if not (isinstance(state_type, type) and issubclass(state_type, message.Message)):
            raise TypeError(f"state_type must be a protobuf message class, not {state_type!r}")
        self.domain = domain
        self.state_type = state_type
        self._handlers: dict[str, tuple[type[message.Message], Handler]] = {}
        self._appliers: dict[str, tuple[type[message.Message], Applier]] = {}

    def __repr__(self) -> str:
        return f"Aggregate({self.domain!r}, {full_name(self.state_type)})"

    # -- registration -----------------------------------------------------

    def command_handler(self, command_type: type[C]) -> Callable[[Handler], Handler]:
        """Decorator registering the handler of ``command_type``:
        ``def handle(cmd, state, seq) -> event | list[event] | None``.
        Raise :class:`CommandRejectedError` (or use :func:`ensure`) to refuse."""
        name = self._message_name(command_type, "command_type")

        def register(fn: Handler) -> Handler:
            if name in self._handlers:
                raise ValueError(f"{self.domain}: a handler for {name} is already registered")
            self._handlers[name] = (command_type, fn)
            return fn

        return register

    def applier(self, event_type: type[E]) -> Callable[[Applier], Applier]:
        """Decorator registering how ``event_type`` changes the state:
        ``def apply(state, event)`` mutating ``state`` (or returning a new one)."""
        name = self._message_name(event_type, "event_type")

        def register(fn: Applier) -> Applier:
            if name in self._appliers:
                raise ValueError(f"{self.domain}: an applier for {name} is already registered")
            self._appliers[name] = (event_type, fn)
            return fn

        return register

    @staticmethod
    def _message_name(cls: object, what: str) -> str:
        if not (isinstance(cls, type) and issubclass(cls, message.Message)):
            raise TypeError(f"{what} must be a protobuf message class, not {cls!r}")
        return full_name(cls)

    @property
    def command_types(self) -> list[str]:
        """Full names of the command types this aggregate handles."""
        return sorted(self._handlers)

    @property
    def event_types(self) -> list[str]:
        """Full names of the event types this aggregate applies."""
        return sorted(self._appliers)

    # -- state ------------------------------------------------------------

    def initial_state(self) -> S:
        return self.state_type()

    def apply_event(self, state: S, event: any_pb2.Any | message.Message) -> S:
        """Folds one event into ``state`` and returns the state. Event types
        without an applier leave it as it is: old events may outlive the code
        that cared about them."""
        if isinstance(event, any_pb2.Any):
            entry = self._appliers.get(type_name(event.type_url))
            if entry is None:
                return state
            cls, fn = entry
            decoded = _decode(cls, event.value, "event")
        else:
            entry = self._appliers.get(full_name(event))
            if entry is None:
                return state
            cls, fn = entry
            decoded = event
        try:
            result = fn(state, decoded)
        except StatusError:
            raise
        except Exception as e:  # noqa: BLE001 - an applier bug must not crash the service
            log.exception("applier for %s failed", full_name(cls))
            raise InternalError(f"applier for `{full_name(cls)}` failed: {type(e).__name__}: {e}") from e
        if result is not None:
            if not isinstance(result, self.state_type):
                raise InternalError(
                    f"applier for `{full_name(cls)}` returned {type(result).__name__}, "
                    f"expected None or {full_name(self.state_type)}"
                )
            return result
        return state

    def rebuild(self, snapshot: types_pb2.Snapshot | None, pages: Iterable[types_pb2.EventPage]) -> S:
        """The state after ``snapshot`` (may be ``None``) and the pages after it."""
        if snapshot is not None and snapshot.HasField("state"):
            any_state = snapshot.state
            if type_name(any_state.type_url) != full_name(self.state_type):
                raise InvalidArgumentError(
                    f"snapshot state is {type_name(any_state.type_url)}, "
                    f"this aggregate keeps {full_name(self.state_type)}"
                )
            state = _decode(self.state_type, any_state.value, "snapshot state")
        else:
            state = self.initial_state()
        for page in pages:
            if page.WhichOneof("payload") == "event":
                state = self.apply_event(state, page.event)
        return state

    def state_of(self, book: types_pb2.EventBook) -> S:
        """The state of a stored book."""
        return self.rebuild(book.snapshot if book.HasField("snapshot") else None, book.pages)

    # -- the contract -----------------------------------------------------

    def execute(self, request: types_pb2.ContextualCommand) -> command_handler_pb2.BusinessResponse:
        """Runs one command against its history: the whole contract of
        ``CommandHandlerService.Handle``, without any network.

        Returns the ``BusinessResponse``; raises :class:`StatusError` only:
        :class:`CommandRejectedError` (``FAILED_PRECONDITION``),
        :class:`InvalidArgumentError` (unknown command type, malformed
        payload) or :class:`InternalError` (a handler raised)."""
        if not request.HasField("command"):
            raise InvalidArgumentError("no command book")
        command = request.command
        if not command.pages:
            raise InvalidArgumentError("command book has no pages")
        page = command.pages[0]
        if page.WhichOneof("payload") != "command":
            raise InvalidArgumentError("command page has no inline command")
        name = type_name(page.command.type_url)
        entry = self._handlers.get(name)
        if entry is None:
            raise InvalidArgumentError(f"unknown command type `{name}` for domain `{self.domain}`")
        cmd_type, handler = entry
        cmd = _decode(cmd_type, page.command.value, "command")

        book = request.events if request.HasField("events") else types_pb2.EventBook()
        state = self.state_of(book)
        nxt = next_sequence(book)

        # The handler gets its own copy: whatever it does to it, the new state
        # is the old one with the new events applied.
        view = self.state_type()
        view.CopyFrom(state)
        try:
            result = handler(cmd, view, nxt)
        except StatusError:
            raise
        except Exception as e:  # noqa: BLE001 - a handler bug must not crash the service
            log.exception("handler for %s failed", name)
            raise InternalError(f"handler for `{name}` failed: {type(e).__name__}: {e}") from e
        events = self._normalize(name, result)

        pages = []
        for i, event in enumerate(events):
            packed = pack(event)
            state = self.apply_event(state, packed)
            pages.append(
                types_pb2.EventPage(header=types_pb2.PageHeader(sequence=nxt + i), event=packed)
            )
        out = types_pb2.EventBook(pages=pages)
        if command.HasField("cover"):
            out.cover.CopyFrom(command.cover)
        if pages:
            out.snapshot.CopyFrom(types_pb2.Snapshot(sequence=nxt + len(pages) - 1, state=pack(state)))
        return command_handler_pb2.BusinessResponse(events=out)

    @staticmethod
    def _normalize(name: str, result: object) -> Sequence[message.Message]:
        if result is None:
            return []
        if isinstance(result, message.Message):
            return [result]
        if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
            raise InternalError(
                f"handler for `{name}` returned {type(result).__name__}; expected an event, a list of events or None"
            )
        events = list(result)
        for e in events:
            if not isinstance(e, message.Message):
                raise InternalError(f"handler for `{name}` returned a {type(e).__name__} among its events")
        return events

    def replay(self, request: command_handler_pb2.ReplayRequest) -> command_handler_pb2.ReplayResponse:
        """``CommandHandlerService.Replay``: fold events onto a snapshot."""
        snapshot = request.base_snapshot if request.HasField("base_snapshot") else None
        state = self.rebuild(snapshot, request.events)
        return command_handler_pb2.ReplayResponse(state=pack(state))
