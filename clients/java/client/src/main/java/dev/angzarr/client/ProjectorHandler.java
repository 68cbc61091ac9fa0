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
   * Called once per event and stream, in sequence order: pages at or below the stream's last
   * applied sequence (see {@link Checkpoints}) are skipped, so redeliveries do not apply twice.
   *
   * @param event the event
   * @param cover the stream it belongs to: domain, root, correlation id
   * @param sequence the event's sequence in that stream
   * @throws Exception reported as gRPC {@code INTERNAL}; the pages before it stay applied
   */
  void handle(E event, Cover cover, int sequence) throws Exception;
}
