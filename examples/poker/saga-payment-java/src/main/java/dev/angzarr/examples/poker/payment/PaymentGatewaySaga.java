package dev.angzarr.examples.poker.payment;

import dev.angzarr.client.Commands;
import dev.angzarr.client.Saga;
import dev.angzarr.client.Uuids;
import dev.angzarr.examples.Currency;
import dev.angzarr.examples.DepositFunds;
import dev.angzarr.examples.FundsDeposited;
import dev.angzarr.examples.FundsWithdrawn;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.Cover;
import java.io.IOException;
import java.util.List;
import java.util.Objects;
import java.util.logging.Logger;

/**
 * The payment-gateway saga: money withdrawn from a player's bankroll is paid out through the
 * (legacy) bank; a payout the bank declines is refunded to the player.
 *
 * <ul>
 *   <li>{@code examples.FundsWithdrawn} → {@code POST /legacy/payout}. Approved: nothing to do.
 *       Declined: one compensating {@code examples.DepositFunds} of the same amount to the same
 *       player ({@code player} domain, same root).
 *   <li>{@code examples.FundsDeposited} → {@code POST /legacy/deposit-confirm}, logged; no
 *       command.
 * </ul>
 *
 * <p>Both calls carry the event's root and sequence as the idempotency key ({@code TXN_REF}), so
 * a redelivered event (the coordinator crashed between the call and its commit) or a retry after
 * a failed call pays nothing twice, and the bank replays its first decision: the saga's answer to
 * an event is always the same. A bank that cannot be reached, or answers with anything but a
 * decision, fails the call ({@code INTERNAL}) and the coordinator retries with backoff.
 */
public final class PaymentGatewaySaga {
  private static final Logger LOG = Logger.getLogger(PaymentGatewaySaga.class.getName());

  /** The saga's name. */
  public static final String NAME = "payment-gateway";

  /** The domain it listens to and sends refunds to. */
  public static final String PLAYER = "player";

  private final BankClient bank;

  private PaymentGatewaySaga(BankClient bank) {
    this.bank = Objects.requireNonNull(bank, "bank");
  }

  /** The saga, talking to {@code bank}. */
  public static Saga saga(BankClient bank) {
    PaymentGatewaySaga saga = new PaymentGatewaySaga(bank);
    return Saga.named(NAME)
        .from(PLAYER)
        .on(FundsWithdrawn.class, saga::onFundsWithdrawn)
        .on(FundsDeposited.class, saga::onFundsDeposited);
  }

  /** Pays the withdrawal out; refunds it when the bank declines. */
  List<CommandBook> onFundsWithdrawn(FundsWithdrawn event, Cover cover, int sequence) throws IOException {
    Currency amount = event.getAmount();
    String ref = idempotencyKey(cover, sequence);
    if (amount.getAmount() <= 0) {
      // The player aggregate never emits this; nothing to pay, nothing to refund.
      LOG.warning(() -> "payout " + ref + ": no positive amount, ignored");
      return List.of();
    }
    BankClient.Reply reply = bank.payout(ref, account(cover), amount.getAmount(), amount.getCurrencyCode());
    if (reply.approved()) {
      LOG.info(() -> "payout " + ref + " of " + show(amount) + " approved, auth " + reply.authId()
          + (reply.duplicate() ? " (already paid)" : ""));
      return List.of();
    }
    LOG.info(() -> "payout " + ref + " of " + show(amount) + " declined (" + reply.code() + " " + reply.text()
        + "): refunding the player");
    return List.of(refund(cover, amount));
  }

  /** Tells the bank about the deposit; no command. */
  List<CommandBook> onFundsDeposited(FundsDeposited event, Cover cover, int sequence) throws IOException {
    Currency amount = event.getAmount();
    String ref = idempotencyKey(cover, sequence);
    BankClient.Reply reply = bank.confirmDeposit(ref, account(cover), amount.getAmount(), amount.getCurrencyCode());
    LOG.info(() -> "deposit " + ref + " of " + show(amount) + " confirmed to the bank: " + reply.code() + " "
        + reply.text() + (reply.duplicate() ? " (already confirmed)" : ""));
    return List.of();
  }

  /** The compensation: the same amount back into the same player's bankroll. */
  static CommandBook refund(Cover cover, Currency amount) {
    return Commands.to(PLAYER, cover.getRoot(), DepositFunds.newBuilder().setAmount(amount).build());
  }

  /**
   * The idempotency key of the event at {@code sequence} of the stream of {@code cover}: {@code
   * <root uuid>:<sequence>}, plus {@code @<edition>} off the main timeline.
   */
  public static String idempotencyKey(Cover cover, int sequence) {
    String edition = cover.getEdition().getName();
    return account(cover) + ":" + Integer.toUnsignedString(sequence) + (edition.isEmpty() ? "" : "@" + edition);
  }

  /** The bank account of a player: its root. */
  static String account(Cover cover) {
    return Uuids.toString(cover.getRoot());
  }

  private static String show(Currency amount) {
    return amount.getAmount() + (amount.getCurrencyCode().isEmpty() ? "" : " " + amount.getCurrencyCode());
  }
}
