"""An upcaster: old event shapes in, current shapes out -- on read, never
rewriting the log. Event types it does not map pass through unchanged.

.. code-block:: python

    upcaster = Upcaster()

    @upcaster.map(player_pb2.PlayerRegisteredV1, player_pb2.PlayerRegistered)
    def registered_v1(old):
        return player_pb2.PlayerRegistered(display_name=old.name, email=old.email)

The coordinator sends ``angzarr.UpcasterService.Upcast(UpcastRequest{domain,
events})`` and expects the same number of events back, in the same order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any as AnyType

from google.protobuf import message

from ._events import message_name
from .anys import full_name, pack, type_name
from .errors import InternalError, InvalidArgumentError, StatusError
from .proto.angzarr import upcaster_pb2

log = logging.getLogger("angzarr_client")

#: ``def upcast(old) -> new``.
MapFn = Callable[[AnyType], message.Message]


def _is_message_class(obj: object) -> bool:
    return isinstance(obj, type) and issubclass(obj, message.Message)


class Upcaster:
    """Maps from old event types to current ones."""

    def __init__(self) -> None:
        self._maps: dict[str, tuple[type[message.Message], type[message.Message] | None, MapFn]] = {}

    def __repr__(self) -> str:
        return f"Upcaster({sorted(self._maps)})"

    def map(self, old_type: type[message.Message], new_type=None, fn: MapFn | None = None):
        """Rewrites events of ``old_type`` with ``def upcast(old) -> new``;
        ``new_type`` (optional) is the type ``upcast`` must return.

        A decorator (``@upcaster.map(Old, New)``), or given the function
        (``upcaster.map(Old, New, fn)`` / ``upcaster.map(Old, fn)``) it
        returns the upcaster, for chaining."""
        name = message_name(old_type, "old_type")
        if fn is None and new_type is not None and not _is_message_class(new_type):
            new_type, fn = None, new_type
        if new_type is not None and not _is_message_class(new_type):
            raise TypeError(f"new_type must be a protobuf message class, not {new_type!r}")

        def register(f: MapFn) -> MapFn:
            if not callable(f):
                raise TypeError(f"upcaster: a map must be callable, not {f!r}")
            if name in self._maps:
                raise ValueError(f"upcaster: {name} is already mapped")
            self._maps[name] = (old_type, new_type, f)
            return f

        if fn is None:
            return register
        register(fn)
        return self

    @property
    def event_types(self) -> list[str]:
        """Full names of the old event types this upcaster rewrites."""
        return sorted(self._maps)

    def upcast(self, request: upcaster_pb2.UpcastRequest) -> upcaster_pb2.UpcastResponse:
        """``UpcasterService.Upcast`` without any network: one event out per
        event in, in order; pages keep everything but the mapped payload.
        Raises only :class:`StatusError`: ``INVALID_ARGUMENT`` for an old
        payload that does not decode, ``INTERNAL`` for a failing map."""
        out = upcaster_pb2.UpcastResponse()
        out.events.extend(request.events)
        for i, page in enumerate(out.events):
            if page.WhichOneof("payload") != "event":
                continue
            name = type_name(page.event.type_url)
            entry = self._maps.get(name)
            if entry is None:
                continue
            old_type, new_type, fn = entry
            old = old_type()
            try:
                old.ParseFromString(page.event.value)
            except message.DecodeError as e:
                raise InvalidArgumentError(f"upcaster: malformed {name} (event {i} of domain `{request.domain}`): {e}") from e
            try:
                new = fn(old)
            except StatusError:
                raise
            except Exception as e:  # noqa: BLE001 - a map bug must not crash the service
                log.exception("upcaster: map of %s failed", name)
                raise InternalError(f"upcaster: map of `{name}` failed: {type(e).__name__}: {e}") from e
            if not isinstance(new, message.Message) or (new_type is not None and not isinstance(new, new_type)):
                expected = full_name(new_type) if new_type is not None else "a protobuf message"
                raise InternalError(f"upcaster: map of `{name}` returned {type(new).__name__}, expected {expected}")
            page.event.CopyFrom(pack(new))
        return out


__all__ = ["MapFn", "Upcaster"]
