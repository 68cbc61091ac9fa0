package dev.angzarr.client;

import com.google.protobuf.Int32Value;
import com.google.protobuf.Int64Value;
import com.google.protobuf.StringValue;
import com.google.protobuf.UInt32Value;
import java.util.List;

/**
 * A tiny aggregate over well-known types, for the library's own tests: the state is a total
 * ({@code Int64Value}); {@code Int32Value(n)} adds n ({@code UInt32Value(n)} events); {@code
 * StringValue} commands misbehave on purpose.
 */
final class Counter {
  private Counter() {}

  static Aggregate<Int64Value> aggregate() {
    return Aggregate.of("counter", Int64Value.getDefaultInstance())
        .on(Int32Value.class, Counter::add)
        .onEvents(StringValue.class, (cmd, state, seq) -> misbehave(cmd.getValue()))
        .apply(UInt32Value.class, (state, e) -> Int64Value.of(state.getValue() + e.getValue()));
  }

  static UInt32Value add(Int32Value cmd, Int64Value state, int seq) {
    CommandRejectedException.ensure(cmd.getValue() > 0, "amount must be positive");
    return UInt32Value.of(cmd.getValue());
  }

  static List<UInt32Value> misbehave(String what) {
    switch (what) {
      case "twice":
        return List.of(UInt32Value.of(1), UInt32Value.of(2));
      case "nothing":
        return List.of();
      case "boom":
        throw new IllegalStateException("boom");
      case "null":
        return null;
      default:
        throw new CommandRejectedException("unknown instruction " + what);
    }
  }
}
