package dev.angzarr.client;

import dev.angzarr.proto.SagaHandleRequest;
import dev.angzarr.proto.SagaResponse;
import dev.angzarr.proto.SagaServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.logging.Logger;

/**
 * {@code angzarr.SagaService} for one saga, or several routed by the source book's domain (each
 * then declares its domains with {@link Saga#from}). Every failure becomes a gRPC status.
 *
 * <p>Use {@link AngzarrServer} to serve it, or add it to a server of your own.
 */
public final class SagaService extends SagaServiceGrpc.SagaServiceImplBase {
  private static final Logger LOG = Logger.getLogger(SagaService.class.getName());

  private final DomainRouter<Saga> router;

  /** A service hosting {@code sagas}. */
  public SagaService(List<Saga> sagas) {
    this.router = new DomainRouter<>("saga", sagas, Saga::sources);
  }

  /** The names of the sagas served. */
  public List<String> names() {
    return router.names();
  }

  @Override
  public void handle(SagaHandleRequest request, StreamObserver<SagaResponse> responses) {
    Rpc.respond(LOG, "saga", responses, () -> {
      if (!request.hasSource()) {
        throw Rpc.invalid("no source event book");
      }
      return router.route(request.getSource().getCover().getDomain()).handle(request);
    });
  }
}
