"""ProjectorService and SagaService over a real server on 127.0.0.1 (port 0),
hosted together with an aggregate."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import wrappers_pb2

from angzarr_client import Projector, Saga, command, start, unpack_as
from angzarr_client.proto.angzarr import (
    command_handler_pb2_grpc,
    projector_pb2_grpc,
    saga_pb2_grpc,
    types_pb2,
)
from angzarr_client.proto.examples import player_pb2, table_pb2
from angzarr_client.testing import contextual_command, cover, event_book, saga_request

import counter
from counter import usd

ROOT = uuid.UUID(int=5)
TABLE = uuid.UUID(int=6)


def counting_projector(name="deposits", domains=()):
    # Per root: (deposits counted, last sequence applied); the read model is
    # what makes redelivery idempotent.
    counts: dict[bytes, tuple[int, int]] = {}
    p = Projector(name, domains=domains)

    @p.on(player_pb2.FundsDeposited)
    def on_deposit(event, the_cover, sequence):
        if event.amount.currency_code == "BOOM":
            raise RuntimeError("projector bug")
        count, last = counts.get(the_cover.root.value, (0, -1))
        if sequence > last:
            counts[the_cover.root.value] = (count + 1, sequence)

    @p.view
    def view(the_cover):
        return wrappers_pb2.Int32Value(value=counts.get(the_cover.root.value, (0, -1))[0])

    p.speculation(save=lambda: dict(counts), restore=lambda saved: (counts.clear(), counts.update(saved)))
    return p


def join_saga(name="join", domains=()):
    saga = Saga(name, domains=domains)

    @saga.on(table_pb2.PlayerJoined)
    def joined(event, the_cover, sequence):
        if event.buy_in_amount < 0:
            raise RuntimeError("saga bug")
        return [command("player", event.player_root, player_pb2.ReserveFunds(amount=usd(event.buy_in_amount), table_root=the_cover.root.value))]

    return saga


@pytest.fixture(scope="module")
def channel():
    with start("127.0.0.1:0", counter.make(), counting_projector(), join_saga()) as running:
        assert running.address == f"127.0.0.1:{running.port}"
        with grpc.insecure_channel(running.address) as ch:
            yield ch


def deposits(n, first=0, code="USD"):
    events = [player_pb2.FundsDeposited(amount=currency(code), new_balance=usd(0)) for _ in range(n)]
    return event_book(cover("player", ROOT, correlation_id="c"), events, first_sequence=first)


def currency(code):
    c = usd(1)
    c.currency_code = code
    return c


def test_projector_handle_and_redelivery(channel):
    stub = projector_pb2_grpc.ProjectorServiceStub(channel)
    out = stub.Handle(deposits(2), timeout=10)
    assert (out.projector, out.sequence, out.cover.correlation_id) == ("deposits", 1, "c")
    assert unpack_as(out.projection, wrappers_pb2.Int32Value).value == 2
    again = stub.Handle(deposits(3), timeout=10)  # 0 and 1 again, then 2
    assert again.sequence == 2
    assert unpack_as(again.projection, wrappers_pb2.Int32Value).value == 3
    spec = stub.HandleSpeculative(deposits(2, first=3), timeout=10)
    assert (spec.sequence, unpack_as(spec.projection, wrappers_pb2.Int32Value).value) == (4, 5)
    after = stub.Handle(types_pb2.EventBook(cover=cover("player", ROOT)), timeout=10)
    assert (after.sequence, unpack_as(after.projection, wrappers_pb2.Int32Value).value) == (0, 3)


def test_projector_failure_is_internal_and_the_server_survives(channel):
    stub = projector_pb2_grpc.ProjectorServiceStub(channel)
    other = cover("player", uuid.UUID(int=99))
    book = event_book(other, [player_pb2.FundsDeposited(amount=currency("BOOM"))])
    with pytest.raises(grpc.RpcError) as info:
        stub.Handle(book, timeout=10)
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert "RuntimeError: projector bug" in info.value.details()
    assert stub.Handle(event_book(other, [player_pb2.FundsDeposited()]), timeout=10).sequence == 0


def test_saga_handle(channel):
    stub = saga_pb2_grpc.SagaServiceStub(channel)
    source = event_book(cover("table", TABLE), [table_pb2.PlayerJoined(player_root=ROOT.bytes, buy_in_amount=40), table_pb2.HandStarted()])
    response = stub.Handle(saga_request(source), timeout=10)
    assert len(response.commands) == 1
    book = response.commands[0]
    assert (book.cover.domain, book.cover.root.value) == ("player", ROOT.bytes)
    assert not book.pages[0].HasField("header")
    assert unpack_as(book.pages[0].command, player_pb2.ReserveFunds).amount == usd(40)
    empty = stub.Handle(saga_request(event_book(cover("table", TABLE), [table_pb2.HandStarted()])), timeout=10)
    assert list(empty.commands) == []
    with pytest.raises(grpc.RpcError) as info:
        stub.Handle(saga_request(event_book(cover("table", TABLE), [table_pb2.PlayerJoined(player_root=ROOT.bytes, buy_in_amount=-1)])), timeout=10)
    assert info.value.code() == grpc.StatusCode.INTERNAL


def test_the_aggregate_is_served_alongside(channel):
    stub = command_handler_pb2_grpc.CommandHandlerServiceStub(channel)
    request = contextual_command(event_book(cover("counter"), []), player_pb2.DepositFunds(amount=usd(3)))
    assert stub.Handle(request, timeout=10).events.pages[0].header.sequence == 0


def test_services_not_hosted_are_unimplemented():
    with start("127.0.0.1:0", counting_projector()) as running, grpc.insecure_channel(running.address) as ch:
        with pytest.raises(grpc.RpcError) as info:
            saga_pb2_grpc.SagaServiceStub(ch).Handle(saga_request(types_pb2.EventBook()), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(grpc.RpcError) as info:
            command_handler_pb2_grpc.CommandHandlerServiceStub(ch).Handle(
                contextual_command(event_book(cover("counter"), []), player_pb2.DepositFunds(amount=usd(3))), timeout=10
            )
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    plain = Projector("plain")
    with start("127.0.0.1:0", plain) as running, grpc.insecure_channel(running.address) as ch:
        with pytest.raises(grpc.RpcError) as info:
            projector_pb2_grpc.ProjectorServiceStub(ch).HandleSpeculative(deposits(1), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_several_projectors_and_sagas_route_by_domain():
    players = counting_projector("players", domains=["player"])
    wallets = counting_projector("wallets", domains=["wallet"])
    tables = join_saga("tables", domains=["table"])
    lobby = join_saga("lobby", domains=["lobby"])
    with start("127.0.0.1:0", players, wallets, tables, lobby) as running, grpc.insecure_channel(running.address) as ch:
        p = projector_pb2_grpc.ProjectorServiceStub(ch)
        assert p.Handle(deposits(1), timeout=10).projector == "players"
        wallet = event_book(cover("wallet", ROOT), [player_pb2.FundsDeposited()])
        assert p.Handle(wallet, timeout=10).projector == "wallets"
        with pytest.raises(grpc.RpcError) as info:
            p.Handle(event_book(cover("nowhere", ROOT), []), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        s = saga_pb2_grpc.SagaServiceStub(ch)
        joined = [table_pb2.PlayerJoined(player_root=ROOT.bytes, buy_in_amount=1)]
        assert len(s.Handle(saga_request(event_book(cover("lobby", TABLE), joined)), timeout=10).commands) == 1
        with pytest.raises(grpc.RpcError) as info:
            s.Handle(saga_request(event_book(cover("hand", TABLE), joined)), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_bad_component_sets_are_refused():
    with pytest.raises(ValueError, match="nothing to serve"):
        start("127.0.0.1:0")
    with pytest.raises(TypeError, match="expected Aggregate, Projector, Saga, ProcessManager or Upcaster"):
        start("127.0.0.1:0", object())
    with pytest.raises(ValueError, match="give it its source domains"):
        start("127.0.0.1:0", counting_projector("a"), counting_projector("b", domains=["x"]))
    with pytest.raises(ValueError, match="both consume domain `x`"):
        start("127.0.0.1:0", join_saga("a", domains=["x"]), join_saga("b", domains=["x", "y"]))
    with pytest.raises(ValueError, match="same name"):
        start("127.0.0.1:0", counting_projector("a", ["x"]), counting_projector("a", ["y"]))
