package dev.angzarr.client;

import dev.angzarr.proto.ProcessManagerHandleRequest;
import dev.angzarr.proto.ProcessManagerHandleResponse;
import dev.angzarr.proto.ProcessManagerPrepareRequest;
import dev.angzarr.proto.ProcessManagerPrepareResponse;
import dev.angzarr.proto.ProcessManagerServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.util.Objects;
import java.util.logging.Logger;

/**
 * {@code angzarr.ProcessManagerService} for one process manager (the contract names none, so a
 * server hosts at most one). Every failure becomes a gRPC status.
 *
 * <p>Use {@link AngzarrServer} to serve it, or add it to a server of your own.
 */
public final class ProcessManagerService extends ProcessManagerServiceGrpc.ProcessManagerServiceImplBase {
  private static final Logger LOG = Logger.getLogger(ProcessManagerService.class.getName());

  private final ProcessManager<?> pm;

  /** A service hosting {@code pm}. */
  public ProcessManagerService(ProcessManager<?> pm) {
    this.pm = Objects.requireNonNull(pm, "pm");
  }

  /** The name of the process manager served. */
  public String name() {
    return pm.name();
  }

  @Override
  public void prepare(ProcessManagerPrepareRequest request, StreamObserver<ProcessManagerPrepareResponse> responses) {
    Rpc.respond(LOG, "process manager prepare", responses, () -> pm.prepare(request));
  }

  @Override
  public void handle(ProcessManagerHandleRequest request, StreamObserver<ProcessManagerHandleResponse> responses) {
    Rpc.respond(LOG, "process manager", responses, () -> pm.handle(request));
  }
}
