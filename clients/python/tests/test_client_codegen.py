"""The generated modules live under angzarr_client.proto and match proto/."""

import sys
from pathlib import Path

from angzarr_client import TYPE_URL_PREFIX, full_name, pack
from angzarr_client.proto.angzarr import command_handler_pb2, types_pb2
from angzarr_client.proto.examples import player_pb2

PROTO = Path(__file__).resolve().parents[3] / "proto"


def test_generated_modules_do_not_claim_top_level_packages():
    import angzarr_client.proto.angzarr_kafka.batch_pb2_grpc  # noqa: F401
    import angzarr_client.proto.google.api.annotations_pb2  # noqa: F401

    assert "angzarr" not in sys.modules and "examples" not in sys.modules and "angzarr_kafka" not in sys.modules
    assert types_pb2.DESCRIPTOR.name == "angzarr/types.proto"
    assert player_pb2.DESCRIPTOR.package == "examples"


def test_service_and_any_urls():
    service = command_handler_pb2.DESCRIPTOR.services_by_name["CommandHandlerService"]
    assert [m.name for m in service.methods] == ["Handle", "Replay"]
    assert full_name(player_pb2.DepositFunds) == "examples.DepositFunds"
    assert pack(player_pb2.DepositFunds()).type_url == TYPE_URL_PREFIX + "examples.DepositFunds"
    assert TYPE_URL_PREFIX == "type.googleapis.com/"


def test_every_proto_file_was_generated():
    if not PROTO.is_dir():  # installed elsewhere than the repository
        return
    import importlib

    for f in sorted(PROTO.rglob("*.proto")):
        rel = f.relative_to(PROTO).with_suffix("")
        module = "angzarr_client.proto." + ".".join(rel.parts) + "_pb2"
        assert importlib.import_module(module).DESCRIPTOR.name == f.relative_to(PROTO).as_posix()
