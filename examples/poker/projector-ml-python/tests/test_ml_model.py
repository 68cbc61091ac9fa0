"""The online model learns, deterministically (numpy only)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from angzarr_client.testing import cover, event_book

from mlstream import population, stream, until_deposit
from projector_ml import FEATURES, Config, MoneyModel, build


def feed(projector, items):
    """Delivers each event alone, as the coordinator would."""
    for player, sequence, event in items:
        projector.execute(event_book(cover("player", player.root), [event], first_sequence=sequence))


def p_withdraw(model, player):
    return model.predict(player.root.bytes)["p_next_withdrawal"]


def last_was_deposit(model, player):
    prediction = model.predict(player.root.bytes)
    return prediction is not None and prediction["features"]["last_deposit"] == 1.0


def test_the_model_learns_who_withdraws_next():
    players = population()
    projector, model = build()
    # Early on, after a few events each, it cannot tell cashers from grinders.
    feed(projector, stream(players, 48, seed=1) + until_deposit(players, seed=2))
    early = {p.root: p_withdraw(model, p) for p in players}
    casher_early = [early[p.root] for p in players if p.kind == "casher"]
    grinder_early = [early[p.root] for p in players if p.kind == "grinder"]
    assert abs(np.mean(casher_early) - np.mean(grinder_early)) < 0.25

    items = stream(players, 1500, seed=3) + until_deposit(players, seed=4)
    feed(projector, items)
    assert all(last_was_deposit(model, p) for p in players)
    late = {p.root: p_withdraw(model, p) for p in players}
    for p in players:
        if p.kind == "casher":
            # A casher who just deposited is about to withdraw ...
            assert late[p.root] > 0.7 and late[p.root] > early[p.root]
        else:
            # ... a grinder who just deposited is not.
            assert late[p.root] < 0.2 and late[p.root] < early[p.root]
    # Progressive validation: far better than a coin flip, and it learnt from every money event.
    summary = model.summary()
    assert summary["mean_log_loss"] < 0.5 * math.log(2)
    money_events = sum(len(p.events) - 1 for p in players)  # all but PlayerRegistered
    assert summary["updates"] == money_events
    assert summary["weights"]["last_deposit"] > 0 > summary["weights"]["last_withdraw"]


def test_a_withdrawal_right_after_lowers_the_next_prediction():
    players = population()
    projector, model = build()
    feed(projector, stream(players, 400))
    casher = next(p for p in players if p.kind == "casher" and last_was_deposit(model, p))
    before = p_withdraw(model, casher)
    event = casher.next_event(np.random.default_rng(0))
    casher.events.append(event)
    feed(projector, [(casher, len(casher.events) - 1, event)])
    assert type(event).__name__ == "FundsWithdrawn"
    assert p_withdraw(model, casher) < before  # after a withdrawal comes a deposit


def test_deterministic_and_seeded():
    def run(seed):
        projector, model = build(config=Config(seed=seed))
        feed(projector, stream(population(), 300))
        return model

    a, b = run(7), run(7)
    assert np.array_equal(a.weights, b.weights)
    assert json.dumps(a.to_json(), sort_keys=True) == json.dumps(b.to_json(), sort_keys=True)
    assert not np.array_equal(MoneyModel(Config(seed=7)).weights, MoneyModel(Config(seed=8)).weights)
    assert np.array_equal(MoneyModel(Config(seed=7)).weights, MoneyModel(Config(seed=7)).weights)


def test_json_round_trip_is_exact_and_learning_goes_on_identically():
    players = population()
    items = stream(players, 300)
    projector, model = build()
    feed(projector, items[:200])
    copy = MoneyModel.from_json(json.loads(json.dumps(model.to_json())))
    assert np.array_equal(copy.weights, model.weights) and copy.players == model.players
    for player, _, event in items[200:]:
        name = type(event).__name__
        if name == "FundsDeposited":
            args = ("deposit", event.amount.amount, event.new_balance.amount)
        elif name == "FundsWithdrawn":
            args = ("withdraw", event.amount.amount, event.new_balance.amount)
        elif name == "FundsReserved":
            args = ("reserve", event.amount.amount, event.new_available_balance.amount)
        elif name == "FundsReleased":
            args = ("release", event.amount.amount, event.new_available_balance.amount)
        else:
            continue
        model.observe(player.root.bytes, *args)
        copy.observe(player.root.bytes, *args)
    assert np.array_equal(copy.weights, model.weights)
    with pytest.raises(ValueError):
        MoneyModel.from_json({**model.to_json(), "version": 99})


def test_features_and_snapshots():
    model = MoneyModel()
    root = bytes(16)
    assert model.predict(root) is None and not model.knows(root)
    model.register(root)
    fresh = model.predict(root)
    assert fresh["money_events"] == 0 and fresh["registered"] is True
    assert 0.4 < fresh["p_next_withdrawal"] < 0.6  # near-zero initial weights
    saved = model.snapshot()
    model.observe(root, "deposit", 10**9, 10**9)
    model.observe(root, "withdraw", 10**9, 0)
    x = model.predict(root)["features"]
    assert list(x) == list(FEATURES)
    assert all(0.0 <= v <= 2.0 for v in x.values())
    assert x["withdrawal_ratio"] == pytest.approx(1.0, abs=1e-6) and x["last_withdraw"] == 1.0
    model.restore(saved)
    assert model.predict(root) == fresh and model.updates == 0
    with pytest.raises(ValueError):
        model.observe(root, "gift", 1, 1)


def test_an_event_at_a_sequence_already_applied_is_ignored():
    model = MoneyModel()
    root = bytes(16)
    assert model.last_sequence(root) is None
    assert model.register(root, 0) is True
    assert model.observe(root, "deposit", 10, 10, sequence=1) is not None
    before = json.dumps(model.to_json(), sort_keys=True)
    # Redelivered (the same sequence, or an older one): nothing changes.
    assert model.observe(root, "deposit", 10, 10, sequence=1) is None
    assert model.observe(root, "withdraw", 5, 5, sequence=0) is None
    assert model.register(root, 0) is False
    assert json.dumps(model.to_json(), sort_keys=True) == before
    assert model.last_sequence(root) == 1 and model.predict(root)["money_events"] == 1
    # Per player: another player starts at 0.
    other = bytes(15) + b"\x01"
    assert model.observe(other, "deposit", 1, 1, sequence=0) is not None
    assert model.last_sequence(other) == 0 and model.updates == 2
    # Reset: as new, a replay from 0 is learnt again.
    model.reset()
    assert json.dumps(model.to_json(), sort_keys=True) == json.dumps(MoneyModel().to_json(), sort_keys=True)
    assert model.observe(root, "deposit", 10, 10, sequence=1) is not None
