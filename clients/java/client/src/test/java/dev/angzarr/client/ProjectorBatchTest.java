package dev.angzarr.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.Int32Value;
import com.google.protobuf.Int64Value;
import dev.angzarr.client.testing.EventBooks;
import dev.angzarr.kafka.proto.ProjectionBatch;
import dev.angzarr.kafka.proto.ProjectorBatch;
import dev.angzarr.kafka.proto.ProjectorBatchServiceGrpc;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.Projection;
import dev.angzarr.proto.ProjectorServiceGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code angzarr_kafka.ProjectorBatchService.HandleBatch}, served with every projector, over a real
 * gRPC server on 127.0.0.1 (port 0), and the {@link ProjectorBatchHook} around it.
 */
class ProjectorBatchTest {
  static final java.util.UUID A = java.util.UUID.fromString("aaaaaaaa-0000-4000-8000-000000000001");
  static final java.util.UUID B = java.util.UUID.fromString("bbbbbbbb-0000-4000-8000-000000000002");
  static final java.util.UUID C = java.util.UUID.fromString("cccccccc-0000-4000-8000-000000000003");
  static final Cover COVER_A = EventBooks.cover("account", A);
  static final Cover COVER_B = EventBooks.cover("account", B);
  static final Cover COVER_C = EventBooks.cover("account", C);

  /** A read model with transactions: rows per stream, and the rows a transaction has staged. */
  static final class Model {
    final Map<String, ProjectorTest.Row> committed = new ConcurrentHashMap<>();
    final ThreadLocal<Map<String, ProjectorTest.Row>> transaction = new ThreadLocal<>();
    /** Every call of the handler, redeliveries included: {@code a0=1} (root a, sequence 0, value 1). */
    final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    /** Whether each handler call ran inside a transaction. */
    final List<Boolean> inTransaction = Collections.synchronizedList(new ArrayList<>());

    Map<String, ProjectorTest.Row> rows() {
      Map<String, ProjectorTest.Row> staged = transaction.get();
      return staged != null ? staged : committed;
    }

    void begin() {
      transaction.set(new HashMap<>(committed));
    }

    void commit() {
      committed.putAll(transaction.get());
      transaction.remove();
    }

    void rollback() {
      transaction.remove();
    }

    long total(Cover cover) {
      ProjectorTest.Row row = rows().get(Checkpoints.key(cover));
      return row == null ? 0 : row.total();
    }

    /** Sums {@code Int32Value}s per stream, idempotent by sequence; 13 fails. */
    Projector totals(String name) {
      return Projector.named(name)
          .on(Int32Value.class, (e, cover, seq) -> {
            if (e.getValue() == 13) {
              throw new IllegalStateException("unlucky");
            }
            calls.add(Uuids.toString(cover.getRoot()).substring(0, 1) + seq + "=" + e.getValue());
            inTransaction.add(transaction.get() != null);
            Map<String, ProjectorTest.Row> rows = rows();
            String key = Checkpoints.key(cover);
            ProjectorTest.Row row = rows.get(key);
            if (row == null || seq > row.lastSequence()) {
              rows.put(key, new ProjectorTest.Row((row == null ? 0 : row.total()) + e.getValue(), seq));
            }
          })
          .viewFor(cover -> Int64Value.of(total(cover)));
    }
  }

  final Model model = new Model();
  /** What the transactional hook saw: the books of each call, and the failures of applyBatch. */
  final List<List<EventBook>> hookBooks = Collections.synchronizedList(new ArrayList<>());
  final List<RuntimeException> hookSaw = Collections.synchronizedList(new ArrayList<>());

  /** The batch in one read-model transaction: committed when it applied, rolled back when not. */
  final ProjectorBatchHook transactional = (books, applyBatch) -> {
    hookBooks.add(books);
    model.begin();
    try {
      applyBatch.run();
      model.commit();
    } catch (RuntimeException e) {
      hookSaw.add(e);
      model.rollback();
      throw e;
    }
  };

