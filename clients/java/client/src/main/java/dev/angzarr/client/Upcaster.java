package dev.angzarr.client;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.UpcastRequest;
import dev.angzarr.proto.UpcastResponse;
import io.grpc.StatusRuntimeException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * An upcaster: old event shapes in, current shapes out, on read; the log itself is never
 * rewritten. Event types it does not map pass through unchanged.
 *
 * <pre>{@code
 * Upcaster player = Upcaster.named("player")
 *     .map(PlayerRegisteredV1.class, old -> PlayerRegistered.newBuilder()
 *         .setDisplayName(old.getName()).setEmail(old.getEmail()).build());
 * }</pre>
 *
 * <p>{@link #upcast} is the whole {@code UpcasterService.Upcast} contract without any network.
 * Registration is immutable: {@link #map} returns a new upcaster.
 */
public final class Upcaster implements Component {
  private final String name;
  private final Map<String, Function<Any, Any>> maps;

  private Upcaster(String name, Map<String, Function<Any, Any>> maps) {
    this.name = name;
    this.maps = Collections.unmodifiableMap(maps);
  }

  /** An upcaster called {@code name} (e.g. the domain it serves) that changes nothing yet. */
  public static Upcaster named(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("name must not be empty");
    }
    return new Upcaster(name, new LinkedHashMap<>());
  }

  /** The upcaster's name. */
  @Override
  public String name() {
    return name;
  }

  /** {@code "upcaster"}. */
  @Override
  public String componentType() {
    return "upcaster";
  }

  /** The full proto names of the old event types it rewrites. */
  public Set<String> eventTypes() {
    return maps.keySet();
  }

  /**
   * Rewrites events of type {@code O} with {@code f} (usually into a newer type).
   *
   * @return a new upcaster with the mapping added
   */
  public <O extends Message> Upcaster map(Class<O> oldType, Function<? super O, ? extends Message> f) {
    Objects.requireNonNull(f, "f");
    O prototype = TypeUrls.defaultInstance(oldType);
    String type = prototype.getDescriptorForType().getFullName();
    if (maps.containsKey(type)) {
      throw new IllegalStateException("a mapping for " + type + " is already registered");
    }
    Function<Any, Any> erased = any -> {
      O old = Rpc.decode(prototype, any, "event");
      Message current;
      try {
        current = f.apply(old);
      } catch (StatusRuntimeException status) {
        throw status;
      } catch (RuntimeException | LinkageError | AssertionError | StackOverflowError e) {
        throw Rpc.internal("upcaster `" + name + "`: mapping " + type + " failed: " + e, e);
      }
      if (current == null) {
        throw Rpc.internal("upcaster `" + name + "`: mapping " + type + " returned null", null);
      }
      return TypeUrls.pack(current);
    };
    Map<String, Function<Any, Any>> more = new LinkedHashMap<>(maps);
    more.put(type, erased);
    return new Upcaster(name, more);
  }

  /**
   * {@code UpcasterService.Upcast}: one event out per event in, in order; a page whose event type
   * has a mapping gets the mapped event (header and everything else kept), the others are returned
   * as they came.
   *
   * @throws StatusRuntimeException {@code INVALID_ARGUMENT} when an old event's payload is
   *     malformed; {@code INTERNAL} when a mapping throws or returns null
   */
  public UpcastResponse upcast(UpcastRequest request) {
    UpcastResponse.Builder out = UpcastResponse.newBuilder();
    for (EventPage page : request.getEventsList()) {
      Function<Any, Any> f = page.hasEvent() ? maps.get(TypeUrls.typeName(page.getEvent())) : null;
      out.addEvents(f == null ? page : page.toBuilder().setEvent(f.apply(page.getEvent())).build());
    }
    return out.build();
  }

  @Override
  public String toString() {
    return "Upcaster[" + name + ", maps " + maps.keySet() + "]";
  }
}
