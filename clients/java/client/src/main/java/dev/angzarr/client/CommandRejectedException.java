package dev.angzarr.client;

import java.util.function.Supplier;

/**
 * A command refused by business rules. It reaches the caller as gRPC {@code FAILED_PRECONDITION}
 * with {@link #getMessage()} as the description, and nothing is written.
 *
 * <pre>{@code
 * CommandRejectedException.ensure(amount > 0, "amount must be positive");
 * }</pre>
 */
public class CommandRejectedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** A rejection with a reason the caller will read. */
  public CommandRejectedException(String reason) {
    super(reason);
  }

  /** The reason, exactly as the caller receives it. */
  public String reason() {
    return getMessage();
  }

  /** Rejects with {@code reason} unless {@code condition} holds. */
  public static void ensure(boolean condition, String reason) {
    if (!condition) {
      throw new CommandRejectedException(reason);
    }
  }

  /** Rejects with the supplied reason unless {@code condition} holds (the reason is built only then). */
  public static void ensure(boolean condition, Supplier<String> reason) {
    if (!condition) {
      throw new CommandRejectedException(reason.get());
    }
  }
}
