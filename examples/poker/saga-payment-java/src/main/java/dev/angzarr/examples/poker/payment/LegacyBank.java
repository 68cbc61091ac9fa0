package dev.angzarr.examples.poker.payment;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * A stand-in for a legacy core-banking payout gateway: form-encoded POSTs in, XML-ish text out,
 * ISO-8583-style two-digit response codes, and HTTP 200 for every processed transaction (approved
 * or declined alike; only malformed requests get a 4xx).
 *
 * <pre>
 * POST /legacy/payout           TXN_REF=&lt;key&gt;&amp;ACCT=&lt;player root&gt;&amp;AMT=&lt;minor units&gt;[&amp;CCY=USD]
 * POST /legacy/deposit-confirm  (same fields)
 *
 * &lt;PAYOUT_RESPONSE&gt;
 *   &lt;TXN_REF&gt;...&lt;/TXN_REF&gt;&lt;RESP_CODE&gt;00&lt;/RESP_CODE&gt;&lt;RESP_TEXT&gt;APPROVED&lt;/RESP_TEXT&gt;&lt;AUTH_ID&gt;A000001&lt;/AUTH_ID&gt;
 * &lt;/PAYOUT_RESPONSE&gt;
 * </pre>
 *
 * <p>Rules, all deterministic: a payout of more than {@link #PAYOUT_LIMIT} is declined ({@code 61
 * EXCEEDS WITHDRAWAL LIMIT}); a non-positive amount is declined ({@code 13 INVALID AMOUNT});
 * anything else is approved ({@code 00}) and paid. {@code TXN_REF} is the idempotency key: a
 * transaction sent again with the same reference and details gets the first answer back
 * (with {@code <DUPLICATE>Y</DUPLICATE>}) and pays nothing more; the same reference with other
 * details is refused ({@code 94 DUPLICATE TRANSMISSION}). Deposit confirmations are recorded once
 * per reference the same way.
 */
