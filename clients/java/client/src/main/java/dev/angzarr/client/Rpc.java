package dev.angzarr.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/** What the gRPC services and components share: statuses, decoding, answering a call. */
final class Rpc {
  private Rpc() {}

  static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }

  static StatusRuntimeException internal(String message, Throwable cause) {
    return Status.INTERNAL.withDescription(message).withCause(cause).asRuntimeException();
  }

  /** Decodes {@code any} as the prototype's type; a malformed payload is {@code INVALID_ARGUMENT}. */
  @SuppressWarnings("unchecked")
  static <M extends Message> M decode(M prototype, Any any, String what) {
    try {
      return (M) prototype.getParserForType().parseFrom(any.getValue());
    } catch (InvalidProtocolBufferException e) {
      throw invalid("malformed " + what + " " + prototype.getDescriptorForType().getFullName() + ": "
          + e.getMessage());
    }
  }

  /**
   * Answers a unary call with what {@code call} returns, or with the status it fails with;
   * anything else it throws is {@code INTERNAL}. The service never crashes.
   */
  static <T> void respond(Logger log, String what, StreamObserver<T> responses, Supplier<T> call) {
    T reply;
    try {
      reply = call.get();
    } catch (StatusRuntimeException e) {
      Status status = e.getStatus();
      if (status.getCode() == Status.Code.INTERNAL) {
        log.logp(Level.WARNING, log.getName(), what, what + " failed: " + status.getDescription(), status.getCause());
      } else {
        log.logp(Level.FINE, log.getName(), what, what + " not accepted: {0} {1}",
            new Object[] {status.getCode(), status.getDescription()});
      }
      responses.onError(status.asRuntimeException());
      return;
    } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
      log.logp(Level.WARNING, log.getName(), what, what + " failed", e);
      responses.onError(Status.INTERNAL.withDescription(String.valueOf(e)).asRuntimeException());
      return;
    }
    responses.onNext(reply);
    responses.onCompleted();
  }
}
