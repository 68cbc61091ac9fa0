"""Packing messages into ``google.protobuf.Any`` the way every angzarr
component does: ``type.googleapis.com/<full name>``."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf import any_pb2, descriptor_pool, message, message_factory

#: The prefix of every ``Any`` type URL the framework writes.
TYPE_URL_PREFIX = "type.googleapis.com/"

M = TypeVar("M", bound=message.Message)


def full_name(msg_or_type: message.Message | type[message.Message]) -> str:
    """The full proto name of a message or message class, e.g. ``examples.DepositFunds``."""
    return msg_or_type.DESCRIPTOR.full_name


def type_name(type_url: str) -> str:
    """The full proto name in a type URL: everything after the last ``/``."""
    return type_url.rsplit("/", 1)[-1]


def pack(msg: message.Message) -> any_pb2.Any:
    """Packs ``msg`` under ``type.googleapis.com/<full name>`` (deterministic bytes)."""
    if isinstance(msg, any_pb2.Any):
        return msg
    return any_pb2.Any(type_url=TYPE_URL_PREFIX + full_name(msg), value=msg.SerializeToString(deterministic=True))


def is_type(any_msg: any_pb2.Any, cls: type[message.Message]) -> bool:
    """Whether ``any_msg`` holds a ``cls``."""
    return type_name(any_msg.type_url) == full_name(cls)


def unpack_as(any_msg: any_pb2.Any, cls: type[M]) -> M | None:
    """``any_msg`` decoded as ``cls``; ``None`` if it holds another type.
    Raises ``google.protobuf.message.DecodeError`` on malformed bytes."""
    if not is_type(any_msg, cls):
        return None
    out = cls()
    out.ParseFromString(any_msg.value)
    return out


def unpack(any_msg: any_pb2.Any) -> message.Message:
    """``any_msg`` decoded as whatever its type URL names; the type's module
    must have been imported. Raises ``KeyError`` for an unknown type."""
    descriptor = descriptor_pool.Default().FindMessageTypeByName(type_name(any_msg.type_url))
    out = message_factory.GetMessageClass(descriptor)()
    out.ParseFromString(any_msg.value)
    return out
