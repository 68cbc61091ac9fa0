"""The poker player upcaster (examples/poker/src/upcaster.rs), for the
library's own tests: `PlayerRegisteredV1 {name, email}` read as today's
`PlayerRegistered`. Two names make the map misbehave, for failure tests."""

from angzarr_client import Upcaster
from angzarr_client.proto.examples import player_pb2


def make() -> Upcaster:
    up = Upcaster()

    @up.map(player_pb2.PlayerRegisteredV1, player_pb2.PlayerRegistered)
    def registered_v1(old):
        if old.name == "boom":
            raise RuntimeError("upcaster bug")
        if old.name == "wrong":
            return player_pb2.FundsDeposited()
        return player_pb2.PlayerRegistered(display_name=old.name, email=old.email)

    return up
