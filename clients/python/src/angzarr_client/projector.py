"""A projector: handlers that fold events into a read model.

.. code-block:: python

    balances = {}
    projector = Projector("balances")

    @projector.on(player_pb2.FundsDeposited)
    def deposited(event, cover, sequence):
        row = balances.get(cover.root.value)
        if row is None or sequence > row.last_sequence:   # idempotent: see below
            balances[cover.root.value] = Row(event.new_balance.amount, last_sequence=sequence)

    @projector.view
    def view(cover):                       # optional: Projection.projection
        row = balances.get(cover.root.value)
        return wrappers_pb2.Int64Value(value=row.amount if row else 0)

The coordinator sends ``angzarr.ProjectorService.Handle(EventBook)``: one or
more consecutive events of one root. Delivery is at-least-once: a coordinator
that crashed before committing its offset delivers again, and a replay
(rewinding the consumer group) delivers everything again on purpose, into a
read model that may have been wiped. So every page of every book reaches its
handler, and idempotence belongs with the read model: store the last
sequence applied next to the data (per stream, see :func:`stream_key`), in
the same write, and skip what is at or below it. This process keeps no
positions of its own, which a replay into a wiped read model would wrongly
trust. Event types without a handler are ignored; a failure is ``INTERNAL``
and the coordinator retries the whole book.

Books are applied one at a time (a lock around each), so handlers and the
view need no locking of their own against each other.

The same projector also serves ``angzarr_kafka.ProjectorBatchService.HandleBatch``
(:meth:`Projector.execute_batch`): many books in one call, applied in order
exactly as ``Handle`` would apply them one at a time, one projection per
book; the call succeeds or fails as a whole, and the coordinator hands the
same books over again after a failure. Nothing is needed from the author;
optionally :meth:`Projector.batch_scope` wraps a whole batch in one
read-model transaction::

    @projector.batch_scope
    @contextlib.contextmanager
    def in_one_transaction():
        with db.transaction():        # committed if the batch succeeds, rolled back if not
            yield
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any as AnyType

import grpc
from google.protobuf import message

from ._events import EventHandlers
from .anys import pack
from .errors import InternalError, StatusError
from .proto.angzarr import types_pb2
from .proto.angzarr_kafka import batch_pb2

log = logging.getLogger("angzarr_client")

#: ``def handle(event, cover, sequence) -> None``.
ProjectorHandler = Callable[[AnyType, types_pb2.Cover, int], None]
#: ``def view(cover) -> message | None``: what goes in ``Projection.projection``.
View = Callable[[types_pb2.Cover], "message.Message | None"]
#: ``def scope() -> context manager``: entered around a whole batch (see :meth:`Projector.batch_scope`).
BatchScope = Callable[[], AbstractContextManager[AnyType]]
#: A stream's identity: ``(domain, edition name, root bytes)``.
StreamKey = tuple[str, str, bytes]


def stream_key(cover: types_pb2.Cover) -> StreamKey:
    """The stream a cover names: ``(domain, edition name, root bytes)``; a
    read model keeping its last applied sequence per stream can key it so."""
    return (cover.domain, cover.edition.name, bytes(cover.root.value))


class Projector:
    """A projector named ``name`` (reported in ``Projection.projector``).

    ``domains`` (optional) names the source domains it consumes; it is only
    needed to route books when one server hosts several projectors."""

    def __init__(self, name: str, domains: Iterable[str] = ()):
        if not name:
            raise ValueError("a projector needs a name")
        if isinstance(domains, str):
            domains = (domains,)
        self.name = name
        self.domains: tuple[str, ...] = tuple(domains)
        self._handlers = EventHandlers(f"projector {name}")
        self._view: View | None = None
        self._save: Callable[[], AnyType] | None = None
        self._restore: Callable[[AnyType], None] | None = None
        self._checkpoint: Callable[[], None] | None = None
        self._batch_scope: BatchScope | None = None
        self._dirty = False
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Projector({self.name!r})"

    # -- registration -----------------------------------------------------

    def on(self, event_type: type[message.Message]) -> Callable[[ProjectorHandler], ProjectorHandler]:
        """Decorator registering the handler of ``event_type``:
        ``def handle(event, cover, sequence) -> None``."""
        return self._handlers.register(event_type)

    def view(self, fn: View) -> View:
        """Decorator registering the view: ``def view(cover) -> message | None``,
        packed into ``Projection.projection`` after each book (``None``: none)."""
        if not callable(fn):
            raise TypeError(f"a view must be callable, not {fn!r}")
        if self._view is not None:
            raise ValueError(f"projector {self.name}: a view is already registered")
        self._view = fn
        return fn

    def speculation(self, save: Callable[[], AnyType], restore: Callable[[AnyType], None]) -> None:
        """Enables ``HandleSpeculative``: ``save()`` returns a copy of the read
        model, ``restore(copy)`` puts it back. A speculative book is applied
        between the two, so handlers need not know about it. Without this,
        ``HandleSpeculative`` is ``UNIMPLEMENTED``."""
        if not (callable(save) and callable(restore)):
            raise TypeError("save and restore must be callable")
        self._save, self._restore = save, restore

    def checkpoint(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Decorator registering ``def checkpoint() -> None``, called after a
        book in which a handler ran (never for a speculative one), before the
        projection is returned: the place to persist the read model (with
        the sequences it applied). If it raises, the call fails
        (``INTERNAL``) and it is called again after the next book, retries
        included."""
        if not callable(fn):
            raise TypeError(f"a checkpoint must be callable, not {fn!r}")
        if self._checkpoint is not None:
            raise ValueError(f"projector {self.name}: a checkpoint is already registered")
        self._checkpoint = fn
        return fn

    def batch_scope(self, factory: BatchScope) -> BatchScope:
        """Decorator registering ``def scope() -> context manager``, entered
        around every ``HandleBatch`` call (never around ``Handle`` or
        ``HandleSpeculative``, nor an empty batch): typically one read-model
        transaction for the whole batch. It is exited normally once every
        book was applied (and the checkpoint, if any, ran): commit; and with
        the error if anything failed: roll back (the error still fails the
        call; the coordinator hands the same books over again). Handlers
        must work both inside it and without it (``Handle``). A scope that
        fails to open or to commit fails the call (``INTERNAL``)."""
        if not callable(factory):
            raise TypeError(f"a batch scope must be callable, not {factory!r}")
        if self._batch_scope is not None:
            raise ValueError(f"projector {self.name}: a batch scope is already registered")
        self._batch_scope = factory
        return factory

    @property
    def event_types(self) -> list[str]:
        """Full names of the event types this projector handles."""
        return self._handlers.event_types

    # -- the contract -----------------------------------------------------

    def execute(self, book: types_pb2.EventBook) -> types_pb2.Projection:
        """``ProjectorService.Handle`` without any network: hands every page
        to its handler, in order, and returns the ``Projection``. Raises only
        :class:`StatusError` (:class:`InternalError` for any failure)."""
        with self._lock:
            out = self._project(book)
            self._persist()
            return out

    def execute_batch(
        self, request: batch_pb2.ProjectorBatch | Iterable[types_pb2.EventBook]
    ) -> batch_pb2.ProjectionBatch:
        """``ProjectorBatchService.HandleBatch`` without any network: applies
        the books in order, each as :meth:`execute` would, and returns one
        projection per book, in order. The whole batch holds the lock, runs
        inside the :meth:`batch_scope` if one is registered, and calls the
        checkpoint once, after the last book (if a handler ran). Any failure
        fails the whole call; raises only :class:`StatusError`."""
        books = request.books if isinstance(request, batch_pb2.ProjectorBatch) else list(request)
        out = batch_pb2.ProjectionBatch()
        if not books:
            return out
        with self._batch_frame():
            out.projections.extend(self._project(book) for book in books)
        return out

    @contextlib.contextmanager
    def _batch_frame(self) -> Iterator[None]:
        """The frame of one batch (used by :meth:`execute_batch` and the
        gRPC service): holds the lock, enters the :meth:`batch_scope`, and,
        if the body succeeds, runs the checkpoint before the scope commits.
        Failures of the scope or the checkpoint are :class:`StatusError`s."""
        with self._lock:
            if self._batch_scope is None:
                yield
                self._persist()
                return
            scope = self._open_scope()
            try:
                yield
                self._persist()
            except BaseException as e:
                try:
                    type(scope).__exit__(scope, type(e), e, e.__traceback__)
                except Exception:  # noqa: BLE001 - the batch's own failure is what the caller sees
                    log.exception("projector %s: batch scope failed to roll back", self.name)
                raise
            try:
                type(scope).__exit__(scope, None, None, None)
            except StatusError:
                raise
            except Exception as e:  # noqa: BLE001
                log.exception("projector %s: batch scope failed to commit", self.name)
                raise InternalError(f"projector {self.name}: batch scope failed to commit: {type(e).__name__}: {e}") from e

    def _open_scope(self) -> AbstractContextManager[AnyType]:
        try:
            scope = self._batch_scope()
            type(scope).__enter__(scope)
        except StatusError:
            raise
        except Exception as e:  # noqa: BLE001
            log.exception("projector %s: batch scope failed to open", self.name)
            raise InternalError(f"projector {self.name}: batch scope failed to open: {type(e).__name__}: {e}") from e
        return scope

    def _persist(self) -> None:
        """Runs the checkpoint if a handler ran since the last one."""
        if self._dirty and self._checkpoint is not None:
            try:
                self._checkpoint()
            except StatusError:
                raise
            except Exception as e:  # noqa: BLE001
                log.exception("projector %s: checkpoint failed", self.name)
                raise InternalError(f"projector {self.name}: checkpoint failed: {type(e).__name__}: {e}") from e
            self._dirty = False

    def execute_speculative(self, book: types_pb2.EventBook) -> types_pb2.Projection:
        """``ProjectorService.HandleSpeculative``: the projection the book
        would give, with the read model left as it was."""
        with self._lock:
            if self._save is None or self._restore is None:
                raise StatusError(
                    f"projector {self.name} does not project speculatively (see Projector.speculation)",
                    grpc.StatusCode.UNIMPLEMENTED,
                )
            try:
                saved = self._save()
            except Exception as e:  # noqa: BLE001
                log.exception("projector %s: save failed", self.name)
                raise InternalError(f"projector {self.name}: save failed: {type(e).__name__}: {e}") from e
            dirty = self._dirty
            try:
                return self._project(book)
            finally:
                self._dirty = dirty
                try:
                    self._restore(saved)
                except Exception as e:  # noqa: BLE001
                    log.exception("projector %s: restore failed", self.name)
                    raise InternalError(f"projector {self.name}: restore failed: {type(e).__name__}: {e}") from e

    def _project(self, book: types_pb2.EventBook) -> types_pb2.Projection:
        cover = book.cover
        for delivered in self._handlers.pages(book):
            handled, _ = self._handlers.call(delivered, cover, delivered.sequence)
            if handled:
                self._dirty = True
        out = types_pb2.Projection(projector=self.name)
        if book.HasField("cover"):
            out.cover.CopyFrom(cover)
        if book.pages:
            out.sequence = book.pages[-1].header.sequence
        if self._view is not None:
            try:
                result = self._view(cover)
            except StatusError:
                raise
            except Exception as e:  # noqa: BLE001
                log.exception("projector %s: view failed", self.name)
                raise InternalError(f"projector {self.name}: view failed: {type(e).__name__}: {e}") from e
            if result is not None:
                if not isinstance(result, message.Message):
                    raise InternalError(
                        f"projector {self.name}: view returned {type(result).__name__}, expected a message or None"
                    )
                out.projection.CopyFrom(pack(result))
        return out


__all__ = ["BatchScope", "Projector", "ProjectorHandler", "StreamKey", "View", "stream_key"]
