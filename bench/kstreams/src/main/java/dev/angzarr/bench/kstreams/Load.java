package dev.angzarr.bench.kstreams;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.angzarr.examples.FundsDeposited;
import dev.angzarr.examples.PlayerRegistered;
import dev.angzarr.proto.CommandBook;
import dev.angzarr.proto.EventBook;
import dev.angzarr.proto.EventPage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** The load (--produce) and the check of what came out (--verify). */
final class Load {
    private Load() {}

    /** Amount of the k-th deposit (k >= 1) of any root; --verify recomputes balances independently. */
    static long depositAmount(int k) {
        return 100L * k;
    }

    /**
     * Writes N commands for R fresh roots: per root RegisterPlayer at sequence 0, then
     * DepositFunds at 1, 2, ... (N spread evenly over the roots), interleaved round-robin
     * across roots so every partition gets load from the start.
     */
    static int produce(Main.Args a) throws Exception {
        long n = a.num("produce");
        int roots = (int) a.num("roots", 100);
        String bootstrap = a.str("bootstrap");
        String input = a.str("input");
        if (roots <= 0 || n < roots || n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("need 0 < --roots <= --produce (one RegisterPlayer per root)");
        }
        UUID[] ids = new UUID[roots];
        int[] count = new int[roots];
        for (int i = 0; i < roots; i++) {
            ids[i] = UUID.randomUUID();
            count[i] = (int) (n / roots + (i < n % roots ? 1 : 0));
        }
        int rounds = count[0];

        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        AtomicReference<Exception> failure = new AtomicReference<>();
        long first;
        long sent = 0;
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            producer.partitionsFor(input); // metadata up front, so the timing is of the sends
            first = System.currentTimeMillis();
            for (int seq = 0; seq < rounds; seq++) {
                for (int i = 0; i < roots; i++) {
                    if (seq >= count[i]) {
                        continue;
                    }
                    String root = ids[i].toString();
                    String correlation = root + "/" + seq;
                    CommandBook book = seq == 0
                            ? Wire.register(ids[i], 0, correlation)
                            : Wire.deposit(ids[i], seq, depositAmount(seq), correlation);
                    ProducerRecord<String, byte[]> rec = new ProducerRecord<>(input, root, book.toByteArray());
                    Wire.put(rec.headers(), Wire.DOMAIN, Wire.DOMAIN_PLAYER);
                    Wire.put(rec.headers(), Wire.ROOT, root);
                    Wire.put(rec.headers(), Wire.CORRELATION_ID, correlation);
                    Wire.put(rec.headers(), Wire.TYPE, Wire.typeName(book.getPages(0).getCommand()));
                    producer.send(rec, (md, e) -> {
                        if (e != null) {
                            failure.compareAndSet(null, e);
                        }
                    });
                    sent++;
                }
            }
            producer.flush();
        }
        long ms = Math.max(1, System.currentTimeMillis() - first);
        if (failure.get() != null) {
            System.err.println("produce: FAILED: " + failure.get());
            return 1;
        }
        System.out.printf("produced %d commands for %d roots to %s in %d ms (%.0f commands/s); first-send-ms=%d%n",
                sent, roots, input, ms, sent * 1000.0 / ms, first);
        return 0;
    }

    /** Per-root expectations while reading the events in log order. */
    private static final class RootCheck {
        int next;
        long balance;
    }

    /**
     * Reads the events topic (read_committed) until --expect events arrived, then keeps reading
     * --settle-ms more to catch extras; checks per root: sequences 0,1,2,... in log order, no
     * gaps or duplicates, PlayerRegistered first, balances adding up, headers matching the book.
     */
    static int verify(Main.Args a) throws Exception {
        long expect = a.num("expect");
        String bootstrap = a.str("bootstrap");
        String output = a.str("output");
        long expectRoots = a.num("roots", -1);
        long expectRejections = a.num("expect-rejections", 0);
        long timeoutMs = a.num("timeout-s", 120) * 1000;
        long settleMs = a.num("settle-ms", 2000);
        long since = a.num("since-ms", -1);
        String rejections = Wire.rejectionsTopic(output);

        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);

        long start = System.currentTimeMillis();
        long deadline = start + timeoutMs;
        Map<String, RootCheck> byRoot = new HashMap<>();
        List<String> errors = new ArrayList<>();
        long events = 0;
        long rejected = 0;
        long minTs = Long.MAX_VALUE;
        long lastVisible = -1;
        List<String> rejectionSamples = new ArrayList<>();

        try (KafkaConsumer<String, byte[]> consumer =
                new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            // The app creates the topics; wait for them (verify may start first).
            Set<String> topics = Set.of();
            while (System.currentTimeMillis() < deadline) {
                topics = consumer.listTopics(Duration.ofSeconds(10)).keySet();
                if (topics.contains(output) && topics.contains(rejections)) {
                    break;
                }
                Thread.sleep(200);
            }
            if (!topics.contains(output)) {
                System.err.println("verify: FAIL: topic " + output + " does not exist");
                return 1;
            }
            List<TopicPartition> parts = new ArrayList<>();
            for (String t : List.of(output, rejections)) {
                if (topics.contains(t)) {
                    consumer.partitionsFor(t).forEach(pi -> parts.add(new TopicPartition(t, pi.partition())));
                }
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);

            long settleUntil = Long.MAX_VALUE;
            while (true) {
                long now = System.currentTimeMillis();
                if (now >= settleUntil) {
                    break;
                }
                if (lastVisible < 0 && now >= deadline) {
                    break;
                }
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(50))) {
                    if (r.topic().equals(rejections)) {
                        rejected++;
                        if (rejectionSamples.size() < 5) {
                            rejectionSamples.add(r.key() + ": " + new String(r.value()));
                        }
                        continue;
                    }
                    events++;
                    minTs = Math.min(minTs, r.timestamp());
                    check(r, byRoot, errors);
                }
                if (lastVisible < 0 && events >= expect) {
                    lastVisible = System.currentTimeMillis();
                    settleUntil = lastVisible + settleMs;
                }
            }
        }

        if (lastVisible < 0) {
            errors.add(0, "timed out after " + timeoutMs / 1000 + " s with " + events + " of " + expect + " events");
        } else if (events != expect) {
            errors.add(0, "expected " + expect + " events, read " + events + " (extras after settling)");
        }
        if (expectRoots >= 0 && byRoot.size() != expectRoots) {
            errors.add("expected " + expectRoots + " roots, saw " + byRoot.size());
        }
        if (rejected != expectRejections) {
            errors.add("expected " + expectRejections + " rejections, read " + rejected + " " + rejectionSamples);
        }
        if (!errors.isEmpty()) {
            System.out.println("verify: FAIL (" + errors.size() + " problems)");
            errors.stream().limit(20).forEach(e -> System.out.println("  " + e));
            return 1;
        }
        System.out.printf("verify: OK: %d events for %d roots, per-root sequences contiguous from 0, "
                + "balances consistent, %d rejections%n", events, byRoot.size(), rejected);
        long from = since >= 0 ? since : minTs;
        long ms = Math.max(1, lastVisible - from);
        System.out.printf("throughput: %.0f commands/s (%d commands, first produce -> last event visible: %d ms)%n",
                expect * 1000.0 / ms, expect, ms);
        return 0;
    }

    private static void check(ConsumerRecord<String, byte[]> r, Map<String, RootCheck> byRoot, List<String> errors) {
        String where = r.topic() + "[" + r.partition() + "]@" + r.offset();
        String key = r.key();
        if (key == null) {
            errors.add(where + ": null key");
            return;
        }
        EventBook book;
        try {
            book = EventBook.parseFrom(r.value());
        } catch (InvalidProtocolBufferException e) {
            errors.add(where + ": not an EventBook");
            return;
        }
        if (book.getPagesCount() != 1) {
            errors.add(where + ": " + book.getPagesCount() + " pages");
            return;
        }
        EventPage page = book.getPages(0);
        int seq = page.getHeader().getSequence();
        Any event = page.getEvent();
        String type = Wire.typeName(event);
        if (!key.equals(Wire.uuid(book.getCover().getRoot()).toString())) {
            errors.add(where + ": cover root differs from key " + key);
        }
        if (!key.equals(Wire.header(r.headers(), Wire.ROOT))
                || !Integer.toString(seq).equals(Wire.header(r.headers(), Wire.SEQUENCE))
                || !type.equals(Wire.header(r.headers(), Wire.TYPE))) {
            errors.add(where + ": headers do not match the book (root/sequence/type)");
        }
        RootCheck rc = byRoot.computeIfAbsent(key, k -> new RootCheck());
        if (seq != rc.next) {
            errors.add(where + ": root " + key + " expected sequence " + rc.next + ", got " + seq);
            rc.next = seq + 1;
            return;
        }
        rc.next++;
        try {
            if (seq == 0) {
                if (!event.is(PlayerRegistered.class)) {
                    errors.add(where + ": root " + key + " sequence 0 is " + type + ", not PlayerRegistered");
                }
            } else if (event.is(FundsDeposited.class)) {
                FundsDeposited fd = event.unpack(FundsDeposited.class);
                rc.balance += fd.getAmount().getAmount();
                if (fd.getNewBalance().getAmount() != rc.balance) {
                    errors.add(where + ": root " + key + " sequence " + seq + " new_balance "
                            + fd.getNewBalance().getAmount() + ", expected " + rc.balance);
                    rc.balance = fd.getNewBalance().getAmount();
                }
            } else {
                errors.add(where + ": unexpected event " + type);
            }
        } catch (InvalidProtocolBufferException e) {
            errors.add(where + ": bad " + type);
        }
    }
}
