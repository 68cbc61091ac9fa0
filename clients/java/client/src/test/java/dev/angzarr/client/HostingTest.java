package dev.angzarr.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Int32Value;
import com.google.protobuf.Int64Value;
import com.google.protobuf.UInt32Value;
import dev.angzarr.client.flowtest.DealCards;
import dev.angzarr.client.flowtest.HandFlowState;
import dev.angzarr.client.flowtest.HandStarted;
import dev.angzarr.client.flowtest.PlayerRegistered;
import dev.angzarr.client.flowtest.PlayerRegisteredV1;
import dev.angzarr.client.testing.EventBooks;
import dev.angzarr.proto.CommandHandlerServiceGrpc;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.ProcessManagerHandleRequest;
import dev.angzarr.proto.ProcessManagerHandleResponse;
import dev.angzarr.proto.ProcessManagerPrepareRequest;
import dev.angzarr.proto.ProcessManagerPrepareResponse;
import dev.angzarr.proto.ProcessManagerServiceGrpc;
import dev.angzarr.proto.Projection;
import dev.angzarr.proto.ProjectorServiceGrpc;
import dev.angzarr.proto.SagaHandleRequest;
import dev.angzarr.proto.SagaResponse;
import dev.angzarr.proto.SagaServiceGrpc;
import dev.angzarr.proto.UpcastRequest;
import dev.angzarr.proto.UpcastResponse;
import dev.angzarr.proto.UpcasterServiceGrpc;
import io.grpc.BindableService;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An aggregate, two sagas, a projector, a process manager and an upcaster in one real gRPC server
 * on 127.0.0.1, port 0.
 */
class HostingTest {
  static final java.util.UUID ROOT = java.util.UUID.fromString("12345678-1234-4234-8234-123456789abc");

  final AtomicLong projected = new AtomicLong();
  /** The read model's own redelivery check: the last sequence projected per stream. */
  final Map<String, Integer> projectedUpTo = new ConcurrentHashMap<>();
  final AtomicLong projectorCalls = new AtomicLong();

  /** Counter events ({@code UInt32Value} n) ask the counter to add n back when n is even. */
  final Saga doubler = Saga.named("doubler").from("counter")
      .on(UInt32Value.class, (e, cover, seq) -> e.getValue() % 2 == 0
          ? List.of(Commands.to("counter", cover.getRoot(), Int32Value.of(e.getValue())))
          : List.of());
  /** Another saga, on another source domain. */
  final Saga echo = Saga.named("echo").from("table")
      .on(Int32Value.class, (e, cover, seq) -> List.of(Commands.to("counter", cover.getRoot(), Int32Value.of(seq))));
  final Projector sum = Projector.named("sum")
      .on(UInt32Value.class, (e, cover, seq) -> {
        projectorCalls.incrementAndGet();
        if (seq > projectedUpTo.getOrDefault(Checkpoints.key(cover), -1)) {
          projected.addAndGet(e.getValue());
          projectedUpTo.put(Checkpoints.key(cover), seq);
        }
      })
      .view(() -> Int64Value.of(projected.get()));
  final ProcessManager<HandFlowState> flow = HandFlow.processManager();
  final Upcaster upcaster = UpcasterTest.PLAYER;

  AngzarrServer server;
  ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    server = AngzarrServer.start("127.0.0.1:0", Counter.aggregate(), doubler, echo, sum, flow, upcaster);
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

