package dev.angzarr.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandHandlerCoordinatorServiceGrpc;
import dev.angzarr.proto.CommandRequest;
import dev.angzarr.proto.CommandResponse;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The gateway client against a fake gateway on 127.0.0.1, on a port the system picks. */
class GatewayTest {
  static final Metadata.Key<String> REQUEST_ID =
      Metadata.Key.of(Gateway.REQUEST_ID_HEADER, Metadata.ASCII_STRING_MARSHALLER);
  static final Context.Key<String> CALL_ID = Context.key("angzarr-request-id");
  static final Gateway.Retry FAST = new Gateway.Retry(5, Duration.ofMillis(5), Duration.ofMillis(20));

  record Call(String domain, String requestId) {}

  /**
   * Answers by {@code command.cover.domain}: "flaky" = the first call of a request id is an unknown
   * outcome (DEADLINE_EXCEEDED + {@code angzarr-outcome: unknown}), then success; "slow" = plain
   * DEADLINE_EXCEEDED first; "down" = UNAVAILABLE first; "reject" = always FAILED_PRECONDITION;
   * "broken" = always INTERNAL; anything else = success (the response echoes the cover).
   */
  static final class FakeGateway extends CommandHandlerCoordinatorServiceGrpc.CommandHandlerCoordinatorServiceImplBase {
    final List<Call> calls = new ArrayList<>();

    synchronized List<String> ids(String domain) {
      return calls.stream().filter(c -> c.domain().equals(domain)).map(Call::requestId).toList();
    }

    @Override
    public void handleCommand(CommandRequest request, StreamObserver<CommandResponse> response) {
      String domain = request.getCommand().getCover().getDomain();
      String id = CALL_ID.get();
      boolean first;
      synchronized (this) {
        first = calls.stream().noneMatch(c -> c.domain().equals(domain) && c.requestId().equals(id));
        calls.add(new Call(domain, id));
      }
      Status failure = null;
      Metadata trailers = new Metadata();
      if (domain.equals("reject")) {
        failure = Status.FAILED_PRECONDITION.withDescription("insufficient funds");
      } else if (domain.equals("broken")) {
        failure = Status.INTERNAL.withDescription("boom");
      } else if (first && domain.equals("flaky")) {
        trailers.put(Metadata.Key.of(Gateway.OUTCOME_HEADER, Metadata.ASCII_STRING_MARSHALLER), "unknown");
        failure = Status.DEADLINE_EXCEEDED.withDescription("outcome unknown: no decision within 5s");
      } else if (first && domain.equals("slow")) {
        failure = Status.DEADLINE_EXCEEDED.withDescription("no decision within 5s");
      } else if (first && domain.equals("down")) {
        failure = Status.UNAVAILABLE.withDescription("log unavailable");
      }
      if (failure != null) {
        response.onError(failure.asRuntimeException(trailers));
        return;
      }
      response.onNext(
          CommandResponse.newBuilder()
              .setEvents(EventBook.newBuilder().setCover(request.getCommand().getCover()))
              .build());
      response.onCompleted();
    }
  }

  FakeGateway fake;
  Server server;
  Gateway gateway;

  @BeforeEach
  void start() throws Exception {
    fake = new FakeGateway();
    io.grpc.ServerInterceptor recordId =
        new io.grpc.ServerInterceptor() {
          @Override
          public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(
              io.grpc.ServerCall<Q, R> call, Metadata headers, io.grpc.ServerCallHandler<Q, R> next) {
            String id = headers.get(REQUEST_ID);
            return Contexts.interceptCall(Context.current().withValue(CALL_ID, id == null ? "" : id), call, headers, next);
          }
        };
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(ServerInterceptors.intercept(fake, recordId))
            .build()
            .start();
    gateway = Gateway.connect("127.0.0.1:" + server.getPort()).withTimeout(Duration.ofSeconds(10));
  }