public final class LegacyBank implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(LegacyBank.class.getName());

  /** The largest payout approved, in minor units. */
  public static final long PAYOUT_LIMIT = 10_000;

  /** What legacy systems like this one speak. */
  static final Charset CHARSET = StandardCharsets.ISO_8859_1;

  /** A processed transaction, as the bank's ledger keeps it. */
  public record Transaction(String kind, String ref, String account, long amount, String currency,
      String code, String text, String authId) {
    /** Whether the bank approved (and for a payout, paid) it. */
    public boolean approved() {
      return "00".equals(code);
    }
  }

  private final HttpServer server;
  private final ExecutorService executor;
  private final Map<String, Transaction> payouts = new LinkedHashMap<>();
  private final Map<String, Transaction> deposits = new LinkedHashMap<>();
  private final AtomicInteger requests = new AtomicInteger();
  private int authCounter;

  private LegacyBank(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /** Starts the bank on {@code address} (port 0 picks a free one). */
  public static LegacyBank start(InetSocketAddress address) throws IOException {
    HttpServer server = HttpServer.create(address, 0);
    ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "legacy-bank");
      t.setDaemon(true);
      return t;
    });
    LegacyBank bank = new LegacyBank(server, executor);
    server.createContext("/legacy/payout", exchange -> bank.serve(exchange, "PAYOUT"));
    server.createContext("/legacy/deposit-confirm", exchange -> bank.serve(exchange, "DEPOSIT_CONFIRM"));
    server.createContext("/", exchange -> bank.reply(exchange, 404, error("12", "INVALID TRANSACTION")));
    server.setExecutor(executor);
    server.start();
    return bank;
  }

  /** Starts the bank on 127.0.0.1, on a free port. */
  public static LegacyBank start() throws IOException {
    return start(new InetSocketAddress("127.0.0.1", 0));
  }

  /** Its base URL, e.g. {@code http://127.0.0.1:41234}. */
  public String url() {
    InetSocketAddress a = server.getAddress();
    String host = a.getAddress().getHostAddress();
    return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /** Every payout processed (approved or declined), once per reference, in arrival order. */
  public synchronized List<Transaction> payouts() {
    return List.copyOf(payouts.values());
  }

  /** The payouts approved, i.e. money that left the bank. */
  public synchronized List<Transaction> paid() {
    List<Transaction> out = new ArrayList<>();
    for (Transaction t : payouts.values()) {
      if (t.approved()) {
        out.add(t);
      }
    }
    return out;
  }

  /** Every deposit confirmation recorded, once per reference. */
  public synchronized List<Transaction> depositConfirmations() {
    return List.copyOf(deposits.values());
  }

  /** HTTP requests received, duplicates and bad ones included. */
  public int requests() {
    return requests.get();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  private void serve(HttpExchange exchange, String kind) throws IOException {
    requests.incrementAndGet();
    try {
      if (!"POST".equals(exchange.getRequestMethod())) {
        exchange.getResponseHeaders().set("Allow", "POST");
        reply(exchange, 405, error("12", "INVALID TRANSACTION"));
        return;
      }
      Map<String, String> form;
      try (InputStream in = exchange.getRequestBody()) {
        form = parseForm(new String(in.readAllBytes(), CHARSET));
      }
      String ref = form.getOrDefault("TXN_REF", "");
      String account = form.getOrDefault("ACCT", "");
      String currency = form.getOrDefault("CCY", "");
      long amount;
      try {
        amount = Long.parseLong(form.getOrDefault("AMT", ""));
      } catch (NumberFormatException e) {
        reply(exchange, 400, error("30", "FORMAT ERROR: AMT"));
        return;
      }
      if (ref.isEmpty() || ref.length() > 64 || account.isEmpty()) {
        reply(exchange, 400, error("30", "FORMAT ERROR: TXN_REF/ACCT"));
        return;
      }
      Transaction request = new Transaction(kind, ref, account, amount, currency, "", "", "");
      reply(exchange, 200, process(request));
    } catch (RuntimeException e) {
      LOG.warning(() -> "legacy bank: " + e);
      reply(exchange, 500, error("96", "SYSTEM MALFUNCTION"));
    }
  }

  /** Decides, or replays the decision for a reference already seen. */
  private synchronized String process(Transaction request) {
    Map<String, Transaction> ledger = request.kind().equals("PAYOUT") ? payouts : deposits;
    Transaction seen = ledger.get(request.ref());
    if (seen != null) {
      if (seen.amount() != request.amount() || !seen.account().equals(request.account())
          || !seen.currency().equals(request.currency())) {
        return response(request.kind(), new Transaction(request.kind(), request.ref(), request.account(),
            request.amount(), request.currency(), "94", "DUPLICATE TRANSMISSION", ""), false);
      }
      return response(request.kind(), seen, true);
    }
    Transaction decided;
    if (request.kind().equals("PAYOUT")) {
      if (request.amount() <= 0) {
        decided = decide(request, "13", "INVALID AMOUNT", "");
      } else if (request.amount() > PAYOUT_LIMIT) {
        decided = decide(request, "61", "EXCEEDS WITHDRAWAL LIMIT", "");
      } else {
        decided = decide(request, "00", "APPROVED", String.format("A%06d", ++authCounter));
      }
    } else {
      decided = decide(request, "00", "RECORDED", "");
    }
    ledger.put(request.ref(), decided);
    Transaction logged = decided;
    LOG.info(() -> "legacy bank: " + logged.kind() + " " + logged.ref() + " account " + logged.account() + " amount "
        + logged.amount() + " " + logged.currency() + " -> " + logged.code() + " " + logged.text());
    return response(request.kind(), decided, false);
  }

  private static Transaction decide(Transaction t, String code, String text, String authId) {
    return new Transaction(t.kind(), t.ref(), t.account(), t.amount(), t.currency(), code, text, authId);
  }

  private static String response(String kind, Transaction t, boolean duplicate) {
    StringBuilder xml = new StringBuilder()
        .append("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<").append(kind).append("_RESPONSE>\n")
        .append("  <TXN_REF>").append(escape(t.ref())).append("</TXN_REF>\n")
        .append("  <RESP_CODE>").append(t.code()).append("</RESP_CODE>\n")
        .append("  <RESP_TEXT>").append(escape(t.text())).append("</RESP_TEXT>\n");
    if (!t.authId().isEmpty()) {
      xml.append("  <AUTH_ID>").append(t.authId()).append("</AUTH_ID>\n");
    }
    if (duplicate) {
      xml.append("  <DUPLICATE>Y</DUPLICATE>\n");
    }
    return xml.append("</").append(kind).append("_RESPONSE>\n").toString();
  }

  private static String error(String code, String text) {
    return "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<ERROR>\n  <RESP_CODE>" + code
        + "</RESP_CODE>\n  <RESP_TEXT>" + escape(text) + "</RESP_TEXT>\n</ERROR>\n";
  }

  private void reply(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(CHARSET);
    exchange.getResponseHeaders().set("Content-Type", "text/xml; charset=ISO-8859-1");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** {@code a=1&b=x%20y}: the last value of a repeated name wins, as many old CGI stacks did. */
  static Map<String, String> parseForm(String body) {
    Map<String, String> form = new LinkedHashMap<>();
    for (String pair : body.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = eq < 0 ? pair : pair.substring(0, eq);
      String value = eq < 0 ? "" : pair.substring(eq + 1);
      form.put(URLDecoder.decode(name, CHARSET).trim().toUpperCase(java.util.Locale.ROOT),
          URLDecoder.decode(value, CHARSET).trim());
    }
    return form;
  }

  static String escape(String text) {
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
