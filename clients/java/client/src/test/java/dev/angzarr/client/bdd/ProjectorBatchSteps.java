package dev.angzarr.client.bdd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.angzarr.client.AngzarrServer;
import dev.angzarr.client.Projector;
import dev.angzarr.client.Uuids;
import dev.angzarr.client.testing.EventBooks;
import dev.angzarr.examples.Currency;
import dev.angzarr.examples.FundsDeposited;
import dev.angzarr.kafka.proto.ProjectorBatch;
import dev.angzarr.kafka.proto.ProjectorBatchServiceGrpc;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.Projection;
import dev.angzarr.proto.ProjectorServiceGrpc;
import io.cucumber.java.After;
import io.cucumber.java.en.Given;
import io.cucumber.java.en.Then;
import io.cucumber.java.en.When;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The world of features/projector_batch.feature (meanings in features/README.md): a {@code ledger}
 * projector built with {@link Projector}, served by {@link AngzarrServer} on 127.0.0.1 (a port the
 * system picks) and called through a real gRPC channel, {@code
 * angzarr_kafka.ProjectorBatchService.HandleBatch} for batches and {@code
 * angzarr.ProjectorService.Handle} for books one at a time. Cucumber makes a new instance per
 * scenario.
 */
public class ProjectorBatchSteps {
  private static final Pattern BOOK = Pattern.compile("\"([^\"]+)\" with (\\d+) events?");

  /** The ledger's records: per root, the sequences applied. */
  private final Map<UUID, NavigableSet<Integer>> ledger = new ConcurrentHashMap<>();
  private final Set<UUID> refused = ConcurrentHashMap.newKeySet();
  /** Per root letter, the sequence of its next page in this scenario. */
  private final Map<String, Integer> nextSequence = new HashMap<>();

  private AngzarrServer server;
  private ManagedChannel channel;

  /** The last HandleBatch request. */
  private ProjectorBatch lastBatch;
  /** The books of the last call (a batch, or books one at a time), its answer or its failure. */
  private List<EventBook> lastBooks;
  private List<Projection> lastProjections;
  private StatusRuntimeException lastFailure;

  /** Root "A": the UUID whose 16 bytes are all zero but the last, the letter's ASCII code. */
  static UUID root(String letter) {
    if (letter.length() != 1 || letter.charAt(0) > 0x7f) {
      throw new IllegalArgumentException("a root is named by one ASCII letter, not `" + letter + "`");
    }
    return new UUID(0L, letter.charAt(0));
  }

  static Cover cover(String letter) {
    return EventBooks.cover("player", root(letter));
  }

  // --- Given ------------------------------------------------------------------------------------

