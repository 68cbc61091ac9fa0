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
import com.google.protobuf.UInt32Value;
import dev.angzarr.client.flowtest.DealCards;
import dev.angzarr.client.flowtest.EndHand;
import dev.angzarr.client.flowtest.HandComplete;
import dev.angzarr.client.flowtest.HandFlowEnded;
import dev.angzarr.client.flowtest.HandFlowStarted;
import dev.angzarr.client.flowtest.HandFlowState;
import dev.angzarr.client.flowtest.HandStarted;
import dev.angzarr.client.testing.EventBooks;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import dev.angzarr.proto.ProcessManagerHandleRequest;
import dev.angzarr.proto.ProcessManagerHandleResponse;
import dev.angzarr.proto.ProcessManagerPrepareRequest;
import dev.angzarr.proto.Snapshot;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProcessManagerTest {
  static final java.util.UUID TABLE = java.util.UUID.fromString("7ab1e000-0000-4000-8000-000000000001");
  static final java.util.UUID HAND = java.util.UUID.fromString("0a4d0000-0000-4000-8000-000000000002");
  static final java.util.UUID PROCESS = java.util.UUID.fromString("c0aa0000-0000-4000-8000-000000000003");
  static final Cover TABLE_COVER = EventBooks.cover("table", TABLE, "corr-1");
  static final Cover HAND_COVER = EventBooks.cover("hand", HAND, "corr-1");
  static final Cover PROCESS_COVER = EventBooks.cover(HandFlow.NAME, PROCESS, "corr-1");

  final ProcessManager<HandFlowState> flow = HandFlow.processManager();

  static HandStarted started() {
    return HandStarted.newBuilder().setHandRoot(Uuids.of(HAND).getValue()).setHandNumber(1).build();
  }

  static ProcessManagerHandleRequest request(EventBook trigger, EventBook process, Map<String, Integer> destinations) {
    return ProcessManagerHandleRequest.newBuilder()
        .setTrigger(trigger)
        .setProcessState(process)
        .putAllDestinationSequences(destinations)
        .build();
  }

  static Status.Code code(Runnable r) {
    return assertThrows(StatusRuntimeException.class, r::run).getStatus().getCode();
  }

  /** After {@code hand_flow.rs}'s test: the table starts a hand, the flow deals once, then ends it. */
  @Test
  void dealsOnceThenEndsTheHandAtTheTable() throws Exception {
    EventBook trigger = EventBooks.of(TABLE_COVER, 3, started());
    EventBook fresh = EventBook.newBuilder().setCover(PROCESS_COVER).build();

    // Prepare names the hand.
    var prepared = flow.prepare(ProcessManagerPrepareRequest.newBuilder().setTrigger(trigger).setProcessState(fresh).build());
    assertEquals(List.of(Cover.newBuilder().setDomain("hand").setRoot(Uuids.of(HAND)).build()), prepared.getDestinationsList());

    // A new hand (no events yet): record the start, command the deal.
    ProcessManagerHandleResponse dealt = flow.handle(request(trigger, fresh, Map.of("hand", 0)));
    assertEquals(1, dealt.getCommandsCount());
    CommandBook deal = dealt.getCommands(0);
    assertEquals("hand", deal.getCover().getDomain());
    assertEquals(Uuids.of(HAND), deal.getCover().getRoot());
    assertEquals(DealCards.newBuilder().setTableRoot(Uuids.of(TABLE).getValue()).setHandNumber(1).build(),
        Commands.unpack(deal, DealCards.class));
    EventBook process = dealt.getProcessEvents();
    assertEquals(PROCESS_COVER, process.getCover());
    assertEquals(1, process.getPagesCount());
    assertEquals(0, process.getPages(0).getHeader().getSequence());
    assertEquals(HandFlowStarted.newBuilder().setTableRoot(Uuids.of(TABLE).getValue())
        .setHandRoot(Uuids.of(HAND).getValue()).setHandNumber(1).build(),
        process.getPages(0).getEvent().unpack(HandFlowStarted.class));
    assertEquals(0, process.getSnapshot().getSequence());
    assertEquals("dealing", process.getSnapshot().getState().unpack(HandFlowState.class).getPhase());
    assertEquals(0, dealt.getFactsCount());

    // The hand already has events: nothing.
    ProcessManagerHandleResponse already = flow.handle(request(trigger, fresh, Map.of("hand", 2)));
    assertEquals(0, already.getCommandsCount());
    assertEquals(0, already.getProcessEvents().getPagesCount());
    assertFalse(already.getProcessEvents().hasSnapshot());

    // The same trigger again, once the process has recorded its start: still nothing (deal once).
    assertEquals(0, flow.handle(request(trigger, process, Map.of("hand", 0))).getCommandsCount());

    // The hand completes: record the end (after the start), command the table.
    EventBook complete = EventBooks.of(HAND_COVER, 9, HandComplete.newBuilder().setHandNumber(1).setPot(40).build());
    ProcessManagerHandleResponse ended = flow.handle(request(complete, process, Map.of()));
    assertEquals(1, ended.getCommandsCount());
    assertEquals("table", ended.getCommands(0).getCover().getDomain());
    assertEquals(Uuids.of(TABLE), ended.getCommands(0).getCover().getRoot());
    assertEquals(EndHand.newBuilder().setHandRoot(Uuids.of(HAND).getValue()).setPot(40).build(),
        Commands.unpack(ended.getCommands(0), EndHand.class));
    EventBook endEvents = ended.getProcessEvents();
    assertEquals(1, endEvents.getPagesCount());
    assertEquals(1, endEvents.getPages(0).getHeader().getSequence());
    assertTrue(endEvents.getPages(0).getEvent().is(HandFlowEnded.class));
    assertEquals(1, endEvents.getSnapshot().getSequence());
    HandFlowState endState = endEvents.getSnapshot().getState().unpack(HandFlowState.class);
    assertEquals("ended", endState.getPhase());
    assertEquals(Uuids.of(TABLE).getValue(), endState.getTableRoot());

    // A second completion of an ended process: nothing.
    EventBook history = process.toBuilder().addPages(endEvents.getPages(0)).clearSnapshot().build();
    assertEquals(ProcessManagerHandleResponse.newBuilder().setProcessEvents(EventBook.newBuilder().setCover(PROCESS_COVER)).build(),
        flow.handle(request(complete, history, Map.of())));
  }

  @Test
  void theProcessStateIsRebuiltFromItsSnapshotAndNumberedAfterIt() throws Exception {
    HandFlowState dealing = HandFlowState.newBuilder().setTableRoot(Uuids.of(TABLE).getValue())
        .setHandRoot(Uuids.of(HAND).getValue()).setHandNumber(1).setPhase("dealing").build();
    EventBook snapshotOnly = EventBook.newBuilder().setCover(PROCESS_COVER)
        .setSnapshot(Snapshot.newBuilder().setSequence(6).setState(Any.pack(dealing))).build();
    EventBook complete = EventBooks.of(HAND_COVER, 2, HandComplete.newBuilder().setPot(5).build());

    ProcessManagerHandleResponse out = flow.handle(request(complete, snapshotOnly, Map.of()));
    assertEquals(7, out.getProcessEvents().getPages(0).getHeader().getSequence());
    assertEquals(7, out.getProcessEvents().getSnapshot().getSequence());
    assertEquals(Uuids.of(TABLE), out.getCommands(0).getCover().getRoot(), "the table root came from the snapshot");

    // next_sequence, when the coordinator sends it, wins.
    ProcessManagerHandleResponse numbered = flow.handle(request(complete, snapshotOnly.toBuilder().setNextSequence(10).build(), Map.of()));
    assertEquals(10, numbered.getProcessEvents().getPages(0).getHeader().getSequence());
    assertEquals(10, numbered.getProcessEvents().getSnapshot().getSequence());

    // The snapshot must hold the state type.
    EventBook alien = EventBook.newBuilder().setSnapshot(Snapshot.newBuilder().setSequence(1).setState(Any.pack(Int64Value.of(1)))).build();
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> flow.handle(request(complete, alien, Map.of()))));
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> flow.prepare(ProcessManagerPrepareRequest.newBuilder()
        .setTrigger(EventBooks.of(TABLE_COVER, 0, started())).setProcessState(alien).build())));
  }

  /** (value, sequence, cover domain, destinations, state) of each call of the probe. */
  final List<String> calls = new ArrayList<>();

  /**
   * A probe over well-known types: an {@code Int32Value(n)} trigger records {@code UInt32Value(n)}
   * n times (adding to an {@code Int64Value} state) and commands {@code counter} with its sequence;
   * some values misbehave.
   */
  final ProcessManager<Int64Value> probe = ProcessManager.named("probe", Int64Value.getDefaultInstance())
      .apply(UInt32Value.class, (s, e) -> Int64Value.of(s.getValue() + e.getValue()))
      .on(Int32Value.class, (e, s, t) -> {
        calls.add(e.getValue() + "#" + t.sequence() + "@" + t.cover().getDomain() + t.destinations() + " s=" + s.getValue());
        switch (e.getValue()) {
          case 13:
            throw new IllegalStateException("unlucky");
          case 0:
            return null;
          case -1:
            return Reaction.none().send(CommandBook.getDefaultInstance());
          case -2:
            throw Status.UNAVAILABLE.withDescription("later").asRuntimeException();
          default:
            break;
        }
        Reaction r = Reaction.none();
        for (int i = 0; i < e.getValue(); i++) {
          r = r.record(UInt32Value.of(e.getValue()));
        }
        return r.send(Commands.to("counter", t.cover().getRoot(), Int32Value.of(t.sequence())));
      })
      .prepare(Int32Value.class, (e, s) -> {
        if (e.getValue() == 13) {
          throw new IllegalStateException("unlucky");
        }
        return e.getValue() == 0 ? null : List.of(Cover.newBuilder().setDomain("d" + e.getValue()).build());
      });

  @Test
  void eachHandledPageInOrderWithItsSequenceAndTheStateSoFar() throws Exception {
    EventBook trigger = EventBook.newBuilder().setCover(TABLE_COVER)
        .addPages(EventBooks.page(4, Int32Value.of(2)))
        .addPages(EventBooks.page(5, StringValue.of("no handler")))
        .addPages(EventPage.newBuilder().setEvent(Any.pack(Int32Value.of(7)))) // no sequence
        .addPages(EventPage.newBuilder().setHeader(PageHeader.newBuilder().setSequence(6))) // no event
        .addPages(EventBooks.page(7, Int32Value.of(1)))
        .build();
    EventBook process = EventBooks.of(PROCESS_COVER, 0, UInt32Value.of(10), UInt32Value.of(20));
    ProcessManagerHandleResponse out = probe.handle(request(trigger, process, Map.of("counter", 3)));

    assertEquals(List.of("2#4@table{counter=3} s=30", "1#7@table{counter=3} s=34"), calls);
    EventBook events = out.getProcessEvents();
    assertEquals(PROCESS_COVER, events.getCover());
    assertEquals(3, events.getPagesCount());
    for (int i = 0; i < 3; i++) {
      assertEquals(2 + i, events.getPages(i).getHeader().getSequence());
    }
    assertEquals(Any.pack(UInt32Value.of(1)), events.getPages(2).getEvent());
    assertEquals(4, events.getSnapshot().getSequence());
    assertEquals(Any.pack(Int64Value.of(35)), events.getSnapshot().getState());
    assertEquals(2, out.getCommandsCount());
    assertEquals(Int32Value.of(4), Commands.unpack(out.getCommands(0), Int32Value.class));
    assertEquals(Int32Value.of(7), Commands.unpack(out.getCommands(1), Int32Value.class));
    assertEquals(0, out.getFactsCount());
  }

  @Test
  void aProcessWithoutStateStartsFromTheInitialStateAtSequenceZero() {
    ProcessManagerHandleResponse out = probe.handle(ProcessManagerHandleRequest.newBuilder()
        .setTrigger(EventBooks.of(TABLE_COVER, 0, Int32Value.of(1))).build());
    assertEquals(List.of("1#0@table{} s=0"), calls);
    assertEquals(0, out.getProcessEvents().getPages(0).getHeader().getSequence());
    assertFalse(out.getProcessEvents().hasCover());
  }

  @Test
  void anExplicitCommandSequenceIsKept() {
    ProcessManager<Int64Value> pinned = ProcessManager.named("pinned", Int64Value.getDefaultInstance())
        .on(Int32Value.class, (e, s, t) -> {
          CommandBook c = Commands.to("hand", t.cover().getRoot(), e);
          return Reaction.none().send(c.toBuilder().setPages(0, c.getPages(0).toBuilder()
              .setHeader(PageHeader.newBuilder().setSequence(t.destination("hand")))).build());
        });
    CommandPage page = pinned.handle(request(EventBooks.of(TABLE_COVER, 0, Int32Value.of(1)), EventBook.getDefaultInstance(),
        Map.of("hand", 5))).getCommands(0).getPages(0);
    assertEquals(5, page.getHeader().getSequence());
  }

  @Test
  void failures() {
    EventBook none = EventBook.getDefaultInstance();
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> probe.handle(ProcessManagerHandleRequest.getDefaultInstance())));
    assertEquals(Status.Code.INTERNAL, code(() -> probe.handle(request(EventBooks.of(TABLE_COVER, 0, Int32Value.of(13)), none, Map.of()))));
    assertEquals(Status.Code.INTERNAL, code(() -> probe.handle(request(EventBooks.of(TABLE_COVER, 0, Int32Value.of(0)), none, Map.of()))));
    assertEquals(Status.Code.INTERNAL, code(() -> probe.handle(request(EventBooks.of(TABLE_COVER, 0, Int32Value.of(-1)), none, Map.of()))));
    assertEquals(Status.Code.UNAVAILABLE, code(() -> probe.handle(request(EventBooks.of(TABLE_COVER, 0, Int32Value.of(-2)), none, Map.of()))));
    Any garbage = Any.newBuilder().setTypeUrl("type.googleapis.com/google.protobuf.Int32Value")
        .setValue(ByteString.copyFrom(new byte[] {(byte) 0xff})).build();
    EventBook malformed = EventBook.newBuilder().setCover(TABLE_COVER)
        .addPages(EventPage.newBuilder().setHeader(PageHeader.newBuilder().setSequence(0)).setEvent(garbage)).build();
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> probe.handle(request(malformed, none, Map.of()))));
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> probe.prepare(ProcessManagerPrepareRequest.newBuilder().setTrigger(malformed).build())));
    assertEquals(Status.Code.INTERNAL, code(() -> probe.prepare(ProcessManagerPrepareRequest.newBuilder()
        .setTrigger(EventBooks.of(TABLE_COVER, 0, Int32Value.of(13))).build())));
    assertEquals(Status.Code.INTERNAL, code(() -> probe.prepare(ProcessManagerPrepareRequest.newBuilder()
        .setTrigger(EventBooks.of(TABLE_COVER, 0, Int32Value.of(0))).build())));
  }

  @Test
  void prepareCollectsTheDestinationsOfEveryPage() {
    EventBook trigger = EventBooks.of(TABLE_COVER, 0, Int32Value.of(1), StringValue.of("none"), Int32Value.of(2));
    var out = probe.prepare(ProcessManagerPrepareRequest.newBuilder().setTrigger(trigger).build());
    assertEquals(List.of("d1", "d2"), out.getDestinationsList().stream().map(Cover::getDomain).toList());
    assertEquals(0, flow.prepare(ProcessManagerPrepareRequest.newBuilder()
        .setTrigger(EventBooks.of(HAND_COVER, 0, HandComplete.getDefaultInstance())).build()).getDestinationsCount());
    assertEquals(0, probe.prepare(ProcessManagerPrepareRequest.getDefaultInstance()).getDestinationsCount());
  }

  @Test
  void registration() {
    assertEquals("hand-flow", flow.name());
    assertEquals("process_manager", flow.componentType());
    assertEquals("flowtest.HandFlowState", flow.stateType());
    assertEquals(java.util.Set.of("flowtest.HandStarted", "flowtest.HandComplete"), flow.eventTypes());
    ProcessManager<Int64Value> base = ProcessManager.named("p", Int64Value.getDefaultInstance());
    ProcessManager<Int64Value> one = base.on(Int32Value.class, (e, s, t) -> Reaction.none());
    assertTrue(base.eventTypes().isEmpty());
    assertThrows(IllegalStateException.class, () -> one.on(Int32Value.class, (e, s, t) -> Reaction.none()));
    assertThrows(IllegalStateException.class, () -> probe.prepare(Int32Value.class, (e, s) -> List.of()));
    assertThrows(IllegalArgumentException.class, () -> ProcessManager.named("", Int64Value.getDefaultInstance()));
    Reaction r = Reaction.none().record(Int32Value.of(1));
    assertTrue(Reaction.none().events().isEmpty(), "none() stays empty");
    assertEquals(1, r.events().size());
  }
}
