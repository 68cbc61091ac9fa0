"""The hand-flow process manager of the poker example (as in
examples/poker/src/hand_flow.rs), for the library's own tests: a table's hand
from start to end across the `table` and `hand` domains.

- `HandStarted` (table) -> record `HandFlowStarted`, command the hand to deal
  (`DealCards`), only if that hand has no events yet (its next sequence,
  asked for by `prepare`) and this process has not started;
- `HandComplete` (hand) -> record `HandFlowEnded`, command the table to end
  the hand (`EndHand` with the final stacks), once, for this process's hand.
"""

from __future__ import annotations

import uuid

from angzarr_client import ProcessManager, Reaction, command
from angzarr_client.proto.angzarr import types_pb2
from angzarr_client.proto.examples import hand_pb2, orchestration_pb2, table_pb2

NAME = "hand-flow"
HAND = "hand"
TABLE = "table"


def _uuid(raw: bytes) -> uuid.UUID | None:
    return uuid.UUID(bytes=bytes(raw)) if len(raw) == 16 else None


def make() -> ProcessManager:
    pm = ProcessManager(NAME, orchestration_pb2.HandFlowState)

    @pm.apply(orchestration_pb2.HandFlowStarted)
    def started(state, e):
        state.table_root = e.table_root
        state.hand_root = e.hand_root
        state.hand_number = e.hand_number
        state.phase = "dealing"

    # The direct form, chained.
    pm.apply(orchestration_pb2.HandFlowEnded, lambda state, e: setattr(state, "phase", "ended"))

    @pm.prepare(table_pb2.HandStarted)
    def hand_of(e, state):
        root = _uuid(e.hand_root)
        return [] if root is None else [types_pb2.Cover(domain=HAND, root=types_pb2.UUID(value=root.bytes))]

    @pm.on(table_pb2.HandStarted)
    def deal(e, state, trigger):
        if e.hand_number < 0:
            raise RuntimeError("pm bug")
        hand, table = _uuid(e.hand_root), trigger.cover.root.value
        if hand is None or len(table) != 16:
            return None
        # A process runs one hand; a hand that already has events was dealt.
        if state.phase or trigger.destinations.get(HAND, 0) != 0:
            return Reaction.none()
        deal_cards = hand_pb2.DealCards(
            table_root=table,
            hand_number=e.hand_number,
            game_variant=e.game_variant,
            players=[
                hand_pb2.PlayerInHand(player_root=p.player_root, position=p.position, stack=p.stack)
                for p in e.active_players
            ],
            dealer_position=e.dealer_position,
            small_blind=e.small_blind,
            big_blind=e.big_blind,
        )
        return (
            Reaction.none()
            .record(orchestration_pb2.HandFlowStarted(table_root=table, hand_root=e.hand_root, hand_number=e.hand_number))
            .send(command(HAND, hand, deal_cards))
        )

    @pm.on(hand_pb2.HandComplete)
    def complete(e, state, trigger):
        this_hand = trigger.cover.root.value == state.hand_root
        table = _uuid(state.table_root)
        if table is None or state.phase != "dealing" or not this_hand:
            return Reaction.none()
        end = table_pb2.EndHand(
            hand_root=state.hand_root,
            results=[table_pb2.PotResult(winner_root=w.player_root, amount=w.amount, pot_type=w.pot_type) for w in e.winners],
            final_stacks=[table_pb2.SeatSnapshot(player_root=f.player_root, stack=f.stack) for f in e.final_stacks],
        )
        return (
            Reaction.none()
            .record(
                orchestration_pb2.HandFlowEnded(
                    hand_root=state.hand_root,
                    winners=[orchestration_pb2.PotWinnerRef(player_root=w.player_root, amount=w.amount) for w in e.winners],
                )
            )
            .send(command(TABLE, table, end))
        )

    return pm
