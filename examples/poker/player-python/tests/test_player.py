"""Unit tests of the player aggregate with angzarr_client.testing.Scenario,
plus the service started as a process (python -m player_service)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from angzarr_client.proto.angzarr import command_handler_pb2_grpc
from angzarr_client.proto.examples import player_pb2
from angzarr_client.testing import Scenario, contextual_command, cover, event_book

from player_service import aggregate, available
from world import usd

REGISTERED = player_pb2.PlayerRegistered(display_name="Ada", email="ada@example.com")
DEPOSITED_100 = player_pb2.FundsDeposited(amount=usd(100), new_balance=usd(100))


def test_deposit_adds_to_the_bankroll():
    out = Scenario(aggregate).given(REGISTERED, DEPOSITED_100).when(player_pb2.DepositFunds(amount=usd(50)))
    assert out.event(player_pb2.FundsDeposited).new_balance == usd(150)
    assert out.state.bankroll == usd(150)


def test_events_are_byte_identical_to_the_reference():
    # FundsDeposited { amount: USD 50, new_balance: USD 150 }, no timestamp, as prost encodes it.
    out = Scenario(aggregate).given(REGISTERED, DEPOSITED_100).when(player_pb2.DepositFunds(amount=usd(50)))
    assert out.anys[0].type_url == "type.googleapis.com/examples.FundsDeposited"
    amount_50 = "0a07" + "0832" + "1203555344"  # 1: Currency { 1: 50, 2: "USD" }
    balance_150 = "1208" + "089601" + "1203555344"  # 2: Currency { 1: 150, 2: "USD" }
    assert out.anys[0].value == bytes.fromhex(amount_50 + balance_150)
    registered = Scenario(aggregate).when(player_pb2.RegisterPlayer(display_name="Ada", email="a@b"))
    assert registered.anys[0].value == b"\x0a\x03Ada\x12\x03a@b"


def test_rejections():
    none = Scenario(aggregate)
    assert none.when(player_pb2.DepositFunds(amount=usd(5))).rejection == "player does not exist"
    assert none.when(player_pb2.RegisterPlayer(display_name=" ", email="x")).rejection == "display_name is required"
    assert none.when(player_pb2.RegisterPlayer(display_name="x", email="")).rejection == "email is required"
    reg = none.given(REGISTERED)
    assert reg.when(player_pb2.DepositFunds(amount=usd(0))).rejection == "amount must be positive"
    assert reg.when(player_pb2.DepositFunds()).rejection == "amount must be positive"
    assert reg.when(player_pb2.RegisterPlayer(display_name="x", email="y")).rejection == "player already exists"
    assert reg.when(player_pb2.WithdrawFunds(amount=usd(1))).rejection == "insufficient funds: available 0, requested 1"
    assert reg.when(player_pb2.ReserveFunds(amount=usd(1))).rejection == "table_root is required"
    assert reg.when(player_pb2.ReleaseFunds(table_root=b"t")).rejection == "no funds are reserved for this table"
    assert reg.when(player_pb2.TransferFunds(amount=usd(1))).rejection == "from_player_root is required"


def test_reserved_funds_cannot_be_withdrawn_until_released():
    table = bytes([7] * 16)
    base = Scenario(aggregate).given(REGISTERED, DEPOSITED_100)
    reserved = base.when(player_pb2.ReserveFunds(amount=usd(80), table_root=table)).event(player_pb2.FundsReserved)
    assert reserved.new_available_balance == usd(20)
    assert reserved.new_reserved_balance == usd(80)
    s = base.given(reserved)
    assert available(s.state) == 20
    assert s.state.table_reservations == {table.hex(): 80}
    assert s.when(player_pb2.ReserveFunds(amount=usd(1), table_root=table)).rejection == (
        "funds are already reserved for this table"
    )
    assert s.when(player_pb2.WithdrawFunds(amount=usd(30))).rejection == "insufficient funds: available 20, requested 30"
    released = s.when(player_pb2.ReleaseFunds(table_root=table)).event(player_pb2.FundsReleased)
    assert released.amount == usd(80)
    assert released.new_available_balance == usd(100)
    assert released.new_reserved_balance == usd(0)
    assert released.new_reserved_balance.currency_code == "USD"
    s = s.given(released)
    assert dict(s.state.table_reservations) == {}
    assert s.when(player_pb2.WithdrawFunds(amount=usd(100))).event(player_pb2.FundsWithdrawn).new_balance == usd(0)


def test_transfer_credits_and_keeps_the_reason():
    e = (
        Scenario(aggregate)
        .given(REGISTERED, DEPOSITED_100)
        .when(player_pb2.TransferFunds(from_player_root=b"\x01" * 16, amount=usd(25), hand_root=b"h", reason="pot"))
        .event(player_pb2.FundsTransferred)
    )
    assert (e.new_balance, e.reason, e.hand_root, e.to_player_root) == (usd(125), "pot", b"h", b"")


def test_unknown_command_type_is_invalid_argument():
    out = Scenario(aggregate).when(player_pb2.PlayerState())
    assert out.code == grpc.StatusCode.INVALID_ARGUMENT


def test_state_from_a_snapshot():
    first = Scenario(aggregate).given(REGISTERED).when(player_pb2.DepositFunds(amount=usd(40)))
    snapshot = first.response.events.snapshot
    assert snapshot.sequence == 1
    book = event_book(cover("player"), [])
    book.snapshot.CopyFrom(snapshot)
    book.next_sequence = 2
    response = aggregate.execute(contextual_command(book, player_pb2.DepositFunds(amount=usd(2))))
    assert [p.header.sequence for p in response.events.pages] == [2]
    assert response.events.snapshot.sequence == 2


def test_the_service_runs_as_a_process():
    here = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "player_service", "--listen", "127.0.0.1:0"],
        cwd=here,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on 127.0.0.1:"), (line, proc.stderr.read() if proc.poll() is not None else "")
        address = line.removeprefix("listening on ")
        with grpc.insecure_channel(address) as channel:
            stub = command_handler_pb2_grpc.CommandHandlerServiceStub(channel)
            book = event_book(cover("player"), [REGISTERED])
            response = stub.Handle(contextual_command(book, player_pb2.DepositFunds(amount=usd(5))), timeout=10)
            assert response.events.pages[0].header.sequence == 1
            with pytest.raises(grpc.RpcError) as info:
                stub.Handle(contextual_command(book, player_pb2.WithdrawFunds(amount=usd(5))), timeout=10)
            assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert info.value.details() == "insufficient funds: available 0, requested 5"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read()
