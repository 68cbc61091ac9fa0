"""Shared by projectors and sagas: handlers registered by event type, and
reading the events of a book page by page."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any as AnyType

from google.protobuf import message

from .anys import full_name, type_name
from .errors import InternalError, StatusError
from .proto.angzarr import types_pb2

log = logging.getLogger("angzarr_client")


def message_name(cls: object, what: str) -> str:
    if not (isinstance(cls, type) and issubclass(cls, message.Message)):
        raise TypeError(f"{what} must be a protobuf message class, not {cls!r}")
    return full_name(cls)


@dataclass(frozen=True)
class Delivered:
    """One page of a book as a handler sees it."""

    page: types_pb2.EventPage
    sequence: int
    #: Full name of the event type (``examples.FundsDeposited``).
    name: str


class EventHandlers:
    """Handlers by event type, for component ``owner`` (used in messages)."""

    def __init__(self, owner: str):
        self.owner = owner
        self.handlers: dict[str, tuple[type[message.Message], Callable[..., AnyType]]] = {}

    def register(self, event_type: type[message.Message]) -> Callable[[Callable[..., AnyType]], Callable[..., AnyType]]:
        name = message_name(event_type, "event_type")

        def register(fn: Callable[..., AnyType]) -> Callable[..., AnyType]:
            if not callable(fn):
                raise TypeError(f"{self.owner}: a handler must be callable, not {fn!r}")
            if name in self.handlers:
                raise ValueError(f"{self.owner}: a handler for {name} is already registered")
            self.handlers[name] = (event_type, fn)
            return fn

        return register

    @property
    def event_types(self) -> list[str]:
        return sorted(self.handlers)

    def pages(self, book: types_pb2.EventBook) -> Iterator[Delivered]:
        """The pages of ``book`` downstream components react to, in order:
        ``no_commit`` pages (persisted, but not to be reacted to) are left
        out. A page whose payload is stored externally cannot be read here
        (the coordinator resolves those): :class:`InternalError`."""
        for page in book.pages:
            if page.no_commit:
                continue
            kind = page.WhichOneof("payload")
            sequence = page.header.sequence
            if kind == "external":
                raise InternalError(
                    f"{self.owner}: the event at sequence {sequence} is stored externally "
                    f"({page.external.uri}); it must be resolved before delivery"
                )
            if kind != "event":
                log.debug("%s: page at sequence %d has no event; skipped", self.owner, sequence)
                continue
            yield Delivered(page=page, sequence=sequence, name=type_name(page.event.type_url))

    def call(self, delivered: Delivered, *args: AnyType) -> tuple[bool, AnyType]:
        """Decodes the page's event and calls its handler with
        ``(event, *args)``. Returns ``(False, None)`` for a type without a
        handler; any failure is an :class:`InternalError`."""
        entry = self.handlers.get(delivered.name)
        if entry is None:
            return False, None
        cls, fn = entry
        event = cls()
        try:
            event.ParseFromString(delivered.page.event.value)
        except message.DecodeError as e:
            raise InternalError(
                f"{self.owner}: malformed event {delivered.name} at sequence {delivered.sequence}: {e}"
            ) from e
        try:
            return True, fn(event, *args)
        except StatusError:
            raise
        except Exception as e:  # noqa: BLE001 - a handler bug must not crash the service
            log.exception("%s: handler for %s failed", self.owner, delivered.name)
            raise InternalError(
                f"{self.owner}: handler for `{delivered.name}` failed at sequence {delivered.sequence}: "
                f"{type(e).__name__}: {e}"
            ) from e
