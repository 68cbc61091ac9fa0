package dev.angzarr.examples.poker.payment;

import static dev.angzarr.examples.poker.payment.Fixtures.BOB;
import static dev.angzarr.examples.poker.payment.Fixtures.deposited;
import static dev.angzarr.examples.poker.payment.Fixtures.player;
import static dev.angzarr.examples.poker.payment.Fixtures.usd;
import static dev.angzarr.examples.poker.payment.Fixtures.withdrawn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The packaged saga as a user runs it: {@code java -jar target/saga-payment-java.jar --listen
 * 127.0.0.1:0 [--bank-url URL]}, then {@code SagaService.Handle} over gRPC. Run by Failsafe after
 * the jar is built.
 */
class PaymentSagaJarIT {
  /** The lines the jar printed up to its "serving" line, and the port it serves on. */
  record Started(Process process, List<String> lines, int port) {}

  static Started launch(String... extra) throws Exception {
    File jar = new File("target/saga-payment-java.jar");
    assertTrue(jar.isFile(), "no " + jar.getAbsolutePath());
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    List<String> command = new ArrayList<>(List.of(java, "-jar", jar.getPath(), "--listen", "127.0.0.1:0"));
    command.addAll(List.of(extra));
    Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    List<String> lines = CompletableFuture.supplyAsync(() -> {
      List<String> read = new ArrayList<>();
      try {
        String line;
        while ((line = out.readLine()) != null) {
          read.add(line);
          if (line.startsWith("saga-payment-java: serving")) {
            break;
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return read;
    }).get(60, TimeUnit.SECONDS);
    String serving = lines.isEmpty() ? null : lines.get(lines.size() - 1);
    assertNotNull(serving, "the saga exited before serving");
    assertTrue(serving.startsWith("saga-payment-java: serving saga payment-gateway on 127.0.0.1:"), serving);
    String address = serving.substring(0, serving.indexOf(" (bank"));
    int port = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1).trim());
    return new Started(process, lines, port);
  }

  static void stop(Process process) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  static SagaResponse handle(int port, SagaHandleRequest request) throws InterruptedException {
    ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create()).build();
    try {
      return SagaServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).handle(request);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  static SagaHandleRequest request(int firstSequence, com.google.protobuf.Message... events) {
    return SagaHandleRequest.newBuilder().setSource(EventBooks.of(player(BOB), firstSequence, events)).build();
  }

  @Test
  void withItsOwnBank() throws Exception {
    Started saga = launch();
    try {
      assertEquals(2, saga.lines().size(), String.valueOf(saga.lines()));
      assertTrue(saga.lines().get(0).startsWith("saga-payment-java: legacy bank on http://127.0.0.1:"), saga.lines().get(0));

      assertEquals(0, handle(saga.port(), request(0, deposited(50_000, 50_000), withdrawn(3_000, 47_000))).getCommandsCount());
      SagaResponse declined = handle(saga.port(), request(2, withdrawn(40_000, 7_000)));
      assertEquals(1, declined.getCommandsCount());
      assertEquals("player", declined.getCommands(0).getCover().getDomain());
      assertEquals(Uuids.of(BOB), declined.getCommands(0).getCover().getRoot());
      assertEquals(DepositFunds.newBuilder().setAmount(usd(40_000)).build(),
          Commands.unpack(declined.getCommands(0), DepositFunds.class));
    } finally {
      stop(saga.process());
    }
  }

  @Test
  void withTheBankAtBankUrl() throws Exception {
    try (LegacyBank bank = LegacyBank.start()) {
      Started saga = launch("--bank-url", bank.url());
      try {
        assertEquals(1, saga.lines().size(), "no bank of its own: " + saga.lines());
        assertTrue(saga.lines().get(0).endsWith("(bank " + bank.url() + ")"), saga.lines().get(0));
        assertEquals(0, handle(saga.port(), request(7, withdrawn(8_000, 0))).getCommandsCount());
        assertEquals(0, handle(saga.port(), request(7, withdrawn(8_000, 0))).getCommandsCount());
        assertEquals(1, bank.paid().size(), "paid once through the bank it was given");
        assertEquals(BOB + ":7", bank.paid().get(0).ref());
        assertEquals(2, bank.requests());
      } finally {
        stop(saga.process());
      }
    }
  }
}
