package dev.angzarr.client;

import dev.angzarr.proto.UpcastRequest;
import dev.angzarr.proto.UpcastResponse;
import dev.angzarr.proto.UpcasterServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.util.Objects;
import java.util.logging.Logger;

/**
 * {@code angzarr.UpcasterService} for one upcaster (a server hosts at most one). Every failure
 * becomes a gRPC status.
 *
 * <p>Use {@link AngzarrServer} to serve it, or add it to a server of your own.
 */
public final class UpcasterService extends UpcasterServiceGrpc.UpcasterServiceImplBase {
  private static final Logger LOG = Logger.getLogger(UpcasterService.class.getName());

  private final Upcaster upcaster;

  /** A service hosting {@code upcaster}. */
  public UpcasterService(Upcaster upcaster) {
    this.upcaster = Objects.requireNonNull(upcaster, "upcaster");
  }

  /** The name of the upcaster served. */
  public String name() {
    return upcaster.name();
  }

  @Override
  public void upcast(UpcastRequest request, StreamObserver<UpcastResponse> responses) {
    Rpc.respond(LOG, "upcast", responses, () -> upcaster.upcast(request));
  }
}
