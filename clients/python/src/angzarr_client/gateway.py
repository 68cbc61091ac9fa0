"""Sending commands to the gateway (``angzarr.CommandHandlerCoordinatorService``).

Why a client at all: a command sent over a network can fail *after* it was
committed, and a blind retry would then run it twice. The gateway solves this
with an idempotency key: every call carries ``angzarr-request-id`` metadata,
and within the configured window the partition owner answers a repeated id
with the original outcome and writes nothing twice. So:

- :meth:`Gateway.send` always sends a request id (a fresh UUIDv4 when the
  caller gives none), so any send can be retried safely with the same id;
- failures are sorted into what the caller must do next:
  :class:`RejectedError` (the command was decided against: do not retry),
  :class:`OutcomeUnknownError` (it may or may not have committed: retry with
  ``err.request_id``) and :class:`TransportError` (anything else);
- :meth:`Gateway.send_with_retry` does the retrying: same id every attempt,
  only for an unknown outcome or ``UNAVAILABLE``, never for a rejection.

::

    gateway = Gateway.connect("127.0.0.1:1313")
    response = gateway.send_with_retry(request)          # CommandResponse
"""

from __future__ import annotations

import time
import uuid

import grpc

from .proto.angzarr import command_handler_pb2, command_handler_pb2_grpc, types_pb2

REQUEST_ID_HEADER = "angzarr-request-id"
"""Request metadata key of the idempotency key."""
OUTCOME_HEADER = "angzarr-outcome"
"""Response metadata key the gateway sets to ``unknown`` when it cannot tell whether a command committed."""
MAX_REQUEST_ID_LEN = 128

# Codes meaning the command was decided (or refused before it was logged):
# nothing was written and the same request would get the same answer.
REJECTION_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


class GatewayError(Exception):
    """A command that did not succeed: its gRPC ``code``, ``message`` and the ``request_id`` it was sent with."""

    def __init__(self, code: grpc.StatusCode, message: str, request_id: str):
        super().__init__(f"{code.name}: {message} (request id {request_id})")
        self.code = code
        self.message = message
        self.request_id = request_id


class RejectedError(GatewayError):
    """The command was refused (business rule, bad request, sequence
    mismatch, ...). Nothing was written; retrying gives the same answer."""


class OutcomeUnknownError(GatewayError):
    """The gateway could not learn whether the command committed
    (``DEADLINE_EXCEEDED``, with or without ``angzarr-outcome: unknown``).
    Not a rejection: retry with the same :attr:`request_id`."""


class TransportError(GatewayError):
    """Any other failure (unreachable gateway, ``INTERNAL``, ...).
    :attr:`retryable` is true for ``UNAVAILABLE``."""

    @property
    def retryable(self) -> bool:
        return self.code == grpc.StatusCode.UNAVAILABLE


def new_request_id() -> str:
    """A fresh idempotency key (UUIDv4)."""
    return str(uuid.uuid4())


def _check_request_id(request_id: str) -> None:
    if not request_id or len(request_id) > MAX_REQUEST_ID_LEN or not all(" " <= c <= "~" for c in request_id):
        raise ValueError(f"request id must be 1..{MAX_REQUEST_ID_LEN} printable ASCII characters: {request_id!r}")


def classify(err: grpc.RpcError, request_id: str) -> GatewayError:
    """The :class:`GatewayError` for a failed call."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    message = (err.details() if hasattr(err, "details") else None) or ""
    metadata = []
    for get in ("trailing_metadata", "initial_metadata"):
        if hasattr(err, get):
            metadata.extend(getattr(err, get)() or ())
    unknown = any(k == OUTCOME_HEADER and v == "unknown" for k, v in metadata)
    if unknown or code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return OutcomeUnknownError(code, message, request_id)
    if code in REJECTION_CODES:
        return RejectedError(code, message, request_id)
    return TransportError(code, message, request_id)


class Gateway:
    """A client of ``angzarr.CommandHandlerCoordinatorService`` over a gRPC channel."""

    def __init__(self, channel: grpc.Channel):
        self.channel = channel
        self.stub = command_handler_pb2_grpc.CommandHandlerCoordinatorServiceStub(channel)

    @classmethod
    def connect(cls, target: str) -> Gateway:
        """A gateway over an insecure channel to ``target`` (``host:port``)."""
        return cls(grpc.insecure_channel(target))

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(
        self,
        request: types_pb2.CommandRequest,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> command_handler_pb2.CommandResponse:
        """Sends one command with ``angzarr-request-id: request_id`` (a new
        UUIDv4 when None). Raises :class:`GatewayError` subclasses; an
        expired ``timeout`` (seconds) is :class:`OutcomeUnknownError`."""
        if request_id is None:
            request_id = new_request_id()
        _check_request_id(request_id)
        try:
            return self.stub.HandleCommand(request, timeout=timeout, metadata=((REQUEST_ID_HEADER, request_id),))
        except grpc.RpcError as err:
            raise classify(err, request_id) from err

    def send_with_retry(
        self,
        request: types_pb2.CommandRequest,
        request_id: str | None = None,
        attempts: int = 5,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        timeout: float | None = None,
    ) -> command_handler_pb2.CommandResponse:
        """:meth:`send`, repeated with the *same* request id after an unknown
        outcome or ``UNAVAILABLE``, at most ``attempts`` times, sleeping
        ``backoff`` seconds (doubled each time, at most ``max_backoff``)
        between attempts. Rejections and other errors are raised at once; when
        attempts run out the last error is raised (its ``request_id`` still
        lets a later retry find the original outcome)."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if request_id is None:
            request_id = new_request_id()
        delay = backoff
        for attempt in range(1, attempts + 1):
            try:
                return self.send(request, request_id, timeout=timeout)
            except (OutcomeUnknownError, TransportError) as err:
                if attempt == attempts or (isinstance(err, TransportError) and not err.retryable):
                    raise
            time.sleep(delay)
            delay = min(delay * 2, max_backoff)
        raise AssertionError("unreachable")
