package dev.angzarr.client.testing;

import com.google.protobuf.Message;
import dev.angzarr.client.TypeUrls;
import dev.angzarr.client.Uuids;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import java.util.List;
import java.util.UUID;

/**
 * Event books as a saga or projector coordinator sends them, for tests:
 *
 * <pre>{@code
 * Cover player = EventBooks.cover("player", root, "corr-1");
 * SagaResponse r = saga.handle(EventBooks.of(player, 3, withdrawn));   // one page, sequence 3
 * }</pre>
 */
public final class EventBooks {
  private EventBooks() {}

  /** The cover of the stream {@code root} of {@code domain}, with a correlation id. */
  public static Cover cover(String domain, UUID root, String correlationId) {
    return Cover.newBuilder().setDomain(domain).setRoot(Uuids.of(root)).setCorrelationId(correlationId).build();
  }

  /** The cover of the stream {@code root} of {@code domain}. */
  public static Cover cover(String domain, UUID root) {
    return cover(domain, root, "");
  }

  /**
   * A book of {@code events} (messages or packed {@link com.google.protobuf.Any}s) with
   * consecutive sequences from {@code firstSequence}.
   */
  public static EventBook of(Cover cover, int firstSequence, Message... events) {
    return of(cover, firstSequence, List.of(events));
  }

  /** As {@link #of(Cover, int, Message...)}. */
  public static EventBook of(Cover cover, int firstSequence, List<? extends Message> events) {
    EventBook.Builder book = EventBook.newBuilder().setCover(cover);
    int sequence = firstSequence;
    for (Message event : events) {
      book.addPages(page(sequence++, event));
    }
    return book.build();
  }

  /** One page: {@code event} at {@code sequence}. */
  public static EventPage page(int sequence, Message event) {
    return EventPage.newBuilder()
        .setHeader(PageHeader.newBuilder().setSequence(sequence))
        .setEvent(TypeUrls.pack(event))
        .build();
  }
}