  @AfterEach
  void stop() throws Exception {
    gateway.close();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  static CommandRequest to(String domain) {
    return CommandRequest.newBuilder()
        .setCommand(CommandBook.newBuilder().setCover(Cover.newBuilder().setDomain(domain)))
        .build();
  }

  @Test
  void unknownOutcomeIsRetriedWithTheSameId() {
    CommandResponse response = gateway.sendWithRetry(to("flaky"), null, FAST);
    assertEquals("flaky", response.getEvents().getCover().getDomain());
    List<String> ids = fake.ids("flaky");
    assertEquals(2, ids.size());
    assertEquals(ids.get(0), ids.get(1));
    assertFalse(ids.get(0).isEmpty());
  }

  @Test
  void sendReportsAnUnknownOutcomeWithTheIdToRetry() {
    var e = assertThrows(Gateway.OutcomeUnknownException.class, () -> gateway.send(to("flaky"), "order-42"));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.code());
    assertTrue(e.description().startsWith("outcome unknown"), e.description());
    assertEquals("order-42", e.requestId());
    assertTrue(e.retryable());
    assertEquals("flaky", gateway.send(to("flaky"), e.requestId()).getEvents().getCover().getDomain());
    assertEquals(List.of("order-42", "order-42"), fake.ids("flaky"));
  }

  @Test
  void plainDeadlineExceededIsUnknownAndRetried() {
    assertThrows(Gateway.OutcomeUnknownException.class, () -> gateway.send(to("slow"), "slow-1"));
    gateway.sendWithRetry(to("slow"), "slow-2", FAST);
    assertEquals(List.of("slow-1", "slow-2", "slow-2"), fake.ids("slow"));
  }

  @Test
  void unavailableIsRetriedWithTheSameId() {
    gateway.sendWithRetry(to("down"), "down-1", FAST);
    assertEquals(List.of("down-1", "down-1"), fake.ids("down"));
  }

  @Test
  void aRejectionIsNotRetried() {
    var e = assertThrows(Gateway.RejectedException.class, () -> gateway.sendWithRetry(to("reject"), null, FAST));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.code());
    assertEquals("insufficient funds", e.description());
    assertFalse(e.retryable());
    assertEquals(1, fake.ids("reject").size());
  }

  @Test
  void otherErrorsAreNotRetried() {
    var e = assertThrows(Gateway.TransportException.class, () -> gateway.sendWithRetry(to("broken"), null, FAST));
    assertEquals(Status.Code.INTERNAL, e.code());
    assertFalse(e.retryable());
    assertEquals(1, fake.ids("broken").size());
  }

  @Test
  void attemptsRunOutWithTheLastError() {
    var e =
        assertThrows(
            Gateway.OutcomeUnknownException.class,
            () -> gateway.sendWithRetry(to("flaky"), "once-only", new Gateway.Retry(1, Duration.ZERO, Duration.ZERO)));
    assertEquals("once-only", e.requestId());
    assertEquals(1, fake.ids("flaky").size());
  }

  @Test
  void anExplicitRequestIdIsPassedThrough() {
    gateway.send(to("echo"), "client-chosen:42");
    assertEquals(List.of("client-chosen:42"), fake.ids("echo"));
  }

  @Test
  void generatedIdsDiffer() {
    gateway.send(to("echo"));
    gateway.send(to("echo"));
    List<String> ids = fake.ids("echo");
    assertEquals(2, ids.size());
    assertNotEquals(ids.get(0), ids.get(1));
    assertEquals(4, UUID.fromString(ids.get(0)).version());
    assertEquals(4, UUID.fromString(ids.get(1)).version());
  }

  @Test
  void badRequestIdsAreRefusedBeforeSending() {
    for (String bad : List.of("", "x".repeat(129), "naïve", "line\nbreak")) {
      assertThrows(IllegalArgumentException.class, () -> gateway.send(to("echo"), bad), bad);
    }
    assertEquals(List.of(), fake.ids("echo"));
  }

  @Test
  void anUnreachableGatewayIsARetryableTransportError() {
    try (Gateway down = Gateway.connect("127.0.0.1:1").withTimeout(Duration.ofSeconds(5))) {
      var e =
          assertThrows(
              Gateway.TransportException.class,
              () -> down.sendWithRetry(to("x"), null, new Gateway.Retry(2, Duration.ofMillis(5), Duration.ofMillis(5))));
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      assertTrue(e.retryable());
    }
  }
}
