"""Serving business logic over gRPC: aggregates as
``angzarr.CommandHandlerService``, projectors as ``angzarr.ProjectorService``
and ``angzarr_kafka.ProjectorBatchService``, sagas as
``angzarr.SagaService``, a process manager as
``angzarr.ProcessManagerService`` and an upcaster as
``angzarr.UpcasterService``, any mix of them in one server."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable
from concurrent import futures
from contextlib import ExitStack
from dataclasses import dataclass

import grpc

from .aggregate import Aggregate
from .errors import InternalError, StatusError
from .process_manager import ProcessManager
from .projector import Projector
from .proto.angzarr import (
    command_handler_pb2_grpc,
    process_manager_pb2_grpc,
    projector_pb2_grpc,
    saga_pb2_grpc,
    types_pb2,
    upcaster_pb2_grpc,
)
from .proto.angzarr_kafka import batch_pb2, batch_pb2_grpc
from .saga import Saga
from .upcaster import Upcaster

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


def _abort(context, method: str, run):
    try:
        return run()
    except StatusError as e:
        failure = e
    except Exception as e:  # noqa: BLE001 - never let a request kill the service
        log.exception("%s failed", method)
        failure = InternalError(f"{type(e).__name__}: {e}")
    log.debug("%s failed: %s %s", method, failure.code.name, failure.message)
    context.abort(failure.code, failure.message)


class _ByDomain:
    """Components of one kind by source domain: a single one takes every
    book; several must each declare ``domains``, without overlap."""

    def __init__(self, kind: str, components):
        if not components:
            raise ValueError(f"a {kind} server needs at least one {kind}")
        self.kind = kind
        self.components = list(components)
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise ValueError(f"two {kind}s with the same name among {names}")
        self.by_domain: dict[str, object] = {}
        if len(self.components) > 1:
            for c in self.components:
                if not c.domains:
                    raise ValueError(
                        f"{kind} `{c.name}` shares a server with other {kind}s: give it its source domains "
                        f"({type(c).__name__}(name, domains=[...]))"
                    )
                for d in c.domains:
                    if d in self.by_domain:
                        raise ValueError(f"{kind}s `{self.by_domain[d].name}` and `{c.name}` both consume domain `{d}`")
                    self.by_domain[d] = c

    def route(self, domain: str):
        if len(self.components) == 1:
            return self.components[0]
        found = self.by_domain.get(domain)
        if found is None:
            raise StatusError(f"no {self.kind} for domain `{domain}` here", grpc.StatusCode.NOT_FOUND)
        return found


class ProjectorServicer(projector_pb2_grpc.ProjectorServiceServicer):
    """``angzarr.ProjectorService``: projectors, routed by ``cover.domain``
    when there are several. Failures are statuses (``INTERNAL`` for a
    handler or view failure)."""

    def __init__(self, *projectors: Projector):
        self.router = _ByDomain("projector", projectors)

    def Handle(self, request, context):  # noqa: N802 - gRPC method name
        return _abort(context, "ProjectorService.Handle", lambda: self.router.route(request.cover.domain).execute(request))

    def HandleSpeculative(self, request, context):  # noqa: N802 - gRPC method name
        return _abort(
            context,
            "ProjectorService.HandleSpeculative",
            lambda: self.router.route(request.cover.domain).execute_speculative(request),
        )


class ProjectorBatchServicer(batch_pb2_grpc.ProjectorBatchServiceServicer):
    """``angzarr_kafka.ProjectorBatchService``: many books per call for the
    same projectors as :class:`ProjectorServicer`, served beside it with no
    extra code. Each book is routed as ``Handle`` would route it (every book
    is routed before any is applied: ``NOT_FOUND`` applies nothing), applied
    in order as ``Handle`` would apply it, and answered with one projection,
    in order. A failure in any book fails the whole call with the status
    ``Handle`` would give; the coordinator then hands the same books over
    again. Each projector involved applies the batch inside its
    :meth:`Projector.batch_scope` (if any) and checkpoints once."""

    def __init__(self, *projectors: Projector):
        self.router = _ByDomain("projector", projectors)

    def execute_batch(
        self, request: batch_pb2.ProjectorBatch | Iterable[types_pb2.EventBook]
    ) -> batch_pb2.ProjectionBatch:
        """``HandleBatch`` without the network; raises only :class:`StatusError`."""
        books = request.books if isinstance(request, batch_pb2.ProjectorBatch) else list(request)
        routed = [(self.router.route(book.cover.domain), book) for book in books]
        if len({id(p) for p, _ in routed}) <= 1:
            if not routed:
                return batch_pb2.ProjectionBatch()
            return routed[0][0].execute_batch(books)
        # Books of several projectors (a server hosting several, one batch
        # spanning their domains): every one involved holds its batch frame,
        # entered in the server's order so concurrent calls cannot deadlock.
        involved = {id(p) for p, _ in routed}
        out = batch_pb2.ProjectionBatch()
        with ExitStack() as stack:
            for p in self.router.components:
                if id(p) in involved:
                    stack.enter_context(p._batch_frame())  # noqa: SLF001 - same package
            out.projections.extend(p._project(book) for p, book in routed)  # noqa: SLF001
        return out

    def HandleBatch(self, request, context):  # noqa: N802 - gRPC method name
        return _abort(context, "ProjectorBatchService.HandleBatch", lambda: self.execute_batch(request))


class SagaServicer(saga_pb2_grpc.SagaServiceServicer):
    """``angzarr.SagaService``: sagas, routed by ``source.cover.domain`` when
    there are several. Failures are statuses (``INTERNAL`` for a handler
    failure)."""

    def __init__(self, *sagas: Saga):
        self.router = _ByDomain("saga", sagas)

    def Handle(self, request, context):  # noqa: N802 - gRPC method name
        return _abort(context, "SagaService.Handle", lambda: self.router.route(request.source.cover.domain).execute(request))


class ProcessManagerServicer(process_manager_pb2_grpc.ProcessManagerServiceServicer):
    """``angzarr.ProcessManagerService``: one process manager (the requests
    carry no name to route by). Failures are statuses (``INVALID_ARGUMENT``
    for an unreadable request, ``INTERNAL`` for a handler failure)."""

    def __init__(self, pm: ProcessManager):
        self.pm = pm

    def Prepare(self, request, context):  # noqa: N802 - gRPC method name
        return _abort(context, "ProcessManagerService.Prepare", lambda: self.pm.handle_prepare(request))

    def Handle(self, request, context):  # noqa: N802 - gRPC method name
        return _abort(context, "ProcessManagerService.Handle", lambda: self.pm.handle(request))


class UpcasterServicer(upcaster_pb2_grpc.UpcasterServiceServicer):
    """``angzarr.UpcasterService``: one upcaster. A malformed old payload is
    ``INVALID_ARGUMENT``, a failing map ``INTERNAL``."""

    def __init__(self, upcaster: Upcaster):
        self.upcaster = upcaster

    def Upcast(self, request, context):  # noqa: N802 - gRPC method name
        return _abort(context, "UpcasterService.Upcast", lambda: self.upcaster.upcast(request))


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


Component = Aggregate | Projector | Saga | ProcessManager | Upcaster
_KINDS = (Aggregate, Projector, Saga, ProcessManager, Upcaster)


def add_to_server(server: grpc.Server, *components: Component) -> list[str]:
    """Adds the services ``components`` need to ``server``:
    ``CommandHandlerService`` for aggregates, ``ProjectorService`` and
    ``angzarr_kafka.ProjectorBatchService`` for projectors, ``SagaService`` for sagas, ``ProcessManagerService`` for a
    process manager, ``UpcasterService`` for an upcaster (at most one of
    each of the last two). Returns the services' names."""
    if not components:
        raise ValueError("nothing to serve: pass aggregates, projectors, sagas, a process manager and/or an upcaster")
    aggregates = [c for c in components if isinstance(c, Aggregate)]
    projectors = [c for c in components if isinstance(c, Projector)]
    sagas = [c for c in components if isinstance(c, Saga)]
    pms = [c for c in components if isinstance(c, ProcessManager)]
    upcasters = [c for c in components if isinstance(c, Upcaster)]
    others = [c for c in components if not isinstance(c, _KINDS)]
    if others:
        raise TypeError(f"cannot serve {others!r}: expected Aggregate, Projector, Saga, ProcessManager or Upcaster")
    if len(pms) > 1:
        raise ValueError(f"one process manager per server (its service carries no name to route by), got {pms!r}")
    if len(upcasters) > 1:
        raise ValueError(f"one upcaster per server, got {len(upcasters)}")
    services = []
    if aggregates:
        command_handler_pb2_grpc.add_CommandHandlerServiceServicer_to_server(CommandHandlerServicer(*aggregates), server)
        services.append("angzarr.CommandHandlerService")
    if projectors:
        projector_pb2_grpc.add_ProjectorServiceServicer_to_server(ProjectorServicer(*projectors), server)
        services.append("angzarr.ProjectorService")
        batch_pb2_grpc.add_ProjectorBatchServiceServicer_to_server(ProjectorBatchServicer(*projectors), server)
        services.append("angzarr_kafka.ProjectorBatchService")
    if sagas:
        saga_pb2_grpc.add_SagaServiceServicer_to_server(SagaServicer(*sagas), server)
        services.append("angzarr.SagaService")
    if pms:
        process_manager_pb2_grpc.add_ProcessManagerServiceServicer_to_server(ProcessManagerServicer(pms[0]), server)
        services.append("angzarr.ProcessManagerService")
    if upcasters:
        upcaster_pb2_grpc.add_UpcasterServiceServicer_to_server(UpcasterServicer(upcasters[0]), server)
        services.append("angzarr.UpcasterService")
    return services


