package dev.angzarr.client;

import com.google.protobuf.Message;

/**
 * A {@link CommandHandler} that always emits exactly one event.
 *
 * @param <C> the command message type
 * @param <S> the aggregate's state type
 */
@FunctionalInterface
public interface SingleEventHandler<C extends Message, S extends Message> {
  /**
   * @return the one new event (never null)
   * @throws CommandRejectedException when business rules refuse the command
   * @throws Exception anything else is reported as gRPC {@code INTERNAL}
   */
  Message handle(C command, S state, int nextSequence) throws Exception;
}
