"""A saga: stateless reactions turning one domain's events into commands for
other domains.

.. code-block:: python

    saga = Saga("reserve-on-join")

    @saga.on(table_pb2.PlayerJoined)
    def joined(event, cover, sequence):
        return command("player", event.player_root,
                       player_pb2.ReserveFunds(amount=usd(event.buy_in_amount), table_root=cover.root.value))

The coordinator sends ``angzarr.SagaService.Handle(SagaHandleRequest{source})``;
each handler returns ``CommandBook`` s (a list, one, or ``None``), built with
:func:`command`: the target domain and root, and one page with the command.
The coordinator stamps each page's sequence and copies the correlation id.
Event types without a handler are ignored; a failure is ``INTERNAL``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any as AnyType

from google.protobuf import message

from ._events import EventHandlers
from .anys import pack
from .errors import InternalError
from .proto.angzarr import saga_pb2, types_pb2

#: ``def handle(event, cover, sequence) -> CommandBook | list[CommandBook] | None``.
SagaHandler = Callable[[AnyType, types_pb2.Cover, int], "types_pb2.CommandBook | Iterable[types_pb2.CommandBook] | None"]

def root_bytes(root: uuid.UUID | bytes | bytearray | str | types_pb2.UUID) -> bytes:
    """The 16 bytes of an aggregate root given as a ``uuid.UUID``, 16 bytes
    (e.g. a ``bytes`` field such as ``table_root``), a UUID string or an
    ``angzarr.UUID``. Raises ``ValueError`` for anything else."""
    if isinstance(root, uuid.UUID):
        return root.bytes
    if isinstance(root, types_pb2.UUID):
        root = root.value
    if isinstance(root, str):
        return uuid.UUID(root).bytes
    if isinstance(root, (bytes, bytearray)):
        if len(root) != 16:
            raise ValueError(f"a root is 16 bytes, got {len(root)}")
        return bytes(root)
    raise ValueError(f"not a root: {root!r}")


def command(domain: str, root: uuid.UUID | bytes | str | types_pb2.UUID, msg: message.Message) -> types_pb2.CommandBook:
    """A ``CommandBook`` sending ``msg`` to the aggregate ``root`` (not nil)
    of ``domain``: one page with the packed command and no header (the
    coordinator stamps a deferred sequence and copies the correlation id)."""
    if not domain:
        raise ValueError("a command needs a target domain")
    if root_bytes(root) == bytes(16):
        raise ValueError("a command needs a root other than the nil UUID")
    if not isinstance(msg, message.Message):
        raise TypeError(f"a command must be a protobuf message, not {msg!r}")
    book = types_pb2.CommandBook(cover=types_pb2.Cover(domain=domain, root=types_pb2.UUID(value=root_bytes(root))))
    book.pages.add(command=pack(msg))
    return book


class Saga:
    """A saga named ``name``. ``domains`` (optional) names the source domains
    it reacts to; it is only needed to route requests when one server hosts
    several sagas."""

    def __init__(self, name: str, domains: Iterable[str] = ()):
        if not name:
            raise ValueError("a saga needs a name")
        if isinstance(domains, str):
            domains = (domains,)
        self.name = name
        self.domains: tuple[str, ...] = tuple(domains)
        self._handlers = EventHandlers(f"saga {name}")

    def __repr__(self) -> str:
        return f"Saga({self.name!r})"

    def on(self, event_type: type[message.Message]) -> Callable[[SagaHandler], SagaHandler]:
        """Decorator registering the reaction to ``event_type``:
        ``def handle(event, cover, sequence) -> CommandBook | list[CommandBook] | None``."""
        return self._handlers.register(event_type)

    @property
    def event_types(self) -> list[str]:
        """Full names of the event types this saga reacts to."""
        return self._handlers.event_types

    def execute(self, request: saga_pb2.SagaHandleRequest | types_pb2.EventBook) -> saga_pb2.SagaResponse:
        """``SagaService.Handle`` without any network (a bare ``EventBook`` is
        taken as the source). Raises only :class:`StatusError`
        (:class:`InternalError` for any failure)."""
        source = request if isinstance(request, types_pb2.EventBook) else request.source
        out = saga_pb2.SagaResponse()
        for delivered in self._handlers.pages(source):
            handled, result = self._handlers.call(delivered, source.cover, delivered.sequence)
            if handled:
                out.commands.extend(self._normalize(delivered.name, result))
        return out

    def _normalize(self, name: str, result: object) -> list[types_pb2.CommandBook]:
        if result is None:
            return []
        if isinstance(result, types_pb2.CommandBook):
            books = [result]
        elif isinstance(result, (str, bytes, message.Message)) or not isinstance(result, Iterable):
            raise InternalError(
                f"saga {self.name}: handler for `{name}` returned {type(result).__name__}; "
                "expected a CommandBook, a list of them or None (see angzarr_client.command)"
            )
        else:
            books = list(result)
        for book in books:
            problem = _problem(book)
            if problem:
                raise InternalError(f"saga {self.name}: handler for `{name}` returned a bad command book: {problem}")
        return books


def _problem(book: object) -> str:
    if not isinstance(book, types_pb2.CommandBook):
        return f"{type(book).__name__} is not a CommandBook"
    if not book.cover.domain:
        return "no target domain"
    if len(book.cover.root.value) != 16:
        return f"the root is {len(book.cover.root.value)} bytes, not 16"
    if len(book.pages) != 1:
        return f"{len(book.pages)} pages, expected exactly one"
    if book.cover.root.value == bytes(16):
        return "the root is the nil UUID"
    if book.pages[0].WhichOneof("payload") != "command":
        return "the page has no command"
    return ""


__all__ = ["Saga", "SagaHandler", "command", "root_bytes"]
