"""How business logic says "no", and how failures map to gRPC status codes."""

from __future__ import annotations

import grpc


class StatusError(Exception):
    """A failure with the gRPC status the caller will see.

    :meth:`Aggregate.execute <angzarr_client.Aggregate.execute>` raises only
    this (or a subclass), so the outcome of a command is always a
    ``BusinessResponse`` or a status code with a message."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.name}, {self.message!r})"


class CommandRejectedError(StatusError):
    """A command refused by business rules: ``FAILED_PRECONDITION`` with this
    reason, and nothing is written."""

    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, reason: str):
        super().__init__(reason)

    @property
    def reason(self) -> str:
        return self.message


class InvalidArgumentError(StatusError):
    """A request the handler cannot read: an unknown command type, a payload
    that does not decode, a snapshot of the wrong type (``INVALID_ARGUMENT``)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class InternalError(StatusError):
    """A handler or applier raised an unexpected exception (``INTERNAL``)."""

    code = grpc.StatusCode.INTERNAL


def ensure(condition: object, reason: str) -> None:
    """Rejects with ``reason`` unless ``condition`` holds:
    ``ensure(amount > 0, "amount must be positive")``."""
    if not condition:
        raise CommandRejectedError(reason)
