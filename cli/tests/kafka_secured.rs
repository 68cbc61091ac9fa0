//! The coordinators on a secured broker: the command path, a projector and
//! a saga over SSL and over SASL_SSL with SCRAM-SHA-512, each role its own
//! process; a wrong password or an untrusted certificate stops start-up with
//! an error naming the listener, having written nothing; the password never
//! reaches a log.
//!
//! The broker is `scripts/kafka start --secure` (the test command starts it
//! so and exports `scripts/kafka secure-env`).

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use angzarr_proto::examples::{DepositFunds, PlayerRegistered};
use support::*;
use uuid::Uuid;

fn secure(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the broker's secure listeners \
             (`scripts/kafka start --secure` and `eval \"$(scripts/kafka secure-env)\"`; the test command does both)"
        )
    })
}

/// The SCRAM password, from the file the script wrote, exported once for the
/// configs' `${KAFKA_SASL_PASSWORD}` (in this process and the workers).
fn sasl_password() -> String {
    static ONCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let password = std::fs::read_to_string(secure("KAFKA_SASL_PASSWORD_FILE")).unwrap().trim().to_string();
        // SAFETY: set before any thread of this test binary reads the
        // environment for it; the value never changes.
        unsafe { std::env::set_var("KAFKA_SASL_PASSWORD", &password) };
        password
    })
    .clone()
}

fn ssl_settings(ca: &str) -> String {
    format!("  settings:\n    security.protocol: SSL\n    ssl.ca.location: '{ca}'\n")
}

fn sasl_settings(ca: &str, password: &str) -> String {
    format!(
        "  settings:\n    security.protocol: SASL_SSL\n    ssl.ca.location: '{ca}'\n    sasl.mechanism: SCRAM-SHA-512\n    \
         sasl.username: '{}'\n    sasl.password: {password}\n",
        secure("KAFKA_SASL_USER")
    )
}

