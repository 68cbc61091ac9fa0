package dev.angzarr.client;

import com.google.protobuf.Message;
import java.util.List;

/**
 * Decides on one command type: the events it causes, in order, or a {@link
 * CommandRejectedException}.
 *
 * @param <C> the command message type
 * @param <S> the aggregate's state type
 */
@FunctionalInterface
public interface CommandHandler<C extends Message, S extends Message> {
  /**
   * @param command the command
   * @param state the state rebuilt from the aggregate's history
   * @param nextSequence the sequence the first new event will get
   * @return the new events (each a message, or an already packed {@link com.google.protobuf.Any});
   *     an empty list when the command changes nothing
   * @throws CommandRejectedException when business rules refuse the command
   * @throws Exception anything else is reported as gRPC {@code INTERNAL}
   */
  List<? extends Message> handle(C command, S state, int nextSequence) throws Exception;
}
