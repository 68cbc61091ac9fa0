package dev.angzarr.client;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.angzarr.proto.BusinessResponse;
import dev.angzarr.proto.CommandHandlerServiceGrpc;
import dev.angzarr.proto.ContextualCommand;
import dev.angzarr.proto.ReplayRequest;
import dev.angzarr.proto.ReplayResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * {@code angzarr.CommandHandlerService} for a set of aggregates, routed by the command cover's
 * domain. Every failure becomes a gRPC status: the service never crashes.
 *
 * <p>Use {@link AngzarrServer} to serve it, or add it to a server of your own.
 */
public final class AggregateService extends CommandHandlerServiceGrpc.CommandHandlerServiceImplBase {
  private static final Logger LOG = Logger.getLogger(AggregateService.class.getName());

  private final Map<String, Aggregate<?>> byDomain;

  /** A service hosting {@code aggregates}, one per domain. */
  public AggregateService(List<? extends Aggregate<?>> aggregates) {
    if (aggregates.isEmpty()) {
      throw new IllegalArgumentException("no aggregate to serve");
    }
    Map<String, Aggregate<?>> map = new LinkedHashMap<>();
    for (Aggregate<?> aggregate : aggregates) {
      if (map.put(aggregate.domain(), aggregate) != null) {
        throw new IllegalArgumentException("two aggregates for domain `" + aggregate.domain() + "`");
      }
    }
    this.byDomain = Collections.unmodifiableMap(map);
  }

  /** The domains served. */
  public java.util.Set<String> domains() {
    return byDomain.keySet();
  }

  @Override
  public void handle(ContextualCommand request, StreamObserver<BusinessResponse> responses) {
    respond(responses, () -> route(request).execute(request));
  }

  @Override
  public void replay(ReplayRequest request, StreamObserver<ReplayResponse> responses) {
    respond(responses, () -> {
      if (byDomain.size() != 1) {
        throw Status.UNIMPLEMENTED.withDescription("replay needs a single-aggregate server").asRuntimeException();
      }
      return replay(byDomain.values().iterator().next(), request);
    });
  }

  private static <S extends Message> ReplayResponse replay(Aggregate<S> aggregate, ReplayRequest request) {
    S state = aggregate.rebuild(request.hasBaseSnapshot() ? request.getBaseSnapshot() : null,
        request.getEventsList());
    return ReplayResponse.newBuilder().setState(Any.pack(state)).build();
  }

  /** The aggregate of the command's domain; a single-domain server also takes a cover-less command. */
  private Aggregate<?> route(ContextualCommand request) {
    String domain = request.getCommand().getCover().getDomain();
    Aggregate<?> aggregate = byDomain.get(domain);
    if (aggregate != null) {
      return aggregate;
    }
    if (domain.isEmpty() && byDomain.size() == 1) {
      return byDomain.values().iterator().next();
    }
    throw Status.NOT_FOUND.withDescription("no aggregate for domain `" + domain + "` here").asRuntimeException();
  }

  private static <T> void respond(StreamObserver<T> responses, Supplier<T> call) {
    Rpc.respond(LOG, "command", responses, call);
  }
}
