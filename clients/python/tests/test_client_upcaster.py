"""Upcaster.upcast: the UpcasterService contract, in-process."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2

from angzarr_client import InternalError, InvalidArgumentError, Upcaster, unpack_as
from angzarr_client.anys import type_name
from angzarr_client.proto.angzarr import types_pb2, upcaster_pb2
from angzarr_client.proto.examples import player_pb2
from angzarr_client.testing import upcast_request

from counter import usd
from player_upcaster import make


def test_mapped_events_are_rewritten_in_place():
    request = upcast_request(
        "player",
        [
            player_pb2.PlayerRegisteredV1(name="Ada", email="ada@example.com"),
            player_pb2.FundsDeposited(amount=usd(5)),
            player_pb2.PlayerRegisteredV1(name="Bob"),
        ],
        first_sequence=4,
    )
    request.events[0].created_at.seconds = 1700000000
    out = make().upcast(request)
    assert [type_name(p.event.type_url) for p in out.events] == [
        "examples.PlayerRegistered",
        "examples.FundsDeposited",
        "examples.PlayerRegistered",
    ]
    assert [p.header.sequence for p in out.events] == [4, 5, 6]
    assert out.events[0].created_at.seconds == 1700000000
    first = unpack_as(out.events[0].event, player_pb2.PlayerRegistered)
    assert (first.display_name, first.email) == ("Ada", "ada@example.com")
    assert unpack_as(out.events[2].event, player_pb2.PlayerRegistered).display_name == "Bob"
    # Unmapped: the very same page.
    assert out.events[1] == request.events[1]
    # The request is left alone.
    assert type_name(request.events[0].event.type_url) == "examples.PlayerRegisteredV1"


def test_unmapped_events_and_other_payloads_pass_through():
    request = upcast_request("player", [player_pb2.FundsDeposited(amount=usd(1)), player_pb2.PlayerRegistered()])
    request.events.add(header=types_pb2.PageHeader(sequence=2), external=types_pb2.PayloadReference(uri="s3://x"))
    assert make().upcast(request).events == request.events
    assert Upcaster().upcast(request).events == request.events
    assert list(make().upcast(upcaster_pb2.UpcastRequest(domain="player")).events) == []


def test_a_malformed_old_payload_is_invalid_argument():
    request = upcast_request("player", [player_pb2.FundsDeposited()])
    request.events.add(
        header=types_pb2.PageHeader(sequence=1),
        event=any_pb2.Any(type_url="type.googleapis.com/examples.PlayerRegisteredV1", value=b"\x0a\xff"),
    )
    with pytest.raises(InvalidArgumentError, match="malformed examples.PlayerRegisteredV1") as info:
        make().upcast(request)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_failing_map_is_internal():
    with pytest.raises(InternalError, match="RuntimeError: upcaster bug"):
        make().upcast(upcast_request("player", [player_pb2.PlayerRegisteredV1(name="boom")]))
    with pytest.raises(InternalError, match="returned FundsDeposited, expected examples.PlayerRegistered"):
        make().upcast(upcast_request("player", [player_pb2.PlayerRegisteredV1(name="wrong")]))
    loose = Upcaster().map(player_pb2.PlayerRegisteredV1, lambda old: "junk")
    with pytest.raises(InternalError, match="returned str, expected a protobuf message"):
        loose.upcast(upcast_request("player", [player_pb2.PlayerRegisteredV1()]))


def test_registration_is_checked():
    up = Upcaster().map(player_pb2.PlayerRegisteredV1, player_pb2.PlayerRegistered, lambda old: player_pb2.PlayerRegistered())
    assert up.event_types == ["examples.PlayerRegisteredV1"]
    with pytest.raises(ValueError, match="already mapped"):
        up.map(player_pb2.PlayerRegisteredV1, lambda old: old)
    with pytest.raises(TypeError):
        up.map("examples.PlayerRegisteredV1")
    with pytest.raises(TypeError):
        up.map(player_pb2.FundsDeposited, "examples.PlayerRegistered")
    with pytest.raises(TypeError):
        up.map(player_pb2.FundsDeposited, player_pb2.PlayerRegistered, "not callable")
