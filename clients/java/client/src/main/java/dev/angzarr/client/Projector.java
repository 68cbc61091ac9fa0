package dev.angzarr.client;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.angzarr.kafka.proto.ProjectionBatch;
import dev.angzarr.kafka.proto.ProjectorBatch;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.Projection;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A projector: applies events to a read model.
 *
 * <pre>{@code
 * Map<String, Long> balances = new ConcurrentHashMap<>();
 * Projector ledger = Projector.named("ledger")
 *     .on(FundsDeposited.class, (e, cover, seq) -> balances.put(Uuids.toString(cover.getRoot()), e.getNewBalance().getAmount()))
 *     .view(() -> Int64Value.of(balances.size()));   // optional: returned in Projection.projection
 * }</pre>
 *
 * <p>{@link #handle(EventBook)} is the whole {@code ProjectorService.Handle} contract without any
 * network: each page goes, in order, to the handler of its event type (types without one, and
 * pages marked {@code no_commit}, are passed over). Books of one stream (domain, root and edition)
 * are applied one at a time. {@link #handleBatch} is {@code
 * angzarr_kafka.ProjectorBatchService.HandleBatch}: the same, book after book, answered as one
 * call; {@link #aroundBatch} may wrap each batch in one read-model transaction.
 *
 * <p>Delivery is at least once: a coordinator that crashed before committing its offset delivers
 * again, and a replay (the consumer group rewound) delivers everything again on purpose, maybe
 * into a read model that was wiped meanwhile. So this class keeps no memory of what it applied:
 * idempotence belongs with the read model, e.g. the last applied sequence stored per row next to
 * the data (skip {@code sequence <= row.lastSequence}), or a {@link Checkpoints} store that lives,
 * and is wiped, with the model. Registration is immutable: {@link #on}, {@link #from}, {@link
 * #view}, {@link #checkpoints} and {@link #aroundBatch} return a new projector.
 */
public final class Projector implements Component {
  private static final int STRIPES = 64;

  private final String name;
  private final Set<String> sources;
  private final Map<String, Handler> handlers;
  private final Function<Cover, ? extends Message> view;
  private final Checkpoints checkpoints; // null: apply every page delivered
  private final ProjectorBatchHook batchHook; // null: a batch is applied as it is
  private final Object[] locks = new Object[STRIPES];

  /** A handler with its event type erased. */
  private interface Apply {
    void apply(Any event, Cover cover, int sequence) throws Exception;
  }

  /** A registered handler and the event type it decodes. */
  private record Handler(Message prototype, Apply apply) {}

  private Projector(String name, Set<String> sources, Map<String, Handler> handlers,
      Function<Cover, ? extends Message> view, Checkpoints checkpoints, ProjectorBatchHook batchHook) {
    this.name = name;
    this.sources = Collections.unmodifiableSet(sources);
    this.handlers = Collections.unmodifiableMap(handlers);
    this.view = view;
    this.checkpoints = checkpoints;
    this.batchHook = batchHook;
    for (int i = 0; i < STRIPES; i++) {
      locks[i] = new Object();
    }
  }

  /** A projector called {@code name} with no handlers yet (and no checkpoints). */
  public static Projector named(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("name must not be empty");
    }
    return new Projector(name, new LinkedHashSet<>(), new LinkedHashMap<>(), null, null, null);
  }

  /** The projector's name, returned in {@code Projection.projector}. */
  @Override
  public String name() {
    return name;
  }

  /** {@code "projector"}. */
  @Override
  public String componentType() {
    return "projector";
  }

  /** The source domains declared with {@link #from}; empty when none were. */
  public Set<String> sources() {
    return sources;
  }

  /** The full proto names of the event types it applies. */
  public Set<String> eventTypes() {
    return handlers.keySet();
  }

  /** The checkpoints given with {@link #checkpoints(Checkpoints)}, if any. */
  public Optional<Checkpoints> checkpoints() {
    return Optional.ofNullable(checkpoints);
  }

  /**
   * Declares the domains whose events this projector consumes: optional with one projector per
   * server; several projectors in one server are routed by the book's domain and must each declare
   * their own (disjoint) domains.
   */
  public Projector from(String... domains) {
    Set<String> more = new LinkedHashSet<>(sources);
    for (String domain : domains) {
      Objects.requireNonNull(domain, "domain");
      if (domain.isEmpty()) {
        throw new IllegalArgumentException("domain must not be empty");
      }
      more.add(domain);
    }
    return new Projector(name, more, new LinkedHashMap<>(handlers), view, checkpoints, batchHook);
  }

  /** Registers how event type {@code E} is applied. */
  public <E extends Message> Projector on(Class<E> eventType, ProjectorHandler<E> handler) {
    Objects.requireNonNull(handler, "handler");
    E prototype = TypeUrls.defaultInstance(eventType);
    String type = prototype.getDescriptorForType().getFullName();
    if (handlers.containsKey(type)) {
      throw new IllegalStateException("a handler for " + type + " is already registered");
    }
    Apply erased = (any, cover, seq) -> handler.handle(Rpc.decode(prototype, any, "event"), cover, seq);
    Map<String, Handler> more = new LinkedHashMap<>(handlers);
    more.put(type, new Handler(prototype, erased));
    return new Projector(name, new LinkedHashSet<>(sources), more, view, checkpoints, batchHook);
  }

  /**
   * What {@code Projection.projection} holds after a book: the supplier's message, packed (none
   * when it returns null).
   */
  public Projector view(Supplier<? extends Message> view) {
    Objects.requireNonNull(view, "view");
    return viewFor(cover -> view.get());
  }

  /** As {@link #view(Supplier)}, from the book's cover (e.g. the view of that one root). */
  public Projector viewFor(Function<Cover, ? extends Message> view) {
    Objects.requireNonNull(view, "view");
    return new Projector(name, new LinkedHashSet<>(sources), new LinkedHashMap<>(handlers), view, checkpoints, batchHook);
  }

  /**
   * Skips the pages at or below the last sequence {@code checkpoints} has for their stream, and
   * records each page applied. Give a store that lives with the read model (and is wiped with it),
   * never one of this process's memory: a replay into a wiped model would be skipped.
   */
  public Projector checkpoints(Checkpoints checkpoints) {
    Objects.requireNonNull(checkpoints, "checkpoints");
    return new Projector(name, new LinkedHashSet<>(sources), new LinkedHashMap<>(handlers), view, checkpoints, batchHook);
  }

  /**
   * Wraps each {@code HandleBatch} call (this projector's books of it) in {@code hook}, e.g. one
   * read-model transaction, so that a batch is committed whole or not at all: see {@link
   * ProjectorBatchHook}. {@code Handle} (one book per call) does not use it. Replaces any hook
   * given before.
   */
  public Projector aroundBatch(ProjectorBatchHook hook) {
    Objects.requireNonNull(hook, "hook");
    return new Projector(name, new LinkedHashSet<>(sources), new LinkedHashMap<>(handlers), view, checkpoints, hook);
  }

  /** The hook given with {@link #aroundBatch}, if any. */
  public Optional<ProjectorBatchHook> batchHook() {
    return Optional.ofNullable(batchHook);
  }

  /**
   * Applies the book's new events: the whole contract of {@code ProjectorService.Handle}.
   *
   * @return the book's cover, this projector's name, the sequence of the book's last page (when
   *     the book has none: the stream's checkpoint, if any, else 0) and the view, if any
   * @throws StatusRuntimeException {@code INVALID_ARGUMENT} for a page without a sequence or an
   *     inline event, or a malformed payload; {@code INTERNAL} when a handler or the view fails.
   *     Pages applied before the failure stay applied.
   */
  public Projection handle(EventBook book) {
    return run(book, false);
  }

  /**
   * {@code ProjectorService.HandleSpeculative}: checks the book as {@link #handle} would and
   * returns the same projection fields, applying nothing and moving no checkpoint; the view is the
   * read model as it is (without the book's events).
   */
  public Projection handleSpeculative(EventBook book) {
    return run(book, true);
  }

  /**
   * Applies a batch of books: the whole contract of {@code
   * angzarr_kafka.ProjectorBatchService.HandleBatch}. Each book, in order, is applied exactly as
   * {@link #handle} would apply it, inside the {@link #aroundBatch} hook, if any.
   *
   * @return one projection per book, in order, each as {@link #handle} returns it
   * @throws StatusRuntimeException the status {@link #handle} fails with for the first book that
   *     fails (description prefixed with {@code book I of N}), the later books unapplied; or the
   *     hook's failure. The call fails as a whole: the coordinator hands the same books over again.
   */
  public ProjectionBatch handleBatch(ProjectorBatch batch) {
    return handleBatch(batch.getBooksList(), book -> this);
  }

  /**
   * {@code HandleBatch} over the projectors {@code route} picks per book (all routed before any is
   * applied): their hooks nest in the order of their first book, and the books are applied in
   * order inside the innermost.
   */
  static ProjectionBatch handleBatch(List<EventBook> books, Function<EventBook, Projector> route) {
    int count = books.size();
    List<Projector> targets = new ArrayList<>(count);
    Map<Projector, List<EventBook>> hooked = new LinkedHashMap<>(); // by identity, in order of first book
    for (int i = 0; i < count; i++) {
      EventBook book = books.get(i);
      Projector target;
      try {
        target = route.apply(book);
      } catch (StatusRuntimeException e) {
        throw inBook(i, count, book, e);
      }
      targets.add(target);
      if (target.batchHook != null) {
        hooked.computeIfAbsent(target, p -> new ArrayList<>()).add(book);
      }
    }
    Projection[] projections = new Projection[count];
    StatusRuntimeException[] failure = new StatusRuntimeException[1];
    Runnable batch = () -> {
      for (int i = 0; i < count; i++) {
        EventBook book = books.get(i);
        try {
          projections[i] = targets.get(i).handle(book);
        } catch (StatusRuntimeException e) {
          failure[0] = inBook(i, count, book, e);
          throw failure[0];
        } catch (RuntimeException | LinkageError | AssertionError | StackOverflowError e) {
          failure[0] = inBook(i, count, book, Rpc.internal("projector `" + targets.get(i).name + "` failed: " + e, e));
          throw failure[0];
        }
      }
    };
    List<Map.Entry<Projector, List<EventBook>>> hooks = new ArrayList<>(hooked.entrySet());
    for (int h = hooks.size() - 1; h >= 0; h--) {
      Runnable inner = batch;
      Projector projector = hooks.get(h).getKey();
      List<EventBook> own = List.copyOf(hooks.get(h).getValue());
      batch = () -> projector.aroundBatch(own, inner, failure);
    }
    batch.run();
    if (failure[0] != null) {
      throw failure[0]; // swallowed by a hook: the call fails all the same
    }
    return ProjectionBatch.newBuilder().addAllProjections(Arrays.asList(projections)).build();
  }

  /** Runs {@code inner} once inside this projector's hook; see {@link ProjectorBatchHook}. */
  private void aroundBatch(List<EventBook> books, Runnable inner, StatusRuntimeException[] failure) {
    AtomicBoolean ran = new AtomicBoolean();
    Runnable once = () -> {
      if (!ran.compareAndSet(false, true)) {
        throw new IllegalStateException("projector `" + name + "`: a batch is applied once per call");
      }
      try {
        inner.run();
      } catch (StatusRuntimeException e) {
        if (failure[0] == null) {
          failure[0] = e; // e.g. a nested hook's own failure
        }
        throw e;
      }
    };
    try {
      batchHook.around(books, once);
    } catch (StatusRuntimeException e) {
      throw failure[0] != null ? failure[0] : e;
    } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
      if (failure[0] != null) {
        throw failure[0];
      }
      throw Rpc.internal("projector `" + name + "`: the batch hook failed: " + e, e);
    }
    if (failure[0] != null) {
      throw failure[0];
    }
    if (!ran.get()) {
      throw Rpc.internal("projector `" + name + "`: the batch hook returned without applying the batch", null);
    }
  }

  /**
   * {@code failure} with {@code book I of N (domain/root):} before its description; its code, cause
   * and trailers kept.
   */
  private static StatusRuntimeException inBook(int index, int count, EventBook book, StatusRuntimeException failure) {
    Status status = failure.getStatus();
    String where = "book " + (index + 1) + " of " + count + " (" + Checkpoints.key(book.getCover()) + ")";
    String description = status.getDescription();
    return status.withDescription(description == null ? where : where + ": " + description)
        .asRuntimeException(failure.getTrailers());
  }

  private Projection run(EventBook book, boolean speculative) {
    Cover cover = book.getCover();
    long last;
    synchronized (locks[Math.floorMod(Checkpoints.key(cover).hashCode(), STRIPES)]) {
      last = checkpoints == null ? -1 : checkpoints.lastApplied(cover);
      for (EventPage page : book.getPagesList()) {
        long sequence = Integer.toUnsignedLong(Saga.sequenceOf(page));
        if (!page.getNoCommit() && !page.hasEvent()) {
          throw Rpc.invalid("page " + sequence + " carries no inline event");
        }
        if (checkpoints != null && sequence <= last) {
          continue; // applied before, says the read model's store
        }
        if (speculative) {
          Handler handler = page.getNoCommit() ? null : handlers.get(TypeUrls.typeName(page.getEvent()));
          if (handler != null) {
            // Decode only: a malformed payload fails the speculative call as it would the real one.
            Rpc.decode(handler.prototype(), page.getEvent(), "event");
          }
          continue;
        }
        if (!page.getNoCommit()) {
          apply(page, cover, (int) sequence);
        }
        if (checkpoints != null) {
          checkpoints.applied(cover, sequence);
        }
        last = sequence;
      }
    }
    Projection.Builder out = Projection.newBuilder().setCover(cover).setProjector(name);
    if (book.getPagesCount() > 0) {
      out.setSequence(book.getPages(book.getPagesCount() - 1).getHeader().getSequence());
    } else if (last >= 0) {
      out.setSequence((int) last);
    }
    if (view != null) {
      Message current;
      try {
        current = view.apply(cover);
      } catch (StatusRuntimeException status) {
        throw status;
      } catch (RuntimeException | LinkageError | AssertionError | StackOverflowError e) {
        throw Rpc.internal("projector `" + name + "`: the view failed: " + e, e);
      }
      if (current != null) {
        out.setProjection(TypeUrls.pack(current));
      }
    }
    return out.build();
  }

  private void apply(EventPage page, Cover cover, int sequence) {
    String type = TypeUrls.typeName(page.getEvent());
    Handler handler = handlers.get(type);
    if (handler == null) {
      return;
    }
    try {
      handler.apply().apply(page.getEvent(), cover, sequence);
    } catch (StatusRuntimeException status) {
      throw status;
    } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
      throw Rpc.internal("projector `" + name + "` failed on " + type + " at sequence "
          + Integer.toUnsignedString(sequence) + ": " + e, e);
    }
  }

  @Override
  public String toString() {
    return "Projector[" + name + (sources.isEmpty() ? "" : ", from " + sources) + ", events " + handlers.keySet() + "]";
  }
}
