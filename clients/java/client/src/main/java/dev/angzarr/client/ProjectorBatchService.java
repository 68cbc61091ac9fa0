package dev.angzarr.client;

import dev.angzarr.kafka.proto.ProjectionBatch;
import dev.angzarr.kafka.proto.ProjectorBatch;
import dev.angzarr.kafka.proto.ProjectorBatchServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.logging.Logger;

/**
 * {@code angzarr_kafka.ProjectorBatchService} (proto/angzarr_kafka/batch.proto) for one projector,
 * or several routed by each book's domain, as {@link ProjectorService}: {@code HandleBatch} applies
 * the books in order, each exactly as {@code ProjectorService.Handle} would, inside the projectors'
 * {@link Projector#aroundBatch} hooks, and answers one projection per book. The call succeeds or
 * fails as a whole, with the status {@code Handle} gives the first failing book (routing included:
 * every book is routed before any is applied).
 *
 * <p>{@link AngzarrServer} serves it beside {@link ProjectorService} for every projector; for a
 * server of your own, {@link AngzarrServer#services} gives both.
 */
public final class ProjectorBatchService extends ProjectorBatchServiceGrpc.ProjectorBatchServiceImplBase {
  private static final Logger LOG = Logger.getLogger(ProjectorBatchService.class.getName());

  private final DomainRouter<Projector> router;

  /** A service hosting {@code projectors}. */
  public ProjectorBatchService(List<Projector> projectors) {
    this.router = new DomainRouter<>("projector", projectors, Projector::sources);
  }

  /** The names of the projectors served. */
  public List<String> names() {
    return router.names();
  }

  @Override
  public void handleBatch(ProjectorBatch request, StreamObserver<ProjectionBatch> responses) {
    Rpc.respond(LOG, "projection batch", responses,
        () -> Projector.handleBatch(request.getBooksList(), book -> router.route(book.getCover().getDomain())));
  }
}
