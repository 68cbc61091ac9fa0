package dev.angzarr.client;

import dev.angzarr.proto.Cover;
import java.util.HexFormat;

/**
 * Optional: where a {@link Projector} finds, per stream (domain, root and edition), the last
 * sequence its read model applied, to skip redelivered pages at or below it (see {@link
 * Projector#checkpoints(Checkpoints)}). Without one, a projector applies every page it is given.
 *
 * <p>Implement it on the read model's own store, ideally written in the same transaction as the
 * model, and wiped with it. A checkpoint in the projector process's memory is wrong: after a
 * replay (the consumer group rewound) into a wiped read model it would skip everything.
 */
public interface Checkpoints {
  /** The last sequence applied for the stream of {@code cover} (unsigned), or -1 when none. */
  long lastApplied(Cover cover);

  /** Records that {@code sequence} (unsigned) of the stream of {@code cover} is applied. */
  void applied(Cover cover, long sequence);

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
