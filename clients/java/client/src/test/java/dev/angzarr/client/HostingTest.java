package dev.angzarr.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.Int32Value;
import com.google.protobuf.Int64Value;
import com.google.protobuf.UInt32Value;
import dev.angzarr.client.testing.EventBooks;
import dev.angzarr.proto.CommandHandlerServiceGrpc;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.Projection;
import dev.angzarr.proto.ProjectorServiceGrpc;
import dev.angzarr.proto.SagaHandleRequest;
import dev.angzarr.proto.SagaResponse;
import dev.angzarr.proto.SagaServiceGrpc;
import io.grpc.BindableService;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** An aggregate, two sagas and a projector in one real gRPC server on 127.0.0.1, port 0. */
class HostingTest {
  static final java.util.UUID ROOT = java.util.UUID.fromString("12345678-1234-4234-8234-123456789abc");

  final AtomicLong projected = new AtomicLong();

  /** Counter events ({@code UInt32Value} n) ask the counter to add n back when n is even. */
  final Saga doubler = Saga.named("doubler").from("counter")
      .on(UInt32Value.class, (e, cover, seq) -> e.getValue() % 2 == 0
          ? List.of(Commands.to("counter", cover.getRoot(), Int32Value.of(e.getValue())))
          : List.of());
  /** Another saga, on another source domain. */
  final Saga echo = Saga.named("echo").from("table")
      .on(Int32Value.class, (e, cover, seq) -> List.of(Commands.to("counter", cover.getRoot(), Int32Value.of(seq))));
  final Projector sum = Projector.named("sum")
      .on(UInt32Value.class, (e, cover, seq) -> projected.addAndGet(e.getValue()))
      .view(() -> Int64Value.of(projected.get()));

  AngzarrServer server;
  ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    server = AngzarrServer.start("127.0.0.1:0", Counter.aggregate(), doubler, echo, sum);
    channel = Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create()).build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
  }

  SagaServiceGrpc.SagaServiceBlockingStub sagas() {
    return SagaServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  ProjectorServiceGrpc.ProjectorServiceBlockingStub projectors() {
    return ProjectorServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  @Test
  void oneServerHostsAllThreeKinds() {
    assertEquals("aggregate counter, saga doubler, saga echo, projector sum", server.description());

    // The aggregate decides...
    var commands = CommandHandlerServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    EventBook events = commands.handle(AggregateTest.request(AggregateTest.history(), Int32Value.of(4))).getEvents();
    assertEquals(Any.pack(UInt32Value.of(4)), events.getPages(0).getEvent());
    Cover counter = EventBooks.cover("counter", ROOT, "corr-9");
    EventBook source = EventBooks.of(counter, 0, UInt32Value.of(4), UInt32Value.of(3));

    // ...the saga reacts to its events...
    SagaResponse reaction = sagas().handle(SagaHandleRequest.newBuilder().setSource(source).build());
    assertEquals(1, reaction.getCommandsCount());
    assertEquals("counter", reaction.getCommands(0).getCover().getDomain());
    assertEquals(Uuids.of(ROOT), reaction.getCommands(0).getCover().getRoot());
    assertEquals(Int32Value.of(4), Commands.unpack(reaction.getCommands(0), Int32Value.class));

    // ...and the projector applies them, once.
    Projection p = projectors().handle(source);
    assertEquals("sum", p.getProjector());
    assertEquals(1, p.getSequence());
    assertEquals(Any.pack(Int64Value.of(7)), p.getProjection());
    assertEquals(Any.pack(Int64Value.of(7)), projectors().handle(source).getProjection(), "redelivery skipped");
    Projection speculative = projectors().handleSpeculative(EventBooks.of(counter, 2, UInt32Value.of(100)));
    assertEquals(2, speculative.getSequence());
    assertEquals(7, projected.get());
  }

  @Test
  void sagasAreRoutedBySourceDomain() {
    Cover table = EventBooks.cover("table", ROOT);
    SagaResponse r = sagas().handle(SagaHandleRequest.newBuilder().setSource(EventBooks.of(table, 6, Int32Value.of(0))).build());
    assertEquals(Int32Value.of(6), Commands.unpack(r.getCommands(0), Int32Value.class));

    StatusRuntimeException nowhere = assertThrows(StatusRuntimeException.class, () -> sagas().handle(
        SagaHandleRequest.newBuilder().setSource(EventBooks.of(EventBooks.cover("hand", ROOT), 0, Int32Value.of(1))).build()));
    assertEquals(Status.Code.NOT_FOUND, nowhere.getStatus().getCode());
    StatusRuntimeException noSource = assertThrows(StatusRuntimeException.class,
        () -> sagas().handle(SagaHandleRequest.getDefaultInstance()));
    assertEquals(Status.Code.INVALID_ARGUMENT, noSource.getStatus().getCode());
  }

  @Test
  void failuresOverTheWire() {
    Cover counter = EventBooks.cover("counter", ROOT);
    EventBook noSequence = EventBook.newBuilder().setCover(counter)
        .addPages(EventBooks.page(0, UInt32Value.of(1)).toBuilder().clearHeader()).build();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> projectors().handle(noSequence));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    // Still serving.
    assertEquals(0, projectors().handle(EventBooks.of(counter, 0, UInt32Value.of(1))).getSequence());
  }

  @Test
  void configurationsThatCannotBeRoutedAreRefused() {
    Saga anyDomain = Saga.named("any").on(Int32Value.class, (e, c, s) -> List.of());
    Saga alsoCounter = Saga.named("also").from("counter").on(Int32Value.class, (e, c, s) -> List.of());
    assertThrows(IllegalArgumentException.class, () -> AngzarrServer.services(anyDomain, doubler));
    assertThrows(IllegalArgumentException.class, () -> AngzarrServer.services(alsoCounter, doubler));
    assertThrows(IllegalArgumentException.class, () -> AngzarrServer.services(doubler, doubler));
    assertThrows(IllegalArgumentException.class, () -> AngzarrServer.services());
    List<BindableService> services = AngzarrServer.services(anyDomain, sum);
    assertEquals(2, services.size());
    assertTrue(services.get(0) instanceof SagaService);
    assertTrue(services.get(1) instanceof ProjectorService);
    assertEquals(List.of("any"), ((SagaService) services.get(0)).names());
  }
}
