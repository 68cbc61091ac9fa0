package dev.angzarr.bench.kstreams;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import dev.angzarr.examples.DepositFunds;
import dev.angzarr.examples.FundsDeposited;
import dev.angzarr.examples.PlayerRegistered;
import dev.angzarr.examples.RegisterPlayer;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import dev.angzarr.proto.PageHeader;
import java.nio.ByteBuffer;
import java.util.UUID;

/**
 * The player aggregate's command -> event logic, in-process: the same rules as
 * the example's RegisterPlayer/DepositFunds handlers, plus the coordinator's
 * optimistic-concurrency check (the page's sequence must be the aggregate's next).
 * Pure: no Kafka in here.
 */
final class PlayerLogic {
    private PlayerLogic() {}

    /** What the store keeps per root. */
    record State(int nextSequence, boolean registered, long balance) {
        static final State NEW = new State(0, false, 0);
        private static final int SIZE = 4 + 1 + 8;

        byte[] toBytes() {
            return ByteBuffer.allocate(SIZE)
                    .putInt(nextSequence)
                    .put((byte) (registered ? 1 : 0))
                    .putLong(balance)
                    .array();
        }

        static State fromBytes(byte[] bytes) {
            if (bytes == null) {
                return NEW;
            }
            ByteBuffer b = ByteBuffer.wrap(bytes);
            return new State(b.getInt(), b.get() != 0, b.getLong());
        }
    }

    sealed interface Decision permits Accepted, Rejected {}

    /** One event: the book to write (cover + one page), its type name, and the new state. */
    record Accepted(EventBook book, String typeName, int sequence, State next) implements Decision {}

    /** Nothing written; {@code sequence} is the command's expected sequence (-1 if it had none). */
    record Rejected(String reason, String commandType, int sequence) implements Decision {}

    static Decision decide(String key, State state, byte[] value, long nowMs) {
        if (value == null) {
            return new Rejected("empty record (tombstone)", "", -1);
        }
        CommandBook book;
        try {
            book = CommandBook.parseFrom(value);
        } catch (InvalidProtocolBufferException e) {
            return new Rejected("not a CommandBook: " + e.getMessage(), "", -1);
        }
        return decide(key, state, book, nowMs);
    }

    static Decision decide(String key, State state, CommandBook book, long nowMs) {
        if (book.getPagesCount() != 1) {
            return new Rejected("expected exactly one command page, got " + book.getPagesCount(), "", -1);
        }
        CommandPage page = book.getPages(0);
        if (!page.hasCommand()) {
            return new Rejected("command page carries no inline command", "", -1);
        }
        Any command = page.getCommand();
        String type = Wire.typeName(command);
        if (page.getHeader().getSequenceTypeCase() != PageHeader.SequenceTypeCase.SEQUENCE) {
            return new Rejected("command page has no explicit sequence", type, -1);
        }
        int sequence = page.getHeader().getSequence();

        Cover cover = book.getCover();
        UUID root;
        try {
            root = UUID.fromString(key);
        } catch (IllegalArgumentException | NullPointerException e) {
            return new Rejected("record key is not a UUID: " + key, type, sequence);
        }
        if (cover.hasRoot()) {
            UUID coverRoot;
            try {
                coverRoot = Wire.uuid(cover.getRoot());
            } catch (IllegalArgumentException e) {
                return new Rejected("bad cover root: " + e.getMessage(), type, sequence);
            }
            if (!coverRoot.equals(root)) {
                return new Rejected("cover root " + coverRoot + " does not match record key " + root, type, sequence);
            }
        } else {
            cover = cover.toBuilder().setRoot(Wire.uuid(root)).build();
        }

        if (sequence != state.nextSequence()) {
            return new Rejected("sequence mismatch: expected " + state.nextSequence() + ", got " + sequence,
                    type, sequence);
        }

        Timestamp now = Timestamp.newBuilder()
                .setSeconds(Math.floorDiv(nowMs, 1000))
                .setNanos((int) Math.floorMod(nowMs, 1000) * 1_000_000)
                .build();
        try {
            if (command.is(RegisterPlayer.class)) {
                if (state.registered()) {
                    return new Rejected("player already registered", type, sequence);
                }
                RegisterPlayer cmd = command.unpack(RegisterPlayer.class);
                PlayerRegistered event = PlayerRegistered.newBuilder()
                        .setDisplayName(cmd.getDisplayName())
                        .setEmail(cmd.getEmail())
                        .setPlayerType(cmd.getPlayerType())
                        .setAiModelId(cmd.getAiModelId())
                        .setRegisteredAt(now)
                        .build();
                return accept(cover, sequence, event, now, new State(sequence + 1, true, state.balance()));
            }
            if (command.is(DepositFunds.class)) {
                if (!state.registered()) {
                    return new Rejected("player not registered", type, sequence);
                }
                DepositFunds cmd = command.unpack(DepositFunds.class);
                long amount = cmd.getAmount().getAmount();
                if (amount <= 0) {
                    return new Rejected("deposit must be positive, got " + amount, type, sequence);
                }
                long balance = Math.addExact(state.balance(), amount);
                FundsDeposited event = FundsDeposited.newBuilder()
                        .setAmount(cmd.getAmount())
                        .setNewBalance(Wire.money(balance).toBuilder()
                                .setCurrencyCode(cmd.getAmount().getCurrencyCode()))
                        .setDepositedAt(now)
                        .build();
                return accept(cover, sequence, event, now, new State(sequence + 1, true, balance));
            }
        } catch (InvalidProtocolBufferException e) {
            return new Rejected("bad " + type + ": " + e.getMessage(), type, sequence);
        } catch (ArithmeticException e) {
            return new Rejected("balance overflow", type, sequence);
        }
        return new Rejected("unknown command " + type, type, sequence);
    }

    private static Accepted accept(Cover cover, int sequence, Message event, Timestamp now, State next) {
        EventBook book = EventBook.newBuilder()
                .setCover(cover)
                .addPages(EventPage.newBuilder()
                        .setHeader(PageHeader.newBuilder().setSequence(sequence))
                        .setCreatedAt(now)
                        .setEvent(Any.pack(event)))
                .build();
        return new Accepted(book, event.getDescriptorForType().getFullName(), sequence, next);
    }
}
