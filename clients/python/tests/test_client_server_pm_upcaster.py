"""ProcessManagerService and UpcasterService over a real server on 127.0.0.1
(port 0), hosted together with an aggregate."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import any_pb2

from angzarr_client import ProcessManager, Upcaster, start, unpack_as
from angzarr_client.proto.angzarr import (
    command_handler_pb2_grpc,
    process_manager_pb2_grpc,
    types_pb2,
    upcaster_pb2_grpc,
)
from angzarr_client.proto.examples import hand_pb2, orchestration_pb2, player_pb2, table_pb2
from angzarr_client.testing import (
    contextual_command,
    cover,
    event_book,
    pm_handle_request,
    pm_prepare_request,
    upcast_request,
)

import counter
import handflow
import player_upcaster
from counter import usd

TABLE = uuid.UUID(int=0x7AB1E)
HAND = uuid.UUID(int=0x4A4D)


@pytest.fixture(scope="module")
def channel():
    with start("127.0.0.1:0", counter.make(), handflow.make(), player_upcaster.make()) as running:
        with grpc.insecure_channel(running.address) as ch:
            yield ch


def started(number=1):
    book = event_book(cover("table", TABLE, correlation_id="c"), [table_pb2.HandStarted(hand_root=HAND.bytes, hand_number=number)])
    return book


def test_process_manager_prepare_and_handle(channel):
    stub = process_manager_pb2_grpc.ProcessManagerServiceStub(channel)
    prepared = stub.Prepare(pm_prepare_request(started()), timeout=10)
    assert [(c.domain, c.root.value) for c in prepared.destinations] == [("hand", HAND.bytes)]

    process = types_pb2.EventBook(cover=cover("hand-flow", correlation_id="c"))
    out = stub.Handle(pm_handle_request(started(), process, {"hand": 0}), timeout=10)
    assert [(c.cover.domain, c.cover.root.value) for c in out.commands] == [("hand", HAND.bytes)]
    assert unpack_as(out.commands[0].pages[0].command, hand_pb2.DealCards).table_root == TABLE.bytes
    assert out.process_events.cover.correlation_id == "c"
    assert [p.header.sequence for p in out.process_events.pages] == [0]
    assert unpack_as(out.process_events.snapshot.state, orchestration_pb2.HandFlowState).phase == "dealing"

    process.pages.extend(out.process_events.pages)
    process.next_sequence = 1
    complete = event_book(cover("hand", HAND, correlation_id="c"), [hand_pb2.HandComplete()], first_sequence=6)
    end = stub.Handle(pm_handle_request(complete, process), timeout=10)
    assert [c.cover.domain for c in end.commands] == ["table"]
    assert [p.header.sequence for p in end.process_events.pages] == [1]
    # Already dealt: nothing.
    assert list(stub.Handle(pm_handle_request(started(), process, {"hand": 0}), timeout=10).commands) == []


def test_process_manager_failures_are_statuses(channel):
    stub = process_manager_pb2_grpc.ProcessManagerServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.Handle(pm_handle_request(started(number=-1)), timeout=10)
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert "RuntimeError: pm bug" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        stub.Handle(pm_handle_request(None), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The server survives.
    assert len(stub.Handle(pm_handle_request(started(), None, {"hand": 0}), timeout=10).commands) == 1


def test_upcast(channel):
    stub = upcaster_pb2_grpc.UpcasterServiceStub(channel)
    request = upcast_request("player", [player_pb2.PlayerRegisteredV1(name="Ada"), player_pb2.FundsDeposited(amount=usd(2))])
    out = stub.Upcast(request, timeout=10)
    assert len(out.events) == 2
    assert unpack_as(out.events[0].event, player_pb2.PlayerRegistered).display_name == "Ada"
    assert out.events[1] == request.events[1]
    request.events.add(
        header=types_pb2.PageHeader(sequence=2),
        event=any_pb2.Any(type_url="type.googleapis.com/examples.PlayerRegisteredV1", value=b"\x0a\xff"),
    )
    with pytest.raises(grpc.RpcError) as info:
        stub.Upcast(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_aggregate_is_served_alongside(channel):
    stub = command_handler_pb2_grpc.CommandHandlerServiceStub(channel)
    request = contextual_command(event_book(cover("counter"), []), player_pb2.DepositFunds(amount=usd(3)))
    assert stub.Handle(request, timeout=10).events.pages[0].header.sequence == 0


def test_not_hosted_is_unimplemented_and_one_of_each_per_server():
    with start("127.0.0.1:0", counter.make()) as running, grpc.insecure_channel(running.address) as ch:
        for call in (
            lambda: process_manager_pb2_grpc.ProcessManagerServiceStub(ch).Handle(pm_handle_request(started()), timeout=10),
            lambda: process_manager_pb2_grpc.ProcessManagerServiceStub(ch).Prepare(pm_prepare_request(started()), timeout=10),
            lambda: upcaster_pb2_grpc.UpcasterServiceStub(ch).Upcast(upcast_request("player", []), timeout=10),
        ):
            with pytest.raises(grpc.RpcError) as info:
                call()
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(ValueError, match="one process manager per server"):
        start("127.0.0.1:0", handflow.make(), ProcessManager("other", orchestration_pb2.HandFlowState))
    with pytest.raises(ValueError, match="one upcaster per server"):
        start("127.0.0.1:0", Upcaster(), Upcaster())
