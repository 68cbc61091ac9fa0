"""A synthetic, seeded stream of player events for the ML projector's tests.

Two kinds of player: *cashers* alternate deposits and withdrawals, *grinders*
deposit, reserve a buy-in, get it released, and never withdraw. Events are
interleaved across players at random (seeded), each player's stream numbered
from 0 like the coordinator does, with consistent balances."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np
from angzarr_client.proto.examples import player_pb2, poker_types_pb2

TABLE = uuid.UUID(int=0x7AB1E).bytes


def usd(n: int) -> poker_types_pb2.Currency:
    return poker_types_pb2.Currency(amount=n, currency_code="USD")


@dataclass
class SimPlayer:
    root: uuid.UUID
    kind: str  # "casher" | "grinder"
    balance: int = 0
    reserved: int = 0
    step: int = 0
    #: Events so far, in stream order (sequence = index).
    events: list = field(default_factory=list)

    def next_event(self, rng: np.random.Generator):
        if not self.events:
            return player_pb2.PlayerRegistered(display_name=f"{self.kind}-{self.root.int}", email="p@example.com")
        amount = int(rng.integers(10, 100))
        i = self.step
        self.step += 1
        if self.kind == "casher":
            if i % 2 == 0:
                self.balance += amount
                return player_pb2.FundsDeposited(amount=usd(amount), new_balance=usd(self.balance))
            out = min(amount, self.balance)
            self.balance -= out
            return player_pb2.FundsWithdrawn(amount=usd(out), new_balance=usd(self.balance))
        phase = i % 3
        if phase == 0:
            self.balance += amount
            return player_pb2.FundsDeposited(amount=usd(amount), new_balance=usd(self.balance))
        if phase == 1:
            self.reserved = self.balance // 2
            self.balance -= self.reserved
            return player_pb2.FundsReserved(
                amount=usd(self.reserved), table_root=TABLE,
                new_available_balance=usd(self.balance), new_reserved_balance=usd(self.reserved),
            )
        released, self.reserved = self.reserved, 0
        self.balance += released
        return player_pb2.FundsReleased(
            amount=usd(released), table_root=TABLE, new_available_balance=usd(self.balance), new_reserved_balance=usd(0)
        )


def population(cashers: int = 8, grinders: int = 8) -> list[SimPlayer]:
    return [SimPlayer(uuid.UUID(int=0xC000 + i), "casher") for i in range(cashers)] + [
        SimPlayer(uuid.UUID(int=0x6000 + i), "grinder") for i in range(grinders)
    ]


def stream(players: list[SimPlayer], n: int, seed: int = 1):
    """``n`` events as ``(player, sequence, event)``, players picked at random."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p = players[int(rng.integers(len(players)))]
        event = p.next_event(rng)
        p.events.append(event)
        out.append((p, len(p.events) - 1, event))
    return out


def until_deposit(players: list[SimPlayer], seed: int = 2):
    """Each player's next events up to and including a deposit (so every
    player is right after a deposit), as ``(player, sequence, event)``."""
    rng = np.random.default_rng(seed)
    out = []
    for p in players:
        while True:
            event = p.next_event(rng)
            p.events.append(event)
            out.append((p, len(p.events) - 1, event))
            if isinstance(event, player_pb2.FundsDeposited):
                break
    return out
