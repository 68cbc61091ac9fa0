package dev.angzarr.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.UUID;
import java.util.Objects;

/**
 * Commands a {@link Saga} or {@link ProcessManager} issues: a {@link CommandBook} for one aggregate with one command.
 *
 * <pre>{@code
 * return List.of(Commands.to("player", cover.getRoot(), DepositFunds.newBuilder().setAmount(a).build()));
 * }</pre>
 *
 * <p>The page's header is left unset: the saga coordinator stamps it (a deferred sequence pointing
 * at the source event) and copies the source's correlation id into the cover.
 */
public final class Commands {
  private Commands() {}

  /** {@code command} for the aggregate {@code root} of {@code domain}. */
  public static CommandBook to(String domain, java.util.UUID root, Message command) {
    Objects.requireNonNull(root, "root");
    return to(domain, Uuids.of(root), command);
  }

  /**
   * {@code command} for the aggregate {@code root} of {@code domain}, e.g. {@code cover.getRoot()}
   * of the source event.
   *
   * @throws IllegalArgumentException when the domain is empty or the root is not 16 bytes
   */
  public static CommandBook to(String domain, UUID root, Message command) {
    Objects.requireNonNull(domain, "domain");
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(command, "command");
    if (domain.isEmpty()) {
      throw new IllegalArgumentException("domain must not be empty");
    }
    if (!Uuids.isValid(root)) {
      throw new IllegalArgumentException("a root UUID is 16 bytes, this one is " + root.getValue().size());
    }
    return CommandBook.newBuilder()
        .setCover(Cover.newBuilder().setDomain(domain).setRoot(root))
        .addPages(CommandPage.newBuilder().setCommand(TypeUrls.pack(command)))
        .build();
  }

  /** The full proto name of the book's (first) command, or {@code ""} when it has none. */
  public static String typeName(CommandBook book) {
    return book.getPagesCount() == 0 || !book.getPages(0).hasCommand()
        ? ""
        : TypeUrls.typeName(book.getPages(0).getCommand());
  }

  /**
   * The book's (first) command, unpacked as {@code type}.
   *
   * @throws IllegalArgumentException when the book holds no command of that type
   */
  public static <C extends Message> C unpack(CommandBook book, Class<C> type) {
    String want = TypeUrls.typeName(type);
    String got = typeName(book);
    if (!want.equals(got)) {
      throw new IllegalArgumentException("expected a " + want + " command, the book holds " + (got.isEmpty() ? "none" : got));
    }
    Any packed = book.getPages(0).getCommand();
    try {
      return packed.unpack(type);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("malformed " + want + ": " + e.getMessage(), e);
    }
  }

  /**
   * Checks a command book a saga or process manager returned: a target domain, a 16-byte root and
   * exactly one page with an inline command; anything else is {@code INTERNAL}.
   */
  static CommandBook checked(CommandBook command, String where) {
    if (command == null) {
      throw Rpc.internal(where + "returned a null command book", null);
    }
    if (command.getCover().getDomain().isEmpty()) {
      throw Rpc.internal(where + "a command book without a target domain", null);
    }
    if (!Uuids.isValid(command.getCover().getRoot())) {
      throw Rpc.internal(where + "a command book for `" + command.getCover().getDomain()
          + "` whose root is not 16 bytes", null);
    }
    if (command.getPagesCount() != 1 || !command.getPages(0).hasCommand()) {
      throw Rpc.internal(where + "a command book must hold exactly one page with an inline command, this one has "
          + command.getPagesCount() + " page(s)", null);
    }
    return command;
  }
}
