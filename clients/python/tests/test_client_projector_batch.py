"""ProjectorBatchService.HandleBatch: Projector.execute_batch in-process, and
the service served beside ProjectorService for every projector (real
servers on 127.0.0.1, port 0)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from concurrent import futures

import grpc
import pytest
from google.protobuf import wrappers_pb2

from angzarr_client import (
    InternalError,
    Projector,
    ProjectorBatchServicer,
    StatusError,
    add_to_server,
    start,
    stream_key,
    unpack_as,
)
from angzarr_client.proto.angzarr import projector_pb2_grpc, types_pb2
from angzarr_client.proto.angzarr_kafka import batch_pb2, batch_pb2_grpc
from angzarr_client.proto.examples import player_pb2
from angzarr_client.testing import cover, event_book

import counter
from counter import usd

A = uuid.UUID(int=1)
B = uuid.UUID(int=2)


def deposited(n=1, code="USD"):
    amount = usd(n)
    amount.currency_code = code
    return player_pb2.FundsDeposited(amount=amount)


class Transactional:
    """A read model written through transactions: what a handler writes
    inside a batch scope is staged and becomes visible on commit only; out
    of one (``Handle``) each write commits at once. Idempotent by sequence
    per stream."""

    def __init__(self):
        self.totals: dict[bytes, int] = {}
        self.applied: dict[tuple, int] = {}
        self.staged: tuple[dict, dict] | None = None
        self.log: list[str] = []

    def _view(self):
        return self.staged if self.staged is not None else (self.totals, self.applied)

    def apply(self, the_cover, sequence, amount):
        totals, applied = self._view()
        key = stream_key(the_cover)
        if applied.get(key, -1) >= sequence:
            return
        root = bytes(the_cover.root.value)
        totals[root] = totals.get(root, 0) + amount
        applied[key] = sequence

    def total(self, root: uuid.UUID) -> int:
        return self._view()[0].get(root.bytes, 0)

    @contextlib.contextmanager
    def transaction(self):
        self.log.append("begin")
        self.staged = (dict(self.totals), dict(self.applied))
        try:
            yield
        except BaseException as e:
            self.log.append(f"rollback: {type(e).__name__}")
            raise
        else:
            self.totals, self.applied = self.staged
            self.log.append("commit")
        finally:
            self.staged = None


def make(name="totals", domains=(), scope=True):
    """A projector over a :class:`Transactional` model, recording handler calls."""
    model = Transactional()
    calls: list[tuple[bytes, int]] = []
    p = Projector(name, domains=domains)

    @p.on(player_pb2.FundsDeposited)
    def on_deposit(event, the_cover, sequence):
        if event.amount.currency_code == "BOOM":
            raise ZeroDivisionError("boom")
        if event.amount.currency_code == "NOPE":
            raise StatusError("nope", grpc.StatusCode.FAILED_PRECONDITION)
        calls.append((bytes(the_cover.root.value), sequence))
        model.apply(the_cover, sequence, event.amount.amount)

    @p.view
    def view(the_cover):
        return wrappers_pb2.Int64Value(value=model._view()[0].get(bytes(the_cover.root.value), 0))

    if scope:
        p.batch_scope(model.transaction)
    p.speculation(
        save=lambda: (dict(model.totals), dict(model.applied)),
        restore=lambda saved: (setattr(model, "totals", saved[0]), setattr(model, "applied", saved[1])),
    )
    return p, model, calls


def books_a1_b_a2():
    return [
        event_book(cover("player", A, correlation_id="c1"), [deposited(1), deposited(2)]),
        event_book(cover("player", B), [deposited(10)]),
        event_book(cover("player", A), [deposited(3), deposited(4), deposited(5)], first_sequence=2),
    ]


def total_of(projection):
    return unpack_as(projection.projection, wrappers_pb2.Int64Value).value


# -- in-process ------------------------------------------------------------------


@pytest.mark.parametrize("scope", [True, False])
def test_a_batch_answers_what_handle_would_book_by_book(scope):
    batched, batched_model, batched_calls = make(scope=scope)
    unary, unary_model, unary_calls = make(scope=scope)
    out = batched.execute_batch(batch_pb2.ProjectorBatch(books=books_a1_b_a2()))
    expected = [unary.execute(book) for book in books_a1_b_a2()]
    assert list(out.projections) == expected
    assert [(bytes(p.cover.root.value), p.sequence) for p in out.projections] == [(A.bytes, 1), (B.bytes, 0), (A.bytes, 4)]
    assert out.projections[0].cover.correlation_id == "c1"
    assert [total_of(p) for p in out.projections] == [3, 10, 15]  # the view sees the batch's own writes
    assert batched_calls == unary_calls == [(A.bytes, 0), (A.bytes, 1), (B.bytes, 0), (A.bytes, 2), (A.bytes, 3), (A.bytes, 4)]
    assert (batched_model.totals, batched_model.applied) == (unary_model.totals, unary_model.applied)
    # A plain list of books works too, and the same batch again changes nothing.
    again = batched.execute_batch(books_a1_b_a2())
    assert [total_of(p) for p in again.projections] == [15, 10, 15]
    assert batched_model.totals == {A.bytes: 15, B.bytes: 10}


def test_a_failure_in_book_2_fails_the_call_and_the_scope_rolls_back():
    p, model, calls = make()
    books = books_a1_b_a2()
    books[1].pages[0].event.CopyFrom(event_book(cover("player", B), [deposited(10, "BOOM")]).pages[0].event)
    with pytest.raises(InternalError) as info:
        p.execute_batch(books)
    assert info.value.code == grpc.StatusCode.INTERNAL
    assert "ZeroDivisionError: boom" in info.value.message and "sequence 0" in info.value.message
    assert calls == [(A.bytes, 0), (A.bytes, 1)]  # book 1 was applied, book 3 never reached
    assert model.log == ["begin", "rollback: InternalError"]
    assert model.totals == {} and model.applied == {}  # nothing of the batch shows
    # The coordinator hands the same books over again, fixed: applied once.
    out = p.execute_batch(books_a1_b_a2())
    assert len(out.projections) == 3 and model.log[-1] == "commit"
    assert model.totals == {A.bytes: 15, B.bytes: 10}


def test_without_a_scope_a_failed_batch_keeps_what_was_applied_and_the_retry_resumes():
    p, model, calls = make(scope=False)
    books = books_a1_b_a2()
    books[1].pages[0].event.CopyFrom(event_book(cover("player", B), [deposited(10, "BOOM")]).pages[0].event)
    with pytest.raises(InternalError):
        p.execute_batch(books)
    assert model.totals == {A.bytes: 3} and model.log == []
    p.execute_batch(books_a1_b_a2())
    assert model.totals == {A.bytes: 15, B.bytes: 10}  # A's first book skipped: idempotent by sequence


def test_the_scope_is_for_batches_only():
    p, model, _ = make()
    a = cover("player", A)
    p.execute(event_book(a, [deposited(1)]))
    p.execute_speculative(event_book(a, [deposited(1), deposited(2)]))
    assert p.execute_batch([]).projections == [] and p.execute_batch(batch_pb2.ProjectorBatch()).projections == []
    assert model.log == [] and model.totals == {A.bytes: 1}
    p.execute_batch([event_book(a, [deposited(2)], first_sequence=1)])
    assert model.log == ["begin", "commit"] and model.totals == {A.bytes: 3}


def test_the_checkpoint_runs_once_per_batch_inside_the_scope():
    p, model, _ = make()
    fail = [True]

    @p.checkpoint
    def checkpoint():
        model.log.append("checkpoint")
        if fail[0]:
            fail[0] = False
            raise OSError("disk full")

    with pytest.raises(InternalError, match="checkpoint failed: OSError: disk full"):
        p.execute_batch(books_a1_b_a2())
    assert model.log == ["begin", "checkpoint", "rollback: InternalError"] and model.totals == {}
    p.execute_batch(books_a1_b_a2())
    assert model.log[3:] == ["begin", "checkpoint", "commit"]
    # A batch in which no handler ran persists nothing.
    p.execute_batch([event_book(cover("player", A), [player_pb2.SitOut()], first_sequence=5)])
    assert model.log[6:] == ["begin", "commit"]


def test_scope_failures_are_internal_and_the_batch_error_wins_over_a_failed_rollback():
    p = Projector("p")
    p.on(player_pb2.FundsDeposited)(lambda e, c, s: None)
    p.batch_scope(lambda: 1 / 0)
    with pytest.raises(InternalError, match="batch scope failed to open: ZeroDivisionError"):
        p.execute_batch([event_book(cover("player", A), [deposited()])])

    class FailingCommit:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            raise OSError("commit lost" if exc[0] is None else "rollback lost")

    q, _, _ = make(scope=False)
    q.batch_scope(FailingCommit)
    with pytest.raises(InternalError, match="batch scope failed to commit: OSError: commit lost"):
        q.execute_batch([event_book(cover("player", A), [deposited()])])
    with pytest.raises(InternalError, match="ZeroDivisionError: boom"):
        q.execute_batch([event_book(cover("player", A), [deposited(1, "BOOM")])])


def test_a_scope_cannot_swallow_a_failure():
    p, _, _ = make(scope=False)

    @p.batch_scope
    @contextlib.contextmanager
    def swallowing():
        with contextlib.suppress(Exception):
            yield

    with pytest.raises(InternalError, match="boom"):
        p.execute_batch([event_book(cover("player", A), [deposited(1, "BOOM")])])


def test_batch_scope_registration_is_checked():
    p = Projector("x")
    with pytest.raises(TypeError):
        p.batch_scope("not callable")
    p.batch_scope(contextlib.nullcontext)
    with pytest.raises(ValueError, match="already registered"):
        p.batch_scope(contextlib.nullcontext)


def test_a_batch_holds_the_lock_so_handle_waits_for_it():
    p = Projector("slow")
    order: list[str] = []
    inside, go = threading.Event(), threading.Event()

    @p.on(player_pb2.FundsDeposited)
    def on_deposit(event, the_cover, sequence):
        if event.amount.currency_code == "WAIT":
            inside.set()
            assert go.wait(10)
        order.append(f"{the_cover.domain}:{sequence}")

    batch = [event_book(cover("batch", A), [deposited(1, "WAIT")]), event_book(cover("batch", A), [deposited()], 1)]
    t1 = threading.Thread(target=p.execute_batch, args=(batch,))
    t1.start()
    assert inside.wait(10)
    t2 = threading.Thread(target=p.execute, args=(event_book(cover("unary", B), [deposited()]),))
    t2.start()
    time.sleep(0.1)
    assert order == []  # Handle waits for the whole batch, not only its current book
    go.set()
    t1.join(10)
    t2.join(10)
    assert order == ["batch:0", "batch:1", "unary:0"]


# -- over gRPC -------------------------------------------------------------------


@pytest.fixture
def served():
    p, model, calls = make()
    with start("127.0.0.1:0", p) as running, grpc.insecure_channel(running.address) as ch:
        yield batch_pb2_grpc.ProjectorBatchServiceStub(ch), projector_pb2_grpc.ProjectorServiceStub(ch), model


def test_handle_batch_is_served_for_every_projector(served):
    batches, unary, model = served
    out = batches.HandleBatch(batch_pb2.ProjectorBatch(books=books_a1_b_a2()), timeout=10)
    assert [(p.projector, p.sequence, total_of(p)) for p in out.projections] == [("totals", 1, 3), ("totals", 0, 10), ("totals", 4, 15)]
    assert model.log == ["begin", "commit"]
    assert batches.HandleBatch(batch_pb2.ProjectorBatch(), timeout=10).projections == []
    # Handle keeps working beside it, on the same read model.
    assert total_of(unary.Handle(event_book(cover("player", B), [deposited(5)], first_sequence=1), timeout=10)) == 15


def test_a_failing_book_fails_the_call_with_the_status_handle_gives(served):
    batches, unary, model = served
    for code, status in (("BOOM", grpc.StatusCode.INTERNAL), ("NOPE", grpc.StatusCode.FAILED_PRECONDITION)):
        bad = event_book(cover("player", B), [deposited(1, code)])
        with pytest.raises(grpc.RpcError) as by_handle:
            unary.Handle(bad, timeout=10)
        books = books_a1_b_a2()
        books[1].CopyFrom(bad)
        with pytest.raises(grpc.RpcError) as by_batch:
            batches.HandleBatch(batch_pb2.ProjectorBatch(books=books), timeout=10)
        assert by_batch.value.code() == by_handle.value.code() == status
        assert by_batch.value.details() == by_handle.value.details()
    assert model.totals == {}  # rolled back
    assert len(batches.HandleBatch(batch_pb2.ProjectorBatch(books=books_a1_b_a2()), timeout=10).projections) == 3


def test_add_to_server_names_the_batch_service():
    for components, expected in (
        ((make()[0],), ["angzarr.ProjectorService", "angzarr_kafka.ProjectorBatchService"]),
        ((counter.make(),), ["angzarr.CommandHandlerService"]),
    ):
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        try:
            assert add_to_server(server, *components) == expected
        finally:
            server.stop(None)


def test_without_projectors_the_batch_service_is_unimplemented():
    with start("127.0.0.1:0", counter.make()) as running, grpc.insecure_channel(running.address) as ch:
        with pytest.raises(grpc.RpcError) as info:
            batch_pb2_grpc.ProjectorBatchServiceStub(ch).HandleBatch(batch_pb2.ProjectorBatch(), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_several_projectors_route_each_book_and_scope_each_projector():
    players, players_model, _ = make("players", domains=["player"])
    wallets, wallets_model, _ = make("wallets", domains=["wallet"])
    with start("127.0.0.1:0", players, wallets) as running, grpc.insecure_channel(running.address) as ch:
        stub = batch_pb2_grpc.ProjectorBatchServiceStub(ch)
        books = [
            event_book(cover("wallet", A), [deposited(7)]),
            event_book(cover("player", A), [deposited(1)]),
            event_book(cover("wallet", A), [deposited(1)], first_sequence=1),
        ]
        out = stub.HandleBatch(batch_pb2.ProjectorBatch(books=books), timeout=10)
        assert [(p.projector, total_of(p)) for p in out.projections] == [("wallets", 7), ("players", 1), ("wallets", 8)]
        assert players_model.log == wallets_model.log == ["begin", "commit"]
        # A book no projector here consumes: NOT_FOUND, and nothing is applied.
        with pytest.raises(grpc.RpcError) as info:
            stub.HandleBatch(batch_pb2.ProjectorBatch(books=[event_book(cover("player", B), [deposited()]), event_book(cover("nowhere", A), [])]), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert players_model.totals == {A.bytes: 1} and len(players_model.log) == 2
        # A failure in one projector's book rolls back every projector in the batch.
        bad = [event_book(cover("player", B), [deposited()]), event_book(cover("wallet", B), [deposited(1, "BOOM")])]
        with pytest.raises(grpc.RpcError) as info:
            stub.HandleBatch(batch_pb2.ProjectorBatch(books=bad), timeout=10)
        assert info.value.code() == grpc.StatusCode.INTERNAL
        assert players_model.log[-1] == wallets_model.log[-1] == "rollback: InternalError"
        assert B.bytes not in players_model.totals


def test_the_servicer_in_process():
    p, model, _ = make()
    servicer = ProjectorBatchServicer(p)
    assert len(servicer.execute_batch(batch_pb2.ProjectorBatch(books=books_a1_b_a2())).projections) == 3
    assert servicer.execute_batch([]).projections == []
    assert model.totals == {A.bytes: 15, B.bytes: 10}


def test_the_batch_contract_is_generated():
    service = batch_pb2.DESCRIPTOR.services_by_name["ProjectorBatchService"]
    assert service.full_name == "angzarr_kafka.ProjectorBatchService"
    method = service.methods_by_name["HandleBatch"]
    assert method.input_type.full_name == "angzarr_kafka.ProjectorBatch"
    assert method.output_type.full_name == "angzarr_kafka.ProjectionBatch"
    assert batch_pb2.ProjectorBatch.DESCRIPTOR.fields_by_name["books"].message_type is types_pb2.EventBook.DESCRIPTOR
    assert batch_pb2.ProjectionBatch.DESCRIPTOR.fields_by_name["projections"].message_type is types_pb2.Projection.DESCRIPTOR
