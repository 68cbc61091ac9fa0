package dev.angzarr.examples.poker.payment;

import dev.angzarr.client.testing.EventBooks;
import dev.angzarr.examples.Currency;
import dev.angzarr.examples.FundsDeposited;
import dev.angzarr.examples.FundsWithdrawn;
import dev.angzarr.proto.Cover;
import java.util.UUID;

/** Players and their money events, as the player aggregate emits them. */
final class Fixtures {
  static final UUID ADA = UUID.fromString("a0a0a0a0-1111-4222-8333-444455556666");
  static final UUID BOB = UUID.fromString("b0b0b0b0-1111-4222-8333-444455556666");

  private Fixtures() {}

  static Cover player(UUID root) {
    return EventBooks.cover("player", root, "corr-" + root.toString().substring(0, 4));
  }

  static Currency usd(long amount) {
    return Currency.newBuilder().setAmount(amount).setCurrencyCode("USD").build();
  }

  static FundsWithdrawn withdrawn(long amount, long newBalance) {
    return FundsWithdrawn.newBuilder().setAmount(usd(amount)).setNewBalance(usd(newBalance)).build();
  }

  static FundsDeposited deposited(long amount, long newBalance) {
    return FundsDeposited.newBuilder().setAmount(usd(amount)).setNewBalance(usd(newBalance)).build();
  }
}
