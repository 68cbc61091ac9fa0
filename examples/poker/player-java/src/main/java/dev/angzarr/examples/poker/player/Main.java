package dev.angzarr.examples.poker.player;

import dev.angzarr.client.AngzarrServer;

/**
 * The player aggregate as a standalone {@code angzarr.CommandHandlerService}, for {@code --handler
 * player=URL} or a sidecar deployment.
 *
 * <pre>
 * java -jar target/player-java.jar [--listen HOST:PORT]
 * </pre>
 *
 * <p>Without {@code --listen}: {@code $LISTEN} if set, else 127.0.0.1:{@code $PORT} (default 50051).
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    String listen = System.getenv("LISTEN");
    if (listen == null || listen.isBlank()) {
      String port = System.getenv("PORT");
      listen = "127.0.0.1:" + (port == null || port.isBlank() ? "50051" : port.trim());
    }
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--listen") && i + 1 < args.length) {
        listen = args[++i];
      } else if (arg.startsWith("--listen=")) {
        listen = arg.substring("--listen=".length());
      } else if (arg.equals("-h") || arg.equals("--help")) {
        System.out.println("usage: java -jar player-java.jar [--listen HOST:PORT]  (default 127.0.0.1:50051)");
        return;
      } else {
        System.err.println("unknown argument: " + arg + " (usage: [--listen HOST:PORT])");
        System.exit(2);
      }
    }
    AngzarrServer server = AngzarrServer.start(listen, PlayerAggregate.aggregate());
    Runtime.getRuntime().addShutdownHook(new Thread(server::close, "player-shutdown"));
    // One line on stdout, so a launcher can wait for it (and learn the port when it asked for 0).
    System.out.println("player-java: serving domain " + PlayerAggregate.DOMAIN + " on "
        + server.address().getHostString() + ":" + server.port());
    System.out.flush();
    server.awaitTermination();
  }
}
