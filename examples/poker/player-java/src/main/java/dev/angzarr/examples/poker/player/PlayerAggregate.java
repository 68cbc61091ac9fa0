package dev.angzarr.examples.poker.player;

import static dev.angzarr.client.CommandRejectedException.ensure;

import com.google.protobuf.ByteString;
import dev.angzarr.client.Aggregate;
import dev.angzarr.client.CommandRejectedException;
import dev.angzarr.examples.Currency;
import dev.angzarr.examples.DepositFunds;
import dev.angzarr.examples.FundsDeposited;
import dev.angzarr.examples.FundsReleased;
import dev.angzarr.examples.FundsReserved;
import dev.angzarr.examples.FundsTransferred;
import dev.angzarr.examples.FundsWithdrawn;
import dev.angzarr.examples.PlayerRegistered;
import dev.angzarr.examples.PlayerState;
import dev.angzarr.examples.RegisterPlayer;
import dev.angzarr.examples.ReleaseFunds;
import dev.angzarr.examples.ReserveFunds;
import dev.angzarr.examples.TransferFunds;
import dev.angzarr.examples.WithdrawFunds;
import java.util.HexFormat;

/**
 * The player aggregate: who plays, and what money they have.
 *
 * <p>Bankroll is everything the player owns; reserved funds are bought into tables and cannot be
 * withdrawn; available = bankroll − reserved. Events carry no wall-clock fields: the coordinator
 * stamps each page's {@code created_at}, and events stay byte-identical whatever language made
 * them. The rules and messages are those of {@code features/README.md} (reference: {@code
 * examples/poker/src/player.rs}).
 */
public final class PlayerAggregate {
  /** The domain name. */
  public static final String DOMAIN = "player";

  private PlayerAggregate() {}

  /** The player aggregate with all its handlers and appliers. */
  public static Aggregate<PlayerState> aggregate() {
    return Aggregate.of(DOMAIN, PlayerState.getDefaultInstance())
        .on(RegisterPlayer.class, PlayerAggregate::handleRegisterPlayer)
        .on(DepositFunds.class, PlayerAggregate::handleDepositFunds)
        .on(WithdrawFunds.class, PlayerAggregate::handleWithdrawFunds)
        .on(ReserveFunds.class, PlayerAggregate::handleReserveFunds)
        .on(ReleaseFunds.class, PlayerAggregate::handleReleaseFunds)
        .on(TransferFunds.class, PlayerAggregate::handleTransferFunds)
        .apply(PlayerRegistered.class, (s, e) -> s.toBuilder()
            .setDisplayName(e.getDisplayName())
            .setEmail(e.getEmail())
            .setPlayerTypeValue(e.getPlayerTypeValue())
            .setAiModelId(e.getAiModelId())
            .setStatus("active")
            .build())
        .apply(FundsDeposited.class, (s, e) -> withBankroll(s, e.hasNewBalance(), e.getNewBalance()))
        .apply(FundsWithdrawn.class, (s, e) -> withBankroll(s, e.hasNewBalance(), e.getNewBalance()))
        .apply(FundsTransferred.class, (s, e) -> withBankroll(s, e.hasNewBalance(), e.getNewBalance()))
        .apply(FundsReserved.class, (s, e) -> withReserved(s, e.hasNewReservedBalance(), e.getNewReservedBalance())
            .toBuilder()
            .putTableReservations(hex(e.getTableRoot()), amount(e.hasAmount(), e.getAmount()))
            .build())
        .apply(FundsReleased.class, (s, e) -> withReserved(s, e.hasNewReservedBalance(), e.getNewReservedBalance())
            .toBuilder()
            .removeTableReservations(hex(e.getTableRoot()))
            .build());
  }

  /** Registers a player, once. */
  public static PlayerRegistered handleRegisterPlayer(RegisterPlayer cmd, PlayerState state, int seq) {
    ensure(!exists(state), "player already exists");
    ensure(!cmd.getDisplayName().isBlank(), "display_name is required");
    ensure(!cmd.getEmail().isBlank(), "email is required");
    return PlayerRegistered.newBuilder()
        .setDisplayName(cmd.getDisplayName())
        .setEmail(cmd.getEmail())
        .setPlayerTypeValue(cmd.getPlayerTypeValue())
        .setAiModelId(cmd.getAiModelId())
        .build();
  }

  /** Adds money to the bankroll. */
  public static FundsDeposited handleDepositFunds(DepositFunds cmd, PlayerState state, int seq) {
    mustExist(state);
    long a = positive(cmd.hasAmount(), cmd.getAmount());
    return FundsDeposited.newBuilder()
        .setAmount(cmd.getAmount())
        .setNewBalance(currency(bankroll(state) + a, cmd.getAmount().getCurrencyCode()))
        .build();
  }

