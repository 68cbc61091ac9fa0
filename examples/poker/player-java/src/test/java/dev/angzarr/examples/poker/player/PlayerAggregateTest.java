package dev.angzarr.examples.poker.player;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.angzarr.client.testing.Outcome;
import dev.angzarr.client.testing.Scenario;
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
import io.grpc.Status;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The player rules of features/README.md, with the client's given/when/then helper. */
class PlayerAggregateTest {
  static Currency usd(long amount) {
    return Currency.newBuilder().setAmount(amount).setCurrencyCode("USD").build();
  }

  static final PlayerRegistered REGISTERED =
      PlayerRegistered.newBuilder().setDisplayName("Ada").setEmail("ada@example.com").build();
  static final FundsDeposited DEPOSITED_100 =
      FundsDeposited.newBuilder().setAmount(usd(100)).setNewBalance(usd(100)).build();
  static final ByteString TABLE = ByteString.copyFrom(new byte[] {7, 7, 7, 7});

  final Scenario<PlayerState> none = Scenario.of(PlayerAggregate.aggregate());
  final Scenario<PlayerState> funded = none.given(REGISTERED, DEPOSITED_100);

  @Test
  void depositAddsToTheBankroll() {
    funded.when(DepositFunds.newBuilder().setAmount(usd(50)).build())
        .thenEvents(FundsDeposited.newBuilder().setAmount(usd(50)).setNewBalance(usd(150)).build())
        .thenState(s -> assertEquals(usd(150), s.getBankroll()));
  }

  @Test
  void eventsAreByteIdenticalAcrossLanguages() {
    // FundsDeposited { amount: {100, "USD"}, new_balance: {150, "USD"} }, no deposited_at: the
    // exact bytes prost writes in the Rust reference.
    Outcome<PlayerState> out = none.given(REGISTERED)
        .given(FundsDeposited.newBuilder().setAmount(usd(100)).setNewBalance(usd(100)).build())
        .when(DepositFunds.newBuilder().setAmount(usd(50)).build());
    assertEquals("0a070832120355534412080896011203555344",
        HexFormat.of().formatHex(out.events().get(0).getValue().toByteArray()));
    assertEquals("type.googleapis.com/examples.FundsDeposited", out.events().get(0).getTypeUrl());

    Outcome<PlayerState> registered = none.when(RegisterPlayer.newBuilder().setDisplayName("Ada").setEmail("a@b").build());
    assertEquals("0a034164611203614062",
        HexFormat.of().formatHex(registered.events().get(0).getValue().toByteArray()));
  }

  @Test
  void registration() {
    none.when(RegisterPlayer.newBuilder().setDisplayName("Ada").setEmail("ada@example.com").build())
        .thenEvents(REGISTERED)
        .thenState(s -> {
          assertEquals("active", s.getStatus());
          assertEquals("Ada", s.getDisplayName());
          assertFalse(s.hasBankroll());
        });
    none.when(RegisterPlayer.newBuilder().setDisplayName("  ").setEmail("x").build())
        .thenRejected("display_name is required");
    none.when(RegisterPlayer.newBuilder().setDisplayName("Ada").setEmail("").build())
        .thenRejected("email is required");
    assertEquals("player already exists",
        funded.when(RegisterPlayer.newBuilder().setDisplayName("x").setEmail("y").build()).rejection());
  }

  @Test
  void rejections() {
    assertEquals("player does not exist", none.when(DepositFunds.newBuilder().setAmount(usd(5)).build()).rejection());
    assertEquals("amount must be positive", funded.when(DepositFunds.newBuilder().setAmount(usd(0)).build()).rejection());
    assertEquals("amount must be positive", funded.when(DepositFunds.getDefaultInstance()).rejection());
    assertEquals("insufficient funds: available 100, requested 150",
        funded.when(WithdrawFunds.newBuilder().setAmount(usd(150)).build()).rejection());
    assertEquals("table_root is required",
        funded.when(ReserveFunds.newBuilder().setAmount(usd(1)).build()).rejection());
    assertEquals("no funds are reserved for this table",
        funded.when(ReleaseFunds.newBuilder().setTableRoot(TABLE).build()).rejection());
    assertEquals("from_player_root is required",
        funded.when(TransferFunds.newBuilder().setAmount(usd(1)).build()).rejection());
  }

  @Test
  void reservedFundsCannotBeWithdrawnUntilReleased() {
    FundsReserved reserved = funded.when(ReserveFunds.newBuilder().setAmount(usd(80)).setTableRoot(TABLE).build())
        .event(FundsReserved.class);
    assertEquals(FundsReserved.newBuilder()
        .setAmount(usd(80))
        .setTableRoot(TABLE)
        .setNewAvailableBalance(usd(20))
        .setNewReservedBalance(usd(80))
        .build(), reserved);

    Scenario<PlayerState> atTable = funded.given(reserved);
    assertEquals(80L, atTable.state().getTableReservationsOrThrow("07070707"));
    assertEquals("funds are already reserved for this table",
        atTable.when(ReserveFunds.newBuilder().setAmount(usd(1)).setTableRoot(TABLE).build()).rejection());
    assertEquals("insufficient funds: available 20, requested 30",
        atTable.when(WithdrawFunds.newBuilder().setAmount(usd(30)).build()).rejection());

    FundsReleased released = atTable.when(ReleaseFunds.newBuilder().setTableRoot(TABLE).build()).event(FundsReleased.class);
    assertEquals(FundsReleased.newBuilder()
        .setAmount(usd(80))
        .setTableRoot(TABLE)
        .setNewAvailableBalance(usd(100))
        .setNewReservedBalance(usd(0))
        .build(), released);

    Scenario<PlayerState> left = atTable.given(released);
    assertTrue(left.state().getTableReservationsMap().isEmpty());
    left.when(WithdrawFunds.newBuilder().setAmount(usd(100)).build())
        .thenEvents(FundsWithdrawn.newBuilder().setAmount(usd(100)).setNewBalance(usd(0)).build());
  }

  @Test
  void transferCreditsThePlayer() {
    ByteString from = ByteString.copyFrom(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    funded.when(TransferFunds.newBuilder().setFromPlayerRoot(from).setAmount(usd(25)).setReason("pot").build())
        .thenEvents(FundsTransferred.newBuilder()
            .setFromPlayerRoot(from)
            .setAmount(usd(25))
            .setReason("pot")
            .setNewBalance(usd(125))
            .build())
        .thenState(s -> assertEquals(125, s.getBankroll().getAmount()));
  }

  @Test
  void unknownCommandTypeIsInvalidArgument() {
    none.when(PlayerState.getDefaultInstance()).thenFailed(Status.Code.INVALID_ARGUMENT);
  }
}
