package dev.angzarr.client;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Serves aggregates as {@code angzarr.CommandHandlerService} over gRPC (Netty).
 *
 * <pre>{@code
 * AngzarrServer.serve("127.0.0.1:50051", PlayerAggregate.aggregate());   // blocks
 *
 * try (AngzarrServer server = AngzarrServer.start("127.0.0.1:0", aggregate)) {   // background
 *   int port = server.port();
 * }
 * }</pre>
 */
public final class AngzarrServer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(AngzarrServer.class.getName());

  private final Server server;
  private final AggregateService service;

  private AngzarrServer(Server server, AggregateService service) {
    this.server = server;
    this.service = service;
  }

  /** The service, for a gRPC server of your own. */
  public static BindableService service(Aggregate<?>... aggregates) {
    return new AggregateService(List.of(aggregates));
  }

  /**
   * Binds {@code address} ({@code host:port}, {@code [v6]:port}, or a bare port on 127.0.0.1;
   * port 0 picks a free one) and serves in the background.
   */
  public static AngzarrServer start(String address, Aggregate<?>... aggregates) throws IOException {
    AggregateService service = new AggregateService(List.of(aggregates));
    Server server = NettyServerBuilder.forAddress(parseAddress(address)).addService(service).build().start();
    return new AngzarrServer(server, service);
  }

  /** Serves on {@code address} until the process is stopped. */
  public static void serve(String address, Aggregate<?>... aggregates) throws IOException, InterruptedException {
    AngzarrServer running = start(address, aggregates);
    Runtime.getRuntime().addShutdownHook(new Thread(running::close, "angzarr-server-shutdown"));
    LOG.info(() -> "serving domains " + running.service.domains() + " on " + running.address());
    running.awaitTermination();
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