/// Topics of `prefix` on the broker, read over the plaintext listener.
fn topics_of(prefix: &str) -> Vec<String> {
    let admin =
        angzarr_topology::kafka::admin(rdkafka::ClientConfig::new().set("bootstrap.servers", bootstrap())).unwrap();
    let mut t: Vec<String> = angzarr_topology::kafka::partition_counts(&admin, Duration::from_secs(10))
        .unwrap()
        .into_keys()
        .filter(|t| t.starts_with(&format!("{prefix}.")))
        .collect();
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_command_path_a_projector_and_a_saga_run_over_ssl_and_over_sasl_ssl() {
    let _serial = SERIAL.lock().await;
    let password = sasl_password();
    let ca = secure("KAFKA_CA_PEM");
    for (name, listener, settings) in [
        ("ssl", secure("KAFKA_SSL_BOOTSTRAP"), ssl_settings(&ca)),
        ("sasl", secure("KAFKA_SASL_BOOTSTRAP"), sasl_settings(&ca, "${KAFKA_SASL_PASSWORD}")),
    ] {
        let projected = Arc::new(AtomicUsize::new(0));
        let counter = projected.clone();
        let projector = angzarr_client::Projector::new("count").on(move |_: &PlayerRegistered, _, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        let bank = Uuid::new_v4();
        let saga = angzarr_client::Saga::new("welcome").on(move |_: &PlayerRegistered, _, _| {
            let gift = DepositFunds {
                amount: Some(angzarr_proto::examples::Currency { amount: 1, currency_code: "USD".into() }),
            };
            vec![angzarr_client::command("player", bank, &gift)]
        });
        let server = angzarr_client::Server::new()
            .projector(projector)
            .saga(saga)
            .spawn("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let extra = format!(
            "projectors:\n  count:\n    handler: 'http://{0}'\n    domains: [player]\n\
             sagas:\n  welcome:\n    handler: 'http://{0}'\n    domains: [player]\n",
            server.addr
        );
        let mut cluster = Cluster::on(&format!("secure-{name}"), &listener, None, &extra, &settings).await;
        cluster.start_role("command-handler");
        cluster.start_role("downstream");
        let mut client = cluster.client();

        // The bank registers first (the saga deposits to it), then a player:
        // one registration each, and the saga's deposit for each registration.
        let player = Uuid::new_v4();
        for root in [bank, player] {
            let mut ok = false;
            for _ in 0..600 {
                if client.handle_command(request(root, 0, register())).await.is_ok() {
                    ok = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(ok, "{name}: a registration over {listener} was decided");
        }
        let topic = cluster.events_topic();
        eventually(Duration::from_secs(60), "the saga's deposit", || {
            let events = read_events(&bootstrap(), &topic, PARTITIONS);
            events.iter().any(|e| e.root == bank && e.sequence == 2)
        })
        .await;
        let events = read_events(&bootstrap(), &topic, PARTITIONS);
        assert_eq!(events.len(), 4, "{name}: two registrations and two deposits, exactly once");
        eventually(Duration::from_secs(60), "the projector saw every event", || projected.load(Ordering::SeqCst) >= 2)
            .await;

        for w in &mut cluster.workers {
            assert!(w.child.try_wait().unwrap().is_none(), "{name}: a worker exited:\n{}", w.log_text());
            let log = w.log_text();
            assert!(log.contains("connecting to kafka"), "{name}: the log is the one we think: {log}");
            assert!(!log.contains(&password), "{name}: the SCRAM password reached a worker's log");
        }
        eprintln!("{name}: command path, projector and saga over {listener}: {} events", events.len());
        for w in &mut cluster.workers {
            w.terminate();
        }
        server.shutdown().await;
    }
}

/// Starts `angzarr coordinator command-handler` with `settings` on
/// `listener`; returns its exit status and stderr (it must stop by itself).
fn start_refused(prefix: &str, listener: &str, settings: &str) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_config_on(dir.path(), listener, prefix, "http://127.0.0.1:9", 100, "", settings);
    let out = Command::new(env!("CARGO_BIN_EXE_angzarr"))
        .args(["coordinator", "command-handler", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("running the coordinator");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_an_untrusted_certificate_stops_start_up_naming_the_listener_and_writes_nothing() {
    let _serial = SERIAL.lock().await;
    let right = sasl_password();
    let (ca, untrusted) = (secure("KAFKA_CA_PEM"), secure("KAFKA_UNTRUSTED_CA_PEM"));
    let (ssl, sasl) = (secure("KAFKA_SSL_BOOTSTRAP"), secure("KAFKA_SASL_BOOTSTRAP"));
    let wrong = format!("{right}-not");

    let prefix = support::prefix("wrong-password");
    let (status, stderr) = start_refused(&prefix, &sasl, &sasl_settings(&ca, &wrong));
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains(&format!("kafka at {sasl} (SASL_SSL) refused the connection")), "{stderr}");
    assert!(stderr.to_lowercase().contains("authentication"), "{stderr}");
    assert!(!stderr.contains(&wrong), "the password is not printed: {stderr}");
    assert_eq!(topics_of(&prefix), Vec::<String>::new(), "nothing written");

    let prefix = support::prefix("untrusted-ca");
    let (status, stderr) = start_refused(&prefix, &ssl, &ssl_settings(&untrusted));
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains(&format!("kafka at {ssl} (SSL) refused the connection")), "{stderr}");
    assert!(stderr.contains("SSL"), "{stderr}");
    assert_eq!(topics_of(&prefix), Vec::<String>::new(), "nothing written");

    // Positive control through the same path: the right password starts,
    // and creates the topics.
    let prefix = support::prefix("right-password");
    let dir = tempfile::tempdir().unwrap();
    let (path, _) =
        write_config_on(dir.path(), &sasl, &prefix, "http://127.0.0.1:9", 100, "", &sasl_settings(&ca, &right));
    let mut child = Command::new(env!("CARGO_BIN_EXE_angzarr"))
        .args(["coordinator", "command-handler", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(60), "the topics of a coordinator with the right password", || {
        !topics_of(&prefix).is_empty()
    })
    .await;
    assert!(child.try_wait().unwrap().is_none(), "it keeps running");
    child.kill().unwrap();
    child.wait().unwrap();
}
