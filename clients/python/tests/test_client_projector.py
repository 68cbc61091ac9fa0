"""Projector.execute / execute_speculative: the ProjectorService contract, in-process."""

from __future__ import annotations

import copy
import uuid

import grpc
import pytest
from google.protobuf import any_pb2, wrappers_pb2

from angzarr_client import InternalError, Projector, StatusError, pack, stream_key, unpack_as
from angzarr_client.proto.angzarr import types_pb2
from angzarr_client.proto.examples import player_pb2
from angzarr_client.testing import cover, event_book

from counter import usd

ROOT_A = uuid.UUID(int=1)
ROOT_B = uuid.UUID(int=2)


def deposited(n):
    return player_pb2.FundsDeposited(amount=usd(n), new_balance=usd(0))


def withdrawn(n):
    return player_pb2.FundsWithdrawn(amount=usd(n), new_balance=usd(0))


class Model:
    """A read model summing deposits minus withdrawals per root, idempotent
    the recommended way: the last sequence applied per stream is kept with
    the data and updated in the same step."""

    def __init__(self):
        self.totals: dict[bytes, int] = {}
        self.applied: dict[tuple[str, str, bytes], int] = {}

    def apply(self, the_cover, sequence, delta):
        key = stream_key(the_cover)
        if self.applied.get(key, -1) >= sequence:
            return
        root = the_cover.root.value
        self.totals[root] = self.totals.get(root, 0) + delta
        self.applied[key] = sequence

    def wipe(self):
        self.totals.clear()
        self.applied.clear()


def make():
    """A projector feeding a :class:`Model`, recording every handler call."""
    model = Model()
    totals = model.totals
    calls: list[tuple[str, bytes, int]] = []
    p = Projector("totals")

    @p.on(player_pb2.FundsDeposited)
    def on_deposit(event, the_cover, sequence):
        if event.amount.currency_code == "BOOM":
            raise ZeroDivisionError("boom")
        calls.append(("deposit", the_cover.root.value, sequence))
        model.apply(the_cover, sequence, event.amount.amount)

    @p.on(player_pb2.FundsWithdrawn)
    def on_withdraw(event, the_cover, sequence):
        calls.append(("withdraw", the_cover.root.value, sequence))
        model.apply(the_cover, sequence, -event.amount.amount)

    @p.view
    def view(the_cover):
        if the_cover.root.value not in totals:
            return None
        return wrappers_pb2.Int64Value(value=totals[the_cover.root.value])

    def restore(saved):
        model.wipe()
        model.totals.update(saved[0])
        model.applied.update(saved[1])

    p.speculation(save=lambda: copy.deepcopy((model.totals, model.applied)), restore=restore)
    p.model = model
    return p, totals, calls


def total_of(projection):
    return unpack_as(projection.projection, wrappers_pb2.Int64Value).value


def test_projection_follows_the_contract():
    p, totals, calls = make()
    the_cover = cover("player", ROOT_A, correlation_id="corr-1")
    out = p.execute(event_book(the_cover, [deposited(10), deposited(5), withdrawn(3)]))
    assert out.cover == the_cover
    assert out.projector == "totals"
    assert out.sequence == 2
    assert out.projection.type_url == "type.googleapis.com/google.protobuf.Int64Value"
    assert total_of(out) == 12
    assert [c[0] for c in calls] == ["deposit", "deposit", "withdraw"]
    assert [c[2] for c in calls] == [0, 1, 2]
    assert not hasattr(p, "last_sequence") and not hasattr(p, "positions")  # no positions of its own
    assert p.event_types == ["examples.FundsDeposited", "examples.FundsWithdrawn"]


