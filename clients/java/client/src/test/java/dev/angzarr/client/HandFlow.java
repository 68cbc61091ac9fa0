package dev.angzarr.client;

import dev.angzarr.client.flowtest.DealCards;
import dev.angzarr.client.flowtest.EndHand;
import dev.angzarr.client.flowtest.HandComplete;
import dev.angzarr.client.flowtest.HandFlowEnded;
import dev.angzarr.client.flowtest.HandFlowStarted;
import dev.angzarr.client.flowtest.HandFlowState;
import dev.angzarr.client.flowtest.HandStarted;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.UUID;
import java.util.List;

/**
 * A tiny two-domain process manager for the library's own tests, after the poker hand flow
 * ({@code examples/poker/src/hand_flow.rs}), one process per correlation id:
 *
 * <ul>
 *   <li>{@code HandStarted} (domain {@code table}) → record {@code HandFlowStarted}, command the
 *       hand to deal ({@code DealCards}), only when the process has not started and the hand has
 *       no events yet (its next sequence, which {@code prepare} asks the coordinator for, is 0);
 *   <li>{@code HandComplete} (domain {@code hand}) of the process's hand, while dealing → record
 *       {@code HandFlowEnded}, command the table to end the hand ({@code EndHand}).
 * </ul>
 */
final class HandFlow {
  static final String NAME = "hand-flow";

  private HandFlow() {}

  static UUID root(com.google.protobuf.ByteString bytes) {
    return UUID.newBuilder().setValue(bytes).build();
  }

  static ProcessManager<HandFlowState> processManager() {
    return ProcessManager.named(NAME, HandFlowState.getDefaultInstance())
        .apply(HandFlowStarted.class, (s, e) -> s.toBuilder()
            .setTableRoot(e.getTableRoot())
            .setHandRoot(e.getHandRoot())
            .setHandNumber(e.getHandNumber())
            .setPhase("dealing")
            .build())
        .apply(HandFlowEnded.class, (s, e) -> s.toBuilder().setPhase("ended").build())
        .prepare(HandStarted.class, (e, s) -> List.of(Cover.newBuilder().setDomain("hand").setRoot(root(e.getHandRoot())).build()))
        .on(HandStarted.class, (e, s, t) -> {
          // A process runs one hand; a hand that already has events was dealt.
          if (!s.getPhase().isEmpty() || t.destination("hand") != 0) {
            return Reaction.none();
          }
          return Reaction.none()
              .record(HandFlowStarted.newBuilder()
                  .setTableRoot(t.cover().getRoot().getValue())
                  .setHandRoot(e.getHandRoot())
                  .setHandNumber(e.getHandNumber())
                  .build())
              .send(Commands.to("hand", root(e.getHandRoot()), DealCards.newBuilder()
                  .setTableRoot(t.cover().getRoot().getValue())
                  .setHandNumber(e.getHandNumber())
                  .build()));
        })
        .on(HandComplete.class, (e, s, t) -> {
          boolean thisHand = t.cover().getRoot().getValue().equals(s.getHandRoot());
          if (!s.getPhase().equals("dealing") || !thisHand) {
            return Reaction.none();
          }
          return Reaction.none()
              .record(HandFlowEnded.newBuilder().setHandRoot(s.getHandRoot()).build())
              .send(Commands.to("table", root(s.getTableRoot()), EndHand.newBuilder()
                  .setHandRoot(s.getHandRoot())
                  .setPot(e.getPot())
                  .build()));
        });
  }
}
