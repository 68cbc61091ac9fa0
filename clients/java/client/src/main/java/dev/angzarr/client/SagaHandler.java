package dev.angzarr.client;

import com.google.protobuf.Message;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.Cover;
import java.util.List;

/**
 * A saga's reaction to one event type: the commands it issues to other aggregates (often none).
 *
 * <p>Write it as a pure function of the event where possible. The coordinator produces the
 * returned commands exactly once, but it may call the saga again with the same event when it
 * crashed between the call and its commit: a side effect (a call to another system) must be
 * idempotent, e.g. keyed by {@code cover.root} + {@code sequence}.
 *
 * @param <E> the event message type
 */
@FunctionalInterface
public interface SagaHandler<E extends Message> {
  /**
   * @param event the event
   * @param cover the source stream: its domain, root and correlation id
   * @param sequence the event's sequence in that stream
   * @return the commands to issue, each made with {@link Commands#to}; an empty list for none
   * @throws Exception reported as gRPC {@code INTERNAL}: the coordinator retries with backoff
   */
  List<CommandBook> handle(E event, Cover cover, int sequence) throws Exception;
}
