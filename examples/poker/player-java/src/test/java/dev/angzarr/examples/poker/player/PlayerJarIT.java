package dev.angzarr.examples.poker.player;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.angzarr.examples.Currency;
import dev.angzarr.examples.DepositFunds;
import dev.angzarr.examples.FundsDeposited;
import dev.angzarr.examples.RegisterPlayer;
import dev.angzarr.proto.BusinessResponse;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandHandlerServiceGrpc;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.ContextualCommand;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.PageHeader;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The packaged service as a user runs it: {@code java -jar target/player-java.jar --listen
 * 127.0.0.1:0}, then commands over gRPC. Run by Failsafe after the jar is built.
 */
class PlayerJarIT {
  @Test
  void theRunnableJarServesThePlayer() throws Exception {
    File jar = new File("target/player-java.jar");
    assertTrue(jar.isFile(), "no " + jar.getAbsolutePath());
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    Process process = new ProcessBuilder(java, "-jar", jar.getPath(), "--listen", "127.0.0.1:0")
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      String line = CompletableFuture.supplyAsync(() -> {
        try {
          return out.readLine();
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }).get(60, TimeUnit.SECONDS);
      assertNotNull(line, "the service exited before serving");
      assertTrue(line.startsWith("player-java: serving domain player on 127.0.0.1:"), line);
      int port = Integer.parseInt(line.substring(line.lastIndexOf(':') + 1).trim());

      ManagedChannel channel =
          Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create()).build();
      try {
        var stub = CommandHandlerServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        Cover cover = Cover.newBuilder().setDomain("player").build();
        BusinessResponse registered = stub.handle(request(cover, EventBook.newBuilder().setCover(cover).build(),
            RegisterPlayer.newBuilder().setDisplayName("Ada").setEmail("ada@example.com").build()));
        assertEquals(1, registered.getEvents().getPagesCount());

        EventBook history = EventBook.newBuilder()
            .setCover(cover)
            .addAllPages(registered.getEvents().getPagesList())
            .setNextSequence(1)
            .build();
        Currency usd = Currency.newBuilder().setAmount(100).setCurrencyCode("USD").build();
        BusinessResponse deposited = stub.handle(request(cover, history, DepositFunds.newBuilder().setAmount(usd).build()));
        assertEquals(1, deposited.getEvents().getPages(0).getHeader().getSequence());
        assertEquals(Any.pack(FundsDeposited.newBuilder().setAmount(usd).setNewBalance(usd).build()),
            deposited.getEvents().getPages(0).getEvent());

        StatusRuntimeException rejected = assertThrows(StatusRuntimeException.class, () -> stub.handle(
            request(cover, EventBook.newBuilder().setCover(cover).build(), DepositFunds.newBuilder().setAmount(usd).build())));
        assertEquals(Status.Code.FAILED_PRECONDITION, rejected.getStatus().getCode());
        assertEquals("player does not exist", rejected.getStatus().getDescription());
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } finally {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  private static ContextualCommand request(Cover cover, EventBook history, Message command) {
    return ContextualCommand.newBuilder()
        .setEvents(history)
        .setCommand(CommandBook.newBuilder()
            .setCover(cover)
            .addPages(CommandPage.newBuilder()
                .setHeader(PageHeader.newBuilder().setSequence(history.getPagesCount()))
                .setCommand(Any.pack(command))))
        .build();
  }
}
