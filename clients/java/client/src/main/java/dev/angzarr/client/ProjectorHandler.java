package dev.angzarr.client;

import com.google.protobuf.Message;
import dev.angzarr.proto.Cover;

/**
 * Applies one event type to a read model.
 *
 * @param <E> the event message type
 */
@FunctionalInterface
public interface ProjectorHandler<E extends Message> {
  /**
   * Called for each event delivered, in sequence order per stream. Delivery is at least once (a
   * redelivery, or a replay of the whole stream), so make the read model idempotent: e.g. store
   * {@code sequence} with the row it changes and skip events at or below it.
   *
   * @param event the event
   * @param cover the stream it belongs to: domain, root, correlation id
   * @param sequence the event's sequence in that stream
   * @throws Exception reported as gRPC {@code INTERNAL}; the pages before it stay applied
   */
  void handle(E event, Cover cover, int sequence) throws Exception;
}
