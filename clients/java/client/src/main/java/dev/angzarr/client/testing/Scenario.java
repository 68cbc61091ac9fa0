package dev.angzarr.client.testing;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.angzarr.client.Aggregate;
import dev.angzarr.client.TypeUrls;
import dev.angzarr.proto.BusinessResponse;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.ContextualCommand;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;

/**
 * Handler tests without any framework running: given events, when a command, then events or a
 * rejection.
 *
 * <pre>{@code
 * Scenario.of(PlayerAggregate.aggregate())
 *     .given(registered, deposited100)
 *     .when(DepositFunds.newBuilder().setAmount(usd(50)).build())
 *     .thenEvents(FundsDeposited.newBuilder().setAmount(usd(50)).setNewBalance(usd(150)).build());
 * }</pre>
 *
 * <p>A scenario is immutable: {@link #given} returns a new one, so one history can be branched into
 * several {@code when}s.
 */
public final class Scenario<S extends Message> {
  private final Aggregate<S> aggregate;
  private final List<Any> history;

  private Scenario(Aggregate<S> aggregate, List<Any> history) {
    this.aggregate = aggregate;
    this.history = List.copyOf(history);
  }

  /** A scenario on a fresh aggregate (no events). */
  public static <S extends Message> Scenario<S> of(Aggregate<S> aggregate) {
    return new Scenario<>(aggregate, List.of());
  }

  /** Adds prior events (messages, or already packed {@link Any}s), in order. */
  public Scenario<S> given(Message... events) {
    return given(List.of(events));
  }

  /** Adds prior events (messages, or already packed {@link Any}s), in order. */
  public Scenario<S> given(List<? extends Message> events) {
    List<Any> more = new ArrayList<>(history);
    for (Message event : events) {
      more.add(TypeUrls.pack(event));
    }
    return new Scenario<>(aggregate, more);
  }

  /** The history so far, packed. */
  public List<Any> history() {
    return history;
  }

  /** The state the history folds to. */
  public S state() {
    return aggregate.rebuild(null, pages());
  }

  /** Runs {@code command} against the history, as the coordinator would send it. */
  public Outcome<S> when(Message command) {
    List<EventPage> pages = pages();
    Cover cover = Cover.newBuilder().setDomain(aggregate.domain()).build();
    ContextualCommand request = ContextualCommand.newBuilder()
        .setEvents(EventBook.newBuilder().setCover(cover).addAllPages(pages).setNextSequence(pages.size()))
        .setCommand(CommandBook.newBuilder()
            .setCover(cover)
            .addPages(CommandPage.newBuilder()
                .setHeader(PageHeader.newBuilder().setSequence(pages.size()))
                .setCommand(TypeUrls.pack(command))))
        .build();
    S before = aggregate.rebuild(null, pages);
    try {
      BusinessResponse response = aggregate.execute(request);
      List<Any> events = new ArrayList<>();
      S state = before;
      for (EventPage page : response.getEvents().getPagesList()) {
        events.add(page.getEvent());
        state = aggregate.applyEvent(state, page.getEvent());
      }
      return new Outcome<>(events, null, state, response);
    } catch (StatusRuntimeException e) {
      return new Outcome<>(List.of(), e.getStatus(), before, null);
    }
  }

  private List<EventPage> pages() {
    List<EventPage> pages = new ArrayList<>(history.size());
    for (int i = 0; i < history.size(); i++) {
      pages.add(EventPage.newBuilder()
          .setHeader(PageHeader.newBuilder().setSequence(i))
          .setEvent(history.get(i))
          .build());
    }
    return pages;
  }
}
