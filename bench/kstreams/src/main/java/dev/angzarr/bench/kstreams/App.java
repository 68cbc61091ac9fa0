package dev.angzarr.bench.kstreams;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The Streams application: prints "ready" once RUNNING, closes cleanly on SIGTERM. */
final class App {
    private App() {}

    private static final Logger LOG = LoggerFactory.getLogger(App.class);

    /** Set once SIGTERM (or any JVM shutdown) began: main must then return, not call System.exit. */
    static final AtomicBoolean SHUTTING_DOWN = new AtomicBoolean();

    static int run(Main.Args args) throws Exception {
        String bootstrap = args.str("bootstrap");
        String input = args.str("input");
        String output = args.str("output");
        String appId = args.str("app-id");
        int threads = (int) args.num("threads", 1);
        long commitMs = args.num("commit-interval-ms", 100);
        String stateDir = args.str("state-dir",
                Path.of(System.getProperty("java.io.tmpdir"), "kstreams-baseline").toString());

        ensureOutputTopics(bootstrap, input, output);

        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitMs);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        // Opt in now to what Kafka 5.0 makes the default; no global state here anyway. (Kafka 4.3 still
        // logs its "not enabled for the GlobalThread" warning once: the assignor's internal StreamsConfig
        // is built from the consumer configs, which do not carry this key.)
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

        KafkaStreams streams = new KafkaStreams(BaselineTopology.build(input, output, p), p);
        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean ready = new AtomicBoolean();
        AtomicBoolean shuttingDown = SHUTTING_DOWN;

        streams.setStateListener((now, before) -> {
            LOG.info("state {} -> {}", before, now);
            if (now == KafkaStreams.State.RUNNING && ready.compareAndSet(false, true)) {
                System.out.println("ready");
                System.out.flush();
            }
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            LOG.error("stream thread failed; shutting down", e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });

        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            shuttingDown.set(true);
            // Leave the group: otherwise a restart waits out the old member's session timeout (45 s).
            streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                    .withTimeout(Duration.ofSeconds(30)));
            stopped.countDown();
            try {
                main.join(5_000); // let main print its summary
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "shutdown"));

        streams.start();
        stopped.await();
        if (!shuttingDown.get()) {
            // Stopped on its own (fatal error): release the store locks and report failure.
            streams.close(Duration.ofSeconds(30));
        }
        System.err.printf("kstreams-baseline: stopped (%s); accepted=%d rejected=%d%n",
                streams.state(), BaselineTopology.ACCEPTED.sum(), BaselineTopology.REJECTED.sum());
        return shuttingDown.get() ? 0 : 1;
    }

    /** Creates the events and rejections topics, with the input's partition count, when missing. */
    private static void ensureOutputTopics(String bootstrap, String input, String output)
            throws InterruptedException, ExecutionException {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            int partitions;
            try {
                partitions = admin.describeTopics(List.of(input)).allTopicNames().get(30, TimeUnit.SECONDS)
                        .get(input).partitions().size();
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("could not describe input topic " + input, e);
            }
            Set<String> existing = admin.listTopics().names().get();
            List<NewTopic> create = new ArrayList<>();
            for (String t : List.of(output, Wire.rejectionsTopic(output))) {
                if (!existing.contains(t)) {
                    create.add(new NewTopic(t, Optional.of(partitions), Optional.empty()));
                }
            }
            for (var entry : admin.createTopics(create).values().entrySet()) {
                try {
                    entry.getValue().get();
                    LOG.info("created topic {} ({} partitions)", entry.getKey(), partitions);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
        }
    }
}
