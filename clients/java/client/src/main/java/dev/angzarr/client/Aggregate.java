package dev.angzarr.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.angzarr.proto.BusinessResponse;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.ContextualCommand;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import dev.angzarr.proto.Snapshot;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * An aggregate of one domain: its state type, the handlers that turn commands into events and the
 * appliers that fold events into the state.
 *
 * <pre>{@code
 * Aggregate<PlayerState> player = Aggregate.of("player", PlayerState.getDefaultInstance())
 *     .on(DepositFunds.class, PlayerAggregate::handleDepositFunds)
 *     .apply(FundsDeposited.class, (state, e) -> state.toBuilder().setBankroll(e.getNewBalance()).build());
 * }</pre>
 *
 * <p>Handlers and appliers are dispatched on the full proto name in the {@code Any} type URL. An
 * aggregate is immutable: {@link #on} and {@link #apply} return a new one, so it can be shared by
 * any number of threads. {@link #execute} is the whole {@code CommandHandlerService.Handle}
 * contract without any network; it never throws anything but {@link StatusRuntimeException}.
 *
 * @param <S> the state message type, returned to the coordinator as the snapshot state
 */
public final class Aggregate<S extends Message> implements Component {
  private final String domain;
  private final S initialState;
  private final Map<String, Handler<S>> handlers;
  private final Map<String, Fold<S>> appliers;

  /** A command handler with its command type erased. */
  private interface Handler<S> {
    List<? extends Message> handle(Any command, S state, int nextSequence) throws Exception;
  }

  /** An applier with its event type erased. */
  private interface Fold<S> {
    S apply(S state, Any event);
  }

  private Aggregate(String domain, S initialState, Map<String, Handler<S>> handlers, Map<String, Fold<S>> appliers) {
    this.domain = domain;
    this.initialState = initialState;
    this.handlers = Collections.unmodifiableMap(handlers);
    this.appliers = Collections.unmodifiableMap(appliers);
  }

  /**
   * An aggregate of {@code domain} with no handlers yet.
   *
   * @param initialState the state before any event, usually {@code MyState.getDefaultInstance()}
   */
  public static <S extends Message> Aggregate<S> of(String domain, S initialState) {
    Objects.requireNonNull(domain, "domain");
    Objects.requireNonNull(initialState, "initialState");
    if (domain.isEmpty()) {
      throw new IllegalArgumentException("domain must not be empty");
    }
    return new Aggregate<>(domain, initialState, new LinkedHashMap<>(), new LinkedHashMap<>());
  }

  /** The domain it serves, e.g. {@code "player"}. */
  public String domain() {
    return domain;
  }

  /** The same as {@link #domain()}. */
  @Override
  public String name() {
    return domain;
  }

  /** {@code "aggregate"}. */
  @Override
  public String componentType() {
    return "aggregate";
  }

  /** The state before any event. */
  public S initialState() {
    return initialState;
  }

  /** The full proto name of the state type. */
  public String stateType() {
    return initialState.getDescriptorForType().getFullName();
  }

  /** The full proto names of the command types it handles. */
  public Set<String> commandTypes() {
    return handlers.keySet();
  }

  /** The full proto names of the event types it applies. */
  public Set<String> eventTypes() {
    return appliers.keySet();
  }

  /**
   * Registers the handler of command type {@code C} (returning any number of events).
   *
   * @return a new aggregate with the handler added
   */
  @SuppressWarnings("overloads") // on(Class, SingleEventHandler): see there
  public <C extends Message> Aggregate<S> on(Class<C> commandType, CommandHandler<C, S> handler) {
    Objects.requireNonNull(handler, "handler");
    C prototype = TypeUrls.defaultInstance(commandType);
    String name = prototype.getDescriptorForType().getFullName();
    if (handlers.containsKey(name)) {
      throw new IllegalStateException("a handler for " + name + " is already registered");
    }
    Handler<S> erased =
        (any, state, seq) -> handler.handle(decode(prototype, any, "command"), state, seq);
    Map<String, Handler<S>> more = new LinkedHashMap<>(handlers);
    more.put(name, erased);
    return new Aggregate<>(domain, initialState, more, new LinkedHashMap<>(appliers));
  }

  /**
   * Registers the handler of command type {@code C} that emits exactly one event.
   *
   * <p>With a method reference or an explicitly typed lambda, {@code on} picks this overload by the
   * return type; an implicitly typed lambda is ambiguous between the two: use {@link #onEvent}.
   *
   * @return a new aggregate with the handler added
   */
  @SuppressWarnings("overloads")
  public <C extends Message> Aggregate<S> on(Class<C> commandType, SingleEventHandler<C, S> handler) {
    return onEvent(commandType, handler);
  }

  /**
   * The same as {@link #on(Class, SingleEventHandler)}, under a name no lambda can find ambiguous.
   */
  public <C extends Message> Aggregate<S> onEvent(Class<C> commandType, SingleEventHandler<C, S> handler) {
    Objects.requireNonNull(handler, "handler");
    return on(commandType, (CommandHandler<C, S>) (cmd, state, seq) -> {
      Message event = handler.handle(cmd, state, seq);
      if (event == null) {
        throw new IllegalStateException("the handler returned no event (null)");
      }
      return List.of(event);
    });
  }

  /**
   * The same as {@link #on(Class, CommandHandler)}, under a name no lambda can find ambiguous.
   */
  public <C extends Message> Aggregate<S> onEvents(Class<C> commandType, CommandHandler<C, S> handler) {
    return on(commandType, handler);
  }

  /**
   * Registers how event type {@code E} changes the state. Event types without an applier leave the
   * state as it is: old events may outlive the code that cared about them.
   *
   * @return a new aggregate with the applier added
   */
  public <E extends Message> Aggregate<S> apply(Class<E> eventType, Applier<S, E> applier) {
    Objects.requireNonNull(applier, "applier");
    E prototype = TypeUrls.defaultInstance(eventType);
    String name = prototype.getDescriptorForType().getFullName();
    if (appliers.containsKey(name)) {
      throw new IllegalStateException("an applier for " + name + " is already registered");
    }
    Fold<S> erased = (state, any) -> {
      E event = decode(prototype, any, "event");
      S next;
      try {
        next = applier.apply(state, event);
      } catch (RuntimeException e) {
        throw internal("applier for `" + name + "` failed: " + e, e);
      }
      if (next == null) {
        throw internal("applier for `" + name + "` returned null", null);
      }
      return next;
    };
    Map<String, Fold<S>> more = new LinkedHashMap<>(appliers);
    more.put(name, erased);
    return new Aggregate<>(domain, initialState, new LinkedHashMap<>(handlers), more);
  }

  /**
   * Folds one packed event into {@code state}.
   *
   * @throws StatusRuntimeException {@code INVALID_ARGUMENT} for a malformed payload, {@code
   *     INTERNAL} when the applier fails
   */
  public S applyEvent(S state, Any event) {
    Fold<S> fold = appliers.get(TypeUrls.typeName(event));
    return fold == null ? state : fold.apply(state, event);
  }

  /**
   * The state after a snapshot (may be null) and the pages after it.
   *
   * @throws StatusRuntimeException {@code INVALID_ARGUMENT} when the snapshot holds another state
   *     type or a payload is malformed, {@code INTERNAL} when an applier fails
   */
  public S rebuild(Snapshot snapshot, List<EventPage> pages) {
    S state = initialState;
    if (snapshot != null && snapshot.hasState()) {
      Any packed = snapshot.getState();
      String name = TypeUrls.typeName(packed);
      if (!name.equals(stateType())) {
        throw invalid("snapshot state is " + name + ", this aggregate keeps " + stateType());
      }
      state = decode(initialState, packed, "snapshot state");
    }
    for (EventPage page : pages) {
      if (page.hasEvent()) {
        state = applyEvent(state, page.getEvent());
      }
    }
    return state;
  }

  /** The state of a stored book: its snapshot, then its pages. */
  public S stateOf(EventBook book) {
    return rebuild(book.hasSnapshot() ? book.getSnapshot() : null, book.getPagesList());
  }

  /**
   * Runs one command against its history: the whole contract of {@code
   * CommandHandlerService.Handle}, without any network.
   *
   * <p>The reply's event book has the command's cover, one page per new event with {@code
   * header.sequence = next_sequence + i}, and a snapshot of the new state at the last new
   * sequence (no pages and no snapshot when the handler emits nothing).
   *
   * @throws StatusRuntimeException {@code FAILED_PRECONDITION} with the reason when the handler
   *     rejects; {@code INVALID_ARGUMENT} for an unknown command type or a malformed request;
   *     {@code INTERNAL} when a handler or applier throws anything else
   */
  public BusinessResponse execute(ContextualCommand request) {
    if (!request.hasCommand()) {
      throw invalid("no command book");
    }
    CommandBook command = request.getCommand();
    if (command.getPagesCount() == 0) {
      throw invalid("command book has no pages");
    }
    CommandPage page = command.getPages(0);
    if (!page.hasCommand()) {
      throw invalid("command page has no inline command");
    }
    Any packed = page.getCommand();
    String name = TypeUrls.typeName(packed);
    Handler<S> handler = handlers.get(name);
    if (handler == null) {
      throw invalid("unknown command type `" + name + "` for domain `" + domain + "`");
    }
    EventBook history = request.getEvents();
    S state = stateOf(history);
    int next = nextSequence(history);

    List<? extends Message> events;
    try {
      events = handler.handle(packed, state, next);
    } catch (CommandRejectedException rejected) {
      throw Status.FAILED_PRECONDITION
          .withDescription(rejected.getMessage())
          .asRuntimeException();
    } catch (StatusRuntimeException status) {
      throw status;
    } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
      throw internal("handler for `" + name + "` failed: " + e, e);
    }
    if (events == null) {
      throw internal("handler for `" + name + "` returned null instead of a list of events", null);
    }

    EventBook.Builder out = EventBook.newBuilder();
    if (command.hasCover()) {
      out.setCover(command.getCover());
    }
    int sequence = next;
    List<EventPage> pages = new ArrayList<>(events.size());
    for (Message event : events) {
      if (event == null) {
        throw internal("handler for `" + name + "` returned a null event", null);
      }
      Any any = TypeUrls.pack(event);
      state = applyEvent(state, any);
      pages.add(EventPage.newBuilder()
          .setHeader(PageHeader.newBuilder().setSequence(sequence))
          .setEvent(any)
          .build());
      sequence++;
    }
    out.addAllPages(pages);
    if (!pages.isEmpty()) {
      out.setSnapshot(Snapshot.newBuilder().setSequence(sequence - 1).setState(Any.pack(state)));
    }
    return BusinessResponse.newBuilder().setEvents(out).build();
  }

  /**
   * The sequence the next event gets: the coordinator sends it in {@code next_sequence}; older
   * coordinators did not, so fall back to the pages, then the snapshot, then the page count.
   */
  public static int nextSequence(EventBook book) {
    if (book.getNextSequence() > 0) {
      return book.getNextSequence();
    }
    boolean found = false;
    int max = 0;
    for (EventPage page : book.getPagesList()) {
      if (page.getHeader().getSequenceTypeCase() == PageHeader.SequenceTypeCase.SEQUENCE) {
        int seq = page.getHeader().getSequence();
        if (!found || Integer.compareUnsigned(seq, max) > 0) {
          max = seq;
        }
        found = true;
      }
    }
    if (found) {
      return max + 1;
    }
    if (book.hasSnapshot() && book.getSnapshot().hasState()) {
      return book.getSnapshot().getSequence() + 1;
    }
    return book.getPagesCount();
  }

  @SuppressWarnings("unchecked")
  private static <M extends Message> M decode(M prototype, Any any, String what) {
    try {
      return (M) prototype.getParserForType().parseFrom(any.getValue());
    } catch (InvalidProtocolBufferException e) {
      throw invalid("malformed " + what + " " + prototype.getDescriptorForType().getFullName() + ": "
          + e.getMessage());
    }
  }

  private static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }

  private static StatusRuntimeException internal(String message, Throwable cause) {
    return Status.INTERNAL.withDescription(message).withCause(cause).asRuntimeException();
  }

  @Override
  public String toString() {
    return "Aggregate[" + domain + ", state " + stateType() + ", commands " + handlers.keySet() + "]";
  }
}
