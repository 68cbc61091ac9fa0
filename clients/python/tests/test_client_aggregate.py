"""Aggregate.execute: the CommandHandlerService.Handle contract, in-process."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2

from angzarr_client import (
    Aggregate,
    CommandRejectedError,
    InternalError,
    InvalidArgumentError,
    StatusError,
    pack,
    unpack,
    unpack_as,
)
from angzarr_client.proto.angzarr import types_pb2
from angzarr_client.proto.examples import player_pb2
from angzarr_client.proto.examples.poker_types_pb2 import Currency
from angzarr_client.testing import Scenario, contextual_command, cover, event_book

from counter import make, usd

AGG = make()


def deposited(n, balance):
    return player_pb2.FundsDeposited(amount=usd(n), new_balance=usd(balance))


def test_response_follows_the_contract():
    the_cover = cover("counter", b"\x01" * 16, correlation_id="corr")
    book = event_book(the_cover, [deposited(5, 5), deposited(5, 10)])
    request = contextual_command(book, player_pb2.DepositFunds(amount=usd(10)))
    response = AGG.execute(request)
    out = response.events
    assert response.WhichOneof("result") == "events"
    assert out.cover == the_cover
    assert [p.header.sequence for p in out.pages] == [2]
    assert out.pages[0].event.type_url == "type.googleapis.com/examples.FundsDeposited"
    assert unpack(out.pages[0].event) == deposited(10, 20)
    assert out.snapshot.sequence == 2
    assert out.snapshot.state.type_url == "type.googleapis.com/examples.PlayerState"
    assert unpack_as(out.snapshot.state, player_pb2.PlayerState) == player_pb2.PlayerState(bankroll=usd(20))
    assert out.next_sequence == 0


def test_several_events_get_consecutive_sequences():
    out = Scenario(AGG).given(deposited(1, 1)).when(player_pb2.DepositFunds(amount=Currency(amount=8, currency_code="TWICE")))
    pages = out.response.events.pages
    assert [p.header.sequence for p in pages] == [1, 2]
    assert out.response.events.snapshot.sequence == 2
    assert out.state.bankroll.amount == 9


def test_no_events_means_no_pages_and_no_snapshot():
    out = Scenario(AGG).when(player_pb2.WithdrawFunds(amount=Currency(currency_code="NONE")))
    assert out.accepted and out.anys == []
    assert not out.response.events.HasField("snapshot")


def test_next_sequence_falls_back_to_counting_pages():
    book = event_book(cover("counter"), [deposited(1, 1), deposited(1, 2), deposited(1, 3)])
    book.next_sequence = 0
    response = AGG.execute(contextual_command(book, player_pb2.DepositFunds(amount=usd(1)), expected_sequence=3))
    assert [p.header.sequence for p in response.events.pages] == [3]


def test_snapshot_then_pages():
    state = player_pb2.PlayerState(bankroll=usd(100))
    book = types_pb2.EventBook(
        cover=cover("counter"),
        snapshot=types_pb2.Snapshot(sequence=9, state=pack(state)),
        pages=[types_pb2.EventPage(header=types_pb2.PageHeader(sequence=10), event=pack(deposited(1, 101)))],
        next_sequence=11,
    )
    assert AGG.state_of(book).bankroll == usd(101)
    response = AGG.execute(contextual_command(book, player_pb2.DepositFunds(amount=usd(1))))
    assert response.events.pages[0].header.sequence == 11
    assert unpack(response.events.pages[0].event).new_balance == usd(102)


def test_rejection_is_failed_precondition():
    out = Scenario(AGG).given(deposited(1, 1)).when(player_pb2.WithdrawFunds(amount=usd(1)))
    assert out.code == grpc.StatusCode.FAILED_PRECONDITION
    assert out.rejection == "no withdrawals at sequence 1"
    assert isinstance(out.error, CommandRejectedError)
    assert Scenario(AGG).when(player_pb2.DepositFunds(amount=usd(0))).rejection == "amount must be positive"


def test_unknown_command_is_invalid_argument():
    with pytest.raises(InvalidArgumentError) as info:
        AGG.execute(contextual_command(event_book(cover("counter"), []), player_pb2.SitOut()))
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "examples.SitOut" in info.value.message


def test_malformed_payload_is_invalid_argument():
    request = contextual_command(event_book(cover("counter"), []), player_pb2.DepositFunds(amount=usd(1)))
    request.command.pages[0].command.value = b"\xff\xff\xff"
    with pytest.raises(InvalidArgumentError, match="malformed command examples.DepositFunds"):
        AGG.execute(request)


def test_malformed_history_and_wrong_snapshot_are_invalid_argument():
    book = event_book(cover("counter"), [])
    book.pages.add(header=types_pb2.PageHeader(sequence=0), event=any_pb2.Any(type_url="type.googleapis.com/examples.FundsDeposited", value=b"\xff"))
    book.next_sequence = 1
    with pytest.raises(InvalidArgumentError, match="malformed event"):
        AGG.execute(contextual_command(book, player_pb2.DepositFunds(amount=usd(1))))
    book = event_book(cover("counter"), [])
    book.snapshot.CopyFrom(types_pb2.Snapshot(sequence=0, state=pack(player_pb2.SitOut())))
    with pytest.raises(InvalidArgumentError, match="snapshot state is examples.SitOut"):
        AGG.execute(contextual_command(book, player_pb2.DepositFunds(amount=usd(1))))


def test_missing_command_is_invalid_argument():
    with pytest.raises(InvalidArgumentError, match="no command book"):
        AGG.execute(types_pb2.ContextualCommand())
    with pytest.raises(InvalidArgumentError, match="no pages"):
        AGG.execute(types_pb2.ContextualCommand(command=types_pb2.CommandBook(cover=cover("counter"))))


def test_exception_in_a_handler_is_internal():
    out = Scenario(AGG).when(player_pb2.WithdrawFunds(amount=Currency(currency_code="BOOM")))
    assert out.code == grpc.StatusCode.INTERNAL
    assert isinstance(out.error, InternalError)
    assert "ZeroDivisionError" in out.error.message


def test_a_handler_returning_junk_is_internal():
    out = Scenario(AGG).when(player_pb2.WithdrawFunds(amount=Currency(currency_code="JUNK")))
    assert out.code == grpc.StatusCode.INTERNAL


def test_events_without_an_applier_are_ignored():
    assert Scenario(AGG).given(player_pb2.PlayerSittingOut(table_root=b"t"), deposited(3, 3)).state.bankroll == usd(3)


def test_registration_is_checked():
    agg = Aggregate("x", player_pb2.PlayerState)
    agg.command_handler(player_pb2.DepositFunds)(lambda c, s, q: None)
    with pytest.raises(ValueError):
        agg.command_handler(player_pb2.DepositFunds)(lambda c, s, q: None)
    with pytest.raises(TypeError):
        agg.command_handler("examples.DepositFunds")
    with pytest.raises(TypeError):
        Aggregate("x", dict)
    assert agg.command_types == ["examples.DepositFunds"]


def test_an_applier_may_return_a_new_state():
    agg = Aggregate("x", player_pb2.PlayerState)

    @agg.applier(player_pb2.FundsDeposited)
    def apply(state, e):
        return player_pb2.PlayerState(bankroll=e.new_balance, status="fresh")

    assert Scenario(agg).given(deposited(4, 4)).state == player_pb2.PlayerState(bankroll=usd(4), status="fresh")


def test_status_error_carries_a_code():
    e = StatusError("gone", grpc.StatusCode.NOT_FOUND)
    assert (e.code, e.message) == (grpc.StatusCode.NOT_FOUND, "gone")
    assert CommandRejectedError("no").code == grpc.StatusCode.FAILED_PRECONDITION