  final List<AngzarrServer> servers = new ArrayList<>();
  final List<ManagedChannel> channels = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    servers.forEach(AngzarrServer::close);
  }

  /** A channel to a new server of {@code projectors}. */
  ManagedChannel serve(Projector... projectors) throws IOException {
    AngzarrServer server = AngzarrServer.start("127.0.0.1:0", projectors);
    servers.add(server);
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create()).build();
    channels.add(channel);
    return channel;
  }

  static ProjectorBatchServiceGrpc.ProjectorBatchServiceBlockingStub batches(ManagedChannel channel) {
    return ProjectorBatchServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  static ProjectorServiceGrpc.ProjectorServiceBlockingStub singles(ManagedChannel channel) {
    return ProjectorServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  static ProjectorBatch batch(EventBook... books) {
    return ProjectorBatch.newBuilder().addAllBooks(List.of(books)).build();
  }

  /** A, then B, then A again (its events interleaved with B's). */
  static final ProjectorBatch MIXED = batch(
      EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(2)),
      EventBooks.of(COVER_B, 0, Int32Value.of(10)),
      EventBooks.of(COVER_A, 2, Int32Value.of(3)));

  /** Book 2 of 3 fails (13). */
  static final ProjectorBatch FAILING_SECOND = batch(
      EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(2)),
      EventBooks.of(COVER_B, 0, Int32Value.of(13)),
      EventBooks.of(COVER_C, 0, Int32Value.of(5)));

  static final ProjectorBatch FIXED = batch(
      EventBooks.of(COVER_A, 0, Int32Value.of(1), Int32Value.of(2)),
      EventBooks.of(COVER_B, 0, Int32Value.of(4)),
      EventBooks.of(COVER_C, 0, Int32Value.of(5)));

  @Test
  void aBatchIsAnsweredWithWhatHandleAnswersBookByBook() throws Exception {
    Model single = new Model();
    ManagedChannel one = serve(single.totals("totals"));
    List<Projection> expected = new ArrayList<>();
    for (EventBook book : MIXED.getBooksList()) {
      expected.add(singles(one).handle(book));
    }

    ProjectionBatch answered = batches(serve(model.totals("totals"))).handleBatch(MIXED);

    assertEquals(expected, answered.getProjectionsList());
    assertEquals(List.of(1, 0, 2), answered.getProjectionsList().stream().map(Projection::getSequence).toList());
    assertEquals(Any.pack(Int64Value.of(3)), answered.getProjections(0).getProjection(), "the view after book 1");
    assertEquals(Any.pack(Int64Value.of(6)), answered.getProjections(2).getProjection(), "the view after book 3");
    assertEquals(single.calls, model.calls);
    assertEquals(single.committed, model.committed);

    // Handed over again, the read model changes nothing (idempotent by sequence).
    assertEquals(3, batches(channels.get(1)).handleBatch(MIXED).getProjectionsCount());
    assertEquals(6L, model.total(COVER_A));
    assertEquals(10L, model.total(COVER_B));
  }

  @Test
  void anErrorInBook2FailsTheWholeCallWithTheStatusOfHandle() throws Exception {
    ManagedChannel channel = serve(model.totals("totals"));
    Status handle = assertThrows(StatusRuntimeException.class,
        () -> singles(serve(new Model().totals("totals"))).handle(FAILING_SECOND.getBooks(1))).getStatus();

    Status failed = assertThrows(StatusRuntimeException.class, () -> batches(channel).handleBatch(FAILING_SECOND)).getStatus();

    assertEquals(Status.Code.INTERNAL, failed.getCode());
    assertEquals(handle.getCode(), failed.getCode());
    assertTrue(failed.getDescription().startsWith("book 2 of 3 (account/" + B + "): "), failed.getDescription());
    assertTrue(failed.getDescription().endsWith(handle.getDescription()), failed.getDescription());
    assertTrue(failed.getDescription().contains("unlucky"), failed.getDescription());
    // Without a hook, book 1 stays applied (as by Handle) and book 3 is never reached.
    assertEquals(List.of("a0=1", "a1=2"), model.calls);

    // The coordinator hands the same books over again (fixed); book 1 is not applied twice.
    assertEquals(3, batches(channel).handleBatch(FIXED).getProjectionsCount());
    assertEquals(3L, model.total(COVER_A));
    assertEquals(4L, model.total(COVER_B));
    assertEquals(5L, model.total(COVER_C));
  }

  @Test
  void theBatchHookSeesTheErrorAndRollsTheWholeBatchBack() throws Exception {
    ManagedChannel channel = serve(model.totals("totals").aroundBatch(transactional));

    Status failed = assertThrows(StatusRuntimeException.class, () -> batches(channel).handleBatch(FAILING_SECOND)).getStatus();

    assertEquals(Status.Code.INTERNAL, failed.getCode());
    assertEquals(1, hookSaw.size());
    StatusRuntimeException seen = assertInstanceOf(StatusRuntimeException.class, hookSaw.get(0));
    assertEquals(Status.Code.INTERNAL, seen.getStatus().getCode());
    assertEquals(failed.getDescription(), seen.getStatus().getDescription(), "the hook sees the call's failure");
    assertTrue(seen.getStatus().getDescription().startsWith("book 2 of 3"), seen.getStatus().getDescription());
    assertEquals(List.of("a0=1", "a1=2"), model.calls, "book 1 was applied, inside the transaction");
    assertTrue(model.committed.isEmpty(), "and rolled back with it");

    ProjectionBatch answered = batches(channel).handleBatch(FIXED);
    assertEquals(List.of(COVER_A, COVER_B, COVER_C),
        answered.getProjectionsList().stream().map(Projection::getCover).toList());
    assertEquals(List.of(3L, 4L, 5L), List.of(model.total(COVER_A), model.total(COVER_B), model.total(COVER_C)));
    assertEquals(List.of("a0=1", "a1=2", "a0=1", "a1=2", "b0=4", "c0=5"), model.calls, "book 1 again: it was rolled back");
    assertEquals(List.of(FAILING_SECOND.getBooksList(), FIXED.getBooksList()), hookBooks);
    assertEquals(1, hookSaw.size());
  }

  @Test
  void theHookWrapsEachBatchOnceAndHandleNever() throws Exception {
    ManagedChannel channel = serve(model.totals("totals").aroundBatch(transactional));

    ProjectionBatch answered = batches(channel).handleBatch(MIXED);

    assertEquals(List.of(MIXED.getBooksList()), hookBooks, "one hook call with every book");
    assertEquals(List.of(true, true, true, true), model.inTransaction, "handlers run inside it");
    assertEquals(Any.pack(Int64Value.of(3)), answered.getProjections(0).getProjection(), "views see the transaction");
    assertEquals(6L, model.total(COVER_A));

    singles(channel).handle(EventBooks.of(COVER_A, 3, Int32Value.of(4)));
    assertEquals(1, hookBooks.size(), "Handle does not use the hook");
    assertFalse(model.inTransaction.get(4));
    assertEquals(10L, model.total(COVER_A));
  }

  @Test
  void anEmptyBatchIsAnsweredWithNoProjectionsAndNoHook() throws Exception {
    ManagedChannel channel = serve(model.totals("totals").aroundBatch(transactional));
    assertEquals(0, batches(channel).handleBatch(ProjectorBatch.getDefaultInstance()).getProjectionsCount());
    assertTrue(hookBooks.isEmpty());
  }

  @Test
  void aHookCannotHideAFailureOrSkipTheBatch() {
    Projector totals = model.totals("totals");

    Projector swallowing = totals.aroundBatch((books, applyBatch) -> {
      try {
        applyBatch.run();
      } catch (RuntimeException e) {
        hookSaw.add(e);
      }
    });
    StatusRuntimeException swallowed = assertThrows(StatusRuntimeException.class, () -> swallowing.handleBatch(FAILING_SECOND));
    assertEquals(Status.Code.INTERNAL, swallowed.getStatus().getCode());
    assertEquals(hookSaw.get(0), swallowed, "the call fails with the book's failure all the same");

    Projector skipping = totals.aroundBatch((books, applyBatch) -> {});
    StatusRuntimeException skipped = assertThrows(StatusRuntimeException.class, () -> skipping.handleBatch(MIXED));
    assertEquals(Status.Code.INTERNAL, skipped.getStatus().getCode());
    assertTrue(skipped.getStatus().getDescription().contains("without applying"), skipped.getStatus().getDescription());

    Projector twice = totals.aroundBatch((books, applyBatch) -> {
      applyBatch.run();
      hookSaw.add(assertThrows(IllegalStateException.class, applyBatch::run));
    });
    assertEquals(3, twice.handleBatch(MIXED).getProjectionsCount(), "applied once");
    assertEquals(List.of("a0=1", "a1=2", "b0=10", "a2=3"), model.calls.subList(2, 6));
    assertEquals(6, model.calls.size());

    Projector commitFails = totals.aroundBatch((books, applyBatch) -> {
      applyBatch.run();
      throw new java.sql.SQLException("commit failed");
    });
    StatusRuntimeException notCommitted = assertThrows(StatusRuntimeException.class, () -> commitFails.handleBatch(MIXED));
    assertEquals(Status.Code.INTERNAL, notCommitted.getStatus().getCode());
    assertTrue(notCommitted.getStatus().getDescription().contains("commit failed"), notCommitted.getStatus().getDescription());

    Projector aborting = totals.aroundBatch((books, applyBatch) -> {
      throw Status.ABORTED.withDescription("serialization failure").asRuntimeException();
    });
    assertEquals(Status.Code.ABORTED, assertThrows(StatusRuntimeException.class,
        () -> aborting.handleBatch(MIXED)).getStatus().getCode(), "a status thrown on purpose is kept");

    Projector wrapping = totals.aroundBatch((books, applyBatch) -> {
      try {
        applyBatch.run();
      } catch (RuntimeException e) {
        throw new IllegalStateException("rolled back", e);
      }
    });
    StatusRuntimeException wrapped = assertThrows(StatusRuntimeException.class, () -> wrapping.handleBatch(FAILING_SECOND));
    assertTrue(wrapped.getStatus().getDescription().startsWith("book 2 of 3"), "the book's failure wins");
  }

  @Test
  void badInputHasTheStatusOfHandle() throws Exception {
    ManagedChannel channel = serve(model.totals("totals"));
    EventBook noSequence = EventBook.newBuilder().setCover(COVER_A)
        .addPages(EventBooks.page(0, Int32Value.of(1)).toBuilder().clearHeader()).build();
    Status.Code handle = assertThrows(StatusRuntimeException.class, () -> singles(channel).handle(noSequence))
        .getStatus().getCode();
    Status batch = assertThrows(StatusRuntimeException.class,
        () -> batches(channel).handleBatch(batch(EventBooks.of(COVER_B, 0, Int32Value.of(1)), noSequence))).getStatus();
    assertEquals(Status.Code.INVALID_ARGUMENT, handle);
    assertEquals(handle, batch.getCode());
    assertTrue(batch.getDescription().startsWith("book 2 of 2"), batch.getDescription());
  }

  @Test
  void severalProjectorsAreRoutedPerBookAndTheirHooksNest() throws Exception {
    List<String> trace = Collections.synchronizedList(new ArrayList<>());
    Model tables = new Model();
    Projector accounts = model.totals("accounts").from("account").aroundBatch((books, applyBatch) -> {
      trace.add("accounts begin " + books.size());
      applyBatch.run();
      trace.add("accounts commit");
    });
    Projector tableTotals = tables.totals("tables").from("table").aroundBatch((books, applyBatch) -> {
      trace.add("tables begin " + books.size());
      applyBatch.run();
      trace.add("tables commit");
    });
    ManagedChannel channel = serve(accounts, tableTotals);
    Cover table = EventBooks.cover("table", C);

    ProjectionBatch answered = batches(channel).handleBatch(batch(
        EventBooks.of(table, 0, Int32Value.of(7)),
        EventBooks.of(COVER_A, 0, Int32Value.of(1)),
        EventBooks.of(table, 1, Int32Value.of(8))));

    assertEquals(List.of("tables", "accounts", "tables"),
        answered.getProjectionsList().stream().map(Projection::getProjector).toList());
    assertEquals(List.of("tables begin 2", "accounts begin 1", "accounts commit", "tables commit"), trace);
    assertEquals(15L, tables.total(table));
    assertEquals(1L, model.total(COVER_A));

    // A book no projector here consumes fails the call before anything is applied.
    trace.clear();
    Status nowhere = assertThrows(StatusRuntimeException.class, () -> batches(channel).handleBatch(batch(
        EventBooks.of(COVER_A, 1, Int32Value.of(1)),
        EventBooks.of(EventBooks.cover("hand", C), 0, Int32Value.of(1))))).getStatus();
    assertEquals(Status.Code.NOT_FOUND, nowhere.getCode());
    assertTrue(nowhere.getDescription().startsWith("book 2 of 2"), nowhere.getDescription());
    assertTrue(trace.isEmpty());
    assertEquals(1L, model.total(COVER_A));
  }

  @Test
  void theHookIsPartOfTheImmutableRegistration() {
    Projector plain = Projector.named("p");
    Projector hooked = plain.aroundBatch(transactional);
    assertTrue(plain.batchHook().isEmpty());
    assertEquals(transactional, hooked.batchHook().orElseThrow());
    assertEquals(transactional, hooked.from("account").on(Int32Value.class, (e, c, s) -> {}).batchHook().orElseThrow());
    assertThrows(NullPointerException.class, () -> plain.aroundBatch(null));
  }
}
