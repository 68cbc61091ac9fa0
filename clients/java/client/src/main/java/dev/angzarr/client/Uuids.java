package dev.angzarr.client;

import com.google.protobuf.ByteString;
import dev.angzarr.proto.UUID;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.Objects;

/**
 * Aggregate roots: {@code angzarr.UUID} is the 16 raw bytes of a UUID, big-endian (RFC 4122 byte
 * order), the same bytes {@link java.util.UUID#toString()} spells.
 */
public final class Uuids {
  private Uuids() {}

  /** The root of {@code uuid}. */
  public static UUID of(java.util.UUID uuid) {
    Objects.requireNonNull(uuid, "uuid");
    ByteBuffer bytes = ByteBuffer.allocate(16);
    bytes.putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
    return UUID.newBuilder().setValue(ByteString.copyFrom(bytes.array())).build();
  }

  /** The root spelled {@code 8-4-4-4-12} hex digits. */
  public static UUID parse(String uuid) {
    return of(java.util.UUID.fromString(uuid));
  }

  /**
   * The {@link java.util.UUID} of a root.
   *
   * @throws IllegalArgumentException when the root is not 16 bytes
   */
  public static java.util.UUID toJava(UUID root) {
    ByteString value = root.getValue();
    if (value.size() != 16) {
      throw new IllegalArgumentException("a root UUID is 16 bytes, this one is " + value.size());
    }
    ByteBuffer bytes = value.asReadOnlyByteBuffer();
    return new java.util.UUID(bytes.getLong(), bytes.getLong());
  }

  /** Whether the root holds exactly 16 bytes. */
  public static boolean isValid(UUID root) {
    return root != null && root.getValue().size() == 16;
  }

  /**
   * A printable name of any root: the usual UUID spelling for 16 bytes, lower-case hex of whatever
   * else it holds (empty for none).
   */
  public static String toString(UUID root) {
    return isValid(root) ? toJava(root).toString() : HexFormat.of().formatHex(root.getValue().toByteArray());
  }
}
