"""Write angzarr business logic in Python.

An aggregate is a state type, *appliers* that fold events into it and
*handlers* that turn a command into events or a rejection::

    from angzarr_client import Aggregate, ensure, serve
    from angzarr_client.proto.examples import player_pb2

    player = Aggregate("player", player_pb2.PlayerState)

    @player.command_handler(player_pb2.DepositFunds)
    def handle_deposit_funds(cmd, state, seq):
        ensure(cmd.amount.amount > 0, "amount must be positive")
        return player_pb2.FundsDeposited(...)

    @player.applier(player_pb2.FundsDeposited)
    def apply_deposited(state, event):
        state.bankroll.CopyFrom(event.new_balance)

    serve("127.0.0.1:50051", player)

The coordinator does everything else (history, sequences, persistence,
snapshots). Handlers are plain functions, so a test needs no framework
running: see :class:`angzarr_client.testing.Scenario`.

Projectors fold events into read models (delivery is at-least-once: the read
model keeps the last sequence it applied) and sagas turn events into commands
for other domains::

    balances = Projector("balances")

    @balances.on(player_pb2.FundsDeposited)
    def deposited(event, cover, sequence): ...

    reserve = Saga("reserve-on-join")

    @reserve.on(table_pb2.PlayerJoined)
    def joined(event, cover, sequence):
        return [command("player", event.player_root, player_pb2.ReserveFunds(...))]

    serve("127.0.0.1:50051", player, balances, reserve)   # one server, three services

A process manager is a saga with event-sourced state (one process per
correlation id); an upcaster rewrites old event shapes on read::

    flow = ProcessManager("hand-flow", orchestration_pb2.HandFlowState)

    @flow.on(table_pb2.HandStarted)
    def started(event, state, trigger):
        return Reaction.none().record(HandFlowStarted(...)).send(command("hand", ...))

    upcaster = Upcaster().map(PlayerRegisteredV1, PlayerRegistered, lambda old: PlayerRegistered(...))

Commands are sent to the gateway with :class:`Gateway`; every send carries an
idempotency key, so an unknown outcome is retried safely::

    with Gateway.connect("127.0.0.1:1313") as gateway:
        response = gateway.send_with_retry(request)
"""

from .aggregate import Aggregate, next_sequence
from .anys import TYPE_URL_PREFIX, full_name, pack, type_name, unpack, unpack_as
from .errors import CommandRejectedError, InternalError, InvalidArgumentError, StatusError, ensure
from .gateway import (
    Gateway,
    GatewayError,
    OutcomeUnknownError,
    RejectedError,
    TransportError,
    new_request_id,
)
from .process_manager import ProcessManager, Reaction, Trigger
from .projector import Projector, stream_key
from .saga import Saga, command, root_bytes
from .server import (
    CommandHandlerServicer,
    ProcessManagerServicer,
    ProjectorBatchServicer,
    ProjectorServicer,
    RunningServer,
    SagaServicer,
    UpcasterServicer,
    add_to_server,
    serve,
    start,
)
from .upcaster import Upcaster

__version__ = "0.1.0"

__all__ = [
    "TYPE_URL_PREFIX",
    "Aggregate",
    "CommandHandlerServicer",
    "CommandRejectedError",
    "Gateway",
    "GatewayError",
    "InternalError",
    "InvalidArgumentError",
    "OutcomeUnknownError",
    "ProcessManager",
    "ProcessManagerServicer",
    "Projector",
    "ProjectorBatchServicer",
    "ProjectorServicer",
    "RejectedError",
    "Reaction",
    "RunningServer",
    "Saga",
    "SagaServicer",
    "StatusError",
    "TransportError",
    "Trigger",
    "Upcaster",
    "UpcasterServicer",
    "add_to_server",
    "command",
    "ensure",
    "full_name",
    "new_request_id",
    "next_sequence",
    "pack",
    "root_bytes",
    "serve",
    "start",
    "stream_key",
    "type_name",
    "unpack",
    "unpack_as",
]
