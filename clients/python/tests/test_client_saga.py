"""Saga.execute and command(): the SagaService contract, in-process."""

from __future__ import annotations

import uuid

import grpc
import pytest

from angzarr_client import InternalError, Saga, command, root_bytes, unpack_as
from angzarr_client.proto.angzarr import saga_pb2, types_pb2
from angzarr_client.proto.examples import player_pb2, table_pb2
from angzarr_client.testing import cover, event_book, saga_request

from counter import usd

TABLE = uuid.UUID(int=0x7AB1E)
PLAYER_1 = uuid.UUID(int=11)
PLAYER_2 = uuid.UUID(int=12)


def make():
    saga = Saga("reserve-on-join", domains=["table"])

    @saga.on(table_pb2.PlayerJoined)
    def joined(event, the_cover, sequence):
        if event.buy_in_amount < 0:
            raise ValueError("negative buy-in")
        if event.buy_in_amount == 0:
            return None
        return command(
            "player",
            event.player_root,
            player_pb2.ReserveFunds(amount=usd(event.buy_in_amount), table_root=the_cover.root.value),
        )

    @saga.on(table_pb2.PlayerLeft)
    def left(event, the_cover, sequence):
        return [command("player", event.player_root, player_pb2.ReleaseFunds(table_root=the_cover.root.value))]

    return saga


def joined(player, amount):
    return table_pb2.PlayerJoined(player_root=player.bytes, buy_in_amount=amount)


def test_commands_follow_the_contract():
    table = cover("table", TABLE, correlation_id="corr-9")
    source = event_book(table, [joined(PLAYER_1, 500), joined(PLAYER_2, 0), table_pb2.PlayerLeft(player_root=PLAYER_1.bytes)])
    response = make().execute(saga_request(source))
    assert isinstance(response, saga_pb2.SagaResponse)
    assert len(response.commands) == 2 and not response.events
    reserve, release = response.commands
    assert reserve.cover.domain == "player"
    assert reserve.cover.root.value == PLAYER_1.bytes
    assert reserve.cover.correlation_id == ""  # the coordinator copies it
    assert len(reserve.pages) == 1
    page = reserve.pages[0]
    assert not page.HasField("header")  # the coordinator stamps a deferred sequence
    assert page.command.type_url == "type.googleapis.com/examples.ReserveFunds"
    assert unpack_as(page.command, player_pb2.ReserveFunds) == player_pb2.ReserveFunds(
        amount=usd(500), table_root=TABLE.bytes
    )
    assert unpack_as(release.pages[0].command, player_pb2.ReleaseFunds).table_root == TABLE.bytes


def test_nothing_to_do_is_fine():
    saga = make()
    assert list(saga.execute(saga_request(event_book(cover("table", TABLE), [table_pb2.TableCreated()]))).commands) == []
    assert list(saga.execute(saga_pb2.SagaHandleRequest()).commands) == []
    # A bare EventBook is taken as the source.
    assert len(saga.execute(event_book(cover("table", TABLE), [joined(PLAYER_1, 5)])).commands) == 1


def test_no_commit_pages_are_not_reacted_to():
    source = event_book(cover("table", TABLE), [joined(PLAYER_1, 5), joined(PLAYER_2, 6)])
    source.pages[0].no_commit = True
    commands = make().execute(saga_request(source)).commands
    assert [c.cover.root.value for c in commands] == [PLAYER_2.bytes]


def test_a_failing_handler_is_internal():
    with pytest.raises(InternalError) as info:
        make().execute(saga_request(event_book(cover("table", TABLE), [joined(PLAYER_1, -1)])))
    assert info.value.code == grpc.StatusCode.INTERNAL
    assert "ValueError: negative buy-in" in info.value.message


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        ("a string", "returned str"),
        (player_pb2.ReserveFunds(), "returned ReserveFunds"),
        ([player_pb2.ReserveFunds()], "ReserveFunds is not a CommandBook"),
        (types_pb2.CommandBook(cover=types_pb2.Cover(domain="player")), "the root is 0 bytes"),
        (types_pb2.CommandBook(cover=types_pb2.Cover(root=types_pb2.UUID(value=b"x" * 16))), "no target domain"),
        (types_pb2.CommandBook(cover=types_pb2.Cover(domain="p", root=types_pb2.UUID(value=b"x" * 16))), "0 pages"),
        (types_pb2.CommandBook(cover=types_pb2.Cover(domain="p", root=types_pb2.UUID(value=bytes(16))), pages=[{}]), "nil UUID"),
        (types_pb2.CommandBook(cover=types_pb2.Cover(domain="p", root=types_pb2.UUID(value=b"x" * 16)), pages=[{}]), "no command"),
    ],
)
def test_bad_command_books_are_internal(returned, problem):
    saga = Saga("bad")
    saga.on(table_pb2.PlayerJoined)(lambda e, c, s: returned)
    with pytest.raises(InternalError, match=problem):
        saga.execute(saga_request(event_book(cover("table", TABLE), [joined(PLAYER_1, 1)])))


def test_a_header_set_by_hand_is_passed_through():
    # command() leaves it unset; the coordinator keeps an explicit one.
    book = command("player", PLAYER_1, player_pb2.SitOut())
    book.pages[0].header.sequence = 3
    saga = Saga("stamps")
    saga.on(table_pb2.PlayerJoined)(lambda e, c, s: book)
    out = saga.execute(saga_request(event_book(cover("table", TABLE), [joined(PLAYER_1, 1)])))
    assert out.commands[0].pages[0].header.sequence == 3


def test_command_takes_any_root_spelling():
    expected = PLAYER_1.bytes
    for root in (PLAYER_1, PLAYER_1.bytes, str(PLAYER_1), types_pb2.UUID(value=PLAYER_1.bytes), bytearray(expected)):
        assert command("player", root, player_pb2.SitOut()).cover.root.value == expected
    assert root_bytes(PLAYER_1.hex) == expected
    with pytest.raises(ValueError):
        command("player", b"short", player_pb2.SitOut())
    with pytest.raises(ValueError):
        command("", PLAYER_1, player_pb2.SitOut())
    with pytest.raises(ValueError, match="nil UUID"):
        command("player", uuid.UUID(int=0), player_pb2.SitOut())
    with pytest.raises(TypeError):
        command("player", PLAYER_1, "SitOut")
    with pytest.raises(ValueError):
        root_bytes(42)


def test_registration_is_checked():
    saga = make()
    assert saga.event_types == ["examples.PlayerJoined", "examples.PlayerLeft"]
    assert saga.domains == ("table",)
    with pytest.raises(ValueError):
        saga.on(table_pb2.PlayerJoined)(lambda e, c, s: None)
    with pytest.raises(ValueError):
        Saga("")
