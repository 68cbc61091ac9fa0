package dev.angzarr.client;

import com.google.protobuf.Message;

/**
 * Folds one event type into the state. Protobuf messages are immutable: return the new state,
 * e.g. {@code state.toBuilder().setBankroll(event.getNewBalance()).build()}.
 *
 * @param <S> the aggregate's state type
 * @param <E> the event message type
 */
@FunctionalInterface
public interface Applier<S extends Message, E extends Message> {
  S apply(S state, E event);
}