  /** Takes money out; reserved funds are not available. */
  public static FundsWithdrawn handleWithdrawFunds(WithdrawFunds cmd, PlayerState state, int seq) {
    mustExist(state);
    long a = positive(cmd.hasAmount(), cmd.getAmount());
    ensureAvailable(state, a);
    return FundsWithdrawn.newBuilder()
        .setAmount(cmd.getAmount())
        .setNewBalance(currency(bankroll(state) - a, cmd.getAmount().getCurrencyCode()))
        .build();
  }

  /** Buys into a table: moves funds from available to reserved. */
  public static FundsReserved handleReserveFunds(ReserveFunds cmd, PlayerState state, int seq) {
    mustExist(state);
    long a = positive(cmd.hasAmount(), cmd.getAmount());
    ensure(!cmd.getTableRoot().isEmpty(), "table_root is required");
    ensure(!state.containsTableReservations(hex(cmd.getTableRoot())), "funds are already reserved for this table");
    ensureAvailable(state, a);
    long reserved = reserved(state) + a;
    String code = cmd.getAmount().getCurrencyCode();
    return FundsReserved.newBuilder()
        .setAmount(cmd.getAmount())
        .setTableRoot(cmd.getTableRoot())
        .setNewAvailableBalance(currency(bankroll(state) - reserved, code))
        .setNewReservedBalance(currency(reserved, code))
        .build();
  }

  /** Leaves a table: its reservation becomes available again. */
  public static FundsReleased handleReleaseFunds(ReleaseFunds cmd, PlayerState state, int seq) {
    mustExist(state);
    String key = hex(cmd.getTableRoot());
    if (!state.containsTableReservations(key)) {
      throw new CommandRejectedException("no funds are reserved for this table");
    }
    long held = state.getTableReservationsOrThrow(key);
    long reserved = reserved(state) - held;
    String code = state.getBankroll().getCurrencyCode();
    return FundsReleased.newBuilder()
        .setAmount(currency(held, code))
        .setTableRoot(cmd.getTableRoot())
        .setNewAvailableBalance(currency(bankroll(state) - reserved, code))
        .setNewReservedBalance(currency(reserved, code))
        .build();
  }

  /** Credits this player with money from another (e.g. a pot won). */
  public static FundsTransferred handleTransferFunds(TransferFunds cmd, PlayerState state, int seq) {
    mustExist(state);
    long a = positive(cmd.hasAmount(), cmd.getAmount());
    ensure(!cmd.getFromPlayerRoot().isEmpty(), "from_player_root is required");
    return FundsTransferred.newBuilder()
        .setFromPlayerRoot(cmd.getFromPlayerRoot())
        .setAmount(cmd.getAmount())
        .setHandRoot(cmd.getHandRoot())
        .setReason(cmd.getReason())
        .setNewBalance(currency(bankroll(state) + a, cmd.getAmount().getCurrencyCode()))
        .build();
  }

  /** Bankroll minus what is reserved at tables. */
  public static long available(PlayerState state) {
    return bankroll(state) - reserved(state);
  }

  private static boolean exists(PlayerState state) {
    return !state.getStatus().isEmpty();
  }

  private static void mustExist(PlayerState state) {
    ensure(exists(state), "player does not exist");
  }

  private static long positive(boolean present, Currency amount) {
    long a = amount(present, amount);
    ensure(a > 0, "amount must be positive");
    return a;
  }

  private static void ensureAvailable(PlayerState state, long requested) {
    long available = available(state);
    ensure(requested <= available, () -> "insufficient funds: available " + available + ", requested " + requested);
  }

  private static long amount(boolean present, Currency c) {
    return present ? c.getAmount() : 0;
  }

  private static long bankroll(PlayerState state) {
    return amount(state.hasBankroll(), state.getBankroll());
  }

  private static long reserved(PlayerState state) {
    return amount(state.hasReservedFunds(), state.getReservedFunds());
  }

  private static Currency currency(long amount, String code) {
    return Currency.newBuilder().setAmount(amount).setCurrencyCode(code).build();
  }

  private static PlayerState withBankroll(PlayerState s, boolean present, Currency balance) {
    return present ? s.toBuilder().setBankroll(balance).build() : s.toBuilder().clearBankroll().build();
  }

  private static PlayerState withReserved(PlayerState s, boolean present, Currency balance) {
    return present ? s.toBuilder().setReservedFunds(balance).build() : s.toBuilder().clearReservedFunds().build();
  }

  /** The key of a table in {@code PlayerState.table_reservations}: lower-case hex of its root. */
  static String hex(ByteString root) {
    return HexFormat.of().formatHex(root.toByteArray());
  }
}
