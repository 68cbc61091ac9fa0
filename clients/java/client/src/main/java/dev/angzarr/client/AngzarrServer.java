package dev.angzarr.client;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Serves aggregates, sagas, projectors, a process manager and an upcaster over gRPC (Netty), all
 * on one port: aggregates as {@code angzarr.CommandHandlerService} (routed by the command's
 * domain), sagas as {@code angzarr.SagaService} and projectors as {@code angzarr.ProjectorService}
 * and {@code angzarr_kafka.ProjectorBatchService} (one of each kind, or several routed by source
 * domain: see {@link Saga#from}), at most one
 * process manager as {@code angzarr.ProcessManagerService} and at most one upcaster as {@code
 * angzarr.UpcasterService} (their contracts carry nothing to route by).
 *
 * <pre>{@code
 * AngzarrServer.serve("127.0.0.1:50051", PlayerAggregate.aggregate());   // blocks
 *
 * try (AngzarrServer server = AngzarrServer.start("127.0.0.1:0", player, paymentSaga, ledger)) {   // background
 *   int port = server.port();
 * }
 * }</pre>
 */
public final class AngzarrServer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(AngzarrServer.class.getName());

  private final Server server;
  private final String description;

  private AngzarrServer(Server server, String description) {
    this.server = server;
    this.description = description;
  }

  /** The command handler service of {@code aggregates}, for a gRPC server of your own. */
  public static BindableService service(Aggregate<?>... aggregates) {
    return new AggregateService(List.of(aggregates));
  }

  /**
   * The services hosting {@code components}: a {@link AggregateService} when there are
   * aggregates, a {@link SagaService} when there are sagas, a {@link ProjectorService} and a {@link
   * ProjectorBatchService} when there are projectors, a {@link ProcessManagerService} and an {@link
   * UpcasterService} for the process manager and the upcaster, if any.
   *
   * @throws IllegalArgumentException for no component, two aggregates of one domain, two sagas or
   *     projectors of one name, several sagas (projectors) that do not declare disjoint source
   *     domains, or more than one process manager or upcaster
   */
  public static List<BindableService> services(Component... components) {
    return services(List.of(components));
  }

  /** As {@link #services(Component...)}. */
  public static List<BindableService> services(List<? extends Component> components) {
    if (components.isEmpty()) {
      throw new IllegalArgumentException(
          "nothing to serve: give at least one aggregate, saga, projector, process manager or upcaster");
    }
    List<Aggregate<?>> aggregates = new ArrayList<>();
    List<Saga> sagas = new ArrayList<>();
    List<Projector> projectors = new ArrayList<>();
    List<ProcessManager<?>> processManagers = new ArrayList<>();
    List<Upcaster> upcasters = new ArrayList<>();
    for (Component component : components) {
      Objects.requireNonNull(component, "component");
      if (component instanceof Aggregate<?> aggregate) {
        aggregates.add(aggregate);
      } else if (component instanceof Saga saga) {
        sagas.add(saga);
      } else if (component instanceof Projector projector) {
        projectors.add(projector);
      } else if (component instanceof ProcessManager<?> pm) {
        processManagers.add(pm);
      } else if (component instanceof Upcaster upcaster) {
        upcasters.add(upcaster);
      }
    }
    if (processManagers.size() > 1) {
      throw new IllegalArgumentException("one process manager per server (the contract names none), got "
          + processManagers.stream().map(Component::name).toList());
    }
    if (upcasters.size() > 1) {
      throw new IllegalArgumentException("one upcaster per server (the contract names none), got "
          + upcasters.stream().map(Component::name).toList());
    }
    List<BindableService> services = new ArrayList<>();
    if (!aggregates.isEmpty()) {
      services.add(new AggregateService(aggregates));
    }
    if (!sagas.isEmpty()) {
      services.add(new SagaService(sagas));
    }
    if (!projectors.isEmpty()) {
      services.add(new ProjectorService(projectors));
      services.add(new ProjectorBatchService(projectors)); // the same projectors, many books per call
    }
    if (!processManagers.isEmpty()) {
      services.add(new ProcessManagerService(processManagers.get(0)));
    }
    if (!upcasters.isEmpty()) {
      services.add(new UpcasterService(upcasters.get(0)));
    }
    return services;
  }

  /**
   * Binds {@code address} ({@code host:port}, {@code [v6]:port}, or a bare port on 127.0.0.1;
   * port 0 picks a free one) and serves {@code components} in the background.
   */
  public static AngzarrServer start(String address, Component... components) throws IOException {
    return start(address, List.of(components));
  }

  /** As {@link #start(String, Component...)}. */
  public static AngzarrServer start(String address, List<? extends Component> components) throws IOException {
    List<BindableService> services = services(components);
    NettyServerBuilder builder = NettyServerBuilder.forAddress(parseAddress(address));
    services.forEach(builder::addService);
    Server server = builder.build().start();
    return new AngzarrServer(server, describe(components));
  }

  /** Serves {@code components} on {@code address} until the process is stopped. */
  public static void serve(String address, Component... components) throws IOException, InterruptedException {
    AngzarrServer running = start(address, components);
    Runtime.getRuntime().addShutdownHook(new Thread(running::close, "angzarr-server-shutdown"));
    LOG.info(() -> "serving " + running.description + " on " + running.address());
    running.awaitTermination();
  }

  /** What it serves, e.g. {@code aggregate player, saga payment-gateway}. */
  public String description() {
    return description;
  }

  private static String describe(List<? extends Component> components) {
    List<String> parts = new ArrayList<>();
    for (Component component : components) {
      parts.add(component.componentType() + " " + component.name());
    }
    return String.join(", ", parts);
  }

  /** The bound address. */
  public InetSocketAddress address() {
    return (InetSocketAddress) server.getListenSockets().get(0);
  }

  /** The bound port (useful with port 0). */
  public int port() {
    return server.getPort();
  }

  /** Blocks until the server has stopped. */
  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /** Stops accepting calls, lets in-flight calls finish (up to 5 s), and waits. */
  @Override
  public void close() {
    server.shutdown();
    try {
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /** {@code host:port}, {@code [v6]:port}, or a bare port (on 127.0.0.1). */
  public static InetSocketAddress parseAddress(String address) {
    String text = address.trim();
    int colon = text.lastIndexOf(':');
    String host = colon < 0 ? "127.0.0.1" : text.substring(0, colon);
    String port = colon < 0 ? text : text.substring(colon + 1);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    if (host.isEmpty()) {
      host = "127.0.0.1";
    }
    int number;
    try {
      number = Integer.parseInt(port);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not an address (host:port): " + address, e);
    }
    return new InetSocketAddress(host, number);
  }
}
