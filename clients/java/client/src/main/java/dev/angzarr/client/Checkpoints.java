package dev.angzarr.client;

import dev.angzarr.proto.Cover;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Where a {@link Projector} remembers, per stream (domain, root and edition), the last sequence
 * it applied. Delivery to a projector is at least once: a page at or below that sequence is a
 * redelivery and is skipped.
 *
 * <p>The default ({@link #inMemory()}) forgets everything on restart, which suits a read model
 * that lives in memory too. A durable read model should keep its checkpoints in the same store,
 * ideally written in the same transaction as the model.
 */
public interface Checkpoints {
  /** The last sequence applied for the stream of {@code cover} (unsigned), or -1 when none. */
  long lastApplied(Cover cover);

  /** Records that {@code sequence} (unsigned) of the stream of {@code cover} is applied. */
  void applied(Cover cover, long sequence);

  /** Checkpoints in a concurrent map, lost on restart. */
  static Checkpoints inMemory() {
    ConcurrentMap<String, Long> map = new ConcurrentHashMap<>();
    return new Checkpoints() {
      @Override
      public long lastApplied(Cover cover) {
        return map.getOrDefault(key(cover), -1L);
      }

      @Override
      public void applied(Cover cover, long sequence) {
        map.merge(key(cover), sequence, Math::max);
      }

      @Override
      public String toString() {
        return "Checkpoints.inMemory" + map;
      }
    };
  }

  /**
   * A text key naming the stream of {@code cover}: {@code domain/root} with the root as a UUID (or
   * hex), plus {@code @edition} off the main timeline.
   */
  static String key(Cover cover) {
    String root = Uuids.isValid(cover.getRoot())
        ? Uuids.toJava(cover.getRoot()).toString()
        : HexFormat.of().formatHex(cover.getRoot().getValue().toByteArray());
    String edition = cover.getEdition().getName();
    return cover.getDomain() + "/" + root + (edition.isEmpty() ? "" : "@" + edition);
  }
}
