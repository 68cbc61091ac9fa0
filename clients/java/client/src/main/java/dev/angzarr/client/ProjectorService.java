package dev.angzarr.client;

import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.Projection;
import dev.angzarr.proto.ProjectorServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.logging.Logger;

/**
 * {@code angzarr.ProjectorService} for one projector, or several routed by the book's domain
 * (each then declares its domains with {@link Projector#from}). Every failure becomes a gRPC
 * status.
 *
 * <p>Use {@link AngzarrServer} to serve it, or add it to a server of your own.
 */
public final class ProjectorService extends ProjectorServiceGrpc.ProjectorServiceImplBase {
  private static final Logger LOG = Logger.getLogger(ProjectorService.class.getName());

  private final DomainRouter<Projector> router;

  /** A service hosting {@code projectors}. */
  public ProjectorService(List<Projector> projectors) {
    this.router = new DomainRouter<>("projector", projectors, Projector::sources);
  }

  /** The names of the projectors served. */
  public List<String> names() {
    return router.names();
  }

  @Override
  public void handle(EventBook request, StreamObserver<Projection> responses) {
    Rpc.respond(LOG, "projection", responses, () -> router.route(request.getCover().getDomain()).handle(request));
  }

  @Override
  public void handleSpeculative(EventBook request, StreamObserver<Projection> responses) {
    Rpc.respond(LOG, "speculative projection", responses,
        () -> router.route(request.getCover().getDomain()).handleSpeculative(request));
  }
}
