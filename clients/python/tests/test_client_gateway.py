"""The gateway client against a fake gateway on 127.0.0.1 (port 0)."""

from __future__ import annotations

import threading
import uuid
from concurrent import futures

import grpc
import pytest

from angzarr_client import Gateway, OutcomeUnknownError, RejectedError, TransportError
from angzarr_client.proto.angzarr import command_handler_pb2, command_handler_pb2_grpc, types_pb2


class FakeGateway(command_handler_pb2_grpc.CommandHandlerCoordinatorServiceServicer):
    """Behaviour by ``command.cover.domain``:

    - ``flaky``: the first call of a request id is an unknown outcome
      (``DEADLINE_EXCEEDED`` + ``angzarr-outcome: unknown``), later ones succeed;
    - ``slow``: plain ``DEADLINE_EXCEEDED`` first, then success;
    - ``down``: ``UNAVAILABLE`` first, then success;
    - ``broken``: always ``INTERNAL``;
    - ``reject``: always ``FAILED_PRECONDITION``;
    - anything else: success (the response echoes the cover)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str | None]] = []  # (domain, angzarr-request-id)

    def ids(self, domain):
        with self.lock:
            return [rid for d, rid in self.calls if d == domain]

    def HandleCommand(self, request, context):  # noqa: N802 - gRPC method name
        domain = request.command.cover.domain
        rid = dict(context.invocation_metadata()).get("angzarr-request-id")
        with self.lock:
            self.calls.append((domain, rid))
            first = sum(1 for d, r in self.calls if d == domain and r == rid) == 1
        if domain == "reject":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "insufficient funds")
        if domain == "broken":
            context.abort(grpc.StatusCode.INTERNAL, "boom")
        if first and domain == "flaky":
            context.set_trailing_metadata((("angzarr-outcome", "unknown"),))
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "outcome unknown: no decision within 5s")
        if first and domain == "slow":
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "no decision within 5s")
        if first and domain == "down":
            context.abort(grpc.StatusCode.UNAVAILABLE, "log unavailable")
        return command_handler_pb2.CommandResponse(events=types_pb2.EventBook(cover=request.command.cover))


@pytest.fixture(scope="module")
def fake():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    fake = FakeGateway()
    command_handler_pb2_grpc.add_CommandHandlerCoordinatorServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    fake.address = f"127.0.0.1:{port}"
    yield fake
    server.stop(None).wait()


@pytest.fixture(scope="module")
def gateway(fake):
    with Gateway.connect(fake.address) as gw:
        yield gw


def request(domain):
    return types_pb2.CommandRequest(command=types_pb2.CommandBook(cover=types_pb2.Cover(domain=domain)))


def test_unknown_outcome_is_retried_with_the_same_id(fake, gateway):
    response = gateway.send_with_retry(request("flaky"), backoff=0.01, timeout=10)
    assert response.events.cover.domain == "flaky"
    ids = fake.ids("flaky")
    assert len(ids) == 2 and ids[0] == ids[1] and ids[0]


def test_send_reports_unknown_outcome_with_the_id_to_retry(fake, gateway):
    with pytest.raises(OutcomeUnknownError) as info:
        gateway.send(request("flaky"), "order-42", timeout=10)
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert info.value.message.startswith("outcome unknown") and info.value.request_id == "order-42"
    assert gateway.send(request("flaky"), info.value.request_id, timeout=10).events.cover.domain == "flaky"


def test_plain_deadline_exceeded_is_unknown_and_retried(fake, gateway):
    with pytest.raises(OutcomeUnknownError):
        gateway.send(request("slow"), "slow-1", timeout=10)
    assert gateway.send_with_retry(request("slow"), backoff=0.01, timeout=10).events.cover.domain == "slow"
    assert fake.ids("slow")[1] == fake.ids("slow")[2]


def test_unavailable_is_retried_with_the_same_id(fake, gateway):
    gateway.send_with_retry(request("down"), "down-1", backoff=0.01, timeout=10)
    assert fake.ids("down") == ["down-1", "down-1"]


def test_rejection_is_not_retried(fake, gateway):
    with pytest.raises(RejectedError) as info:
        gateway.send_with_retry(request("reject"), backoff=0.01, timeout=10)
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert info.value.message == "insufficient funds"
    assert len(fake.ids("reject")) == 1


def test_other_errors_are_not_retried(fake, gateway):
    with pytest.raises(TransportError) as info:
        gateway.send_with_retry(request("broken"), backoff=0.01, timeout=10)
    assert info.value.code == grpc.StatusCode.INTERNAL and not info.value.retryable
    assert len(fake.ids("broken")) == 1


def test_attempts_run_out_with_the_last_error(fake, gateway):
    with pytest.raises(OutcomeUnknownError) as info:
        gateway.send_with_retry(request("flaky"), "once-only", attempts=1, timeout=10)
    assert info.value.request_id == "once-only"


def test_explicit_request_id_is_passed_through(fake, gateway):
    gateway.send(request("echo-explicit"), "client-chosen:42", timeout=10)
    assert fake.ids("echo-explicit") == ["client-chosen:42"]


def test_generated_ids_differ(fake, gateway):
    gateway.send(request("echo-generated"), timeout=10)
    gateway.send(request("echo-generated"), timeout=10)
    first, second = fake.ids("echo-generated")
    assert first != second
    assert uuid.UUID(first).version == 4 and uuid.UUID(second).version == 4


@pytest.mark.parametrize("bad", ["", "x" * 129, "naïve", "line\nbreak"])
def test_bad_request_ids_are_refused_before_sending(gateway, bad):
    with pytest.raises(ValueError):
        gateway.send(request("echo"), bad)


def test_unreachable_gateway_is_a_retryable_transport_error():
    with Gateway.connect("127.0.0.1:1") as gw:
        with pytest.raises(TransportError) as info:
            gw.send_with_retry(request("x"), attempts=2, backoff=0.01, timeout=5)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE and info.value.retryable
