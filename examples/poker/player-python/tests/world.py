"""The BDD world for features/player.feature, in-process.

It holds one player aggregate (a fresh random root) and the list of its
recorded events, and plays the coordinator's part (features/README.md): a
command carries an expected sequence, and the world refuses it unless it
equals the number of recorded events; accepted events are checked against
the contract (cover, page sequences, snapshot) before they are recorded.
"""

from __future__ import annotations

import uuid

import grpc
from angzarr_client import StatusError, full_name, type_name
from angzarr_client.proto.angzarr import types_pb2
from angzarr_client.proto.examples import player_pb2, poker_types_pb2
from angzarr_client.testing import contextual_command, cover

from player_service import DOMAIN, aggregate


def usd(amount: int) -> poker_types_pb2.Currency:
    """``$N`` in the feature files."""
    return poker_types_pb2.Currency(amount=amount, currency_code="USD")


class PlayerWorld:
    def __init__(self) -> None:
        self.root = uuid.uuid4()
        self.events: list = []  # recorded events (google.protobuf.Any), in sequence order
        self.before_when = 0
        self.last_events: list | None = None  # events of the last accepted command
        self.last_error: StatusError | None = None
        self.last_snapshot: types_pb2.Snapshot | None = None

    def book(self) -> types_pb2.EventBook:
        pages = [types_pb2.EventPage(header=types_pb2.PageHeader(sequence=i), event=e) for i, e in enumerate(self.events)]
        return types_pb2.EventBook(cover=cover(DOMAIN, self.root), pages=pages, next_sequence=len(pages))

    def state(self) -> player_pb2.PlayerState:
        return aggregate.state_of(self.book())

    def when(self) -> None:
        """Marks the start of a ``When``: what "no new event" compares with."""
        self.before_when = len(self.events)

    def send(self, command, expected_sequence: int | None = None) -> bool:
        """Sends ``command``; records its events if accepted. Returns whether it was."""
        book = self.book()
        expected = len(self.events) if expected_sequence is None else expected_sequence
        self.last_events, self.last_error = None, None
        if expected != len(self.events):
            self.last_error = StatusError(
                f"sequence mismatch: command expects sequence {expected}, the aggregate is at {len(self.events)}",
                grpc.StatusCode.FAILED_PRECONDITION,
            )
            return False
        request = contextual_command(book, command, expected)
        try:
            response = aggregate.execute(request)
        except StatusError as e:
            self.last_error = e
            return False
        assert response.WhichOneof("result") == "events", response
        out = response.events
        assert out.cover == request.command.cover, "the response must carry the command's cover"
        for i, page in enumerate(out.pages):
            assert page.header.WhichOneof("sequence_type") == "sequence"
            assert page.header.sequence == len(self.events) + i, "pages are numbered from next_sequence"
            assert page.event.type_url.startswith("type.googleapis.com/examples."), page.event.type_url
            assert not page.HasField("created_at"), "the coordinator stamps created_at"
        if out.pages:
            assert out.snapshot.sequence == len(self.events) + len(out.pages) - 1
            assert type_name(out.snapshot.state.type_url) == full_name(player_pb2.PlayerState)
            self.last_snapshot = out.snapshot
        self.last_events = [p.event for p in out.pages]
        self.events.extend(self.last_events)
        return True

    def must_accept(self, command) -> None:
        assert self.send(command), f"{full_name(command)} must be accepted, got {self.last_error!r}"
