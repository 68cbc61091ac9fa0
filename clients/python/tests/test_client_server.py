"""The gRPC service over a real server on 127.0.0.1 (port 0)."""

from __future__ import annotations

import grpc
import pytest

from angzarr_client import Aggregate, pack, start, unpack_as
from angzarr_client.proto.angzarr import command_handler_pb2, command_handler_pb2_grpc, types_pb2
from angzarr_client.proto.examples import player_pb2
from angzarr_client.proto.examples.poker_types_pb2 import Currency
from angzarr_client.testing import contextual_command, cover, event_book

from counter import make, usd


@pytest.fixture(scope="module")
def stub():
    with start("127.0.0.1:0", make()) as running:
        assert running.port > 0 and running.address == f"127.0.0.1:{running.port}"
        with grpc.insecure_channel(running.address) as channel:
            yield command_handler_pb2_grpc.CommandHandlerServiceStub(channel)


def call(stub, command, domain="counter", history=()):
    return stub.Handle(contextual_command(event_book(cover(domain), history), command), timeout=10)


def code_of(stub, command, **kw):
    with pytest.raises(grpc.RpcError) as info:
        call(stub, command, **kw)
    return info.value.code(), info.value.details()


def test_accepted(stub):
    response = call(stub, player_pb2.DepositFunds(amount=usd(7)))
    assert response.events.pages[0].header.sequence == 0
    assert response.events.cover.domain == "counter"


def test_rejection_is_failed_precondition(stub):
    assert code_of(stub, player_pb2.WithdrawFunds(amount=usd(1))) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "no withdrawals at sequence 0",
    )


def test_unknown_command_is_invalid_argument(stub):
    code, details = code_of(stub, player_pb2.SitIn())
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "examples.SitIn" in details


def test_malformed_payload_is_invalid_argument(stub):
    request = contextual_command(event_book(cover("counter"), []), player_pb2.DepositFunds(amount=usd(1)))
    request.command.pages[0].command.value = b"\x0a\xff"
    with pytest.raises(grpc.RpcError) as info:
        stub.Handle(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_exception_is_internal_and_the_server_survives(stub):
    code, _ = code_of(stub, player_pb2.WithdrawFunds(amount=Currency(currency_code="BOOM")))
    assert code == grpc.StatusCode.INTERNAL
    assert call(stub, player_pb2.DepositFunds(amount=usd(1))).events.pages  # still serving


def test_single_aggregate_accepts_any_domain(stub):
    assert call(stub, player_pb2.DepositFunds(amount=usd(1)), domain="").events.pages
    assert call(stub, player_pb2.DepositFunds(amount=usd(1)), domain="elsewhere").events.pages


def test_replay(stub):
    events = [
        types_pb2.EventPage(
            header=types_pb2.PageHeader(sequence=1),
            event=pack(player_pb2.FundsDeposited(amount=usd(3), new_balance=usd(8))),
        )
    ]
    base = types_pb2.Snapshot(sequence=0, state=pack(player_pb2.PlayerState(bankroll=usd(5))))
    response = stub.Replay(command_handler_pb2.ReplayRequest(base_snapshot=base, events=events), timeout=10)
    assert unpack_as(response.state, player_pb2.PlayerState).bankroll == usd(8)


def test_routing_by_domain():
    other = Aggregate("other", player_pb2.PlayerState)
    other.command_handler(player_pb2.DepositFunds)(lambda cmd, state, seq: player_pb2.PlayerSittingOut(table_root=b"o"))
    with start("127.0.0.1:0", make(), other) as running, grpc.insecure_channel(running.address) as channel:
        s = command_handler_pb2_grpc.CommandHandlerServiceStub(channel)
        cmd = player_pb2.DepositFunds(amount=usd(1))
        assert call(s, cmd, domain="other").events.pages[0].event.type_url.endswith("examples.PlayerSittingOut")
        assert call(s, cmd, domain="counter").events.pages[0].event.type_url.endswith("examples.FundsDeposited")
        assert code_of(s, cmd, domain="nowhere")[0] == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as info:
            s.Replay(command_handler_pb2.ReplayRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
