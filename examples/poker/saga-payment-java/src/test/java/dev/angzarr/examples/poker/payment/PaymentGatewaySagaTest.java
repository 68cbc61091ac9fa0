package dev.angzarr.examples.poker.payment;

import static dev.angzarr.examples.poker.payment.Fixtures.ADA;
import static dev.angzarr.examples.poker.payment.Fixtures.BOB;
import static dev.angzarr.examples.poker.payment.Fixtures.deposited;
import static dev.angzarr.examples.poker.payment.Fixtures.player;
import static dev.angzarr.examples.poker.payment.Fixtures.usd;
import static dev.angzarr.examples.poker.payment.Fixtures.withdrawn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import dev.angzarr.client.Commands;
import dev.angzarr.client.Saga;
import dev.angzarr.client.Uuids;
import dev.angzarr.client.testing.EventBooks;
import dev.angzarr.examples.DepositFunds;
import dev.angzarr.examples.FundsReserved;
import dev.angzarr.examples.PlayerRegistered;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.Edition;
import dev.angzarr.proto.SagaHandleRequest;
import dev.angzarr.proto.SagaResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The saga against a real (simulated) legacy bank on 127.0.0.1, without angzarr running. */
class PaymentGatewaySagaTest {
  LegacyBank bank;
  Saga saga;

  @BeforeEach
  void start() throws IOException {
    bank = LegacyBank.start();
    saga = PaymentGatewaySaga.saga(new BankClient(bank.url()));
  }

  @AfterEach
  void stop() {
    bank.close();
  }

  SagaResponse handle(Cover cover, int firstSequence, com.google.protobuf.Message... events) {
    return saga.handle(SagaHandleRequest.newBuilder().setSource(EventBooks.of(cover, firstSequence, events)).build());
  }

  @Test
  void anApprovedPayoutIssuesNoCommand() {
    SagaResponse response = handle(player(ADA), 3, withdrawn(2_500, 7_500));
    assertEquals(0, response.getCommandsCount());
    assertEquals(1, bank.paid().size());
    LegacyBank.Transaction paid = bank.paid().get(0);
    assertEquals(ADA + ":3", paid.ref(), "the idempotency key is root:sequence");
    assertEquals(ADA.toString(), paid.account());
    assertEquals(2_500, paid.amount());
    assertEquals("USD", paid.currency());
  }

  @Test
  void theLimitItselfIsApproved() {
    assertEquals(0, handle(player(ADA), 0, withdrawn(LegacyBank.PAYOUT_LIMIT, 0)).getCommandsCount());
    assertEquals(1, bank.paid().size());
  }

  @Test
  void aDeclinedPayoutIsRefundedToTheSamePlayer() {
    SagaResponse response = handle(player(BOB), 5, withdrawn(25_000, 1_000));
    assertEquals(1, response.getCommandsCount());
    CommandBook refund = response.getCommands(0);
    assertEquals("player", refund.getCover().getDomain());
    assertEquals(Uuids.of(BOB), refund.getCover().getRoot());
    assertEquals(1, refund.getPagesCount());
    assertFalse(refund.getPages(0).hasHeader(), "the coordinator stamps the header");
    assertEquals("type.googleapis.com/examples.DepositFunds", refund.getPages(0).getCommand().getTypeUrl());
    assertEquals(DepositFunds.newBuilder().setAmount(usd(25_000)).build(), Commands.unpack(refund, DepositFunds.class));
    assertTrue(bank.paid().isEmpty(), "nothing was paid");
    assertEquals("61", bank.payouts().get(0).code());
  }

  @Test
  void aRedeliveredWithdrawalIsNotPaidTwice() {
    SagaResponse first = handle(player(ADA), 8, withdrawn(900, 100));
    SagaResponse again = handle(player(ADA), 8, withdrawn(900, 100));
    assertEquals(first, again);
    assertEquals(1, bank.paid().size());
    assertEquals(2, bank.requests(), "the bank was asked twice and paid once");

    // A declined one gets the same refund each time (the coordinator issues it once).
    SagaResponse declined = handle(player(ADA), 9, withdrawn(50_000, 100));
    assertEquals(declined, handle(player(ADA), 9, withdrawn(50_000, 100)));
    assertEquals(1, declined.getCommandsCount());
    assertEquals(2, bank.payouts().size());

    // Another event of the same amount is another payout.
    handle(player(ADA), 10, withdrawn(900, 100));
    assertEquals(2, bank.paid().size());
  }