  ProcessManagerServiceGrpc.ProcessManagerServiceBlockingStub processManager() {
    return ProcessManagerServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  UpcasterServiceGrpc.UpcasterServiceBlockingStub upcasters() {
    return UpcasterServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  @Test
  void oneServerHostsAllFiveKinds() {
    assertEquals("aggregate counter, saga doubler, saga echo, projector sum, process_manager hand-flow, upcaster player",
        server.description());

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

    // ...and the projector applies them; a redelivery reaches the read model, which skips it.
    Projection p = projectors().handle(source);
    assertEquals("sum", p.getProjector());
    assertEquals(1, p.getSequence());
    assertEquals(Any.pack(Int64Value.of(7)), p.getProjection());
    assertEquals(Any.pack(Int64Value.of(7)), projectors().handle(source).getProjection(), "redelivery skipped");
    assertEquals(4, projectorCalls.get(), "the projector itself remembers nothing");
    Projection speculative = projectors().handleSpeculative(EventBooks.of(counter, 2, UInt32Value.of(100)));
    assertEquals(2, speculative.getSequence());
    assertEquals(7, projected.get());
  }

  @Test
  void processManagerOverTheWire() throws Exception {
    java.util.UUID hand = java.util.UUID.fromString("0a4d0000-0000-4000-8000-0000000000ff");
    Cover process = EventBooks.cover(HandFlow.NAME, ROOT, "corr-3");
    EventBook trigger = EventBooks.of(EventBooks.cover("table", ROOT, "corr-3"), 2,
        HandStarted.newBuilder().setHandRoot(Uuids.of(hand).getValue()).setHandNumber(4).build());
    EventBook state = EventBook.newBuilder().setCover(process).build();

    ProcessManagerPrepareResponse prepared = processManager().prepare(
        ProcessManagerPrepareRequest.newBuilder().setTrigger(trigger).setProcessState(state).build());
    assertEquals(List.of(Cover.newBuilder().setDomain("hand").setRoot(Uuids.of(hand)).build()), prepared.getDestinationsList());

    ProcessManagerHandleResponse dealt = processManager().handle(ProcessManagerHandleRequest.newBuilder()
        .setTrigger(trigger).setProcessState(state).putDestinationSequences("hand", 0).build());
    assertEquals(Uuids.of(hand), dealt.getCommands(0).getCover().getRoot());
    assertEquals(4, Commands.unpack(dealt.getCommands(0), DealCards.class).getHandNumber());
    assertEquals(process, dealt.getProcessEvents().getCover());
    assertEquals(0, dealt.getProcessEvents().getPages(0).getHeader().getSequence());
    assertEquals("dealing", dealt.getProcessEvents().getSnapshot().getState().unpack(HandFlowState.class).getPhase());

    StatusRuntimeException noTrigger = assertThrows(StatusRuntimeException.class,
        () -> processManager().handle(ProcessManagerHandleRequest.getDefaultInstance()));
    assertEquals(Status.Code.INVALID_ARGUMENT, noTrigger.getStatus().getCode());
  }

  @Test
  void upcasterOverTheWire() throws Exception {
    UpcastRequest request = UpcastRequest.newBuilder().setDomain("player")
        .addEvents(EventBooks.page(0, PlayerRegisteredV1.newBuilder().setName("ann").build()))
        .addEvents(EventBooks.page(1, UInt32Value.of(9)))
        .build();
    UpcastResponse out = upcasters().upcast(request);
    assertEquals(2, out.getEventsCount());
    assertEquals("ann", out.getEvents(0).getEvent().unpack(PlayerRegistered.class).getDisplayName());
    assertEquals(request.getEvents(1), out.getEvents(1));

    Any garbage = Any.newBuilder().setTypeUrl("type.googleapis.com/flowtest.PlayerRegisteredV1")
        .setValue(ByteString.copyFrom(new byte[] {(byte) 0x0a, (byte) 0x05})).build();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> upcasters().upcast(
        UpcastRequest.newBuilder().addEvents(EventPage.newBuilder().setEvent(garbage)).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
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
    assertEquals(3, services.size());
    assertTrue(services.get(0) instanceof SagaService);
    assertTrue(services.get(1) instanceof ProjectorService);
    assertTrue(services.get(2) instanceof ProjectorBatchService, "every projector is served in batches too");
    assertEquals(List.of("sum"), ((ProjectorBatchService) services.get(2)).names());
    assertEquals(List.of("any"), ((SagaService) services.get(0)).names());

    // At most one process manager and one upcaster: their contracts name none.
    ProcessManager<Int64Value> other = ProcessManager.named("other", Int64Value.getDefaultInstance());
    assertThrows(IllegalArgumentException.class, () -> AngzarrServer.services(flow, other));
    assertThrows(IllegalArgumentException.class, () -> AngzarrServer.services(upcaster, Upcaster.named("again")));
    List<BindableService> alone = AngzarrServer.services(flow, upcaster);
    assertEquals("hand-flow", ((ProcessManagerService) alone.get(0)).name());
    assertEquals("player", ((UpcasterService) alone.get(1)).name());
  }
}
