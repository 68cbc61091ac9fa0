"""The world of features/projector_batch.feature (features/README.md): a
"ledger" projector built with the library's :class:`Projector`, served on
127.0.0.1:0, and called through a real gRPC channel, as a batch
(``angzarr_kafka.ProjectorBatchService.HandleBatch``) or one book at a time
(``angzarr.ProjectorService.Handle``)."""

from __future__ import annotations

import uuid

import grpc

from angzarr_client import InternalError, Projector, start
from angzarr_client.proto.angzarr import projector_pb2_grpc, types_pb2
from angzarr_client.proto.angzarr_kafka import batch_pb2, batch_pb2_grpc
from angzarr_client.proto.examples import player_pb2
from angzarr_client.testing import cover, event_book

from counter import usd


def root_of(letter: str) -> uuid.UUID:
    """Root "A": the UUID whose 16 bytes are all zero but the last, the letter's ASCII code."""
    assert len(letter) == 1 and letter.isascii(), letter
    return uuid.UUID(bytes=bytes(15) + letter.encode("ascii"))


class Ledger:
    """The read model: per root, the sequences applied, idempotent by
    sequence (an event at or below the root's last applied one is ignored)."""

    def __init__(self) -> None:
        self.applied: dict[bytes, list[int]] = {}
        self.refused: set[bytes] = set()

    def record(self, root: bytes, sequence: int) -> None:
        seqs = self.applied.setdefault(root, [])
        if seqs and sequence <= seqs[-1]:
            return
        seqs.append(sequence)

    def count(self, letter: str) -> int:
        return len(set(self.applied.get(root_of(letter).bytes, [])))


def ledger_projector() -> tuple[Projector, Ledger]:
    """The ``ledger`` projector, with nothing batch-specific in it."""
    ledger = Ledger()
    projector = Projector("ledger")

    @projector.on(player_pb2.FundsDeposited)
    def deposited(event, the_cover, sequence):
        root = bytes(the_cover.root.value)
        if root in ledger.refused:  # before recording anything for it
            raise InternalError(f"ledger: refused events of root {uuid.UUID(bytes=root)}")
        ledger.record(root, sequence)

    return projector, ledger


class LedgerWorld:
    def __init__(self) -> None:
        self.projector, self.ledger = ledger_projector()
        self.running = start("127.0.0.1:0", self.projector)
        self.channel = grpc.insecure_channel(self.running.address)
        self.batches = batch_pb2_grpc.ProjectorBatchServiceStub(self.channel)
        self.unary = projector_pb2_grpc.ProjectorServiceStub(self.channel)
        self.next_sequence: dict[str, int] = {}
        self.last_request: batch_pb2.ProjectorBatch | None = None
        self.last_response: batch_pb2.ProjectionBatch | None = None
        self.last_error: grpc.RpcError | None = None

    def close(self) -> None:
        self.channel.close()
        self.running.stop(grace=0)

    def books(self, spec: list[tuple[str, int]]) -> list[types_pb2.EventBook]:
        """Books in the order listed, each root's sequences continuing from
        its earlier books in the scenario, every event ``FundsDeposited { amount: $1 }``."""
        out = []
        for letter, n in spec:
            first = self.next_sequence.get(letter, 0)
            events = [player_pb2.FundsDeposited(amount=usd(1)) for _ in range(n)]
            out.append(event_book(cover("player", root_of(letter)), events, first_sequence=first))
            self.next_sequence[letter] = first + n
        return out

    def handle_batch(self, request: batch_pb2.ProjectorBatch) -> None:
        self.last_request = request
        self.last_response, self.last_error = None, None
        try:
            self.last_response = self.batches.HandleBatch(request, timeout=10)
        except grpc.RpcError as e:
            self.last_error = e

    def handle_one_at_a_time(self, books: list[types_pb2.EventBook]) -> None:
        for book in books:
            out = self.unary.Handle(book, timeout=10)
            assert out.cover == book.cover and out.sequence == book.pages[-1].header.sequence, out
