package dev.angzarr.examples.poker.payment;

import dev.angzarr.client.AngzarrServer;

/**
 * The payment-gateway saga as a standalone {@code angzarr.SagaService}.
 *
 * <pre>
 * java -jar target/saga-payment-java.jar [--listen HOST:PORT] [--bank-url URL] [--bank-listen HOST:PORT]
 * </pre>
 *
 * <p>{@code --listen}: default {@code $LISTEN}, else 127.0.0.1:{@code $PORT} (default 50052).
 * {@code --bank-url}: the legacy bank (default {@code $BANK_URL}); without one, a simulated {@link
 * LegacyBank} is started in the same process, on {@code --bank-listen} (default 127.0.0.1:0).
 * Stdout gets one line per service started, the saga's last; logs go to stderr.
 */
public final class Main {
  private static final String USAGE =
      "usage: java -jar saga-payment-java.jar [--listen HOST:PORT] [--bank-url URL] [--bank-listen HOST:PORT]";

  private Main() {}

  public static void main(String[] args) throws Exception {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tT %4$s %3$s: %5$s%6$s%n");
    }
    String listen = env("LISTEN", null);
    if (listen == null) {
      listen = "127.0.0.1:" + env("PORT", "50052");
    }
    String bankUrl = env("BANK_URL", null);
    String bankListen = "127.0.0.1:0";
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      String value = i + 1 < args.length ? args[i + 1] : null;
      if (arg.equals("--listen") && value != null) {
        listen = value;
        i++;
      } else if (arg.startsWith("--listen=")) {
        listen = arg.substring("--listen=".length());
      } else if (arg.equals("--bank-url") && value != null) {
        bankUrl = value;
        i++;
      } else if (arg.startsWith("--bank-url=")) {
        bankUrl = arg.substring("--bank-url=".length());
      } else if (arg.equals("--bank-listen") && value != null) {
        bankListen = value;
        i++;
      } else if (arg.startsWith("--bank-listen=")) {
        bankListen = arg.substring("--bank-listen=".length());
      } else if (arg.equals("-h") || arg.equals("--help")) {
        System.out.println(USAGE);
        return;
      } else {
        System.err.println("unknown argument: " + arg + "\n" + USAGE);
        System.exit(2);
      }
    }

    LegacyBank embedded = null;
    if (bankUrl == null || bankUrl.isBlank()) {
      embedded = LegacyBank.start(AngzarrServer.parseAddress(bankListen));
      bankUrl = embedded.url();
      System.out.println("saga-payment-java: legacy bank on " + bankUrl
          + " (POST /legacy/payout, /legacy/deposit-confirm; payouts above " + LegacyBank.PAYOUT_LIMIT + " declined)");
    }
    BankClient bank = new BankClient(bankUrl);
    AngzarrServer server = AngzarrServer.start(listen, PaymentGatewaySaga.saga(bank));
    LegacyBank ownBank = embedded;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      if (ownBank != null) {
        ownBank.close();
      }
    }, "saga-payment-shutdown"));
    // A launcher can wait for this line (and learn the port when it asked for 0).
    System.out.println("saga-payment-java: serving saga " + PaymentGatewaySaga.NAME + " on "
        + server.address().getHostString() + ":" + server.port() + " (bank " + bank.baseUrl() + ")");
    System.out.flush();
    server.awaitTermination();
  }

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value.trim();
  }
}
