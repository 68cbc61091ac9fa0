package dev.angzarr.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Int32Value;
import com.google.protobuf.Int64Value;
import com.google.protobuf.StringValue;
import dev.angzarr.client.testing.EventBooks;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.Edition;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import dev.angzarr.proto.Projection;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProjectorTest {
  static final java.util.UUID A = java.util.UUID.fromString("aaaaaaaa-0000-4000-8000-000000000001");
  static final java.util.UUID B = java.util.UUID.fromString("bbbbbbbb-0000-4000-8000-000000000002");
  static final Cover COVER_A = EventBooks.cover("account", A, "corr");
  static final Cover COVER_B = EventBooks.cover("account", B);

  /**
   * The read model, idempotent the way the poker bankroll is: a row per stream (domain, root,
   * edition) with its total and the last sequence applied to it, checked and written together.
   */
  record Row(long total, int lastSequence) {}

  final Map<String, Row> rows = new ConcurrentHashMap<>();
  /** Every call of the handler, redeliveries included. */
  final List<String> calls = java.util.Collections.synchronizedList(new ArrayList<>());
  /** The calls that changed the read model, in order. */
  final List<String> applied = java.util.Collections.synchronizedList(new ArrayList<>());

  final Projector totaller = Projector.named("totals")
      .on(Int32Value.class, (e, cover, seq) -> {
        if (e.getValue() == 13) {
          throw new IllegalStateException("unlucky");
        }
        String call = Uuids.toString(cover.getRoot()).substring(0, 1) + seq + "=" + e.getValue();
        calls.add(call);
        String key = Checkpoints.key(cover);
        Row row = rows.get(key);
        if (row != null && seq <= row.lastSequence()) {
          return; // the read model has it already
        }
        Thread.yield(); // widen the check-then-write window for the concurrency test
        rows.put(key, new Row((row == null ? 0 : row.total()) + e.getValue(), seq));
        applied.add(call);
      })
      .viewFor(cover -> Int64Value.of(total(cover)));

  long total(Cover cover) {
    Row row = rows.get(Checkpoints.key(cover));
    return row == null ? 0 : row.total();
  }

  static Status.Code code(Runnable r) {
    return assertThrows(StatusRuntimeException.class, r::run).getStatus().getCode();
  }

  @Test
  void appliesInOrderAndReportsTheLastSequenceAndView() {
    Projection p = totaller.handle(EventBooks.of(COVER_A, 0, Int32Value.of(1), StringValue.of("skip"), Int32Value.of(2)));
    assertEquals(List.of("a0=1", "a2=2"), applied);
    assertEquals(COVER_A, p.getCover());
    assertEquals("totals", p.getProjector());
    assertEquals(2, p.getSequence());
    assertEquals(Any.pack(Int64Value.of(3)), p.getProjection());
    assertTrue(totaller.checkpoints().isEmpty());
  }

  @Test
  void redeliveriesReachTheHandlerAndTheReadModelDedupesThem() {
    totaller.handle(EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(2)));
    Projection again = totaller.handle(EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(2)));
    assertEquals(1, again.getSequence());
    assertEquals(Any.pack(Int64Value.of(3)), again.getProjection());
    // The projector keeps no memory of its own: the redelivery is handed over again.
    assertEquals(List.of("a0=1", "a1=2", "a0=1", "a1=2"), calls);
    // Overlapping: 1 is old, 2 and 3 are new.
    totaller.handle(EventBooks.of(COVER_A, 1, Int32Value.of(2), Int32Value.of(10), Int32Value.of(20)));
    // Another root is another row.
    totaller.handle(EventBooks.of(COVER_B, 0, Int32Value.of(100)));
    assertEquals(List.of("a0=1", "a1=2", "a2=10", "a3=20", "b0=100"), applied);
    assertEquals(33L, total(COVER_A));
    assertEquals(100L, total(COVER_B));
  }

  /**
   * The defect this projector once had: it remembered applied sequences in memory, so rewinding
   * the consumer group to rebuild a wiped read model, with the projector process still running,
   * skipped every event and left the model empty.
   */
  @Test
  void aReplayIntoAWipedReadModelRebuildsItInTheRunningProjector() {
    EventBook history = EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(2), Int32Value.of(3));
    totaller.handle(history);
    assertEquals(6L, total(COVER_A));

    rows.clear(); // the read model is wiped (e.g. a new schema), the group rewound to the start
    applied.clear();
    Projection replayed = totaller.handle(history);

    assertEquals(List.of("a0=1", "a1=2", "a2=3"), applied);
    assertEquals(Any.pack(Int64Value.of(6)), replayed.getProjection());
    assertEquals(2, replayed.getSequence());
  }

  @Test
  void editionsAndDomainsAreSeparateStreams() {
    Cover v2 = COVER_A.toBuilder().setEdition(Edition.newBuilder().setName("v2")).build();
    Cover other = COVER_A.toBuilder().setDomain("table").build();
    totaller.handle(EventBooks.of(COVER_A, 0, Int32Value.of(1)));
    totaller.handle(EventBooks.of(v2, 0, Int32Value.of(1)));
    totaller.handle(EventBooks.of(other, 0, Int32Value.of(1)));
    assertEquals(3, applied.size());
    assertEquals("account/" + A + "@v2", Checkpoints.key(v2));
  }

  @Test
  void aFailureKeepsTheEarlierPagesApplied() {
    EventBook book = EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(13), Int32Value.of(5));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> totaller.handle(book));
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("sequence 1"), e.getStatus().getDescription());
    assertEquals(List.of("a0=1"), applied);
    // The redelivery (after a fix) hands page 0 over again; the read model does not apply it twice.
    EventBook fixed = EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(4), Int32Value.of(5));
    assertEquals(2, totaller.handle(fixed).getSequence());
    assertEquals(List.of("a0=1", "a0=1", "a1=4", "a2=5"), calls);
    assertEquals(List.of("a0=1", "a1=4", "a2=5"), applied);
    assertEquals(10L, total(COVER_A));
  }

  @Test
  void speculativeAppliesNothing() {
    totaller.handle(EventBooks.of(COVER_A, 0, Int32Value.of(1)));
    Projection p = totaller.handleSpeculative(EventBooks.of(COVER_A, 1, Int32Value.of(2), Int32Value.of(3)));
    assertEquals(2, p.getSequence());
    assertEquals("totals", p.getProjector());
    assertEquals(Any.pack(Int64Value.of(1)), p.getProjection(), "the view without the book's events");
    assertEquals(List.of("a0=1"), calls);
    Any garbage = Any.newBuilder().setTypeUrl("type.googleapis.com/google.protobuf.Int32Value")
        .setValue(ByteString.copyFrom(new byte[] {(byte) 0xff})).build();
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> totaller.handleSpeculative(EventBook.newBuilder()
        .setCover(COVER_A)
        .addPages(EventPage.newBuilder().setHeader(PageHeader.newBuilder().setSequence(5)).setEvent(garbage))
        .build())));
  }

  @Test
  void noCommitPagesAreNotApplied() {
    EventBook book = EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(2));
    book = book.toBuilder().setPages(1, book.getPages(1).toBuilder().setNoCommit(true)).build();
    assertEquals(1, totaller.handle(book).getSequence());
    assertEquals(List.of("a0=1"), calls);
  }

  @Test
  void anEmptyBookReportsSequenceZero() {
    totaller.handle(EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(1)));
    Projection p = totaller.handle(EventBook.newBuilder().setCover(COVER_A).build());
    assertEquals(0, p.getSequence(), "no memory of the stream in the projector");
    assertEquals(Any.pack(Int64Value.of(2)), p.getProjection());
    Projection none = Projector.named("bare").handle(EventBook.getDefaultInstance());
    assertEquals(0, none.getSequence());
    assertFalse(none.hasProjection(), "no view, no projection");
  }

  @Test
  void badPagesAreInvalidArgument() {
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> totaller.handle(EventBook.newBuilder()
        .setCover(COVER_A).addPages(EventPage.newBuilder().setEvent(Any.pack(Int32Value.of(1)))).build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> totaller.handle(EventBook.newBuilder()
        .setCover(COVER_A).addPages(EventPage.newBuilder().setHeader(PageHeader.newBuilder().setSequence(0))).build())));
    assertTrue(applied.isEmpty());
  }

  @Test
  void aViewFailureIsInternal() {
    Projector broken = Projector.named("broken").view(() -> {
      throw new IllegalStateException("no view");
    });
    assertEquals(Status.Code.INTERNAL, code(() -> broken.handle(EventBooks.of(COVER_A, 0, Int32Value.of(1)))));
  }

  /** Checkpoints kept by the read model's store (here a stand-in), consulted before each page. */
  @Test
  void checkpointsOfTheReadModel() {
    AtomicLong stored = new AtomicLong(4);
    Checkpoints mine = new Checkpoints() {
      @Override
      public long lastApplied(Cover cover) {
        return stored.get();
      }

      @Override
      public void applied(Cover cover, long sequence) {
        stored.set(sequence);
      }
    };
    Projector durable = totaller.checkpoints(mine);
    durable.handle(EventBooks.of(COVER_A, 3, Int32Value.of(1), Int32Value.of(2), Int32Value.of(3)));
    assertEquals(List.of("a5=3"), calls);
    assertEquals(5, stored.get());
    assertEquals(5, durable.handle(EventBook.newBuilder().setCover(COVER_A).build()).getSequence());
    assertEquals(mine, durable.checkpoints().orElseThrow());
    // Wiped with its model, the store lets a replay through.
    stored.set(-1);
    durable.handle(EventBooks.of(COVER_A, 0, Int32Value.of(7)));
    assertEquals(List.of("a5=3", "a0=7"), calls);
  }

  @Test
  void registrationIsImmutableAndThereAreNoCheckpointsByDefault() {
    Projector base = Projector.named("p");
    Projector one = base.on(Int32Value.class, (e, c, s) -> {});
    assertTrue(base.eventTypes().isEmpty());
    assertEquals(java.util.Set.of("google.protobuf.Int32Value"), one.eventTypes());
    assertTrue(base.checkpoints().isEmpty());
    assertTrue(one.checkpoints().isEmpty());
    assertThrows(IllegalStateException.class, () -> one.on(Int32Value.class, (e, c, s) -> {}));
    assertThrows(IllegalArgumentException.class, () -> Projector.named(""));
    assertEquals(java.util.Set.of("account"), one.from("account").sources());
    assertEquals("projector", one.componentType());
  }

  /** Books of one stream are handled one at a time, so the read model's check-then-write holds. */
  @Test
  void concurrentDeliveriesOfOneStreamAreSerialized() throws Exception {
    EventBook book = EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(2), Int32Value.of(3));
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<Projection>> results = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        results.add(pool.submit(() -> totaller.handle(book)));
      }
      for (Future<Projection> r : results) {
        assertEquals(Any.pack(Int64Value.of(6)), r.get(10, TimeUnit.SECONDS).getProjection());
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(List.of("a0=1", "a1=2", "a2=3"), applied);
    assertEquals(32 * 3, calls.size());
  }
}
