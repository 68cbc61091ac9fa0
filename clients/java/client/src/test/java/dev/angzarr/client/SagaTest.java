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
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.ExternalDeferredSequence;
import dev.angzarr.proto.PageHeader;
import dev.angzarr.proto.SagaHandleRequest;
import dev.angzarr.proto.SagaResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SagaTest {
  static final java.util.UUID ROOT = java.util.UUID.fromString("0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b");
  static final Cover SOURCE = EventBooks.cover("account", ROOT, "corr-7");

  /** (event value, cover, sequence) of each call. */
  final List<String> calls = new ArrayList<>();

  /**
   * A toy saga over well-known types: an {@code Int32Value} above 100 is "too large" and is paid
   * back to the same root of domain {@code refunds} as an {@code Int64Value}; some values misbehave.
   */
  final Saga saga = Saga.named("refunder")
      .on(Int32Value.class, (event, cover, seq) -> {
        calls.add(event.getValue() + "@" + cover.getDomain() + "/" + cover.getCorrelationId() + "#" + seq);
        switch (event.getValue()) {
          case 13:
            throw new IllegalStateException("unlucky");
          case 0:
            return null;
          case -1:
            return List.of(CommandBook.newBuilder()
                .addPages(CommandPage.newBuilder().setCommand(Any.pack(Int64Value.of(1)))).build());
          case -2:
            return List.of(Commands.to("refunds", cover.getRoot(), Int64Value.of(1)).toBuilder()
                .addPages(CommandPage.newBuilder().setCommand(Any.pack(Int64Value.of(2)))).build());
          case -3:
            return List.of(CommandBook.newBuilder()
                .setCover(Cover.newBuilder().setDomain("refunds").setRoot(dev.angzarr.proto.UUID.newBuilder()
                    .setValue(ByteString.copyFrom(new byte[3]))))
                .addPages(CommandPage.newBuilder().setCommand(Any.pack(Int64Value.of(1)))).build());
          case -4:
            throw Status.UNAVAILABLE.withDescription("bank down").asRuntimeException();
          default:
            break;
        }
        return event.getValue() > 100
            ? List.of(Commands.to("refunds", cover.getRoot(), Int64Value.of(event.getValue())))
            : List.of();
      });

  static Status.Code code(Runnable r) {
    return assertThrows(StatusRuntimeException.class, r::run).getStatus().getCode();
  }

  @Test
  void reactsToEachHandledPageInOrderWithCoverAndSequence() {
    EventBook book = EventBooks.of(SOURCE, 5, Int32Value.of(150), StringValue.of("ignored"), Int32Value.of(7),
        Int32Value.of(300));
    SagaResponse response = saga.handle(SagaHandleRequest.newBuilder().setSource(book).build());
    assertEquals(List.of("150@account/corr-7#5", "7@account/corr-7#7", "300@account/corr-7#8"), calls);
    assertEquals(2, response.getCommandsCount());
    assertEquals(0, response.getEventsCount());
    CommandBook first = response.getCommands(0);
    assertEquals("refunds", first.getCover().getDomain());
    assertEquals(Uuids.of(ROOT), first.getCover().getRoot());
    assertEquals(1, first.getPagesCount());
    assertFalse(first.getPages(0).hasHeader());
    assertEquals(Int64Value.of(150), Commands.unpack(first, Int64Value.class));
    assertEquals(Int64Value.of(300), Commands.unpack(response.getCommands(1), Int64Value.class));
  }

  @Test
  void noCommandsIsAnEmptyResponse() {
    assertEquals(SagaResponse.getDefaultInstance(), saga.handle(EventBooks.of(SOURCE, 0, Int32Value.of(5))));
    assertEquals(SagaResponse.getDefaultInstance(), saga.handle(EventBooks.of(SOURCE, 0, StringValue.of("x"))));
    assertEquals(SagaResponse.getDefaultInstance(), saga.handle(EventBook.getDefaultInstance()));
  }

  @Test
  void sameEventSameCommands() {
    EventBook book = EventBooks.of(SOURCE, 9, Int32Value.of(500));
    assertEquals(saga.handle(book), saga.handle(book), "a pure saga answers a redelivery identically");
  }

  @Test
  void noCommitPagesAreNotReactedTo() {
    EventBook book = EventBooks.of(SOURCE, 0, Int32Value.of(500)).toBuilder()
        .setPages(0, EventBooks.page(0, Int32Value.of(500)).toBuilder().setNoCommit(true))
        .build();
    assertEquals(0, saga.handle(book).getCommandsCount());
    assertTrue(calls.isEmpty());
  }

  @Test
  void handlerFailuresAreInternal() {
    assertEquals(Status.Code.INTERNAL, code(() -> saga.handle(EventBooks.of(SOURCE, 0, Int32Value.of(13)))));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> saga.handle(EventBooks.of(SOURCE, 4, Int32Value.of(13))));
    assertTrue(e.getStatus().getDescription().contains("refunder"), e.getStatus().getDescription());
    assertTrue(e.getStatus().getDescription().contains("sequence 4"), e.getStatus().getDescription());
    assertEquals(Status.Code.INTERNAL, code(() -> saga.handle(EventBooks.of(SOURCE, 0, Int32Value.of(0)))));
    assertEquals(Status.Code.UNAVAILABLE, code(() -> saga.handle(EventBooks.of(SOURCE, 0, Int32Value.of(-4)))),
        "a status thrown on purpose is kept");
  }

  @Test
  void malformedCommandBooksAreInternal() {
    assertEquals(Status.Code.INTERNAL, code(() -> saga.handle(EventBooks.of(SOURCE, 0, Int32Value.of(-1)))));
    assertEquals(Status.Code.INTERNAL, code(() -> saga.handle(EventBooks.of(SOURCE, 0, Int32Value.of(-2)))));
    assertEquals(Status.Code.INTERNAL, code(() -> saga.handle(EventBooks.of(SOURCE, 0, Int32Value.of(-3)))));
  }

  @Test
  void aHeaderSetByTheHandlerIsDropped() {
    Saga stamping = Saga.named("stamping").on(Int32Value.class, (e, cover, seq) -> {
      CommandBook book = Commands.to("refunds", cover.getRoot(), Int64Value.of(1));
      return List.of(book.toBuilder()
          .setPages(0, book.getPages(0).toBuilder().setHeader(PageHeader.newBuilder().setSequence(99)))
          .build());
    });
    CommandBook out = stamping.handle(EventBooks.of(SOURCE, 0, Int32Value.of(1))).getCommands(0);
    assertFalse(out.getPages(0).hasHeader());
  }

  @Test
  void badRequestsAreInvalidArgument() {
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> saga.handle(SagaHandleRequest.getDefaultInstance())));
    Any garbage = Any.newBuilder()
        .setTypeUrl("type.googleapis.com/google.protobuf.Int32Value")
        .setValue(ByteString.copyFrom(new byte[] {(byte) 0xff}))
        .build();
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> saga.handle(EventBook.newBuilder()
        .addPages(EventPage.newBuilder().setHeader(PageHeader.newBuilder().setSequence(0)).setEvent(garbage))
        .build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> saga.handle(EventBook.newBuilder()
        .addPages(EventPage.newBuilder().setEvent(Any.pack(Int32Value.of(1))))
        .build())), "a page without a sequence");
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> saga.handle(EventBook.newBuilder()
        .addPages(EventPage.newBuilder()
            .setHeader(PageHeader.newBuilder().setExternalDeferred(ExternalDeferredSequence.getDefaultInstance()))
            .setEvent(Any.pack(Int32Value.of(1))))
        .build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> saga.handle(EventBook.newBuilder()
        .addPages(EventPage.newBuilder().setHeader(PageHeader.newBuilder().setSequence(0)))
        .build())), "a page without an inline event");
  }

  @Test
  void registrationIsImmutableAndChecked() {
    Saga empty = Saga.named("s");
    Saga one = empty.on(Int32Value.class, (e, c, s) -> List.of());
    Saga sourced = one.from("account", "bank");
    assertTrue(empty.eventTypes().isEmpty());
    assertEquals(java.util.Set.of("google.protobuf.Int32Value"), one.eventTypes());
    assertTrue(one.sources().isEmpty());
    assertEquals(java.util.Set.of("account", "bank"), sourced.sources());
    assertEquals(one.eventTypes(), sourced.eventTypes());
    assertEquals("s", sourced.name());
    assertEquals("saga", sourced.componentType());
    assertThrows(IllegalStateException.class, () -> one.on(Int32Value.class, (e, c, s) -> List.of()));
    assertThrows(IllegalArgumentException.class, () -> Saga.named(""));
    assertThrows(IllegalArgumentException.class, () -> one.from(""));
  }
}
