//! The CLI as a person meets it, with the project's binary: `angzarr dev`
//! says little and prints its banner last; `send` answers with a sentence,
//! `book` with a table, both with UUIDs as UUIDs (and exact proto3 JSON on
//! request); `status` shows who serves and who is behind; a taken port is
//! an error naming the flag, and a second `angzarr dev --kafka` finds free
//! ports by itself.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_angzarr");

/// A running `angzarr dev`, killed when dropped.
struct Dev {
    child: Child,
    /// Every line it wrote to stderr up to and including the banner's last.
    said: Vec<String>,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    /// Starts `angzarr dev ARGS` and waits for its banner (60 s).
    fn start(args: &[&str]) -> Dev {
        Dev::try_start(args).unwrap_or_else(|said| panic!("no banner from angzarr dev {args:?}; it said:\n{said}"))
    }

    /// As [`Dev::start`]; what it said instead of a banner when it had none.
    fn try_start(args: &[&str]) -> Result<Dev, String> {
        let mut child = Command::new(BIN)
            .arg("dev")
            .args(args)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Killed on drop, however this ends.
        let mut dev = Dev { child, said: Vec::new() };
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
            let done = line.contains("Ctrl-C stops.");
            dev.said.push(line);
            if done {
                // Anything printed right after the banner would be read here.
                while let Ok(more) = rx.recv_timeout(Duration::from_millis(500)) {
                    dev.said.push(more);
                }
                return Ok(dev);
            }
        }
        Err(dev.said.join("\n"))
    }

    /// The gateway's gRPC and HTTP addresses, from the banner.
    fn addresses(&self) -> (String, String) {
        let up = self.said.iter().find(|l| l.starts_with("angzarr is up")).expect("the banner");
        let grpc = up.split("grpc://").nth(1).unwrap().split(',').next().unwrap().to_string();
        let http = up.split("HTTP http://").nth(1).unwrap().split(',').next().unwrap().to_string();
        (grpc, http)
    }
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).env_remove("RUST_LOG").output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn dev_send_book_and_status_speak_to_people() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A port found free can be taken before `dev` binds it (any outgoing
    // connection may get it as its local port): pick again when that happens.
    let mut attempts = 0;
    let (dev, listen, http_listen) = loop {
        let (grpc_port, http_port) = (free_port(), free_port());
        let (listen, http_listen) = (format!("127.0.0.1:{grpc_port}"), format!("127.0.0.1:{http_port}"));
        let args = ["--data", data.to_str().unwrap(), "--listen", &listen, "--http-listen", &http_listen];
        match Dev::try_start(&args) {
            Ok(dev) => break (dev, listen, http_listen),
            Err(said) if said.contains("Address already in use") && attempts < 5 => attempts += 1,
            Err(said) => panic!("no banner from angzarr dev {args:?}; it said:\n{said}"),
        }
    };
    let banner = dev.said.iter().position(|l| l.starts_with("angzarr is up")).unwrap();
    assert!(
        dev.said[..banner].iter().all(|l| !l.contains(" INFO ")),
        "no INFO lines before the banner:\n{}",
        dev.said.join("\n")
    );
    assert!(dev.said.last().unwrap().contains("Ctrl-C stops."), "the banner is last:\n{}", dev.said.join("\n"));
    let gateway = format!("http://{listen}");

    // send: a sentence, with the UUID as typed.
    let root = Uuid::new_v4().to_string();
    let register = r#"{"displayName":"Ada","email":"ada@example.com"}"#;
    let send = |json: &str, command: &str, output: &str| {
        run(&["send", "player", command, "--root", &root, "--json", json, "--gateway", &gateway, "--output", output])
    };
    let (ok, out, err) = send(register, "RegisterPlayer", "human");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("accepted: player {root}: event 0 PlayerRegistered; next sequence 1"), "{err}");
    let (ok, out, err) = send(register, "RegisterPlayer", "human");
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.starts_with("rejected: FAILED_PRECONDITION: "), "{err}");
    let (ok, out, _) = send(r#"{"amount":{"amount":"100","currencyCode":"USD"}}"#, "DepositFunds", "json");
    let answer: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(ok && answer["events"]["cover"]["root"] == root.as_str(), "{out}");

    // book: a table; JSON with the root as text; exact proto3 JSON on request.
    let (ok, out, err) = run(&["book", "player", "--root", &root, "--gateway", &gateway, "--output", "human"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("player {root}  next sequence 2"), "{out}");
    assert!(lines[1].starts_with("SEQ  TYPE") && lines[1].contains("CREATED") && lines[1].ends_with("EVENT"), "{out}");
    assert!(lines[2].starts_with("  0  PlayerRegistered") && lines[2].contains(r#""displayName":"Ada""#), "{out}");
    assert!(lines[3].starts_with("  1  FundsDeposited") && lines[3].contains(r#""currencyCode":"USD""#), "{out}");
    let (_, out, _) = run(&["book", "player", "--root", &root, "--gateway", &gateway, "--output", "json"]);
    let book: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(book["cover"]["root"], root.as_str(), "{out}");
    let (_, out, _) = run(&["book", "player", "--root", &root, "--gateway", &gateway, "--output", "proto-json"]);
    let exact: serde_json::Value = serde_json::from_str(&out).unwrap();
    let b64 = base64_of(&root);
    assert_eq!(exact["cover"]["root"]["value"], b64.as_str(), "{out}");

    // The book as it was, and the domain's roots.
    let (ok, out, err) =
        run(&["book", "player", "--root", &root, "--as-of-sequence", "0", "--gateway", &gateway, "--output", "human"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().next(), Some(format!("player {root}  next sequence 1").as_str()), "{out}");
    assert!(out.contains("PlayerRegistered") && !out.contains("FundsDeposited"), "{out}");
    let (ok, out, err) = run(&["roots", "player", "--gateway", &gateway]);
    assert!(ok && out.lines().collect::<Vec<_>>() == [root.as_str()], "{out}{err}");
    assert!(err.contains("1 roots in player"), "{err}");

    // status: owners and lag, from the console's data.
    let http = format!("http://{http_listen}");
    let (ok, out, err) = run(&["status", "--http", &http, "--output", "human"]);
    assert!(ok, "{err}");
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with("partitions owned by ") && first.ends_with(" serving, 0 restoring, 0 failed"), "{out}");
    assert!(out.lines().any(|l| l.trim_start().starts_with("projector.bankroll ")), "{out}");
    let (ok, _, err) = run(&["status", "--http", "http://127.0.0.1:1", "--output", "human"]);
    assert!(!ok && err.contains("cannot reach http://127.0.0.1:1"), "{err}");

    // A port taken: the error names the flag; the running one is untouched.
    let other = dir.path().join("other");
    let out = Command::new(BIN)
        .args(["dev", "--data", other.to_str().unwrap(), "--listen", &listen, "--http-listen", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("cannot listen on {listen}")) && err.contains("pass --listen"), "{err}");
    let (ok, _, err) = run(&["book", "player", "--root", &root, "--gateway", &gateway, "--output", "json"]);
    assert!(ok, "the first dev still answers: {err}");
}

fn base64_of(uuid: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Uuid::parse_str(uuid).unwrap().as_bytes())
}

#[test]
fn a_second_dev_on_kafka_finds_free_ports() {
    let Ok(bootstrap) = std::env::var("KAFKA_BOOTSTRAP") else {
        panic!("KAFKA_BOOTSTRAP is not set: this test needs the real broker (`scripts/kafka start`)");
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("two-devs-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let start = |n: &str| {
        let data = dir.path().join(n);
        Dev::start(&[
            "--kafka",
            &bootstrap,
            "--topic-prefix",
            &prefix,
            "--partitions",
            "2",
            "--data",
            data.to_str().unwrap(),
        ])
    };
    let first = start("a");
    let second = start("b");
    let (a, b) = (first.addresses(), second.addresses());
    assert_ne!(a.0, b.0, "distinct gRPC ports");
    assert_ne!(a.1, b.1, "distinct HTTP ports");
    // Both gateways answer for the same aggregates.
    let root = Uuid::new_v4().to_string();
    let (ok, out, err) = run(&[
        "send",
        "player",
        "RegisterPlayer",
        "--root",
        &root,
        "--json",
        r#"{"displayName":"Bo","email":"b@x"}"#,
        "--gateway",
        &format!("http://{}", b.0),
        "--output",
        "human",
    ]);
    assert!(ok && out.starts_with("accepted:"), "{out}{err}");
    let (ok, out, err) =
        run(&["book", "player", "--root", &root, "--gateway", &format!("http://{}", a.0), "--output", "human"]);
    assert!(ok && out.contains("PlayerRegistered"), "{out}{err}");
}
