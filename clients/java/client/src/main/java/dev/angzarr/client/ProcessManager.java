package dev.angzarr.client;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import dev.angzarr.proto.ProcessManagerHandleRequest;
import dev.angzarr.proto.ProcessManagerHandleResponse;
import dev.angzarr.proto.ProcessManagerPrepareRequest;
import dev.angzarr.proto.ProcessManagerPrepareResponse;
import dev.angzarr.proto.Snapshot;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A process manager: a saga with memory. Its state is event-sourced like an aggregate's, one
 * process per correlation id; each trigger event (from any domain it listens to) may record
 * process events and issue commands. The coordinator commits the process events, the commands
 * and the consumed trigger in one transaction, so a process never forgets a step it took nor
 * takes one twice.
 *
 * <pre>{@code
 * ProcessManager<HandFlowState> flow = ProcessManager.named("hand-flow", HandFlowState.getDefaultInstance())
 *     .apply(HandFlowStarted.class, (s, e) -> s.toBuilder().setPhase("dealing").build())
 *     .prepare(HandStarted.class, (e, s) -> List.of(cover("hand", e.getHandRoot())))
 *     .on(HandStarted.class, (e, s, t) -> s.getPhase().isEmpty() && t.destination("hand") == 0
 *         ? Reaction.none().record(started(e)).send(Commands.to("hand", handRoot(e), deal(e)))
 *         : Reaction.none());
 * }</pre>
 *
 * <p>{@link #handle} and {@link #prepare(ProcessManagerPrepareRequest)} are the whole {@code
 * ProcessManagerService} contract without any network. Registration is immutable: {@link #apply},
 * {@link #on} and {@link #prepare(Class, PrepareHandler)} return a new process manager.
 *
 * @param <S> the process state type, returned to the coordinator as the snapshot state
 */
public final class ProcessManager<S extends Message> implements Component {
  private final String name;
  private final Aggregate<S> state;
  private final Map<String, OnFn<S>> on;
  private final Map<String, PrepareFn<S>> prepare;

  /** A reaction with its event type erased. */
  private interface OnFn<S> {
    Reaction react(Any event, S state, Trigger trigger) throws Exception;
  }

  /** A prepare function with its event type erased. */
  private interface PrepareFn<S> {
    List<Cover> prepare(Any event, S state) throws Exception;
  }

  private ProcessManager(String name, Aggregate<S> state, Map<String, OnFn<S>> on, Map<String, PrepareFn<S>> prepare) {
    this.name = name;
    this.state = state;
    this.on = Collections.unmodifiableMap(on);
    this.prepare = Collections.unmodifiableMap(prepare);
  }

  /**
   * A process manager called {@code name} (also the domain of its own logs) with no handlers yet.
   *
   * @param initialState the state of a new process, usually {@code MyState.getDefaultInstance()}
   */
  public static <S extends Message> ProcessManager<S> named(String name, S initialState) {
    return new ProcessManager<>(name, Aggregate.of(name, initialState), new LinkedHashMap<>(), new LinkedHashMap<>());
  }

  /** The process manager's name. */
  @Override
  public String name() {
    return name;
  }

  /** {@code "process_manager"}. */
  @Override
  public String componentType() {
    return "process_manager";
  }

  /** The full proto name of the state type. */
  public String stateType() {
    return state.stateType();
  }

  /** The full proto names of the trigger event types it reacts to. */
  public Set<String> eventTypes() {
    return on.keySet();
  }

  /**
   * Registers how process event type {@code E} changes the state (types without an applier leave
   * it as it is).
   *
   * @return a new process manager with the applier added
   */
  public <E extends Message> ProcessManager<S> apply(Class<E> eventType, Applier<S, E> applier) {
    return new ProcessManager<>(name, state.apply(eventType, applier), new LinkedHashMap<>(on), new LinkedHashMap<>(prepare));
  }

  /**
   * Registers the reaction to trigger event type {@code E}.
   *
   * @return a new process manager with the handler added
   */
  public <E extends Message> ProcessManager<S> on(Class<E> eventType, ProcessHandler<E, S> handler) {
    Objects.requireNonNull(handler, "handler");
    E prototype = TypeUrls.defaultInstance(eventType);
    String type = prototype.getDescriptorForType().getFullName();
    if (on.containsKey(type)) {
      throw new IllegalStateException("a handler for " + type + " is already registered");
    }
    OnFn<S> erased = (any, s, trigger) -> handler.handle(Rpc.decode(prototype, any, "event"), s, trigger);
    Map<String, OnFn<S>> more = new LinkedHashMap<>(on);
    more.put(type, erased);
    return new ProcessManager<>(name, state, more, new LinkedHashMap<>(prepare));
  }

  /**
   * Registers which aggregates the reaction to trigger event type {@code E} needs the next
   * sequence of.
   *
   * @return a new process manager with the function added
   */
  public <E extends Message> ProcessManager<S> prepare(Class<E> eventType, PrepareHandler<E, S> handler) {
    Objects.requireNonNull(handler, "handler");
    E prototype = TypeUrls.defaultInstance(eventType);
    String type = prototype.getDescriptorForType().getFullName();
    if (prepare.containsKey(type)) {
      throw new IllegalStateException("a prepare function for " + type + " is already registered");
    }
    PrepareFn<S> erased = (any, s) -> handler.prepare(Rpc.decode(prototype, any, "event"), s);
    Map<String, PrepareFn<S>> more = new LinkedHashMap<>(prepare);
    more.put(type, erased);
    return new ProcessManager<>(name, state, new LinkedHashMap<>(on), more);
  }

  /**
   * The state of a process's stored book: its snapshot (which must hold the state type), then its
   * pages.
   *
   * @throws StatusRuntimeException {@code INVALID_ARGUMENT} for a snapshot of another type or a
   *     malformed payload, {@code INTERNAL} when an applier fails
   */
  public S stateOf(EventBook process) {
    return state.stateOf(process);
  }

  /**
   * {@code ProcessManagerService.Prepare}: the destinations named by the prepare function of each
   * trigger page's event type, in page order.
   *
   * @throws StatusRuntimeException {@code INVALID_ARGUMENT} for a malformed payload or process
   *     state; {@code INTERNAL} when a function throws or returns null
   */
  public ProcessManagerPrepareResponse prepare(ProcessManagerPrepareRequest request) {
    S current = stateOf(request.getProcessState());
    ProcessManagerPrepareResponse.Builder out = ProcessManagerPrepareResponse.newBuilder();
    for (EventPage page : request.getTrigger().getPagesList()) {
      if (!page.hasEvent()) {
        continue;
      }
      String type = TypeUrls.typeName(page.getEvent());
      PrepareFn<S> fn = prepare.get(type);
      if (fn == null) {
        continue;
      }
      List<Cover> covers;
      try {
        covers = fn.prepare(page.getEvent(), current);
      } catch (StatusRuntimeException status) {
        throw status;
      } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
        throw Rpc.internal("process manager `" + name + "`: prepare of " + type + " failed: " + e, e);
      }
      if (covers == null) {
        throw Rpc.internal("process manager `" + name + "`: prepare of " + type + " returned null", null);
      }
      for (Cover cover : covers) {
        if (cover == null) {
          throw Rpc.internal("process manager `" + name + "`: prepare of " + type + " returned a null cover", null);
        }
        out.addDestinations(cover);
      }
    }
    return out.build();
  }

  /**
   * {@code ProcessManagerService.Handle}: rebuilds the process state, then passes each trigger page
   * that has an event, a sequence and a handler to that handler, in order. Each recorded process
   * event is applied to the state and returned as a page at {@code next + i}, {@code next} being
   * {@link Aggregate#nextSequence} of the process state; when there are any, the snapshot holds
   * the new state at the last one. {@code process_events.cover} is the process state's; the
   * commands of all pages come in order; {@code facts} stays empty. Event types without a handler
   * are ignored.
   *
   * @throws StatusRuntimeException {@code INVALID_ARGUMENT} without a trigger, for a malformed
   *     payload or a snapshot of another type; {@code INTERNAL} when a handler or applier throws,
   *     or a handler returns null or a malformed command book
   */
  public ProcessManagerHandleResponse handle(ProcessManagerHandleRequest request) {
    if (!request.hasTrigger()) {
      throw Rpc.invalid("no trigger");
    }
    EventBook process = request.getProcessState();
    S current = stateOf(process);
    EventBook trigger = request.getTrigger();
    Cover cover = trigger.getCover();
    Map<String, Integer> destinations = Map.copyOf(request.getDestinationSequencesMap());
    int next = Aggregate.nextSequence(process);

    List<EventPage> pages = new ArrayList<>();
    ProcessManagerHandleResponse.Builder out = ProcessManagerHandleResponse.newBuilder();
    for (EventPage page : trigger.getPagesList()) {
      if (!page.hasEvent() || page.getHeader().getSequenceTypeCase() != PageHeader.SequenceTypeCase.SEQUENCE) {
        continue;
      }
      String type = TypeUrls.typeName(page.getEvent());
      OnFn<S> fn = on.get(type);
      if (fn == null) {
        continue;
      }
      int sequence = page.getHeader().getSequence();
      Reaction reaction;
      try {
        reaction = fn.react(page.getEvent(), current, new Trigger(cover, sequence, destinations));
      } catch (StatusRuntimeException status) {
        throw status;
      } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
        throw Rpc.internal("process manager `" + name + "` failed on " + type + " at sequence "
            + Integer.toUnsignedString(sequence) + ": " + e, e);
      }
      if (reaction == null) {
        throw Rpc.internal("process manager `" + name + "` returned null for " + type + " instead of a reaction", null);
      }
      for (Any event : reaction.events()) {
        current = state.applyEvent(current, event);
        pages.add(EventPage.newBuilder()
            .setHeader(PageHeader.newBuilder().setSequence(next + pages.size()))
            .setEvent(event)
            .build());
      }
      for (CommandBook command : reaction.commands()) {
        out.addCommands(Commands.checked(command, "process manager `" + name + "` on " + type + ": "));
      }
    }

    EventBook.Builder events = EventBook.newBuilder().addAllPages(pages);
    if (process.hasCover()) {
      events.setCover(process.getCover());
    }
    if (!pages.isEmpty()) {
      events.setSnapshot(Snapshot.newBuilder().setSequence(next + pages.size() - 1).setState(Any.pack(current)));
    }
    return out.setProcessEvents(events).build();
  }

  @Override
  public String toString() {
    return "ProcessManager[" + name + ", state " + stateType() + ", events " + on.keySet() + "]";
  }
}