  @Test
  void aRetryAfterALostAnswerDoesNotPayTwice() throws IOException {
    // The saga's first attempt reached the bank, but the answer never came back (or the
    // coordinator crashed before committing): the bank already holds the payout...
    new BankClient(bank.url()).payout(ADA + ":4", ADA.toString(), 1_200, "USD");
    // ...the redelivery pays nothing more.
    assertEquals(0, handle(player(ADA), 4, withdrawn(1_200, 0)).getCommandsCount());
    assertEquals(1, bank.paid().size());
  }

  @Test
  void depositsAreConfirmedToTheBankWithoutACommand() {
    assertEquals(0, handle(player(ADA), 1, deposited(5_000, 5_000)).getCommandsCount());
    assertEquals(0, handle(player(ADA), 1, deposited(5_000, 5_000)).getCommandsCount());
    assertEquals(1, bank.depositConfirmations().size());
    assertEquals(ADA + ":1", bank.depositConfirmations().get(0).ref());
    assertTrue(bank.paid().isEmpty());
  }

  @Test
  void aBookOfSeveralEvents() {
    SagaResponse response = saga.handle(EventBooks.of(player(ADA), 0,
        PlayerRegistered.newBuilder().setDisplayName("Ada").build(),
        deposited(100_000, 100_000),
        withdrawn(2_000, 98_000),
        FundsReserved.newBuilder().setAmount(usd(1_000)).build(),
        withdrawn(20_000, 78_000),
        withdrawn(30_000, 48_000)));
    assertEquals(2, response.getCommandsCount());
    assertEquals(usd(20_000), Commands.unpack(response.getCommands(0), DepositFunds.class).getAmount());
    assertEquals(usd(30_000), Commands.unpack(response.getCommands(1), DepositFunds.class).getAmount());
    assertEquals(List.of(ADA + ":2", ADA + ":4", ADA + ":5"), bank.payouts().stream().map(LegacyBank.Transaction::ref).toList());
    assertEquals(1, bank.depositConfirmations().size());
  }

  @Test
  void nothingToPayNothingToCall() {
    assertEquals(0, handle(player(ADA), 0, withdrawn(0, 0)).getCommandsCount());
    assertEquals(0, bank.requests());
  }

  @Test
  void anUnreachableBankFailsTheCallSoTheCoordinatorRetries() {
    bank.close();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> handle(player(ADA), 0, withdrawn(10, 0)));
    assertEquals(Status.Code.INTERNAL, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("payment-gateway"), e.getStatus().getDescription());
  }

  @Test
  void idempotencyKeys() {
    assertEquals(ADA + ":7", PaymentGatewaySaga.idempotencyKey(player(ADA), 7));
    assertEquals(ADA + ":4294967295", PaymentGatewaySaga.idempotencyKey(player(ADA), -1));
    Cover v2 = player(ADA).toBuilder().setEdition(Edition.newBuilder().setName("v2")).build();
    assertEquals(ADA + ":7@v2", PaymentGatewaySaga.idempotencyKey(v2, 7));
  }

  @Test
  void itIsThePlayerDomainsPaymentGateway() {
    assertEquals("payment-gateway", saga.name());
    assertEquals(java.util.Set.of("player"), saga.sources());
    assertEquals(java.util.Set.of("examples.FundsWithdrawn", "examples.FundsDeposited"), saga.eventTypes());
    assertEquals(Any.pack(DepositFunds.newBuilder().setAmount(usd(1)).build()),
        PaymentGatewaySaga.refund(player(ADA), usd(1)).getPages(0).getCommand());
  }
}
