package dev.angzarr.bench.kstreams;

import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * commands (key = root, value = CommandBook)
 *   -> decide (state from a persistent store keyed by root)
 *   -> events (key = root, value = EventBook) or &lt;events&gt;-rejections (value = reason text).
 * The store update and both outputs commit atomically with the input offset under exactly_once_v2.
 */
final class BaselineTopology {
    private BaselineTopology() {}

    static final String STORE = "aggregate-state";
    static final String SOURCE = "commands";
    static final String DECIDE = "decide";
    static final String EVENTS = "events";
    static final String REJECTIONS = "rejections";

    /** Process-wide counters (all stream threads), reported on shutdown. */
    static final LongAdder ACCEPTED = new LongAdder();
    static final LongAdder REJECTED = new LongAdder();

    /** {@code config}: the app's Streams properties (the topology-level ones apply to the topology). */
    static Topology build(String input, String output, Properties config) {
        Topology t = new Topology(new TopologyConfig(new StreamsConfig(config)));
        t.addSource(SOURCE, Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), input);
        t.addProcessor(DECIDE, DecideProcessor::new, SOURCE);
        t.addStateStore(
                Stores.keyValueStoreBuilder(
                                Stores.persistentKeyValueStore(STORE), Serdes.String(), Serdes.ByteArray())
                        .withCachingEnabled(),
                DECIDE);
        t.addSink(EVENTS, output, Serdes.String().serializer(), Serdes.ByteArray().serializer(), DECIDE);
        t.addSink(REJECTIONS, Wire.rejectionsTopic(output),
                Serdes.String().serializer(), Serdes.ByteArray().serializer(), DECIDE);
        return t;
    }

    static final class DecideProcessor implements Processor<String, byte[], String, byte[]> {
        private ProcessorContext<String, byte[]> context;
        private KeyValueStore<String, byte[]> store;

        @Override
        public void init(ProcessorContext<String, byte[]> context) {
            this.context = context;
            this.store = context.getStateStore(STORE);
        }

        @Override
        public void process(Record<String, byte[]> command) {
            String key = command.key();
            PlayerLogic.State state = key == null ? PlayerLogic.State.NEW : PlayerLogic.State.fromBytes(store.get(key));
            PlayerLogic.Decision decision =
                    PlayerLogic.decide(key, state, command.value(), context.currentSystemTimeMs());

            if (decision instanceof PlayerLogic.Accepted ok) {
                store.put(key, ok.next().toBytes());
                var cover = ok.book().getCover();
                Headers h = new RecordHeaders();
                Wire.put(h, Wire.DOMAIN, cover.getDomain());
                Wire.put(h, Wire.ROOT, key);
                Wire.put(h, Wire.SEQUENCE, Integer.toString(ok.sequence()));
                Wire.put(h, Wire.CORRELATION_ID, cover.getCorrelationId());
                Wire.put(h, Wire.TYPE, ok.typeName());
                Wire.put(h, Wire.EDITION, cover.getEdition().getName());
                context.forward(new Record<>(key, ok.book().toByteArray(), command.timestamp(), h), EVENTS);
                ACCEPTED.increment();
            } else if (decision instanceof PlayerLogic.Rejected no) {
                Headers h = new RecordHeaders();
                Wire.put(h, Wire.ROOT, key == null ? "" : key);
                Wire.put(h, Wire.SEQUENCE, Integer.toString(no.sequence()));
                Wire.put(h, Wire.TYPE, no.commandType());
                Wire.put(h, Wire.REASON, no.reason());
                context.forward(new Record<>(key, no.reason().getBytes(StandardCharsets.UTF_8),
                        command.timestamp(), h), REJECTIONS);
                REJECTED.increment();
            }
        }
    }
}