  @Given("a ledger projector")
  public void aLedgerProjector() throws Exception {
    Projector ledgerProjector = Projector.named("ledger")
        .on(FundsDeposited.class, (event, cover, sequence) -> {
          UUID root = Uuids.toJava(cover.getRoot());
          if (refused.contains(root)) {
            throw new IllegalStateException("refused: events of root " + root);
          }
          NavigableSet<Integer> applied = ledger.computeIfAbsent(root, r -> new TreeSet<>());
          synchronized (applied) {
            if (applied.isEmpty() || Integer.compareUnsigned(sequence, applied.last()) > 0) {
              applied.add(sequence); // at or below the last applied: ignored (idempotent by sequence)
            }
          }
        });
    server = AngzarrServer.start("127.0.0.1:0", ledgerProjector);
    channel = Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create()).build();
  }

  @Given("the projector refuses events of root {string}")
  public void theProjectorRefusesEventsOfRoot(String letter) {
    refused.add(root(letter));
  }

  @After
  public void stop() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.close();
    }
  }

  // --- When -------------------------------------------------------------------------------------

  @When("the projector stops refusing")
  public void theProjectorStopsRefusing() {
    refused.clear();
  }

  @When("^it is handed a batch of books: (.+)$")
  public void itIsHandedABatchOfBooks(String books) {
    call(ProjectorBatch.newBuilder().addAllBooks(books(books)).build());
  }

  @When("^it is handed books one at a time: (.+)$")
  public void itIsHandedBooksOneAtATime(String books) {
    lastBooks = books(books);
    lastProjections = new ArrayList<>();
    lastFailure = null;
    var stub = ProjectorServiceGrpc.newBlockingStub(channel);
    for (EventBook book : lastBooks) {
      try {
        lastProjections.add(stub.withDeadlineAfter(10, TimeUnit.SECONDS).handle(book));
      } catch (StatusRuntimeException e) {
        lastProjections = null;
        lastFailure = e;
        return;
      }
    }
  }

  @When("the same batch is handed over again")
  public void theSameBatchIsHandedOverAgain() {
    assertNotNull(lastBatch, "no batch was handed over before");
    call(lastBatch);
  }

  private void call(ProjectorBatch batch) {
    lastBatch = batch;
    lastBooks = batch.getBooksList();
    lastProjections = null;
    lastFailure = null;
    try {
      lastProjections = ProjectorBatchServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .handleBatch(batch)
          .getProjectionsList();
    } catch (StatusRuntimeException e) {
      lastFailure = e;
    }
  }

  /**
   * {@code "A" with 2 events, "B" with 1 event, ...} (or {@code none}): books in that order, each
   * root's pages continuing its sequences from its earlier books in the scenario.
   */
  private List<EventBook> books(String text) {
    List<EventBook> books = new ArrayList<>();
    if (text.trim().equals("none")) {
      return books;
    }
    Matcher m = BOOK.matcher(text);
    int end = 0;
    while (m.find()) {
      String gap = text.substring(end, m.start()).trim();
      if (!(end == 0 ? gap.isEmpty() : gap.equals(","))) {
        throw new IllegalArgumentException("cannot read the books `" + text + "` near `" + gap + "`");
      }
      end = m.end();
      String letter = m.group(1);
      int count = Integer.parseInt(m.group(2));
      int first = nextSequence.getOrDefault(letter, 0);
      List<FundsDeposited> events = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        events.add(FundsDeposited.newBuilder()
            .setAmount(Currency.newBuilder().setAmount(1).setCurrencyCode("USD"))
            .build());
      }
      books.add(EventBooks.of(cover(letter), first, events));
      nextSequence.put(letter, first + count);
    }
    if (end == 0 || !text.substring(end).trim().isEmpty()) {
      throw new IllegalArgumentException("cannot read the books `" + text + "`");
    }
    return books;
  }

  // --- Then -------------------------------------------------------------------------------------

  @Then("the call answers {int} projection(s)")
  public void theCallAnswersProjections(int count) {
    assertNull(lastFailure, () -> "the call failed: " + lastFailure.getStatus());
    assertNotNull(lastProjections, "no call was made");
    assertEquals(count, lastProjections.size());
    for (int i = 0; i < count; i++) {
      assertEquals("ledger", lastProjections.get(i).getProjector());
      assertEquals(lastBooks.get(i).getCover(), lastProjections.get(i).getCover(), "projection " + (i + 1) + "'s cover");
    }
  }

  @Then("projection {int} is for root {string} at sequence {int}")
  public void projectionIsForRootAtSequence(int index, String letter, int sequence) {
    assertNull(lastFailure, () -> "the call failed: " + lastFailure.getStatus());
    assertNotNull(lastProjections, "no call was made");
    assertTrue(index >= 1 && index <= lastProjections.size(),
        "no projection " + index + " of " + lastProjections.size());
    Projection projection = lastProjections.get(index - 1);
    assertEquals(root(letter), Uuids.toJava(projection.getCover().getRoot()));
    assertEquals(sequence, projection.getSequence());
  }

  @Then("the call fails with a message containing {string}")
  public void theCallFailsWithAMessageContaining(String text) {
    assertNotNull(lastFailure, "the call succeeded");
    Status status = lastFailure.getStatus();
    assertNotEquals(Status.Code.OK, status.getCode());
    assertNotEquals(Status.Code.UNIMPLEMENTED, status.getCode());
    assertNotNull(status.getDescription(), "no message");
    assertTrue(status.getDescription().contains(text), status.getDescription());
  }

  @Then("^the ledger holds (\\d+) events? of root \"([^\"]+)\" and (\\d+) events? of root \"([^\"]+)\"$")
  public void theLedgerHolds(int count, String letter, int otherCount, String other) {
    assertEquals(count, applied(letter), "events of root " + letter);
    assertEquals(otherCount, applied(other), "events of root " + other);
  }

  private int applied(String letter) {
    NavigableSet<Integer> applied = ledger.get(root(letter));
    if (applied == null) {
      return 0;
    }
    synchronized (applied) {
      return applied.size();
    }
  }
}
