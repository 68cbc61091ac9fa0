package dev.angzarr.client;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import dev.angzarr.proto.SagaHandleRequest;
import dev.angzarr.proto.SagaResponse;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A saga: a stateless reaction that turns one domain's events into commands for other aggregates.
 *
 * <pre>{@code
 * Saga payments = Saga.named("payment-gateway")
 *     .from("player")
 *     .on(FundsWithdrawn.class, (event, cover, seq) -> bank.approves(event, cover, seq)
 *         ? List.of()
 *         : List.of(Commands.to("player", cover.getRoot(), DepositFunds.newBuilder().setAmount(event.getAmount()).build())));
 * }</pre>
 *
 * <p>{@link #handle(SagaHandleRequest)} is the whole {@code SagaService.Handle} contract, without
 * any network: every page of the source book whose event type has a handler is passed to it, in
 * order, with the source cover and the page's sequence; the commands of all pages are returned in
 * that order. Event types without a handler are skipped (a saga sees every event of its source
 * domain), and so are pages marked {@code no_commit}. A saga is immutable: {@link #on} and {@link
 * #from} return a new one.
 */
public final class Saga implements Component {
  private final String name;
  private final Set<String> sources;
  private final Map<String, Reaction> handlers;

  /** A handler with its event type erased. */
  private interface Reaction {
    List<CommandBook> react(Any event, Cover cover, int sequence) throws Exception;
  }

  private Saga(String name, Set<String> sources, Map<String, Reaction> handlers) {
    this.name = name;
    this.sources = Collections.unmodifiableSet(sources);
    this.handlers = Collections.unmodifiableMap(handlers);
  }

  /** A saga called {@code name} (e.g. {@code "payment-gateway"}) with no handlers yet. */
  public static Saga named(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("name must not be empty");
    }
    return new Saga(name, new LinkedHashSet<>(), new LinkedHashMap<>());
  }

  /** The saga's name. */
  @Override
  public String name() {
    return name;
  }

  /** {@code "saga"}. */
  @Override
  public String componentType() {
    return "saga";
  }

  /** The source domains declared with {@link #from}; empty when none were. */
  public Set<String> sources() {
    return sources;
  }

  /** The full proto names of the event types it reacts to. */
  public Set<String> eventTypes() {
    return handlers.keySet();
  }

  /**
   * Declares the domains whose events this saga consumes. Optional for a server hosting one saga;
   * a server hosting several routes each source book by its cover's domain, so each must declare
   * its own (disjoint) domains.
   *
   * @return a new saga with the domains added
   */
  public Saga from(String... domains) {
    Set<String> more = new LinkedHashSet<>(sources);
    for (String domain : domains) {
      Objects.requireNonNull(domain, "domain");
      if (domain.isEmpty()) {
        throw new IllegalArgumentException("domain must not be empty");
      }
      more.add(domain);
    }
    return new Saga(name, more, new LinkedHashMap<>(handlers));
  }

  /**
   * Registers the reaction to event type {@code E}.
   *
   * @return a new saga with the handler added
   */
  public <E extends Message> Saga on(Class<E> eventType, SagaHandler<E> handler) {
    Objects.requireNonNull(handler, "handler");
    E prototype = TypeUrls.defaultInstance(eventType);
    String type = prototype.getDescriptorForType().getFullName();
    if (handlers.containsKey(type)) {
      throw new IllegalStateException("a handler for " + type + " is already registered");
    }
    Reaction erased = (any, cover, seq) -> handler.handle(Rpc.decode(prototype, any, "event"), cover, seq);
    Map<String, Reaction> more = new LinkedHashMap<>(handlers);
    more.put(type, erased);
    return new Saga(name, new LinkedHashSet<>(sources), more);
  }

  /** {@link #handle(EventBook)} of the request's source book. */
  public SagaResponse handle(SagaHandleRequest request) {
    if (!request.hasSource()) {
      throw Rpc.invalid("no source event book");
    }
    return handle(request.getSource());
  }

  /**
   * Reacts to the events of {@code source}: the whole contract of {@code SagaService.Handle},
   * without any network.
   *
   * <p>Each returned command book has a cover with the target domain and a 16-byte root, and
   * exactly one page holding the command; any page header is dropped (the coordinator stamps it).
   *
   * @throws StatusRuntimeException {@code INVALID_ARGUMENT} for a page without a sequence or
   *     without an inline event, or a malformed payload; {@code INTERNAL} when a handler throws or
   *     returns something that is not a valid command book (the coordinator retries with backoff)
   */
  public SagaResponse handle(EventBook source) {
    Cover cover = source.getCover();
    SagaResponse.Builder out = SagaResponse.newBuilder();
    for (EventPage page : source.getPagesList()) {
      if (page.getNoCommit()) {
        continue;
      }
      int sequence = sequenceOf(page);
      if (!page.hasEvent()) {
        throw Rpc.invalid("page " + Integer.toUnsignedString(sequence) + " carries no inline event");
      }
      String type = TypeUrls.typeName(page.getEvent());
      Reaction reaction = handlers.get(type);
      if (reaction == null) {
        continue;
      }
      List<CommandBook> commands;
      try {
        commands = reaction.react(page.getEvent(), cover, sequence);
      } catch (StatusRuntimeException status) {
        throw status;
      } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
        throw Rpc.internal("saga `" + name + "` failed on " + type + " at sequence "
            + Integer.toUnsignedString(sequence) + ": " + e, e);
      }
      if (commands == null) {
        throw Rpc.internal("saga `" + name + "` returned null for " + type + " instead of a list of commands", null);
      }
      for (CommandBook command : commands) {
        out.addCommands(checked(command, type));
      }
    }
    return out.build();
  }

  /** The page's sequence; it must have one. */
  static int sequenceOf(EventPage page) {
    if (page.getHeader().getSequenceTypeCase() != PageHeader.SequenceTypeCase.SEQUENCE) {
      throw Rpc.invalid("an event page without a sequence (header " + page.getHeader().getSequenceTypeCase() + ")");
    }
    return page.getHeader().getSequence();
  }

  private CommandBook checked(CommandBook command, String eventType) {
    Commands.checked(command, "saga `" + name + "` on " + eventType + ": ");
    CommandPage page = command.getPages(0);
    return page.hasHeader() ? command.toBuilder().setPages(0, page.toBuilder().clearHeader()).build() : command;
  }

  @Override
  public String toString() {
    return "Saga[" + name + (sources.isEmpty() ? "" : ", from " + sources) + ", events " + handlers.keySet() + "]";
  }
}
