package dev.angzarr.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Int32Value;
import com.google.protobuf.Int64Value;
import com.google.protobuf.Message;
import com.google.protobuf.StringValue;
import com.google.protobuf.UInt32Value;
import dev.angzarr.proto.BusinessResponse;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.ContextualCommand;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import dev.angzarr.proto.Snapshot;
import dev.angzarr.proto.UUID;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AggregateTest {
  static final Cover COVER = Cover.newBuilder()
      .setDomain("counter")
      .setRoot(UUID.newBuilder().setValue(ByteString.copyFrom(new byte[16])))
      .setCorrelationId("corr-1")
      .build();

  final Aggregate<Int64Value> counter = Counter.aggregate();

  static ContextualCommand request(EventBook history, Message command) {
    return ContextualCommand.newBuilder()
        .setEvents(history)
        .setCommand(CommandBook.newBuilder()
            .setCover(COVER)
            .addPages(CommandPage.newBuilder()
                .setHeader(PageHeader.newBuilder().setSequence(history.getNextSequence()))
                .setCommand(Any.pack(command))))
        .build();
  }

  static EventBook history(int... added) {
    List<EventPage> pages = new ArrayList<>();
    for (int i = 0; i < added.length; i++) {
      pages.add(page(i, UInt32Value.of(added[i])));
    }
    return EventBook.newBuilder().setCover(COVER).addAllPages(pages).setNextSequence(added.length).build();
  }

  static EventPage page(int seq, Message event) {
    return EventPage.newBuilder().setHeader(PageHeader.newBuilder().setSequence(seq)).setEvent(Any.pack(event)).build();
  }

  static Status.Code code(Runnable r) {
    return assertThrows(StatusRuntimeException.class, r::run).getStatus().getCode();
  }

  @Test
  void acceptedCommandFollowsTheContract() {
    BusinessResponse response = counter.execute(request(history(5, 7), StringValue.of("twice")));
    EventBook book = response.getEvents();
    assertEquals(COVER, book.getCover());
    assertEquals(2, book.getPagesCount());
    assertEquals(2, book.getPages(0).getHeader().getSequence());
    assertEquals(3, book.getPages(1).getHeader().getSequence());
    assertEquals("type.googleapis.com/google.protobuf.UInt32Value", book.getPages(0).getEvent().getTypeUrl());
    assertEquals(Any.pack(UInt32Value.of(2)), book.getPages(1).getEvent());
    assertFalse(book.getPages(0).hasCreatedAt(), "the coordinator stamps created_at");
    assertEquals(3, book.getSnapshot().getSequence());
    assertEquals(Any.pack(Int64Value.of(15)), book.getSnapshot().getState());
    assertEquals("type.googleapis.com/google.protobuf.Int64Value", book.getSnapshot().getState().getTypeUrl());
    assertEquals(0, book.getNextSequence());
  }

  @Test
  void singleEventHandler() {
    EventBook book = counter.execute(request(history(), Int32Value.of(4))).getEvents();
    assertEquals(1, book.getPagesCount());
    assertEquals(0, book.getPages(0).getHeader().getSequence());
    assertEquals(Any.pack(Int64Value.of(4)), book.getSnapshot().getState());
  }

  @Test
  void noEventsMeansNoPagesAndNoSnapshot() {
    EventBook book = counter.execute(request(history(1), StringValue.of("nothing"))).getEvents();
    assertEquals(0, book.getPagesCount());
    assertFalse(book.hasSnapshot());
  }

  @Test
  void rejectionIsFailedPreconditionWithTheReason() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> counter.execute(request(history(), Int32Value.of(0))));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
    assertEquals("amount must be positive", e.getStatus().getDescription());
  }

  @Test
  void unknownCommandTypeIsInvalidArgument() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> counter.execute(request(history(), UInt32Value.of(1))));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("google.protobuf.UInt32Value"));
  }

  @Test
  void malformedPayloadIsInvalidArgument() {
    Any garbage = Any.newBuilder()
        .setTypeUrl("type.googleapis.com/google.protobuf.Int32Value")
        .setValue(ByteString.copyFrom(new byte[] {(byte) 0xff, (byte) 0xff}))
        .build();
    ContextualCommand bad = request(history(), Int32Value.of(1)).toBuilder()
        .setCommand(CommandBook.newBuilder().setCover(COVER).addPages(CommandPage.newBuilder().setCommand(garbage)))
        .build();
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> counter.execute(bad)));
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> counter.execute(ContextualCommand.getDefaultInstance())));
    assertEquals(Status.Code.INVALID_ARGUMENT,
        code(() -> counter.execute(ContextualCommand.newBuilder().setCommand(CommandBook.getDefaultInstance()).build())));
  }

  @Test
  void exceptionInAHandlerIsInternal() {
    assertEquals(Status.Code.INTERNAL, code(() -> counter.execute(request(history(), StringValue.of("boom")))));
    assertEquals(Status.Code.INTERNAL, code(() -> counter.execute(request(history(), StringValue.of("null")))));
  }

  @Test
  void snapshotOfAnotherTypeIsInvalidArgument() {
    EventBook withForeignSnapshot = EventBook.newBuilder()
        .setSnapshot(Snapshot.newBuilder().setSequence(0).setState(Any.pack(StringValue.of("x"))))
        .setNextSequence(1)
        .build();
    assertEquals(Status.Code.INVALID_ARGUMENT,
        code(() -> counter.execute(request(withForeignSnapshot, Int32Value.of(1)))));
  }

  @Test
  void stateRebuildsFromSnapshotThenPages() {
    EventBook book = EventBook.newBuilder()
        .setSnapshot(Snapshot.newBuilder().setSequence(9).setState(Any.pack(Int64Value.of(100))))
        .addPages(page(10, UInt32Value.of(5)))
        .addPages(page(11, StringValue.of("an event nobody applies")))
        .build();
    assertEquals(105, counter.stateOf(book).getValue());
    assertEquals(12, Aggregate.nextSequence(book));
    BusinessResponse r = counter.execute(request(book, Int32Value.of(1)));
    assertEquals(12, r.getEvents().getPages(0).getHeader().getSequence());
    assertEquals(Any.pack(Int64Value.of(106)), r.getEvents().getSnapshot().getState());
  }

  @Test
  void nextSequenceFallbacks() {
    assertEquals(7, Aggregate.nextSequence(EventBook.newBuilder().setNextSequence(7).build()));
    assertEquals(0, Aggregate.nextSequence(EventBook.getDefaultInstance()));
    assertEquals(4, Aggregate.nextSequence(EventBook.newBuilder()
        .setSnapshot(Snapshot.newBuilder().setSequence(3).setState(Any.pack(Int64Value.of(1)))).build()));
  }

  @Test
  void registrationIsImmutableAndChecked() {
    Aggregate<Int64Value> empty = Aggregate.of("counter", Int64Value.getDefaultInstance());
    Aggregate<Int64Value> one = empty.on(Int32Value.class, Counter::add);
    assertTrue(empty.commandTypes().isEmpty());
    assertEquals(java.util.Set.of("google.protobuf.Int32Value"), one.commandTypes());
    assertThrows(IllegalStateException.class, () -> one.on(Int32Value.class, Counter::add));
    assertThrows(IllegalArgumentException.class, () -> Aggregate.of("", Int64Value.getDefaultInstance()));
  }
}
