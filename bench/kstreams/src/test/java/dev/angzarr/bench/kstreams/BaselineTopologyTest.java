package dev.angzarr.bench.kstreams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import dev.angzarr.examples.FundsDeposited;
import dev.angzarr.examples.PlayerRegistered;
import dev.angzarr.examples.WithdrawFunds;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.EventBook;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BaselineTopologyTest {
    @TempDir
    Path stateDir;

    private TopologyTestDriver driver;
    private TestInputTopic<String, byte[]> commands;
    private TestOutputTopic<String, byte[]> events;
    private TestOutputTopic<String, byte[]> rejections;
    private final UUID root = UUID.randomUUID();

    @BeforeEach
    void setUp() {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "kstreams-baseline-test");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
        driver = new TopologyTestDriver(BaselineTopology.build("player.commands", "player.events", p), p);
        commands = driver.createInputTopic("player.commands", new StringSerializer(), new ByteArraySerializer());
        events = driver.createOutputTopic("player.events", new StringDeserializer(), new ByteArrayDeserializer());
        rejections = driver.createOutputTopic(
                "player.events-rejections", new StringDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    private void send(CommandBook book) {
        commands.pipeInput(root.toString(), book.toByteArray());
    }

    private String rejectionReason() {
        assertTrue(events.isEmpty(), "no event expected");
        List<TestRecord<String, byte[]>> r = rejections.readRecordsToList();
        assertEquals(1, r.size(), "one rejection expected");
        assertEquals(root.toString(), r.get(0).key());
        return new String(r.get(0).value());
    }

    private TestRecord<String, byte[]> oneEvent() {
        assertTrue(rejections.isEmpty(), "no rejection expected");
        List<TestRecord<String, byte[]>> r = events.readRecordsToList();
        assertEquals(1, r.size(), "one event expected");
        return r.get(0);
    }

    private static String header(TestRecord<String, byte[]> r, String name) {
        return Wire.header(r.headers(), name);
    }

    @Test
    void registerThenDepositsBuildTheStream() throws Exception {
        send(Wire.register(root, 0, "c0"));
        TestRecord<String, byte[]> reg = oneEvent();
        EventBook book = EventBook.parseFrom(reg.value());
        assertEquals(root.toString(), reg.key());
        assertEquals(root, Wire.uuid(book.getCover().getRoot()));
        assertEquals("player", book.getCover().getDomain());
        assertEquals(0, book.getPages(0).getHeader().getSequence());
        assertTrue(book.getPages(0).getEvent().is(PlayerRegistered.class));
        assertEquals(root.toString(), header(reg, Wire.ROOT));
        assertEquals("0", header(reg, Wire.SEQUENCE));
        assertEquals("examples.PlayerRegistered", header(reg, Wire.TYPE));
        assertEquals("c0", header(reg, Wire.CORRELATION_ID));

        send(Wire.deposit(root, 1, 100, "c1"));
        send(Wire.deposit(root, 2, 50, "c2"));
        List<TestRecord<String, byte[]>> deposits = events.readRecordsToList();
        assertEquals(2, deposits.size());
        FundsDeposited second = EventBook.parseFrom(deposits.get(1).value())
                .getPages(0).getEvent().unpack(FundsDeposited.class);
        assertEquals(50, second.getAmount().getAmount());
        assertEquals(150, second.getNewBalance().getAmount());
        assertEquals("2", header(deposits.get(1), Wire.SEQUENCE));
        assertEquals("examples.FundsDeposited", header(deposits.get(1), Wire.TYPE));

        var store = driver.<String, byte[]>getKeyValueStore(BaselineTopology.STORE);
        assertEquals(new PlayerLogic.State(3, true, 150), PlayerLogic.State.fromBytes(store.get(root.toString())));
    }

    @Test
    void wrongSequenceIsRejectedAndLeavesStateAlone() {
        send(Wire.register(root, 0, "c0"));
        oneEvent();
        send(Wire.deposit(root, 5, 100, "ahead"));
        assertTrue(rejectionReason().contains("expected 1, got 5"));
        send(Wire.deposit(root, 0, 100, "replay"));
        assertTrue(rejectionReason().contains("expected 1, got 0"));
        send(Wire.deposit(root, 1, 100, "ok"));
        assertEquals("1", header(oneEvent(), Wire.SEQUENCE));
    }

    @Test
    void businessRulesReject() {
        send(Wire.deposit(root, 0, 100, "unregistered"));
        assertTrue(rejectionReason().contains("not registered"));
        send(Wire.register(root, 0, "c0"));
        oneEvent();
        send(Wire.register(root, 1, "again"));
        assertTrue(rejectionReason().contains("already registered"));
        send(Wire.deposit(root, 1, 0, "zero"));
        assertTrue(rejectionReason().contains("must be positive"));
        send(Wire.deposit(root, 1, -5, "negative"));
        assertTrue(rejectionReason().contains("must be positive"));
        send(Wire.command(root, 1, "withdraw", Any.pack(WithdrawFunds.newBuilder().build())));
        assertTrue(rejectionReason().contains("unknown command examples.WithdrawFunds"));
        commands.pipeInput(root.toString(), new byte[] {(byte) 0xff, 0x01});
        assertTrue(rejectionReason().contains("not a CommandBook"));
        commands.pipeInput(UUID.randomUUID().toString(), Wire.register(root, 0, "mismatch").toByteArray());
        assertTrue(events.isEmpty());
        assertTrue(new String(rejections.readValue()).contains("does not match record key"));
        // After all those rejections the stream still continues at sequence 1.
        send(Wire.deposit(root, 1, 7, "ok"));
        assertEquals("1", header(oneEvent(), Wire.SEQUENCE));
    }
}
