package dev.angzarr.examples.poker.payment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The simulated legacy bank, through its client and over raw HTTP. */
class LegacyBankTest {
  LegacyBank bank;
  BankClient client;

  @BeforeEach
  void start() throws IOException {
    bank = LegacyBank.start();
    client = new BankClient(bank.url());
  }

  @AfterEach
  void stop() {
    bank.close();
  }

  HttpResponse<String> raw(String method, String path, String body) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(bank.url() + path))
        .header("Content-Type", "application/x-www-form-urlencoded");
    request = method.equals("POST")
        ? request.POST(HttpRequest.BodyPublishers.ofString(body))
        : request.GET();
    return HttpClient.newHttpClient().send(request.build(), HttpResponse.BodyHandlers.ofString(LegacyBank.CHARSET));
  }

  @Test
  void payoutsUpToTheLimitAreApprovedAboveItDeclined() throws IOException {
    BankClient.Reply ok = client.payout("r1", "acct", LegacyBank.PAYOUT_LIMIT, "USD");
    assertTrue(ok.approved());
    assertEquals("00", ok.code());
    assertEquals("r1", ok.ref());
    assertEquals("A000001", ok.authId());
    assertFalse(ok.duplicate());

    BankClient.Reply no = client.payout("r2", "acct", LegacyBank.PAYOUT_LIMIT + 1, "USD");
    assertTrue(no.declined());
    assertEquals("61", no.code());
    assertEquals("EXCEEDS WITHDRAWAL LIMIT", no.text());

    assertEquals("13", client.payout("r3", "acct", 0, "USD").code());
    assertEquals(1, bank.paid().size());
    assertEquals(3, bank.payouts().size());
  }

  @Test
  void aReferenceIsPaidOnce() throws IOException {
    BankClient.Reply first = client.payout("same", "acct", 500, "USD");
    BankClient.Reply again = client.payout("same", "acct", 500, "USD");
    assertTrue(again.duplicate());
    assertEquals(first.authId(), again.authId());
    assertEquals(1, bank.paid().size());
    assertEquals(2, bank.requests());

    BankClient.BankException reused =
        assertThrows(BankClient.BankException.class, () -> client.payout("same", "acct", 501, "USD"));
    assertTrue(reused.getMessage().contains("94"), reused.getMessage());
    assertEquals(1, bank.paid().size());
  }

  @Test
  void depositConfirmationsAreRecordedOncePerReference() throws IOException {
    assertEquals("RECORDED", client.confirmDeposit("d1", "acct", 700, "USD").text());
    assertTrue(client.confirmDeposit("d1", "acct", 700, "USD").duplicate());
    // References of payouts and deposit confirmations are separate.
    assertTrue(client.payout("d1", "acct", 700, "USD").approved());
    assertEquals(1, bank.depositConfirmations().size());
    assertEquals(700, bank.depositConfirmations().get(0).amount());
  }

  @Test
  void itSpeaksFormsAndXml() throws Exception {
    HttpResponse<String> r = raw("POST", "/legacy/payout", "TXN_REF=x%3A1&ACCT=a+b&AMT=20000&CCY=EUR");
    assertEquals(200, r.statusCode(), "a decline is a processed transaction: HTTP 200");
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/xml"));
    assertTrue(r.body().contains("<RESP_CODE>61</RESP_CODE>"), r.body());
    assertTrue(r.body().contains("<TXN_REF>x:1</TXN_REF>"), r.body());
    assertEquals("a b", bank.payouts().get(0).account());
    assertEquals("EUR", bank.payouts().get(0).currency());

    assertEquals(400, raw("POST", "/legacy/payout", "TXN_REF=x&ACCT=a&AMT=ten").statusCode());
    assertEquals(400, raw("POST", "/legacy/payout", "ACCT=a&AMT=10").statusCode());
    assertEquals(405, raw("GET", "/legacy/payout", "").statusCode());
    assertEquals(404, raw("POST", "/modern/api/v2/payouts", "").statusCode());
    assertEquals(Map.of("A", "1", "B", "x y"), LegacyBank.parseForm("a=1&b=x+y&"));
  }

  @Test
  void failuresThatMayPassOnRetryAreExceptions() throws Exception {
    BankClient broken = new BankClient(bank.url() + "/nowhere");
    assertThrows(BankClient.BankException.class, () -> broken.payout("r", "a", 1, ""));
    String url = bank.url();
    bank.close();
    assertThrows(IOException.class, () -> new BankClient(url).payout("r", "a", 1, ""));
    assertThrows(IllegalArgumentException.class, () -> new BankClient("ftp://bank"));
  }
}
