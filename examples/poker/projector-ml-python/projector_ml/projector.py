"""The ``player-ml`` projector: player events in, the online model updated,
the player's prediction out as ``Projection.projection`` (a
``google.protobuf.Struct``).

Redelivered events are every handler's business: the client hands each page
over however often the coordinator delivers it, and the model skips what it
applied already (its per-player ``last_sequence``, saved with it)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
from pathlib import Path

from angzarr_client import Projector
from angzarr_client.proto.examples import player_pb2
from google.protobuf import struct_pb2

from .model import Config, MoneyModel

NAME = "player-ml"
DOMAIN = "player"

log = logging.getLogger("projector_ml")


def prediction_struct(root: bytes, prediction: dict) -> struct_pb2.Struct:
    """The view of one player: ``player_root`` (UUID string), then
    :meth:`MoneyModel.predict`'s fields (``p_next_withdrawal``, ...)."""
    out = struct_pb2.Struct()
    out.update({"player_root": str(uuid.UUID(bytes=bytes(root))), **prediction})
    return out


def build(
    model: MoneyModel | None = None, state_path: str | Path | None = None, config: Config | None = None
) -> tuple[Projector, MoneyModel]:
    """The projector and the model it feeds (by default a new
    ``MoneyModel(config)``). With ``state_path``, the model (with the last
    sequence it applied per player) is loaded from that file if it exists
    (then ``model`` must be ``None``) and written to it atomically after
    every book a handler ran for: a restart neither loses nor double-counts
    anything."""
    state_path = Path(state_path) if state_path else None
    if state_path is not None and state_path.exists():
        if model is not None:
            raise ValueError(f"{state_path} exists: its model is loaded, pass no model")
        model = load_state(state_path)
        log.info("loaded %s: %d players, %d updates", state_path, len(model.players), model.updates)
    elif model is None:
        model = MoneyModel(config)

    projector = Projector(NAME, domains=[DOMAIN])

    def root(cover) -> bytes:
        return bytes(cover.root.value)

    @projector.on(player_pb2.PlayerRegistered)
    def registered(event, cover, sequence):
        model.register(root(cover), sequence)

    @projector.on(player_pb2.FundsDeposited)
    def deposited(event, cover, sequence):
        model.observe(root(cover), "deposit", event.amount.amount, event.new_balance.amount, sequence)

    @projector.on(player_pb2.FundsWithdrawn)
    def withdrawn(event, cover, sequence):
        model.observe(root(cover), "withdraw", event.amount.amount, event.new_balance.amount, sequence)

    @projector.on(player_pb2.FundsTransferred)
    def transferred(event, cover, sequence):
        # Recorded in the receiving player's stream: money in.
        model.observe(root(cover), "transfer_in", event.amount.amount, event.new_balance.amount, sequence)

    @projector.on(player_pb2.FundsReserved)
    def reserved(event, cover, sequence):
        model.observe(root(cover), "reserve", event.amount.amount, event.new_available_balance.amount, sequence)

    @projector.on(player_pb2.FundsReleased)
    def released(event, cover, sequence):
        model.observe(root(cover), "release", event.amount.amount, event.new_available_balance.amount, sequence)

    @projector.view
    def view(cover):
        prediction = model.predict(root(cover))
        return None if prediction is None else prediction_struct(root(cover), prediction)

    projector.speculation(save=model.snapshot, restore=model.restore)

    if state_path is not None:

        @projector.checkpoint
        def checkpoint():
            save_state(state_path, model)

    return projector, model


def save_state(path: Path, model: MoneyModel) -> None:
    """Writes the model (positions included) to ``path`` in one atomic replace."""
    data = {"model": model.to_json()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(path: Path) -> MoneyModel:
    """What :func:`save_state` wrote. Files of earlier versions kept the
    projector's positions beside the model: they become the players'
    ``last_sequence``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    model = MoneyModel.from_json(data["model"])
    for p in data.get("positions", ()):
        player = model.players.get(bytes.fromhex(p["root"]))
        if p["domain"] == DOMAIN and not p["edition"] and player is not None:
            player.last_sequence = max(player.last_sequence, int(p["sequence"]))
    return model
