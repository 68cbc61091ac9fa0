"""The player-ml projector: the ProjectorService contract (redelivery made
idempotent by the model, replays into a reset model, speculative runs), gRPC
and HTTP round trips, persistence, and the service as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import grpc
import numpy as np
import pytest
from angzarr_client import start, unpack_as
from angzarr_client.proto.angzarr import projector_pb2_grpc, types_pb2
from angzarr_client.proto.examples import player_pb2
from angzarr_client.testing import cover, event_book
from google.protobuf import json_format, struct_pb2

from mlstream import population, stream, usd
from projector_ml import NAME, PredictionServer, build

ROOT = uuid.UUID("0b6f4c8e-1d2a-4f3b-9c5d-7e8f90a1b2c3")
HISTORY = [
    player_pb2.PlayerRegistered(display_name="Ada", email="ada@example.com"),
    player_pb2.FundsDeposited(amount=usd(100), new_balance=usd(100)),
    player_pb2.FundsWithdrawn(amount=usd(60), new_balance=usd(40)),
    player_pb2.FundsDeposited(amount=usd(50), new_balance=usd(90)),
    player_pb2.FundsReserved(amount=usd(50), new_available_balance=usd(40), new_reserved_balance=usd(50)),
    player_pb2.FundsReleased(amount=usd(50), new_available_balance=usd(90), new_reserved_balance=usd(0)),
    player_pb2.FundsTransferred(amount=usd(30), new_balance=usd(120), reason="pot"),
]


def view(projection) -> dict:
    return json_format.MessageToDict(unpack_as(projection.projection, struct_pb2.Struct))


def state_of(model) -> str:
    return json.dumps(model.to_json(), sort_keys=True)


def test_projection_carries_the_prediction():
    projector, model = build()
    the_cover = cover("player", ROOT, correlation_id="c-1")
    out = projector.execute(event_book(the_cover, HISTORY))
    assert (out.projector, out.sequence, out.cover) == (NAME, 6, the_cover)
    assert out.projection.type_url == "type.googleapis.com/google.protobuf.Struct"
    v = view(out)
    assert v["player_root"] == str(ROOT)
    assert v["p_next_withdrawal"] == model.predict(ROOT.bytes)["p_next_withdrawal"]
    assert 0.0 < v["p_next_withdrawal"] < 1.0
    assert (v["registered"], v["money_events"], v["model_updates"]) == (True, 6, 6)
    assert v["features"]["last_transfer_in"] == 1.0
    assert v["features"]["withdrawal_ratio"] == pytest.approx(60 / 181)


def test_events_it_does_not_model_are_ignored():
    projector, model = build()
    out = projector.execute(event_book(cover("player", ROOT), [player_pb2.PlayerSittingOut(table_root=b"t")]))
    assert out.sequence == 0 and not out.HasField("projection")  # nothing known about the player yet
    out = projector.execute(event_book(cover("player", ROOT), [player_pb2.ActionRequested(), HISTORY[1]], first_sequence=1))
    assert view(out)["money_events"] == 1 and model.updates == 1


def test_redelivery_changes_nothing():
    players = population(4, 4)
    items = stream(players, 200)
    once, once_model = build()
    for p, seq, e in items:
        once.execute(event_book(cover("player", p.root), [e], first_sequence=seq))

    twice, model = build()
    for i, (p, seq, e) in enumerate(items):
        # Every book delivered again, and every third one re-sent with the two events before it.
        twice.execute(event_book(cover("player", p.root), [e], first_sequence=seq))
        twice.execute(event_book(cover("player", p.root), [e], first_sequence=seq))
        if i % 3 == 0 and seq >= 2:
            overlap = event_book(cover("player", p.root), p.events[seq - 2 : seq + 1], first_sequence=seq - 2)
            assert twice.execute(overlap).sequence == seq
    assert state_of(model) == state_of(once_model)
    assert np.array_equal(model.weights, once_model.weights)
    # All at once per player, after the fact: still nothing new.
    for p in players:
        twice.execute(event_book(cover("player", p.root), p.events))
    assert state_of(model) == state_of(once_model)
    assert all(model.last_sequence(p.root.bytes) == len(p.events) - 1 for p in players)


def test_a_replay_into_a_reset_model_rebuilds_it_while_the_service_runs():
    players = population(3, 3)
    items = stream(players, 120)
    reference, ref_model = build()
    for p, seq, e in items:
        reference.execute(event_book(cover("player", p.root), [e], first_sequence=seq))

    projector, model = build()
    with start("127.0.0.1:0", projector) as running, grpc.insecure_channel(running.address) as channel:
        stub = projector_pb2_grpc.ProjectorServiceStub(channel)
        for p, seq, e in items:
            stub.Handle(event_book(cover("player", p.root), [e], first_sequence=seq), timeout=10)
        assert state_of(model) == state_of(ref_model)
        # The read model is wiped and the consumer group rewound; the same
        # process gets the whole log again, and learns it again.
        model.reset()
        assert model.updates == 0 and model.players == {}
        for p, seq, e in items:
            out = stub.Handle(event_book(cover("player", p.root), [e], first_sequence=seq), timeout=10)
        assert out.HasField("projection")
        assert state_of(model) == state_of(ref_model)
        assert np.array_equal(model.weights, ref_model.weights)


def test_speculative_leaves_the_model_alone():
    projector, model = build()
    projector.execute(event_book(cover("player", ROOT), HISTORY[:2]))
    before = state_of(model)
    spec = projector.execute_speculative(event_book(cover("player", ROOT), HISTORY))
    assert spec.sequence == 6 and view(spec)["money_events"] == 6
    assert state_of(model) == before
    assert model.last_sequence(ROOT.bytes) == 1
    out = projector.execute(event_book(cover("player", ROOT), HISTORY))
    assert view(out) == view(spec)


def test_state_file_survives_a_restart(tmp_path):
    path = tmp_path / "state" / "player-ml.json"
    projector, model = build(state_path=path)
    projector.execute(event_book(cover("player", ROOT), HISTORY[:4]))
    assert path.exists()
    # A crash, a restart, and the coordinator redelivering from an older offset.
    again, restored = build(state_path=path)
    assert state_of(restored) == state_of(model)
    assert restored.last_sequence(ROOT.bytes) == 3
    assert set(json.loads(path.read_text())) == {"model"}  # the positions live in the model
    again.execute(event_book(cover("player", ROOT), HISTORY))
    reference, ref_model = build()
    reference.execute(event_book(cover("player", ROOT), HISTORY))
    assert state_of(restored) == state_of(ref_model)
    assert state_of(build(state_path=path)[1]) == state_of(ref_model)
    with pytest.raises(ValueError):
        build(model=restored, state_path=path)


def test_a_state_file_of_the_earlier_layout_keeps_its_positions(tmp_path):
    # Before, the client kept the positions and the file had them beside the model.
    path = tmp_path / "old.json"
    projector, model = build()
    projector.execute(event_book(cover("player", ROOT), HISTORY[:4]))
    data = model.to_json()
    for player in data["players"].values():
        del player["last_sequence"]
    path.write_text(json.dumps({
        "model": data,
        "positions": [{"domain": "player", "edition": "", "root": ROOT.bytes.hex(), "sequence": 3}],
    }))
    again, restored = build(state_path=path)
    assert restored.last_sequence(ROOT.bytes) == 3
    again.execute(event_book(cover("player", ROOT), HISTORY))
    reference, ref_model = build()
    reference.execute(event_book(cover("player", ROOT), HISTORY))
    assert state_of(restored) == state_of(ref_model)


def test_grpc_round_trip():
    projector, model = build()
    with start("127.0.0.1:0", projector) as running, grpc.insecure_channel(running.address) as channel:
        stub = projector_pb2_grpc.ProjectorServiceStub(channel)
        first = stub.Handle(event_book(cover("player", ROOT), HISTORY[:3]), timeout=10)
        assert (first.projector, first.sequence) == (NAME, 2)
        assert view(first)["money_events"] == 2
        again = stub.Handle(event_book(cover("player", ROOT), HISTORY[:3]), timeout=10)
        assert view(again) == view(first) and model.updates == 2
        spec = stub.HandleSpeculative(event_book(cover("player", ROOT), HISTORY), timeout=10)
        assert view(spec)["money_events"] == 6 and model.updates == 2
        rest = stub.Handle(event_book(cover("player", ROOT), HISTORY[3:], first_sequence=3), timeout=10)
        assert view(rest) == view(spec)
        bad = event_book(cover("player", ROOT), [player_pb2.FundsDeposited()], first_sequence=7)
        bad.pages[0].event.value = b"\x0a\xff"
        with pytest.raises(grpc.RpcError) as info:
            stub.Handle(bad, timeout=10)
        assert info.value.code() == grpc.StatusCode.INTERNAL


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_http_predict():
    projector, model = build()
    projector.execute(event_book(cover("player", ROOT), HISTORY))
    with PredictionServer("127.0.0.1:0", model) as http:
        base = f"http://{http.address}"
        status, body = get(f"{base}/predict/{ROOT}")
        assert status == 200
        assert body["player_root"] == str(ROOT)
        assert body["p_next_withdrawal"] == model.predict(ROOT.bytes)["p_next_withdrawal"]
        assert get(f"{base}/predict/{ROOT.hex}")[0] == 200
        assert get(f"{base}/predict/{uuid.UUID(int=1)}")[0] == 404
        assert get(f"{base}/predict/not-a-uuid")[0] == 400
        assert get(f"{base}/elsewhere")[0] == 404
        assert get(f"{base}/healthz") == (200, {"status": "ok"})
        status, summary = get(f"{base}/model")
        assert status == 200 and summary["updates"] == 6 and summary["players"] == 1
    with pytest.raises(ValueError):
        PredictionServer("nowhere", model)


def test_the_service_runs_as_a_process(tmp_path):
    here = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "projector_ml", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
         "--state", str(tmp_path / "state.json")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline().strip(), proc.stdout.readline().strip()]
        assert lines[0].startswith("listening on 127.0.0.1:"), (lines, proc.stderr.read() if proc.poll() is not None else "")
        assert lines[1].startswith("http listening on 127.0.0.1:"), lines
        address, http = lines[0].removeprefix("listening on "), lines[1].removeprefix("http listening on ")
        with grpc.insecure_channel(address) as channel:
            stub = projector_pb2_grpc.ProjectorServiceStub(channel)
            out = stub.Handle(event_book(cover("player", ROOT), HISTORY), timeout=10)
            assert out.projector == NAME and out.sequence == 6
        status, body = get(f"http://{http}/predict/{ROOT}")
        assert status == 200 and body["p_next_withdrawal"] == view(out)["p_next_withdrawal"]
        assert body["money_events"] == 6
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read()
    assert json.loads((tmp_path / "state.json").read_text())["model"]["updates"] == 6
