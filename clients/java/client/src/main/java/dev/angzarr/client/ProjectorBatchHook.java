package dev.angzarr.client;

import dev.angzarr.proto.EventBook;
import java.util.List;

/**
 * Optional: wraps each {@code angzarr_kafka.ProjectorBatchService.HandleBatch} call of a {@link
 * Projector}, typically in one read-model transaction, so that a batch is committed whole or not
 * at all (see {@link Projector#aroundBatch}). The unary {@code ProjectorService.Handle} does not
 * use it.
 *
 * <pre>{@code
 * Projector ledger = Projector.named("ledger")
 *     .on(FundsDeposited.class, (e, cover, seq) -> rows.upsertIfNewer(tx.get(), cover.getRoot(), e, seq))
 *     .aroundBatch((books, applyBatch) -> {
 *       try (Connection connection = dataSource.getConnection()) {
 *         connection.setAutoCommit(false);
 *         tx.set(connection);                 // e.g. a ThreadLocal the handlers read
 *         try {
 *           applyBatch.run();                 // every book, in order, on this thread
 *           connection.commit();
 *         } catch (RuntimeException e) {
 *           connection.rollback();
 *           throw e;                          // or not: the call fails either way
 *         } finally {
 *           tx.remove();
 *         }
 *       }
 *     });
 * }</pre>
 */
@FunctionalInterface
public interface ProjectorBatchHook {
  /**
   * Runs {@code applyBatch} exactly once. It applies {@code books} in order, each as {@link
   * Projector#handle} would (handlers and views run inside it, on the calling thread), and throws
   * the first book's failure as a {@code StatusRuntimeException} (description prefixed with {@code
   * book I of N}), the later books then left unapplied.
   *
   * <p>The call fails as a whole, and the coordinator hands the same books over again, when {@code
   * applyBatch} failed (with that failure's status, whatever the hook then does or throws), when
   * the hook throws (a {@code StatusRuntimeException} keeps its status, anything else is {@code
   * INTERNAL}), or when it returns without having run {@code applyBatch} ({@code INTERNAL}).
   *
   * <p>When one server hosts several projectors and a batch holds books of more than one, the
   * hooks of those projectors nest, in the order of their first book, around the whole batch.
   *
   * <p>As with {@code Handle}, only books of one stream are applied one at a time: other calls
   * ({@code Handle}, or another batch) may run meanwhile on other threads, so the read model's
   * transactions must keep them apart, as they would any concurrent writers.
   *
   * @param books the books of the call this projector applies, in order (never empty)
   * @param applyBatch applies the batch; a second run throws {@link IllegalStateException}
   * @throws Exception fails the call
   */
  void around(List<EventBook> books, Runnable applyBatch) throws Exception;
}
