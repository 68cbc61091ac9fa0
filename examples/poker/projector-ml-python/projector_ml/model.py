"""An online model of players' money movements, numpy only.

For every player it keeps a few running features (deposit count and sum,
withdrawal ratio, an exponentially-weighted withdrawal rate, reservation
frequency, the kind of the last money event, balance against its peak). One
logistic regression, shared by all players, learns from every money event
*before* folding it into the player's features: ``x`` = the player's features
so far, ``y`` = 1 if this event is a withdrawal. So its output for a player,
``p_next_withdrawal``, is the probability that the player's next money event
takes money out.

Everything is deterministic: weights start from a seeded generator, there is
no clock, and the same events in the same order give bit-identical weights.
The model knows nothing about angzarr or protobuf (see ``projector.py``).

Delivery is at-least-once, so the model is idempotent itself: each player
keeps the last sequence of its stream the model applied (``last_sequence``,
saved with everything else), and an event given with a sequence at or below
it is ignored. A model that is :meth:`~MoneyModel.reset` (or new) takes a
replay from sequence 0 again.
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

#: Kinds of money event, in the order of the one-hot "last event" features.
KINDS = ("deposit", "withdraw", "transfer_in", "reserve", "release")

#: Feature names, in the order of the weight vector.
FEATURES = (
    "bias",
    "log_deposit_count",
    "log_deposit_sum",
    "withdrawal_ratio",
    "withdraw_ewma",
    "reserve_rate",
    *(f"last_{k}" for k in KINDS),
    "balance_share",
)

#: Format of :meth:`MoneyModel.to_json`.
STATE_VERSION = 1


@dataclass
class Player:
    """Running features of one player (amounts in minor units)."""

    registered: bool = False
    money_events: int = 0
    deposit_count: int = 0
    deposit_sum: int = 0
    withdraw_count: int = 0
    withdraw_sum: int = 0
    transfer_in_count: int = 0
    transfer_in_sum: int = 0
    reserve_count: int = 0
    release_count: int = 0
    #: Exponentially-weighted share of withdrawals among the money events.
    withdraw_ewma: float = 0.0
    last_kind: str = ""
    balance: int = 0
    peak_balance: int = 0
    #: Last sequence of the player's stream applied (-1: none with a sequence).
    last_sequence: int = -1


@dataclass
class Config:
    learning_rate: float = 0.1
    l2: float = 1e-4
    #: Weight of the newest event in ``withdraw_ewma``.
    ewma_alpha: float = 0.3
    seed: int = 7


def sigmoid(z: float) -> float:
    z = min(max(z, -30.0), 30.0)
    return 1.0 / (1.0 + math.exp(-z))


def features(player: Player) -> np.ndarray:
    """The feature vector of ``player`` (in :data:`FEATURES` order), each
    roughly in [0, 1]."""
    x = np.zeros(len(FEATURES), dtype=np.float64)
    x[0] = 1.0
    x[1] = math.log1p(player.deposit_count) / 3.0
    x[2] = min(math.log1p(max(player.deposit_sum, 0)) / 15.0, 2.0)
    money_in = player.deposit_sum + player.transfer_in_sum
    x[3] = min(player.withdraw_sum / (money_in + 1.0), 2.0)
    x[4] = player.withdraw_ewma
    x[5] = player.reserve_count / (player.money_events + 1.0)
    if player.last_kind:
        x[6 + KINDS.index(player.last_kind)] = 1.0
    x[11] = min(max(player.balance / (player.peak_balance + 1.0), 0.0), 1.0)
    return x


class MoneyModel:
    """Per-player features and the shared online logistic regression.

    Thread-safe: updates come from the projector, reads from the HTTP
    endpoint."""

    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        rng = np.random.default_rng(self.config.seed)
        self.weights: np.ndarray = rng.normal(0.0, 0.01, len(FEATURES))
        self.players: dict[bytes, Player] = {}
        self.updates = 0
        #: Sum of the log-loss of each prediction made before learning from
        #: its outcome (progressive validation).
        self.loss_sum = 0.0
        self._lock = threading.RLock()

    # -- learning ---------------------------------------------------------

    def register(self, root: bytes, sequence: int | None = None) -> bool:
        """Marks player ``root`` registered; ``False`` if ``sequence`` was applied already."""
        with self._lock:
            player = self._player(root)
            if not self._advance(player, sequence):
                return False
            player.registered = True
            return True

    def observe(self, root: bytes, kind: str, amount: int, balance: int, sequence: int | None = None) -> float | None:
        """Learns from one money event of player ``root`` and folds it into
        the player's features. Returns the prediction the model made for it
        (before learning), or ``None`` if the event at ``sequence`` (of the
        player's stream) was applied already: a redelivery changes nothing."""
        if kind not in KINDS:
            raise ValueError(f"unknown money event kind {kind!r}")
        with self._lock:
            player = self._player(root)
            if not self._advance(player, sequence):
                return None
            x = features(player)
            y = 1.0 if kind == "withdraw" else 0.0
            p = sigmoid(float(self.weights @ x))
            self.loss_sum += -math.log(max(p if y else 1.0 - p, 1e-12))
            gradient = (y - p) * x - self.config.l2 * self.weights
            self.weights = self.weights + self.config.learning_rate * gradient
            self.updates += 1
            self._fold(player, kind, amount, balance)
            return p

    def _fold(self, player: Player, kind: str, amount: int, balance: int) -> None:
        amount = max(int(amount), 0)
        player.money_events += 1
        if kind == "deposit":
            player.deposit_count += 1
            player.deposit_sum += amount
        elif kind == "withdraw":
            player.withdraw_count += 1
            player.withdraw_sum += amount
        elif kind == "transfer_in":
            player.transfer_in_count += 1
            player.transfer_in_sum += amount
        elif kind == "reserve":
            player.reserve_count += 1
        else:
            player.release_count += 1
        a = self.config.ewma_alpha
        player.withdraw_ewma = (1.0 - a) * player.withdraw_ewma + a * (1.0 if kind == "withdraw" else 0.0)
        player.last_kind = kind
        player.balance = int(balance)
        player.peak_balance = max(player.peak_balance, player.balance)

    @staticmethod
    def _advance(player: Player, sequence: int | None) -> bool:
        """Whether the event at ``sequence`` is new for ``player`` (then it
        becomes the player's last applied sequence). ``None``: no sequence,
        always applied."""
        if sequence is None:
            return True
        if sequence <= player.last_sequence:
            return False
        player.last_sequence = int(sequence)
        return True

    def _player(self, root: bytes) -> Player:
        root = bytes(root)
        player = self.players.get(root)
        if player is None:
            player = self.players[root] = Player()
        return player

    # -- reading ----------------------------------------------------------

    def knows(self, root: bytes) -> bool:
        with self._lock:
            return bytes(root) in self.players

    def last_sequence(self, root: bytes) -> int | None:
        """The last sequence of player ``root``'s stream applied, ``None`` if none."""
        with self._lock:
            player = self.players.get(bytes(root))
            return None if player is None or player.last_sequence < 0 else player.last_sequence

    def predict(self, root: bytes) -> dict[str, Any] | None:
        """The prediction for player ``root`` and what it is based on, or
        ``None`` for a player never seen."""
        with self._lock:
            player = self.players.get(bytes(root))
            if player is None:
                return None
            x = features(player)
            return {
                "p_next_withdrawal": sigmoid(float(self.weights @ x)),
                "registered": player.registered,
                "money_events": player.money_events,
                "features": {name: float(v) for name, v in zip(FEATURES, x)},
                "model_updates": self.updates,
            }

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "weights": {name: float(w) for name, w in zip(FEATURES, self.weights)},
                "updates": self.updates,
                "mean_log_loss": self.loss_sum / self.updates if self.updates else None,
                "players": len(self.players),
            }

    # -- copies and persistence ------------------------------------------

    def reset(self) -> None:
        """Forgets everything learned, positions included: the model is as
        new (same config), e.g. before the coordinator replays the log."""
        self.restore(MoneyModel(self.config).snapshot())

    def snapshot(self) -> tuple:
        """A copy of everything learned (for speculative projections)."""
        with self._lock:
            return (self.weights.copy(), copy.deepcopy(self.players), self.updates, self.loss_sum)

    def restore(self, saved: tuple) -> None:
        """Puts back what :meth:`snapshot` returned."""
        weights, players, updates, loss_sum = saved
        with self._lock:
            self.weights = weights.copy()
            self.players = copy.deepcopy(players)
            self.updates = updates
            self.loss_sum = loss_sum

    def to_json(self) -> dict[str, Any]:
        """Everything learned as JSON-able data; floats round-trip exactly."""
        with self._lock:
            return {
                "version": STATE_VERSION,
                "config": asdict(self.config),
                "weights": [float(w) for w in self.weights],
                "updates": self.updates,
                "loss_sum": self.loss_sum,
                "players": {root.hex(): asdict(p) for root, p in sorted(self.players.items())},
            }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MoneyModel:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported model state version {data.get('version')!r}")
        model = cls(Config(**data["config"]))
        weights = np.array(data["weights"], dtype=np.float64)
        if weights.shape != (len(FEATURES),):
            raise ValueError(f"expected {len(FEATURES)} weights, got {weights.shape}")
        model.weights = weights
        model.updates = int(data["updates"])
        model.loss_sum = float(data["loss_sum"])
        names = {f.name for f in fields(Player)}
        model.players = {
            bytes.fromhex(root): Player(**{k: v for k, v in p.items() if k in names}) for root, p in data["players"].items()
        }
        return model
