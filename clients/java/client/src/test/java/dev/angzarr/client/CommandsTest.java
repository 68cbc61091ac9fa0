package dev.angzarr.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Int32Value;
import com.google.protobuf.StringValue;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.UUID;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class CommandsTest {
  static final java.util.UUID ROOT = java.util.UUID.fromString("00112233-4455-6677-8899-aabbccddeeff");

  @Test
  void uuidsAreTheSixteenBigEndianBytes() {
    UUID root = Uuids.of(ROOT);
    assertEquals("00112233445566778899aabbccddeeff", HexFormat.of().formatHex(root.getValue().toByteArray()));
    assertEquals(ROOT, Uuids.toJava(root));
    assertEquals(root, Uuids.parse(ROOT.toString()));
    assertEquals(ROOT.toString(), Uuids.toString(root));
    UUID odd = UUID.newBuilder().setValue(ByteString.copyFrom(new byte[] {1, 2})).build();
    assertFalse(Uuids.isValid(odd));
    assertEquals("0102", Uuids.toString(odd));
    assertThrows(IllegalArgumentException.class, () -> Uuids.toJava(odd));
  }

  @Test
  void aCommandBookHasTheTargetCoverAndOneHeaderlessPage() {
    CommandBook book = Commands.to("player", ROOT, Int32Value.of(7));
    assertEquals("player", book.getCover().getDomain());
    assertEquals(Uuids.of(ROOT), book.getCover().getRoot());
    assertEquals("", book.getCover().getCorrelationId(), "the coordinator copies the correlation id");
    assertEquals(1, book.getPagesCount());
    assertFalse(book.getPages(0).hasHeader(), "the coordinator stamps the header");
    assertEquals(Any.pack(Int32Value.of(7)), book.getPages(0).getCommand());
    assertEquals("type.googleapis.com/google.protobuf.Int32Value", book.getPages(0).getCommand().getTypeUrl());
    assertEquals(book, Commands.to("player", Uuids.of(ROOT), Int32Value.of(7)));

    assertEquals("google.protobuf.Int32Value", Commands.typeName(book));
    assertEquals(Int32Value.of(7), Commands.unpack(book, Int32Value.class));
    assertThrows(IllegalArgumentException.class, () -> Commands.unpack(book, StringValue.class));
    assertEquals("", Commands.typeName(CommandBook.getDefaultInstance()));
  }

  @Test
  void badTargetsAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> Commands.to("", ROOT, Int32Value.of(1)));
    assertThrows(IllegalArgumentException.class, () -> Commands.to("player", UUID.getDefaultInstance(), Int32Value.of(1)));
    assertThrows(NullPointerException.class, () -> Commands.to("player", ROOT, null));
    assertTrue(Commands.to("player", ROOT, Any.pack(Int32Value.of(1))).getPages(0).getCommand().getTypeUrl()
        .endsWith("Int32Value"), "an Any is passed as it is");
  }
}
