package dev.angzarr.examples.poker.player.bdd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import dev.angzarr.client.Aggregate;
import dev.angzarr.client.TypeUrls;
import dev.angzarr.examples.Currency;
import dev.angzarr.examples.DepositFunds;
import dev.angzarr.examples.PlayerState;
import dev.angzarr.examples.RegisterPlayer;
import dev.angzarr.examples.ReleaseFunds;
import dev.angzarr.examples.ReserveFunds;
import dev.angzarr.examples.TransferFunds;
import dev.angzarr.examples.WithdrawFunds;
import dev.angzarr.examples.poker.player.PlayerAggregate;
import dev.angzarr.proto.BusinessResponse;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.ContextualCommand;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import dev.angzarr.proto.UUID;
import io.cucumber.java.ParameterType;
import io.cucumber.java.en.Given;
import io.cucumber.java.en.Then;
import io.cucumber.java.en.When;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The world of features/player.feature, in-process: one player aggregate (a fresh random root per
 * scenario; Cucumber makes a new instance per scenario) and the events it recorded. It plays the
 * coordinator's part: it sends the recorded history with each command, refuses a command whose
 * expected sequence is not the number of recorded events, and records accepted events after
 * checking their sequences.
 */
public class PlayerSteps {
  private static final String USD = "USD";

  private final Aggregate<PlayerState> aggregate = PlayerAggregate.aggregate();
  private Cover cover = newCover();
  private final List<EventPage> recorded = new ArrayList<>();

  /** The last command's reply, or its failure. */
  private BusinessResponse lastResponse;
  private Status lastFailure;
  private boolean anyCommand;
  /** How many events were recorded before the last When. */
  private int beforeLastWhen;

  @ParameterType("\\$(-?\\d+)")
  public Currency money(String amount) {
    return Currency.newBuilder().setAmount(Long.parseLong(amount)).setCurrencyCode(USD).build();
  }

  // --- Given ------------------------------------------------------------------------------------

  @Given("a new player aggregate")
  public void aNewPlayerAggregate() {
    cover = newCover();
    recorded.clear();
    lastResponse = null;
    lastFailure = null;
    anyCommand = false;
    beforeLastWhen = 0;
  }

  @Given("a registered player with {money} balance")
  public void aRegisteredPlayerWithBalance(Currency balance) {
    mustAccept(RegisterPlayer.newBuilder().setDisplayName("Ada").setEmail("ada@example.com").build());
    if (balance.getAmount() > 0) {
      mustAccept(DepositFunds.newBuilder().setAmount(balance).build());
    }
  }

  // --- commands (When, and the reservation step also as a Given) --------------------------------

  @When("a player registers as {string} with email {string}")
  public void aPlayerRegisters(String name, String email) {
    command(RegisterPlayer.newBuilder().setDisplayName(name).setEmail(email).build());
  }

  @When("they deposit {money}")
  public void theyDeposit(Currency amount) {
    command(DepositFunds.newBuilder().setAmount(amount).build());
  }

  @When("they deposit {money} expecting sequence {int}")
  public void theyDepositExpectingSequence(Currency amount, int sequence) {
    command(DepositFunds.newBuilder().setAmount(amount).build(), sequence);
  }

  @When("they withdraw {money}")
  public void theyWithdraw(Currency amount) {
    command(WithdrawFunds.newBuilder().setAmount(amount).build());
  }

  @When("they reserve {money} for table {string}")
  public void theyReserve(Currency amount, String table) {
    command(ReserveFunds.newBuilder().setAmount(amount).setTableRoot(utf8(table)).build());
  }

  @When("they release the reservation for table {string}")
  public void theyRelease(String table) {
    command(ReleaseFunds.newBuilder().setTableRoot(utf8(table)).build());
  }

  @When("they receive a transfer of {money}")
  public void theyReceiveATransfer(Currency amount) {
    command(TransferFunds.newBuilder()
        .setFromPlayerRoot(uuid(new java.util.UUID(0L, 1L)))
        .setAmount(amount)
        .setReason("pot")
        .build());
  }

  // --- Then -------------------------------------------------------------------------------------

  @Then("their balance is {money}")
  public void theirBalanceIs(Currency balance) {
    PlayerState state = aggregate.rebuild(null, recorded);
    assertEquals(balance.getAmount(), state.getBankroll().getAmount(), "bankroll of " + state);
  }

