package dev.angzarr.client;

import com.google.protobuf.Message;

/**
 * A {@link ProcessManager}'s reaction to one trigger event type.
 *
 * @param <E> the trigger event type
 * @param <S> the process state type
 */
@FunctionalInterface
public interface ProcessHandler<E extends Message, S extends Message> {
  /**
   * @param event the trigger event
   * @param state the process's state, with the reactions to earlier pages of the same trigger applied
   * @param trigger the emitting aggregate's cover, the event's sequence, the destinations' next sequences
   * @return the reaction; {@link Reaction#none()} for none
   * @throws Exception reported as gRPC {@code INTERNAL} (the coordinator retries with backoff)
   */
  Reaction handle(E event, S state, Trigger trigger) throws Exception;
}
