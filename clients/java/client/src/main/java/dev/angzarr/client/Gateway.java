package dev.angzarr.client;

import dev.angzarr.proto.CommandHandlerCoordinatorServiceGrpc;
import dev.angzarr.proto.CommandRequest;
import dev.angzarr.proto.CommandResponse;
import io.grpc.Channel;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Sends commands to the gateway ({@code angzarr.CommandHandlerCoordinatorService}).
 *
 * <p>Why a client at all: a command sent over a network can fail <em>after</em> it was committed,
 * and a blind retry would run it twice. The gateway's answer is an idempotency key: every call
 * carries {@code angzarr-request-id} metadata, and within the configured window the partition owner
 * answers a repeated id with the original outcome and writes nothing twice. So {@link #send} always
 * sends an id (a fresh UUIDv4 unless the caller picks one), failures say what to do next ({@link
 * RejectedException}: don't retry; {@link OutcomeUnknownException}: retry with the same id), and
 * {@link #sendWithRetry} does the retrying.
 *
 * <pre>{@code
 * try (Gateway gateway = Gateway.connect("127.0.0.1:1313")) {
 *   CommandResponse response = gateway.sendWithRetry(request);
 * }
 * }</pre>
 */
public final class Gateway implements AutoCloseable {
  /** Request metadata key of the idempotency key. */
  public static final String REQUEST_ID_HEADER = "angzarr-request-id";

  /** Response metadata key the gateway sets to {@code unknown} when it cannot tell whether a command committed. */
  public static final String OUTCOME_HEADER = "angzarr-outcome";

  /** The longest request id the gateway accepts. */
  public static final int MAX_REQUEST_ID_LENGTH = 128;

  private static final Metadata.Key<String> REQUEST_ID_KEY =
      Metadata.Key.of(REQUEST_ID_HEADER, Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> OUTCOME_KEY =
      Metadata.Key.of(OUTCOME_HEADER, Metadata.ASCII_STRING_MARSHALLER);

  /**
   * Codes meaning the command was decided (or refused before it was logged): nothing was written
   * and the same request would get the same answer.
   */
  private static final Set<Status.Code> REJECTIONS =
      EnumSet.of(
          Status.Code.INVALID_ARGUMENT,
          Status.Code.FAILED_PRECONDITION,
          Status.Code.OUT_OF_RANGE,
          Status.Code.NOT_FOUND,
          Status.Code.ALREADY_EXISTS,
          Status.Code.PERMISSION_DENIED,
          Status.Code.UNAUTHENTICATED,
          Status.Code.ABORTED,
          Status.Code.RESOURCE_EXHAUSTED,
          Status.Code.UNIMPLEMENTED);

  /** Bounds of {@link #sendWithRetry}: attempts in all, the first pause, doubled up to {@code maxBackoff}. */
  public record Retry(int attempts, Duration backoff, Duration maxBackoff) {
    /** 5 attempts, 100 ms doubling to at most 5 s. */
    public static final Retry DEFAULT = new Retry(5, Duration.ofMillis(100), Duration.ofSeconds(5));

    public Retry {
      if (attempts < 1) {
        throw new IllegalArgumentException("attempts must be at least 1");
      }
      Objects.requireNonNull(backoff, "backoff");
      Objects.requireNonNull(maxBackoff, "maxBackoff");
    }
  }

  /** A call that failed: its gRPC code, description and the request id it was sent with. */
  public abstract static sealed class GatewayException extends RuntimeException
      permits RejectedException, OutcomeUnknownException, TransportException {
    private static final long serialVersionUID = 1L;
    private final Status.Code code;
    private final String description;
    private final String requestId;

    GatewayException(Status.Code code, String description, String requestId, Throwable cause) {
      super(code + ": " + description + " (request id " + requestId + ")", cause);
      this.code = code;
      this.description = description;
      this.requestId = requestId;
    }

    public Status.Code code() {
      return code;
    }

    /** The status description (the gateway's message). */
    public String description() {
      return description;
    }

    /** The id to retry with. */
    public String requestId() {
      return requestId;
    }

    /** Whether retrying with the same request id is safe and may succeed. */
    public boolean retryable() {
      return false;
    }
  }

  /** The command was refused (business rule, bad request, sequence mismatch...): nothing was written; never retry. */
  public static final class RejectedException extends GatewayException {
    private static final long serialVersionUID = 1L;

    RejectedException(Status.Code code, String description, String requestId, Throwable cause) {
      super(code, description, requestId, cause);
    }
  }

  /**
   * The gateway could not learn whether the command committed ({@code DEADLINE_EXCEEDED}, with or
   * without {@code angzarr-outcome: unknown}). Not a rejection: retry with {@link #requestId()}.
   */
  public static final class OutcomeUnknownException extends GatewayException {
    private static final long serialVersionUID = 1L;

    OutcomeUnknownException(Status.Code code, String description, String requestId, Throwable cause) {
      super(code, description, requestId, cause);
    }

    @Override
    public boolean retryable() {
      return true;
    }
  }

  /** Anything else (unreachable gateway, {@code INTERNAL}...); retryable for {@code UNAVAILABLE}. */
  public static final class TransportException extends GatewayException {
    private static final long serialVersionUID = 1L;

    TransportException(Status.Code code, String description, String requestId, Throwable cause) {
      super(code, description, requestId, cause);
    }

    @Override
    public boolean retryable() {
      return code() == Status.Code.UNAVAILABLE;
    }
  }

  private final CommandHandlerCoordinatorServiceGrpc.CommandHandlerCoordinatorServiceBlockingStub stub;
  private final ManagedChannel owned;
  private final Duration timeout;

  private Gateway(Channel channel, ManagedChannel owned, Duration timeout) {
    this.stub = CommandHandlerCoordinatorServiceGrpc.newBlockingStub(Objects.requireNonNull(channel, "channel"));
    this.owned = owned;
    this.timeout = timeout;
  }

  /** A gateway over an existing channel (the caller shuts it down). */
  public Gateway(Channel channel) {
    this(channel, null, null);
  }

  /** A gateway over a new plaintext channel to {@code target} ({@code host:port}); {@link #close} shuts it down. */
  public static Gateway connect(String target) {
    ManagedChannel channel = Grpc.newChannelBuilder(target, InsecureChannelCredentials.create()).build();
    return new Gateway(channel, channel, null);
  }

  /**
   * The same gateway with a deadline on each attempt (expiry = an unknown outcome). Both share the
   * channel: closing either closes a channel {@link #connect} made.
   */
  public Gateway withTimeout(Duration perAttempt) {
    return new Gateway(stub.getChannel(), owned, perAttempt);
  }

  /** A fresh idempotency key (UUIDv4). */
  public static String newRequestId() {
    return UUID.randomUUID().toString();
  }

  /** {@link #send(CommandRequest, String)} with a new request id. */
  public CommandResponse send(CommandRequest request) {
    return send(request, null);
  }

  /**
   * Sends one command with {@code angzarr-request-id: requestId} (a new UUIDv4 when null).
   *
   * @throws GatewayException when the call fails
   * @throws IllegalArgumentException when {@code requestId} is empty, longer than 128 characters or
   *     not printable ASCII
   */
  public CommandResponse send(CommandRequest request, String requestId) {
    String id = requestId == null ? newRequestId() : checkRequestId(requestId);
    Metadata headers = new Metadata();
    headers.put(REQUEST_ID_KEY, id);
    var call = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    if (timeout != null) {
      call = call.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }
    try {
      return call.handleCommand(request);
    } catch (StatusRuntimeException e) {
      throw classify(e, id);
    }
  }

  /** {@link #sendWithRetry(CommandRequest, String, Retry)} with a new request id and {@link Retry#DEFAULT}. */
  public CommandResponse sendWithRetry(CommandRequest request) {
    return sendWithRetry(request, null, Retry.DEFAULT);
  }

  /**
   * {@link #send}, repeated with the same request id after an unknown outcome or {@code
   * UNAVAILABLE}. Rejections and other errors are thrown at once; when attempts run out the last
   * error is thrown (its {@link GatewayException#requestId()} still lets a later retry find the
   * original outcome). An interrupt during a pause stops retrying and throws the last error.
   */
  public CommandResponse sendWithRetry(CommandRequest request, String requestId, Retry retry) {
    String id = requestId == null ? newRequestId() : requestId;
    Duration delay = retry.backoff();
    for (int attempt = 1; ; attempt++) {
      try {
        return send(request, id);
      } catch (GatewayException e) {
        if (!e.retryable() || attempt >= retry.attempts()) {
          throw e;
        }
        try {
          Thread.sleep(delay.toMillis());
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
        delay = delay.multipliedBy(2);
        if (delay.compareTo(retry.maxBackoff()) > 0) {
          delay = retry.maxBackoff();
        }
      }
    }
  }

  /** The {@link GatewayException} for a failed call. */
  static GatewayException classify(StatusRuntimeException e, String requestId) {
    Status status = e.getStatus();
    String description = status.getDescription() == null ? "" : status.getDescription();
    Metadata trailers = e.getTrailers();
    boolean unknown =
        status.getCode() == Status.Code.DEADLINE_EXCEEDED
            || (trailers != null && "unknown".equals(trailers.get(OUTCOME_KEY)));
    if (unknown) {
      return new OutcomeUnknownException(status.getCode(), description, requestId, e);
    }
    if (REJECTIONS.contains(status.getCode())) {
      return new RejectedException(status.getCode(), description, requestId, e);
    }
    return new TransportException(status.getCode(), description, requestId, e);
  }

  static String checkRequestId(String id) {
    boolean ok = !id.isEmpty() && id.length() <= MAX_REQUEST_ID_LENGTH;
    for (int i = 0; ok && i < id.length(); i++) {
      ok = id.charAt(i) >= ' ' && id.charAt(i) <= '~';
    }
    if (!ok) {
      throw new IllegalArgumentException(
          "request id must be 1.." + MAX_REQUEST_ID_LENGTH + " printable ASCII characters: " + id);
    }
    return id;
  }

  /** Shuts down the channel {@link #connect} made; does nothing for a caller's channel. */
  @Override
  public void close() {
    if (owned != null) {
      owned.shutdown();
      try {
        if (!owned.awaitTermination(5, TimeUnit.SECONDS)) {
          owned.shutdownNow();
        }
      } catch (InterruptedException e) {
        owned.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
  }
}