  @Then("a {word} event is recorded")
  public void anEventIsRecorded(String type) {
    assertTrue(anyCommand, "no command was sent");
    assertNull(lastFailure, () -> "the last command failed: " + describe(lastFailure));
    List<EventPage> pages = lastResponse.getEvents().getPagesList();
    assertTrue(!pages.isEmpty(), "the last command recorded no event");
    assertEquals("examples." + type, TypeUrls.typeName(pages.get(pages.size() - 1).getEvent()));
  }

  @Then("the command is rejected with {string}")
  public void theCommandIsRejectedWith(String text) {
    assertRejected(text);
  }

  @Then("the command is rejected as a sequence mismatch")
  public void theCommandIsRejectedAsASequenceMismatch() {
    assertRejected("sequence");
  }

  @Then("no new event is recorded")
  public void noNewEventIsRecorded() {
    assertEquals(beforeLastWhen, recorded.size(), "events recorded since the last When");
  }

  // --- the coordinator's part -------------------------------------------------------------------

  /** Sends a command with the current sequence; a Given must be accepted. */
  private void command(Message command) {
    command(command, recorded.size());
  }

  private void command(Message command, int expectedSequence) {
    if (StepKeywords.inGiven()) {
      send(command, expectedSequence);
      if (lastFailure != null) {
        fail("a Given command must be accepted: " + TypeUrls.typeName(TypeUrls.pack(command)) + " failed with "
            + describe(lastFailure));
      }
    } else {
      beforeLastWhen = recorded.size();
      send(command, expectedSequence);
    }
  }

  private void mustAccept(Message command) {
    send(command, recorded.size());
    if (lastFailure != null) {
      fail(TypeUrls.typeName(TypeUrls.pack(command)) + " must be accepted, it failed with " + describe(lastFailure));
    }
  }

  private void send(Message command, int expectedSequence) {
    anyCommand = true;
    lastResponse = null;
    lastFailure = null;
    int next = recorded.size();
    if (expectedSequence != next) {
      lastFailure = Status.FAILED_PRECONDITION.withDescription(
          "sequence mismatch: the command expects sequence " + expectedSequence + ", the aggregate is at " + next);
      return;
    }
    ContextualCommand request = ContextualCommand.newBuilder()
        .setEvents(EventBook.newBuilder().setCover(cover).addAllPages(recorded).setNextSequence(next))
        .setCommand(CommandBook.newBuilder()
            .setCover(cover)
            .addPages(CommandPage.newBuilder()
                .setHeader(PageHeader.newBuilder().setSequence(expectedSequence))
                .setCommand(Any.pack(command))))
        .build();
    BusinessResponse response;
    try {
      response = aggregate.execute(request);
    } catch (StatusRuntimeException e) {
      lastFailure = e.getStatus();
      return;
    }
    EventBook book = response.getEvents();
    assertNotNull(book, "the reply has no event book");
    assertEquals(cover, book.getCover(), "the reply's cover is the command's");
    for (int i = 0; i < book.getPagesCount(); i++) {
      EventPage page = book.getPages(i);
      assertEquals(next + i, page.getHeader().getSequence(), "sequence of new event " + i);
      assertTrue(page.hasEvent(), "new event " + i + " is inline");
    }
    if (book.getPagesCount() > 0) {
      assertEquals(next + book.getPagesCount() - 1, book.getSnapshot().getSequence(), "snapshot sequence");
    }
    recorded.addAll(book.getPagesList());
    lastResponse = response;
  }

  private void assertRejected(String text) {
    assertTrue(anyCommand, "no command was sent");
    assertNotNull(lastFailure, "the last command was accepted");
    assertEquals(Status.Code.FAILED_PRECONDITION, lastFailure.getCode(), () -> describe(lastFailure));
    String message = lastFailure.getDescription() == null ? "" : lastFailure.getDescription();
    assertTrue(message.contains(text), () -> "\"" + message + "\" does not contain \"" + text + "\"");
  }

  private static String describe(Status status) {
    return status.getCode() + ": " + status.getDescription();
  }

  private static ByteString utf8(String text) {
    return ByteString.copyFrom(text, StandardCharsets.UTF_8);
  }

  private static ByteString uuid(java.util.UUID id) {
    ByteBuffer bytes = ByteBuffer.allocate(16);
    bytes.putLong(id.getMostSignificantBits()).putLong(id.getLeastSignificantBits());
    return ByteString.copyFrom(bytes.array());
  }

  private static Cover newCover() {
    return Cover.newBuilder()
        .setDomain(PlayerAggregate.DOMAIN)
        .setRoot(UUID.newBuilder().setValue(uuid(java.util.UUID.randomUUID())))
        .build();
  }
}