def _describe(c: Component) -> str:
    return f"aggregate {c.domain}" if isinstance(c, Aggregate) else repr(c)


def start(address: str, *components: Component, max_workers: int = 8) -> RunningServer:
    """Binds ``address`` (``host:port``; port 0 picks one) and serves
    ``components`` (aggregates, projectors, sagas, a process manager, an
    upcaster) in background threads."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="angzarr"))
    add_to_server(server, *components)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as e:
        raise OSError(f"cannot bind {address}: {e}") from e
    if not port:
        raise OSError(f"cannot bind {address}")
    server.start()
    host = address.rsplit(":", 1)[0]
    bound = f"{host}:{port}"
    log.info("business logic serving on %s: %s", bound, ", ".join(_describe(c) for c in components))
    return RunningServer(server=server, address=bound, port=port)


def serve(address: str, *components: Component, max_workers: int = 8, on_start=None) -> None:
    """Serves ``components`` (aggregates, projectors, sagas, a process
    manager, an upcaster) on ``address``
    until SIGINT/SIGTERM (graceful stop).

    ``on_start(running)`` is called once bound, e.g. to print the address."""
    running = start(address, *components, max_workers=max_workers)
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


__all__ = [
    "CommandHandlerServicer",
    "Component",
    "ProcessManagerServicer",
    "ProjectorBatchServicer",
    "ProjectorServicer",
    "RunningServer",
    "SagaServicer",
    "UpcasterServicer",
    "add_to_server",
    "serve",
    "start",
]
