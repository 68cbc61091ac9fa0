"""ProcessManager.handle / handle_prepare: the ProcessManagerService contract, in-process."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import any_pb2

from angzarr_client import InternalError, InvalidArgumentError, ProcessManager, Reaction, command, pack, unpack_as
from angzarr_client.proto.angzarr import types_pb2
from angzarr_client.proto.examples import hand_pb2, orchestration_pb2, player_pb2, table_pb2
from angzarr_client.testing import cover, event_book, pm_handle_request, pm_prepare_request

import handflow
from counter import usd

TABLE = uuid.UUID(int=0x7AB1E)
HAND = uuid.UUID(int=0x4A4D)
OTHER_HAND = uuid.UUID(int=0x4A4E)
ALICE = uuid.UUID(int=0xA11CE)
PROCESS = cover("hand-flow", None, correlation_id="corr-1")


def hand_started(hand=HAND, number=1):
    return table_pb2.HandStarted(
        hand_root=hand.bytes,
        hand_number=number,
        small_blind=1,
        big_blind=2,
        active_players=[table_pb2.SeatSnapshot(position=0, player_root=ALICE.bytes, stack=100)],
    )


def hand_complete():
    return hand_pb2.HandComplete(
        table_root=TABLE.bytes,
        hand_number=1,
        winners=[hand_pb2.PotWinner(player_root=ALICE.bytes, amount=3, pot_type="main")],
        final_stacks=[hand_pb2.PlayerStackSnapshot(player_root=ALICE.bytes, stack=103)],
    )


def trigger(domain, root, *events, first=3):
    return event_book(cover(domain, root, correlation_id="corr-1"), events, first_sequence=first)


def stored(process_events: types_pb2.EventBook, history: types_pb2.EventBook | None = None) -> types_pb2.EventBook:
    """The process's book after the coordinator committed ``process_events``
    (what the next Handle gets as process_state)."""
    book = types_pb2.EventBook()
    book.CopyFrom(history if history is not None else types_pb2.EventBook(cover=PROCESS))
    book.pages.extend(process_events.pages)
    book.snapshot.CopyFrom(process_events.snapshot)
    book.next_sequence = book.pages[-1].header.sequence + 1
    return book


def state_in(book: types_pb2.EventBook) -> orchestration_pb2.HandFlowState:
    return unpack_as(book.snapshot.state, orchestration_pb2.HandFlowState)


def test_deals_once_then_ends_the_hand_at_the_table():
    pm = handflow.make()
    start = trigger("table", TABLE, hand_started())

    prepared = pm.handle_prepare(pm_prepare_request(start))
    assert [(c.domain, c.root.value) for c in prepared.destinations] == [("hand", HAND.bytes)]

    dealt = pm.handle(pm_handle_request(start, types_pb2.EventBook(cover=PROCESS), {"hand": 0}))
    assert len(dealt.commands) == 1 and list(dealt.facts) == []
    deal = dealt.commands[0]
    assert (deal.cover.domain, deal.cover.root.value) == ("hand", HAND.bytes)
    cards = unpack_as(deal.pages[0].command, hand_pb2.DealCards)
    assert (cards.table_root, cards.hand_number, cards.big_blind) == (TABLE.bytes, 1, 2)
    assert [(p.player_root, p.stack) for p in cards.players] == [(ALICE.bytes, 100)]
    events = dealt.process_events
    assert events.cover == PROCESS
    assert [p.header.sequence for p in events.pages] == [0]
    assert unpack_as(events.pages[0].event, orchestration_pb2.HandFlowStarted).hand_root == HAND.bytes
    assert events.snapshot.sequence == 0
    assert state_in(events) == orchestration_pb2.HandFlowState(
        table_root=TABLE.bytes, hand_root=HAND.bytes, hand_number=1, phase="dealing"
    )
    process = stored(events)

    # The same trigger again (redelivered): the process has started, nothing happens.
    again = pm.handle(pm_handle_request(start, process, {"hand": 0}))
    assert list(again.commands) == [] and list(again.process_events.pages) == []
    assert not again.process_events.HasField("snapshot") and again.process_events.cover == PROCESS
    # A new process whose hand already has events: dealt by someone else, nothing either.
    assert list(pm.handle(pm_handle_request(start, None, {"hand": 2})).commands) == []

    # Another hand completes: not this process's.
    assert list(pm.handle(pm_handle_request(trigger("hand", OTHER_HAND, hand_complete()), process)).commands) == []

    ended = pm.handle(pm_handle_request(trigger("hand", HAND, hand_complete(), first=9), process))
    assert len(ended.commands) == 1
    end = ended.commands[0]
    assert (end.cover.domain, end.cover.root.value) == ("table", TABLE.bytes)
    end_hand = unpack_as(end.pages[0].command, table_pb2.EndHand)
    assert end_hand.hand_root == HAND.bytes
    assert [(r.winner_root, r.amount, r.pot_type) for r in end_hand.results] == [(ALICE.bytes, 3, "main")]
    assert [(s.player_root, s.stack) for s in end_hand.final_stacks] == [(ALICE.bytes, 103)]
    assert [p.header.sequence for p in ended.process_events.pages] == [1]
    assert ended.process_events.snapshot.sequence == 1
    assert state_in(ended.process_events).phase == "ended"

    # Completed twice: ended already, nothing.
    done = stored(ended.process_events, process)
    assert list(pm.handle(pm_handle_request(trigger("hand", HAND, hand_complete(), first=9), done)).commands) == []
    assert pm.state_of(done).phase == "ended"


def test_each_recorded_event_is_applied_before_the_next_trigger_page():
    pm = handflow.make()
    # Two HandStarted in one trigger book: the second sees the first's process event.
    both = trigger("table", TABLE, hand_started(), hand_started(OTHER_HAND, 2), first=5)
    out = pm.handle(pm_handle_request(both, None, {"hand": 0}))
    assert [c.cover.root.value for c in out.commands] == [HAND.bytes]
    assert [p.header.sequence for p in out.process_events.pages] == [0]
    assert not out.process_events.HasField("cover")


def test_trigger_sequence_and_numbering_after_the_process_history():
    seen = []
    pm = ProcessManager("counting", orchestration_pb2.HandFlowState)
    pm.apply(orchestration_pb2.HandFlowStarted, lambda s, e: setattr(s, "hand_number", s.hand_number + 1))

    @pm.on(player_pb2.FundsDeposited)
    def deposited(e, state, t):
        seen.append((t.cover.domain, t.sequence, state.hand_number, dict(t.destinations)))
        state.phase = "scribbled"  # a copy: changes nothing
        r = Reaction.none()
        for _ in range(e.amount.amount):
            r.record(orchestration_pb2.HandFlowStarted())
        return r

    def run(process, amounts, first=7):
        book = trigger("player", ALICE, *[player_pb2.FundsDeposited(amount=usd(n)) for n in amounts], first=first)
        return pm.handle(pm_handle_request(book, process, {"table": 4})).process_events

    # A new process: numbered from 0; the snapshot is the last page's sequence.
    out = run(None, [2, 1])
    assert [p.header.sequence for p in out.pages] == [0, 1, 2]
    assert (out.snapshot.sequence, state_in(out).hand_number, state_in(out).phase) == (2, 3, "")
    assert seen == [("player", 7, 0, {"table": 4}), ("player", 8, 2, {"table": 4})]
    # next_sequence when the coordinator sends it ...
    history = types_pb2.EventBook(cover=PROCESS, next_sequence=12)
    assert [p.header.sequence for p in run(history, [1]).pages] == [12]
    # ... else after the last page, else after the snapshot.
    pages = event_book(PROCESS, [orchestration_pb2.HandFlowStarted()] * 2, first_sequence=3)
    pages.next_sequence = 0
    out = run(pages, [1])
    assert [p.header.sequence for p in out.pages] == [5] and state_in(out).hand_number == 3
    snap = types_pb2.EventBook(
        cover=PROCESS,
        snapshot=types_pb2.Snapshot(sequence=8, state=pack(orchestration_pb2.HandFlowState(hand_number=10))),
    )
    out = run(snap, [2])
    assert [p.header.sequence for p in out.pages] == [9, 10]
    assert (out.snapshot.sequence, state_in(out).hand_number) == (10, 12)
    # Nothing recorded: no pages, no snapshot.
    out = run(snap, [0])
    assert list(out.pages) == [] and not out.HasField("snapshot")


def test_unknown_types_unsequenced_and_no_commit_pages_are_ignored():
    pm = handflow.make()
    book = trigger("table", TABLE, table_pb2.PlayerJoined(), hand_started(), hand_started())
    book.pages[1].header.CopyFrom(types_pb2.PageHeader(angzarr_deferred=types_pb2.AngzarrDeferredSequence()))
    book.pages[2].no_commit = True
    out = pm.handle(pm_handle_request(book, None, {"hand": 0}))
    assert list(out.commands) == [] and list(out.process_events.pages) == []
    assert list(pm.handle_prepare(pm_prepare_request(trigger("table", TABLE, table_pb2.PlayerJoined()))).destinations) == []
    assert pm.event_types == ["examples.HandComplete", "examples.HandStarted"]


def test_unreadable_requests_are_invalid_argument():
    pm = handflow.make()
    with pytest.raises(InvalidArgumentError, match="no trigger"):
        pm.handle(pm_handle_request(None))
    bad = types_pb2.EventBook(cover=cover("table", TABLE))
    bad.pages.add(
        header=types_pb2.PageHeader(sequence=0),
        event=any_pb2.Any(type_url="type.googleapis.com/examples.HandStarted", value=b"\xff"),
    )
    for call in (lambda: pm.handle(pm_handle_request(bad)), lambda: pm.handle_prepare(pm_prepare_request(bad))):
        with pytest.raises(InvalidArgumentError, match="malformed examples.HandStarted at sequence 0") as info:
            call()
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    wrong = types_pb2.EventBook(snapshot=types_pb2.Snapshot(sequence=0, state=pack(player_pb2.PlayerState())))
    with pytest.raises(InvalidArgumentError, match="snapshot state is examples.PlayerState"):
        pm.handle(pm_handle_request(trigger("table", TABLE, hand_started()), wrong))


def test_handler_failures_are_internal():
    pm = handflow.make()
    with pytest.raises(InternalError, match="handler for `examples.HandStarted` failed: RuntimeError: pm bug") as info:
        pm.handle(pm_handle_request(trigger("table", TABLE, hand_started(number=-1))))
    assert info.value.code == grpc.StatusCode.INTERNAL

    junk = ProcessManager("junk", orchestration_pb2.HandFlowState)
    junk.on(player_pb2.FundsDeposited, lambda e, s, t: ["not a reaction"])
    junk.on(player_pb2.FundsWithdrawn, lambda e, s, t: Reaction(commands=[types_pb2.CommandBook()]))
    junk.prepare(player_pb2.FundsDeposited, lambda e, s: "hand")
    junk.prepare(player_pb2.FundsWithdrawn, lambda e, s: [types_pb2.Cover(domain="hand"), "x"])
    with pytest.raises(InternalError, match="returned list; expected a Reaction or None"):
        junk.handle(pm_handle_request(trigger("player", ALICE, player_pb2.FundsDeposited())))
    with pytest.raises(InternalError, match="bad command book: no target domain"):
        junk.handle(pm_handle_request(trigger("player", ALICE, player_pb2.FundsWithdrawn())))
    with pytest.raises(InternalError, match="prepare for `examples.FundsDeposited` returned str"):
        junk.handle_prepare(pm_prepare_request(trigger("player", ALICE, player_pb2.FundsDeposited())))
    with pytest.raises(InternalError, match="a str among its covers"):
        junk.handle_prepare(pm_prepare_request(trigger("player", ALICE, player_pb2.FundsWithdrawn())))


def test_registration_is_checked():
    pm = ProcessManager("x", orchestration_pb2.HandFlowState)
    chained = pm.on(player_pb2.FundsDeposited, lambda e, s, t: None).prepare(player_pb2.FundsDeposited, lambda e, s: None)
    assert chained is pm
    assert pm.apply(orchestration_pb2.HandFlowEnded, lambda s, e: None) is pm
    with pytest.raises(ValueError):
        pm.on(player_pb2.FundsDeposited)(lambda e, s, t: None)
    with pytest.raises(ValueError):
        pm.apply(orchestration_pb2.HandFlowEnded)(lambda s, e: None)
    with pytest.raises(TypeError):
        pm.on("examples.FundsDeposited")
    with pytest.raises(TypeError):
        ProcessManager("y", dict)
    with pytest.raises(ValueError):
        ProcessManager("", orchestration_pb2.HandFlowState)
    with pytest.raises(TypeError):
        Reaction().record("not an event")
    with pytest.raises(TypeError):
        Reaction().send(player_pb2.DepositFunds())
    assert len(Reaction.none().send(command("player", ALICE, player_pb2.DepositFunds())).commands) == 1
