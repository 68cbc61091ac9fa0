package dev.angzarr.examples.poker.payment;

import static dev.angzarr.examples.poker.payment.Fixtures.ADA;
import static dev.angzarr.examples.poker.payment.Fixtures.player;
import static dev.angzarr.examples.poker.payment.Fixtures.usd;
import static dev.angzarr.examples.poker.payment.Fixtures.withdrawn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.angzarr.client.AngzarrServer;
import dev.angzarr.client.Commands;
import dev.angzarr.client.Uuids;
import dev.angzarr.client.testing.EventBooks;
import dev.angzarr.examples.DepositFunds;
import dev.angzarr.proto.SagaHandleRequest;
import dev.angzarr.proto.SagaResponse;
import dev.angzarr.proto.SagaServiceGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** angzarr.SagaService over a real gRPC server on 127.0.0.1 (port 0), in this process. */
class PaymentSagaServerTest {
  LegacyBank bank;
  AngzarrServer server;
  ManagedChannel channel;
  SagaServiceGrpc.SagaServiceBlockingStub stub;

  @BeforeEach
  void start() throws Exception {
    bank = LegacyBank.start();
    server = AngzarrServer.start("127.0.0.1:0", PaymentGatewaySaga.saga(new BankClient(bank.url())));
    channel = Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create()).build();
    stub = SagaServiceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    bank.close();
  }

  SagaHandleRequest request(int sequence, long amount) {
    return SagaHandleRequest.newBuilder()
        .setSource(EventBooks.of(player(ADA), sequence, withdrawn(amount, 0)))
        .build();
  }

  @Test
  void handleOverTheWire() {
    assertEquals(SagaResponse.getDefaultInstance(), stub.handle(request(0, 100)));
    SagaResponse declined = stub.handle(request(1, 10_001));
    assertEquals(1, declined.getCommandsCount());
    assertEquals("player", declined.getCommands(0).getCover().getDomain());
    assertEquals(Uuids.of(ADA), declined.getCommands(0).getCover().getRoot());
    assertEquals(DepositFunds.newBuilder().setAmount(usd(10_001)).build(),
        Commands.unpack(declined.getCommands(0), DepositFunds.class));
    assertEquals(declined, stub.handle(request(1, 10_001)), "a redelivery gets the same answer");
    assertEquals(1, bank.paid().size());
    assertEquals(2, bank.payouts().size());
  }

  @Test
  void statusesOverTheWire() {
    StatusRuntimeException other = assertThrows(StatusRuntimeException.class, () -> stub.handle(
        SagaHandleRequest.newBuilder().setSource(EventBooks.of(EventBooks.cover("table", ADA), 0, withdrawn(1, 0))).build()));
    assertEquals(Status.Code.NOT_FOUND, other.getStatus().getCode(), "only player events are for this saga");

    bank.close();
    StatusRuntimeException down = assertThrows(StatusRuntimeException.class, () -> stub.handle(request(2, 100)));
    assertEquals(Status.Code.INTERNAL, down.getStatus().getCode());
  }
}