def test_redelivered_pages_reach_the_handlers_and_the_read_model_skips_them():
    p, totals, calls = make()
    a, b = cover("player", ROOT_A), cover("player", ROOT_B)
    p.execute(event_book(a, [deposited(10), deposited(5)]))
    # The same book again (a crash before the coordinator committed), then an overlapping one.
    again = p.execute(event_book(a, [deposited(10), deposited(5)]))
    assert (again.sequence, total_of(again)) == (1, 15)
    overlap = p.execute(event_book(a, [deposited(5), deposited(1), deposited(2)], first_sequence=1))
    assert (overlap.sequence, total_of(overlap)) == (3, 18)
    # Every delivered page reached its handler, with its sequence.
    assert [c[2] for c in calls] == [0, 1, 0, 1, 1, 2, 3]
    # The read model's positions are per stream: another root starts at sequence 0 ...
    assert total_of(p.execute(event_book(b, [deposited(7)]))) == 7
    # ... so do another domain and another edition of the same root.
    other_domain = cover("wallet", ROOT_A)
    assert total_of(p.execute(event_book(other_domain, [deposited(1)]))) == 19
    edition = cover("player", ROOT_A)
    edition.edition.name = "v2"
    assert total_of(p.execute(event_book(edition, [deposited(1)]))) == 20
    assert p.model.applied == {
        ("player", "", ROOT_A.bytes): 3,
        ("player", "", ROOT_B.bytes): 0,
        ("wallet", "", ROOT_A.bytes): 0,
        ("player", "v2", ROOT_A.bytes): 0,
    }
    assert stream_key(edition) == ("player", "v2", ROOT_A.bytes)


def test_a_replay_into_a_wiped_read_model_rebuilds_it_in_the_same_process():
    p, totals, calls = make()
    a = cover("player", ROOT_A)
    history = [deposited(10), withdrawn(3), deposited(5)]
    assert total_of(p.execute(event_book(a, history))) == 12
    # The operator wipes the read model and rewinds the consumer group; this
    # projector process keeps running and gets everything again.
    p.model.wipe()
    for seq, event in enumerate(history):
        out = p.execute(event_book(a, [event], first_sequence=seq))
    assert (out.sequence, total_of(out)) == (2, 12)
    assert [c[2] for c in calls] == [0, 1, 2, 0, 1, 2]


def test_a_failure_keeps_what_was_applied_and_the_retry_resumes():
    p, totals, calls = make()
    a = cover("player", ROOT_A)
    bad = player_pb2.FundsDeposited(amount=player_pb2.FundsDeposited().amount)
    bad.amount.currency_code = "BOOM"
    book = event_book(a, [deposited(1), deposited(2), bad, deposited(4)])
    with pytest.raises(InternalError) as info:
        p.execute(book)
    assert info.value.code == grpc.StatusCode.INTERNAL
    assert "ZeroDivisionError" in info.value.message and "sequence 2" in info.value.message
    assert p.model.applied[stream_key(a)] == 1 and totals[ROOT_A.bytes] == 3
    # The coordinator retries the whole book; the read model skips the first two pages.
    book.pages[2].event.CopyFrom(pack(deposited(3)))
    assert total_of(p.execute(book)) == 10
    assert [c[2] for c in calls] == [0, 1, 0, 1, 2, 3]


def test_unknown_events_are_ignored():
    p, totals, calls = make()
    a = cover("player", ROOT_A)
    out = p.execute(event_book(a, [player_pb2.PlayerRegistered(display_name="Ada"), deposited(2), player_pb2.SitOut()]))
    assert out.sequence == 2 and total_of(out) == 2
    assert calls == [("deposit", ROOT_A.bytes, 1)]


def test_no_commit_pages_are_not_reacted_to():
    p, totals, calls = make()
    a = cover("player", ROOT_A)
    book = event_book(a, [deposited(1), deposited(100)])
    book.pages[1].no_commit = True
    out = p.execute(book)
    assert total_of(out) == 1 and [c[2] for c in calls] == [0]
    assert out.sequence == 1  # the book's last page


def test_external_payloads_and_malformed_events_are_internal():
    p, _, _ = make()
    a = cover("player", ROOT_A)
    book = types_pb2.EventBook(cover=a)
    book.pages.add(header=types_pb2.PageHeader(sequence=0), external=types_pb2.PayloadReference(uri="s3://x/y"))
    with pytest.raises(InternalError, match="stored externally"):
        p.execute(book)
    book = types_pb2.EventBook(cover=a)
    book.pages.add(
        header=types_pb2.PageHeader(sequence=0),
        event=any_pb2.Any(type_url="type.googleapis.com/examples.FundsDeposited", value=b"\xff"),
    )
    with pytest.raises(InternalError, match="malformed event examples.FundsDeposited at sequence 0"):
        p.execute(book)
    assert p.model.totals == {}


