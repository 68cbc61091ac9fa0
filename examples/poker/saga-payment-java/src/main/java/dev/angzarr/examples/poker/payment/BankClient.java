package dev.angzarr.examples.poker.payment;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.SAXException;

/**
 * The client side of the {@link LegacyBank} API: form-encoded POSTs, XML-ish answers.
 *
 * <p>A call ends in one of three ways: {@link Reply#approved()}, {@link Reply#declined()} (a
 * final business answer), or a {@link BankException} / {@link IOException} for everything that
 * may be different when retried (network, HTTP errors, {@code 91}/{@code 96}-style codes, a
 * reference reused with other details). The caller passes an idempotency key as {@code TXN_REF},
 * so retrying after any failure is safe: the bank pays a reference at most once.
 */
public final class BankClient {
  /** Response codes that are final declines. */
  static final Set<String> DECLINES = Set.of("05", "13", "51", "61");

  private final URI base;
  private final HttpClient http;
  private final Duration timeout;

  /** What the bank answered. */
  public record Reply(String ref, String code, String text, String authId, boolean duplicate) {
    /** {@code 00}. */
    public boolean approved() {
      return "00".equals(code);
    }

    /** A final decline ({@code 05}, {@code 13}, {@code 51}, {@code 61}). */
    public boolean declined() {
      return DECLINES.contains(code);
    }
  }

  /** A call the bank did not answer with a business decision; safe to retry. */
  public static final class BankException extends IOException {
    private static final long serialVersionUID = 1L;

    BankException(String message) {
      super(message);
    }
  }

  /** A client of the bank at {@code baseUrl}, e.g. {@code http://127.0.0.1:8089}. */
  public BankClient(String baseUrl) {
    this(baseUrl, Duration.ofSeconds(10));
  }

  /** As {@link #BankClient(String)}, with a timeout for connecting and for each call. */
  public BankClient(String baseUrl, Duration timeout) {
    Objects.requireNonNull(baseUrl, "baseUrl");
    String trimmed = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    this.base = URI.create(trimmed);
    if (base.getScheme() == null || !base.getScheme().startsWith("http") || base.getHost() == null) {
      throw new IllegalArgumentException("not an http(s) URL: " + baseUrl);
    }
    this.timeout = timeout;
    this.http = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1).build();
  }

  /** The bank's base URL. */
  public String baseUrl() {
    return base.toString();
  }

  /** Pays {@code amount} (minor units) out to {@code account}, once per {@code ref}. */
  public Reply payout(String ref, String account, long amount, String currency) throws IOException {
    return post("/legacy/payout", "PAYOUT_RESPONSE", ref, account, amount, currency);
  }

  /** Tells the bank a deposit was booked, once per {@code ref}. */
  public Reply confirmDeposit(String ref, String account, long amount, String currency) throws IOException {
    return post("/legacy/deposit-confirm", "DEPOSIT_CONFIRM_RESPONSE", ref, account, amount, currency);
  }

  private Reply post(String path, String root, String ref, String account, long amount, String currency)
      throws IOException {
    Map<String, String> form = new LinkedHashMap<>();
    form.put("TXN_REF", ref);
    form.put("ACCT", account);
    form.put("AMT", Long.toString(amount));
    if (!currency.isEmpty()) {
      form.put("CCY", currency);
    }
    HttpRequest request = HttpRequest.newBuilder(URI.create(base + path))
        .timeout(timeout)
        .header("Content-Type", "application/x-www-form-urlencoded; charset=ISO-8859-1")
        .header("Accept", "text/xml")
        .POST(HttpRequest.BodyPublishers.ofString(encode(form), LegacyBank.CHARSET))
        .build();
    HttpResponse<byte[]> response;
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while calling " + request.uri(), e);
    }
    Document xml = parse(response.body(), request.uri().toString());
    String code = text(xml, "RESP_CODE");
    String text = text(xml, "RESP_TEXT");
    if (response.statusCode() != 200) {
      throw new BankException(request.uri() + " answered HTTP " + response.statusCode() + ": " + code + " " + text);
    }
    if (!xml.getDocumentElement().getTagName().equals(root)) {
      throw new BankException(request.uri() + " answered <" + xml.getDocumentElement().getTagName() + ">, not <" + root + ">");
    }
    Reply reply = new Reply(text(xml, "TXN_REF"), code, text, text(xml, "AUTH_ID"), "Y".equals(text(xml, "DUPLICATE")));
    if (!reply.ref().equals(ref)) {
      throw new BankException(request.uri() + " answered for TXN_REF " + reply.ref() + ", not " + ref);
    }
    if (!reply.approved() && !reply.declined()) {
      throw new BankException(request.uri() + " could not process " + ref + ": " + code + " " + text);
    }
    return reply;
  }

  private static String encode(Map<String, String> form) {
    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, String> field : form.entrySet()) {
      if (out.length() > 0) {
        out.append('&');
      }
      out.append(URLEncoder.encode(field.getKey(), LegacyBank.CHARSET))
          .append('=')
          .append(URLEncoder.encode(field.getValue(), LegacyBank.CHARSET));
    }
    return out.toString();
  }

  /** Parses the answer with DTDs and external entities off: it comes from another system. */
  private static Document parse(byte[] body, String from) throws BankException {
    try {
      DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
      factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
      factory.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
      factory.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
      factory.setExpandEntityReferences(false);
      DocumentBuilder builder = factory.newDocumentBuilder();
      builder.setErrorHandler(new org.xml.sax.helpers.DefaultHandler()); // throws on fatal errors, prints nothing
      return builder.parse(new ByteArrayInputStream(body));
    } catch (ParserConfigurationException | SAXException | IOException e) {
      throw new BankException(from + " answered something that is not XML: " + e.getMessage());
    }
  }

  private static String text(Document xml, String tag) {
    NodeList nodes = xml.getDocumentElement().getElementsByTagName(tag);
    return nodes.getLength() == 0 ? "" : ((Element) nodes.item(0)).getTextContent().trim();
  }
}
