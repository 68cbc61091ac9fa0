package dev.angzarr.bench.kstreams;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import dev.angzarr.examples.Currency;
import dev.angzarr.examples.DepositFunds;
import dev.angzarr.examples.PlayerType;
import dev.angzarr.examples.RegisterPlayer;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.CommandPage;
import dev.angzarr.proto.Cover;
import dev.angzarr.proto.PageHeader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/** What travels on the topics: header names (as angzarr's connectors write them), UUIDs, command builders. */
final class Wire {
    private Wire() {}

    /** Record header names, as in connectors/src/record.rs. */
    static final String DOMAIN = "angzarr-domain";
    static final String ROOT = "angzarr-root";
    static final String SEQUENCE = "angzarr-sequence";
    static final String CORRELATION_ID = "angzarr-correlation-id";
    static final String TYPE = "angzarr-type";
    static final String EDITION = "angzarr-edition";
    /** Only on rejection records: why the command was refused. */
    static final String REASON = "angzarr-reason";

    static final String DOMAIN_PLAYER = "player";
    static final String CURRENCY = "USD";

    /** The rejections topic that goes with an events topic. */
    static String rejectionsTopic(String output) {
        return output + "-rejections";
    }

    static dev.angzarr.proto.UUID uuid(UUID u) {
        ByteBuffer b = ByteBuffer.allocate(16);
        b.putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits());
        return dev.angzarr.proto.UUID.newBuilder().setValue(ByteString.copyFrom(b.array())).build();
    }

    static UUID uuid(dev.angzarr.proto.UUID u) {
        if (u.getValue().size() != 16) {
            throw new IllegalArgumentException("UUID must be 16 bytes, got " + u.getValue().size());
        }
        ByteBuffer b = u.getValue().asReadOnlyByteBuffer();
        return new UUID(b.getLong(), b.getLong());
    }

    /** The proto full name inside an Any's type URL, e.g. {@code examples.DepositFunds}. */
    static String typeName(Any any) {
        String url = any.getTypeUrl();
        return url.substring(url.lastIndexOf('/') + 1);
    }

    static String header(Headers headers, String name) {
        Header h = headers.lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    static void put(Headers headers, String name, String value) {
        headers.add(name, value.getBytes(StandardCharsets.UTF_8));
    }

    static Currency money(long amount) {
        return Currency.newBuilder().setAmount(amount).setCurrencyCode(CURRENCY).build();
    }

    static CommandBook register(UUID root, int sequence, String correlationId) {
        RegisterPlayer cmd = RegisterPlayer.newBuilder()
                .setDisplayName("player-" + root.toString().substring(0, 8))
                .setEmail(root + "@bench.invalid")
                .setPlayerType(PlayerType.HUMAN)
                .build();
        return command(root, sequence, correlationId, Any.pack(cmd));
    }

    static CommandBook deposit(UUID root, int sequence, long amount, String correlationId) {
        DepositFunds cmd = DepositFunds.newBuilder().setAmount(money(amount)).build();
        return command(root, sequence, correlationId, Any.pack(cmd));
    }

    static CommandBook command(UUID root, int sequence, String correlationId, Any payload) {
        Cover cover = Cover.newBuilder()
                .setRoot(uuid(root))
                .setDomain(DOMAIN_PLAYER)
                .setCorrelationId(correlationId)
                .build();
        CommandPage page = CommandPage.newBuilder()
                .setHeader(PageHeader.newBuilder().setSequence(sequence))
                .setCommand(payload)
                .build();
        return CommandBook.newBuilder().setCover(cover).addPages(page).build();
    }
}
