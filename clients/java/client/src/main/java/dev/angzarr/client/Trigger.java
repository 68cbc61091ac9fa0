package dev.angzarr.client;

import dev.angzarr.proto.Cover;
import java.util.Map;
import java.util.Objects;

/**
 * What a {@link ProcessManager} reaction knows about its trigger, beyond the event itself.
 *
 * @param cover the cover of the aggregate that emitted the event (domain, root, correlation id)
 * @param sequence the event's sequence in that aggregate
 * @param destinations the next sequence (unsigned) of each aggregate named by the {@code prepare}
 *     functions, by domain ({@code ProcessManagerHandleRequest.destination_sequences})
 */
public record Trigger(Cover cover, int sequence, Map<String, Integer> destinations) {
  public Trigger {
    Objects.requireNonNull(cover, "cover");
    destinations = Map.copyOf(destinations);
  }

  /** The next sequence of the destination of {@code domain}; 0 when it has none (or no events). */
  public int destination(String domain) {
    return destinations.getOrDefault(domain, 0);
  }
}
