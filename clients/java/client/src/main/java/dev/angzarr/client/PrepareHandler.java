package dev.angzarr.client;

import com.google.protobuf.Message;
import dev.angzarr.proto.Cover;
import java.util.List;

/**
 * Names the aggregates whose next sequence a {@link ProcessManager} needs to react to one trigger
 * event type ({@code ProcessManagerService.Prepare}); the coordinator reads them and passes them
 * to the reaction as {@link Trigger#destinations()}.
 *
 * @param <E> the trigger event type
 * @param <S> the process state type
 */
@FunctionalInterface
public interface PrepareHandler<E extends Message, S extends Message> {
  /**
   * @return the covers (domain and root) of the destinations; an empty list for none
   * @throws Exception reported as gRPC {@code INTERNAL}
   */
  List<Cover> prepare(E event, S state) throws Exception;
}
