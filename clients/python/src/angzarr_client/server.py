"""Serving aggregates as ``angzarr.CommandHandlerService`` over gRPC."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc

from .aggregate import Aggregate
from .errors import InternalError, StatusError
from .proto.angzarr import command_handler_pb2, command_handler_pb2_grpc, types_pb2

log = logging.getLogger("angzarr_client")


class CommandHandlerServicer(command_handler_pb2_grpc.CommandHandlerServiceServicer):
    """The business-logic service: aggregates by domain.

    A command goes to the aggregate of its ``command.cover.domain``; a server
    hosting a single aggregate accepts any domain. Every failure becomes a
    status (business rejection ``FAILED_PRECONDITION``, unreadable request
    ``INVALID_ARGUMENT``, unknown domain ``NOT_FOUND``, anything else
    ``INTERNAL``); the service itself never crashes."""

    def __init__(self, *aggregates: Aggregate):
        if not aggregates:
            raise ValueError("a server needs at least one aggregate")
        self.aggregates: dict[str, Aggregate] = {}
        for agg in aggregates:
            if agg.domain in self.aggregates:
                raise ValueError(f"two aggregates for domain `{agg.domain}`")
            self.aggregates[agg.domain] = agg

    def route(self, request: types_pb2.ContextualCommand) -> Aggregate:
        domain = request.command.cover.domain
        agg = self.aggregates.get(domain)
        if agg is not None:
            return agg
        if len(self.aggregates) == 1:
            return next(iter(self.aggregates.values()))
        raise StatusError(f"no aggregate for domain `{domain}` here", grpc.StatusCode.NOT_FOUND)

    def Handle(self, request, context):  # noqa: N802 - gRPC method name
        try:
            return self.route(request).execute(request)
        except StatusError as e:
            failure = e
        except Exception as e:  # noqa: BLE001 - never let a request kill the service
            log.exception("Handle failed")
            failure = InternalError(f"{type(e).__name__}: {e}")
        log.debug("command not accepted: %s %s", failure.code.name, failure.message)
        context.abort(failure.code, failure.message)

    def Replay(self, request, context):  # noqa: N802 - gRPC method name
        try:
            if len(self.aggregates) != 1:
                raise StatusError("replay needs a single-aggregate server", grpc.StatusCode.UNIMPLEMENTED)
            return next(iter(self.aggregates.values())).replay(request)
        except StatusError as e:
            failure = e
        except Exception as e:  # noqa: BLE001
            log.exception("Replay failed")
            failure = InternalError(f"{type(e).__name__}: {e}")
        context.abort(failure.code, failure.message)


@dataclass
class RunningServer:
    """A started server: its bound address (useful with port 0), and a way to stop it."""

    server: grpc.Server
    address: str
    port: int

    def stop(self, grace: float | None = 1.0) -> None:
        """Stops accepting calls, lets in-flight calls finish for ``grace`` seconds, and waits."""
        self.server.stop(grace).wait()

    def wait(self) -> None:
        """Blocks until the server stops."""
        self.server.wait_for_termination()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(address: str, *aggregates: Aggregate, max_workers: int = 8) -> RunningServer:
    """Binds ``address`` (``host:port``; port 0 picks one) and serves
    ``aggregates`` in background threads."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="angzarr"))
    command_handler_pb2_grpc.add_CommandHandlerServiceServicer_to_server(CommandHandlerServicer(*aggregates), server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as e:
        raise OSError(f"cannot bind {address}: {e}") from e
    if not port:
        raise OSError(f"cannot bind {address}")
    server.start()
    host = address.rsplit(":", 1)[0]
    bound = f"{host}:{port}"
    log.info("business logic serving on %s, domains %s", bound, sorted(a.domain for a in aggregates))
    return RunningServer(server=server, address=bound, port=port)


def serve(address: str, *aggregates: Aggregate, max_workers: int = 8, on_start=None) -> None:
    """Serves ``aggregates`` on ``address`` until SIGINT/SIGTERM (graceful stop).

    ``on_start(running)`` is called once bound, e.g. to print the address."""
    running = start(address, *aggregates, max_workers=max_workers)
    if on_start is not None:
        on_start(running)
    if threading.current_thread() is threading.main_thread():
        stopping = threading.Event()

        def stop(signum, _frame):
            if not stopping.is_set():
                stopping.set()
                log.info("signal %s: stopping", signum)
                threading.Thread(target=running.stop, args=(5.0,), daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    running.wait()


__all__ = ["CommandHandlerServicer", "RunningServer", "serve", "start"]
