"""features/projector_batch.feature (the shared specification, used unchanged
from the repository root) run with pytest-bdd against a projector built with
the library's Projector, served on 127.0.0.1:0 and called through a real gRPC
channel (world: tests/ledger.py)."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from angzarr_client.proto.angzarr_kafka import batch_pb2

from ledger import LedgerWorld, root_of

FEATURE = Path(__file__).resolve().parents[3] / "features" / "projector_batch.feature"

scenarios(str(FEATURE))

BOOK = re.compile(r'^"([A-Za-z])" with (\d+) events?$')


def parse_books(text: str) -> list[tuple[str, int]]:
    """``"A" with 2 events, "B" with 1 event`` (or ``none``) -> ``[("A", 2), ("B", 1)]``."""
    text = text.strip()
    if text == "none":
        return []
    out = []
    for part in text.split(","):
        m = BOOK.match(part.strip())
        assert m, f"cannot read a book from {part!r}"
        out.append((m.group(1), int(m.group(2))))
    return out


def test_every_scenario_is_collected():
    declared = len(re.findall(r"^\s*Scenario(?: Outline)?:", FEATURE.read_text(encoding="utf-8"), re.M))
    own = {"test_every_scenario_is_collected", "test_the_book_list_reader"}
    generated = [name for name in globals() if name.startswith("test_") and name not in own]
    assert declared > 0 and len(generated) == declared, (declared, generated)


def test_the_book_list_reader():
    assert parse_books('"A" with 2 events, "B" with 1 event') == [("A", 2), ("B", 1)]
    assert parse_books("none") == []
    assert str(root_of("A")) == "00000000-0000-0000-0000-000000000041"


@pytest.fixture
def world():
    w = LedgerWorld()
    yield w
    w.close()


# -- Given -----------------------------------------------------------------------


@given("a ledger projector")
def a_ledger_projector(world: LedgerWorld):
    assert world.projector.name == "ledger"
    assert world.projector.event_types == ["examples.FundsDeposited"]


@given(parsers.parse('the projector refuses events of root "{letter}"'))
def refuses(world: LedgerWorld, letter: str):
    world.ledger.refused.add(root_of(letter).bytes)


# -- When ------------------------------------------------------------------------


@when("the projector stops refusing")
def stops_refusing(world: LedgerWorld):
    world.ledger.refused.clear()


@when(parsers.parse("it is handed a batch of books: {books}"))
def handed_a_batch(world: LedgerWorld, books: str):
    world.handle_batch(batch_pb2.ProjectorBatch(books=world.books(parse_books(books))))


@when(parsers.parse("it is handed books one at a time: {books}"))
def handed_one_at_a_time(world: LedgerWorld, books: str):
    world.handle_one_at_a_time(world.books(parse_books(books)))


@when("the same batch is handed over again")
def handed_again(world: LedgerWorld):
    assert world.last_request is not None, "no batch was handed over yet"
    world.handle_batch(world.last_request)


# -- Then ------------------------------------------------------------------------


@then(parsers.parse("the call answers {n:d} projections"))
def answers(world: LedgerWorld, n: int):
    assert world.last_error is None, f"the call failed: {world.last_error.code()} {world.last_error.details()}"
    assert world.last_response is not None
    assert len(world.last_response.projections) == n, world.last_response
    assert all(p.projector == "ledger" for p in world.last_response.projections)


@then(parsers.parse('projection {i:d} is for root "{letter}" at sequence {seq:d}'))
def projection_is(world: LedgerWorld, i: int, letter: str, seq: int):
    assert world.last_response is not None, world.last_error
    p = world.last_response.projections[i - 1]
    assert (bytes(p.cover.root.value), p.sequence) == (root_of(letter).bytes, seq), p
    assert p.cover.domain == "player"


@then(parsers.parse('the call fails with a message containing "{text}"'))
def fails_with(world: LedgerWorld, text: str):
    err = world.last_error
    assert err is not None, f"the call succeeded: {world.last_response}"
    assert err.code() not in (grpc.StatusCode.OK, grpc.StatusCode.UNIMPLEMENTED), err
    assert text in (err.details() or ""), err.details()


@then(
    parsers.re(
        r'the ledger holds (?P<n>\d+) events? of root "(?P<r>[A-Za-z])" and (?P<m>\d+) events? of root "(?P<s>[A-Za-z])"'
    )
)
def ledger_holds(world: LedgerWorld, n: str, r: str, m: str, s: str):
    assert (world.ledger.count(r), world.ledger.count(s)) == (int(n), int(m)), world.ledger.applied
