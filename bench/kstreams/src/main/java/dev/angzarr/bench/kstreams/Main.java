package dev.angzarr.bench.kstreams;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Three modes in one jar:
 * <pre>
 *   app:     --bootstrap H:P --input T --output T --app-id ID [--threads N] [--commit-interval-ms 100] [--state-dir DIR]
 *   produce: --produce N --roots R --bootstrap H:P --input T
 *   verify:  --verify --expect N --bootstrap H:P --output T [--roots R] [--expect-rejections 0]
 *            [--timeout-s 120] [--settle-ms 2000] [--since-ms EPOCH_MS]
 * </pre>
 */
public final class Main {
    private Main() {}

    private static final Set<String> FLAGS = Set.of("verify", "help");

    public static void main(String[] argv) throws Exception {
        Args args;
        try {
            args = Args.parse(argv);
        } catch (IllegalArgumentException e) {
            System.err.println("kstreams-baseline: " + e.getMessage());
            usage();
            System.exit(2);
            return;
        }
        int rc;
        try {
            if (args.has("help")) {
                usage();
                rc = 0;
            } else if (args.has("produce")) {
                rc = Load.produce(args);
            } else if (args.has("verify")) {
                rc = Load.verify(args);
            } else {
                rc = App.run(args);
            }
        } catch (IllegalArgumentException e) {
            System.err.println("kstreams-baseline: " + e.getMessage());
            usage();
            rc = 2;
        }
        System.out.flush();
        if (!App.SHUTTING_DOWN.get()) {
            // Exiting from inside a shutdown would block; then the JVM is ending anyway.
            System.exit(rc);
        }
    }

    private static void usage() {
        System.err.println("""
                usage:
                  java -jar kstreams-baseline.jar --bootstrap HOST:PORT --input TOPIC --output TOPIC --app-id ID
                       [--threads N] [--commit-interval-ms 100] [--state-dir DIR]
                  java -jar kstreams-baseline.jar --produce N --roots R --bootstrap HOST:PORT --input TOPIC
                  java -jar kstreams-baseline.jar --verify --expect N --bootstrap HOST:PORT --output TOPIC
                       [--roots R] [--expect-rejections 0] [--timeout-s 120] [--settle-ms 2000] [--since-ms EPOCH_MS]""");
    }

    /** {@code --name value} pairs, plus the value-less flags in {@link #FLAGS}. */
    record Args(Map<String, String> values) {
        static Args parse(String[] argv) {
            Map<String, String> m = new HashMap<>();
            for (int i = 0; i < argv.length; i++) {
                String a = argv[i];
                if (!a.startsWith("--") || a.length() == 2) {
                    throw new IllegalArgumentException("unexpected argument: " + a);
                }
                String name = a.substring(2);
                String value;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    value = name.substring(eq + 1);
                    name = name.substring(0, eq);
                } else if (FLAGS.contains(name)) {
                    value = "true";
                } else if (i + 1 < argv.length) {
                    value = argv[++i];
                } else {
                    throw new IllegalArgumentException("--" + name + " needs a value");
                }
                m.put(name, value);
            }
            return new Args(m);
        }

        boolean has(String name) {
            return values.containsKey(name);
        }

        String str(String name) {
            String v = values.get(name);
            if (v == null || v.isEmpty()) {
                throw new IllegalArgumentException("--" + name + " is required");
            }
            return v;
        }

        String str(String name, String dflt) {
            return values.getOrDefault(name, dflt);
        }

        long num(String name) {
            try {
                return Long.parseLong(str(name));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--" + name + " must be a number");
            }
        }

        long num(String name, long dflt) {
            return has(name) ? num(name) : dflt;
        }
    }
}
