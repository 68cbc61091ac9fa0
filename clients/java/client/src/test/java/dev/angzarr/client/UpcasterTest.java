package dev.angzarr.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Int32Value;
import com.google.protobuf.StringValue;
import dev.angzarr.client.flowtest.PlayerRegistered;
import dev.angzarr.client.flowtest.PlayerRegisteredV1;
import dev.angzarr.client.testing.EventBooks;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import dev.angzarr.proto.UpcastRequest;
import dev.angzarr.proto.UpcastResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import org.junit.jupiter.api.Test;

class UpcasterTest {
  /** The player upcaster of the poker example, on the test messages. */
  static final Upcaster PLAYER = Upcaster.named("player")
      .map(PlayerRegisteredV1.class, old -> PlayerRegistered.newBuilder()
          .setDisplayName(old.getName())
          .setEmail(old.getEmail())
          .build());

  static PlayerRegisteredV1 v1(String name) {
    return PlayerRegisteredV1.newBuilder().setName(name).setEmail(name + "@example.com").build();
  }

  static UpcastRequest request(EventPage... pages) {
    return UpcastRequest.newBuilder().setDomain("player").addAllEvents(List.of(pages)).build();
  }

  static Status.Code code(Runnable r) {
    return assertThrows(StatusRuntimeException.class, r::run).getStatus().getCode();
  }

  @Test
  void mappedTypesAreRewrittenOthersPassThroughInOrder() throws Exception {
    EventPage old = EventBooks.page(0, v1("ann")).toBuilder().setNoCommit(true).build();
    EventPage other = EventBooks.page(1, Int32Value.of(5));
    EventPage current = EventBooks.page(2, PlayerRegistered.newBuilder().setDisplayName("bob").build());
    EventPage noEvent = EventPage.newBuilder().setHeader(PageHeader.newBuilder().setSequence(3)).build();
    EventPage oldAgain = EventBooks.page(4, v1("cy"));

    UpcastResponse out = PLAYER.upcast(request(old, other, current, noEvent, oldAgain));

    assertEquals(5, out.getEventsCount());
    EventPage first = out.getEvents(0);
    assertEquals(PlayerRegistered.newBuilder().setDisplayName("ann").setEmail("ann@example.com").build(),
        first.getEvent().unpack(PlayerRegistered.class));
    assertEquals("type.googleapis.com/flowtest.PlayerRegistered", first.getEvent().getTypeUrl());
    assertEquals(old.getHeader(), first.getHeader(), "the header is kept");
    assertTrue(first.getNoCommit(), "so is everything else");
    assertEquals(other, out.getEvents(1));
    assertEquals(current, out.getEvents(2));
    assertEquals(noEvent, out.getEvents(3));
    assertEquals("cy", out.getEvents(4).getEvent().unpack(PlayerRegistered.class).getDisplayName());
    assertEquals(4, out.getEvents(4).getHeader().getSequence());
  }

  @Test
  void unmappedEventsAreReturnedUnchanged() {
    UpcastRequest request = request(EventBooks.page(0, StringValue.of("a")), EventBooks.page(1, Int32Value.of(1)));
    assertEquals(request.getEventsList(), PLAYER.upcast(request).getEventsList());
    assertEquals(request.getEventsList(), Upcaster.named("nothing").upcast(request).getEventsList());
    assertEquals(0, PLAYER.upcast(UpcastRequest.getDefaultInstance()).getEventsCount());
  }

  @Test
  void aMalformedOldPayloadIsInvalidArgument() {
    Any garbage = Any.newBuilder().setTypeUrl("type.googleapis.com/flowtest.PlayerRegisteredV1")
        .setValue(ByteString.copyFrom(new byte[] {(byte) 0x0a, (byte) 0x05, 'x'})).build();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> PLAYER.upcast(
        request(EventBooks.page(0, v1("ok")), EventPage.newBuilder().setHeader(PageHeader.newBuilder().setSequence(1)).setEvent(garbage).build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("flowtest.PlayerRegisteredV1"), e.getStatus().getDescription());
  }

  @Test
  void aFailingMappingIsInternal() {
    Upcaster broken = Upcaster.named("broken")
        .map(Int32Value.class, old -> {
          throw new IllegalStateException("no");
        })
        .map(StringValue.class, old -> null);
    assertEquals(Status.Code.INTERNAL, code(() -> broken.upcast(request(EventBooks.page(0, Int32Value.of(1))))));
    assertEquals(Status.Code.INTERNAL, code(() -> broken.upcast(request(EventBooks.page(0, StringValue.of("x"))))));
  }

  @Test
  void registration() {
    assertEquals("upcaster", PLAYER.componentType());
    assertEquals(java.util.Set.of("flowtest.PlayerRegisteredV1"), PLAYER.eventTypes());
    assertThrows(IllegalStateException.class, () -> PLAYER.map(PlayerRegisteredV1.class, old -> old));
    assertThrows(IllegalArgumentException.class, () -> Upcaster.named(""));
    Upcaster base = Upcaster.named("u");
    base.map(Int32Value.class, old -> old);
    assertTrue(base.eventTypes().isEmpty(), "map returns a new upcaster");
  }
}