def test_empty_book_and_no_view():
    p = Projector("plain")
    calls = []
    p.on(player_pb2.FundsDeposited)(lambda e, c, s: calls.append(s))
    a = cover("player", ROOT_A)
    out = p.execute(types_pb2.EventBook(cover=a))
    assert (out.projector, out.sequence, out.HasField("projection")) == ("plain", 0, False)
    p.execute(event_book(a, [deposited(1)], first_sequence=4))
    out = p.execute(types_pb2.EventBook(cover=a))
    assert out.sequence == 0 and calls == [4]


def test_speculative_changes_nothing():
    p, totals, calls = make()
    a = cover("player", ROOT_A)
    p.execute(event_book(a, [deposited(10)]))
    spec = p.execute_speculative(event_book(a, [deposited(10), deposited(5), withdrawn(1)]))
    assert (spec.sequence, total_of(spec)) == (2, 14)  # page 0 already applied: the model skips it there too
    assert totals == {ROOT_A.bytes: 10} and p.model.applied == {stream_key(a): 0}
    assert total_of(p.execute(event_book(a, [deposited(5)], first_sequence=1))) == 15


def test_speculative_needs_save_and_restore():
    p = Projector("plain")
    with pytest.raises(StatusError) as info:
        p.execute_speculative(event_book(cover("player"), [deposited(1)]))
    assert info.value.code == grpc.StatusCode.UNIMPLEMENTED


def test_view_failures_are_internal():
    p = Projector("v")
    p.view(lambda c: "not a message")
    with pytest.raises(InternalError, match="view returned str"):
        p.execute(event_book(cover("player"), []))
    q = Projector("w")
    q.view(lambda c: 1 / 0)
    with pytest.raises(InternalError, match="view failed: ZeroDivisionError"):
        q.execute(event_book(cover("player"), []))


def test_registration_is_checked():
    p = Projector("x", domains="player")
    assert p.domains == ("player",)
    p.on(player_pb2.FundsDeposited)(lambda e, c, s: None)
    with pytest.raises(ValueError):
        p.on(player_pb2.FundsDeposited)(lambda e, c, s: None)
    with pytest.raises(TypeError):
        p.on("examples.FundsDeposited")
    with pytest.raises(TypeError):
        p.on(player_pb2.FundsWithdrawn)("not callable")
    p.view(lambda c: None)
    with pytest.raises(ValueError):
        p.view(lambda c: None)
    with pytest.raises(ValueError):
        Projector("")
    with pytest.raises(TypeError):
        p.speculation(save=None, restore=None)


def test_checkpoint_runs_after_handled_pages_only_and_again_after_a_failure():
    p, totals, _ = make()
    saved: list[tuple[dict, dict]] = []
    fail = [True]

    @p.checkpoint
    def checkpoint():
        if fail[0]:
            fail[0] = False
            raise OSError("disk full")
        saved.append((dict(totals), dict(p.model.applied)))

    a = cover("player", ROOT_A)
    with pytest.raises(InternalError, match="checkpoint failed: OSError: disk full"):
        p.execute(event_book(a, [deposited(1)]))
    # The retry changes nothing in the model, and what was not persisted yet is.
    p.execute(event_book(a, [deposited(1)]))
    assert saved == [({ROOT_A.bytes: 1}, {("player", "", ROOT_A.bytes): 0})]
    p.execute(event_book(a, [player_pb2.SitOut()], first_sequence=1))  # no handler ran: nothing to persist
    p.execute(types_pb2.EventBook(cover=a))
    p.execute_speculative(event_book(a, [deposited(1), deposited(2)]))  # never persisted
    assert len(saved) == 1
    p.execute(event_book(a, [deposited(1), deposited(2)]))
    assert saved[-1] == ({ROOT_A.bytes: 3}, {("player", "", ROOT_A.bytes): 1})
    with pytest.raises(ValueError):
        p.checkpoint(lambda: None)
