"""features/player.feature (the shared specification, used unchanged from the
repository root) run with pytest-bdd against the Python player aggregate,
in-process."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import grpc
import pytest
from angzarr_client import type_name, unpack_as
from angzarr_client.proto.examples import player_pb2
from pytest_bdd import given, parsers, scenarios, then, when

from world import PlayerWorld, usd

FEATURE = Path(__file__).resolve().parents[4] / "features" / "player.feature"

scenarios(str(FEATURE))


def test_every_scenario_is_collected():
    declared = len(re.findall(r"^\s*Scenario(?: Outline)?:", FEATURE.read_text(encoding="utf-8"), re.M))
    generated = [name for name in globals() if name.startswith("test_") and name != "test_every_scenario_is_collected"]
    assert declared > 0 and len(generated) == declared, (declared, generated)


@pytest.fixture
def world() -> PlayerWorld:
    return PlayerWorld()


# -- Given -----------------------------------------------------------------------


@given("a new player aggregate")
def new_player(world: PlayerWorld):
    assert world.events == []


@given(parsers.parse("a registered player with ${amount:d} balance"))
def registered_player(world: PlayerWorld, amount: int):
    world.must_accept(player_pb2.RegisterPlayer(display_name="Ada", email="ada@example.com"))
    if amount > 0:
        world.must_accept(player_pb2.DepositFunds(amount=usd(amount)))


@given(parsers.parse('they reserve ${amount:d} for table "{table}"'))
def given_reserved(world: PlayerWorld, amount: int, table: str):
    world.must_accept(player_pb2.ReserveFunds(amount=usd(amount), table_root=table.encode("utf-8")))


# -- When ------------------------------------------------------------------------


@when(parsers.parse('a player registers as "{name}" with email "{email}"'))
def registers(world: PlayerWorld, name: str, email: str):
    world.when()
    world.send(player_pb2.RegisterPlayer(display_name=name, email=email))


@when(parsers.parse("they deposit ${amount:d}"))
def deposit(world: PlayerWorld, amount: int):
    world.when()
    world.send(player_pb2.DepositFunds(amount=usd(amount)))


@when(parsers.parse("they deposit ${amount:d} expecting sequence {seq:d}"))
def deposit_at(world: PlayerWorld, amount: int, seq: int):
    world.when()
    world.send(player_pb2.DepositFunds(amount=usd(amount)), expected_sequence=seq)


@when(parsers.parse("they withdraw ${amount:d}"))
def withdraw(world: PlayerWorld, amount: int):
    world.when()
    world.send(player_pb2.WithdrawFunds(amount=usd(amount)))


@when(parsers.parse('they reserve ${amount:d} for table "{table}"'))
def reserve(world: PlayerWorld, amount: int, table: str):
    world.when()
    world.send(player_pb2.ReserveFunds(amount=usd(amount), table_root=table.encode("utf-8")))


@when(parsers.parse('they release the reservation for table "{table}"'))
def release(world: PlayerWorld, table: str):
    world.when()
    world.send(player_pb2.ReleaseFunds(table_root=table.encode("utf-8")))


@when(parsers.parse("they receive a transfer of ${amount:d}"))
def transfer(world: PlayerWorld, amount: int):
    world.when()
    source = uuid.UUID("00000000-0000-0000-0000-000000000001").bytes
    world.send(player_pb2.TransferFunds(from_player_root=source, amount=usd(amount), reason="pot"))


# -- Then ------------------------------------------------------------------------


@then(parsers.parse("their balance is ${amount:d}"))
def balance(world: PlayerWorld, amount: int):
    state = world.state()
    assert state.bankroll.amount == amount, state
    if world.last_snapshot is not None:  # the last snapshot agrees with the rebuilt state
        snap = unpack_as(world.last_snapshot.state, player_pb2.PlayerState)
        assert snap == state, (snap, state)


@then(parsers.parse("a {event_type:w} event is recorded"))
def event_recorded(world: PlayerWorld, event_type: str):
    assert world.last_error is None, f"the last command was not accepted: {world.last_error!r}"
    assert world.last_events, "the last command recorded no event"
    assert type_name(world.last_events[-1].type_url) == f"examples.{event_type}"


@then(parsers.parse('the command is rejected with "{text}"'))
def rejected_with(world: PlayerWorld, text: str):
    err = world.last_error
    assert err is not None, "the last command was accepted"
    assert err.code == grpc.StatusCode.FAILED_PRECONDITION, err
    assert text in err.message, err


@then("the command is rejected as a sequence mismatch")
def rejected_sequence(world: PlayerWorld):
    err = world.last_error
    assert err is not None, "the last command was accepted"
    assert err.code == grpc.StatusCode.FAILED_PRECONDITION, err
    assert "sequence" in err.message, err


@then("no new event is recorded")
def no_new_event(world: PlayerWorld):
    assert len(world.events) == world.before_when
