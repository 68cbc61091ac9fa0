//! Readiness of command-handler processes on the real broker: a process is
//! not ready while it joins its group, and ready once the group handed it
//! its assignment — with one partition and two members, the one that got
//! nothing is ready too (it stands by), rather than ready from the start or
//! never.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{bootstrap, prefix};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `GET /readyz` on `addr`: the status line and the body; `None` while
/// nothing listens.
async fn readyz(addr: &str) -> Option<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).await.ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((status, text.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()))
}

/// Polls `addr` until it is ready (60 s); every answer seen, in order.
async fn until_ready(addr: &str) -> Vec<(u16, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Some(answer) = readyz(addr).await {
            let done = answer.0 == 200;
            seen.push(answer);
            if done {
                return seen;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{addr} never ready; it answered: {seen:?}");
}

fn free_addr() -> String {
    format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_a_member_without_partitions_is_ready_once_it_joined() {
    let _serial = support::SERIAL.lock().await;
    let handler = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("angzarr.yaml");
    std::fs::write(
        &config,
        format!(
            "log: {{type: kafka, bootstrap_servers: '{}', topic_prefix: '{}', partitions: 1, session_timeout: 6s}}\n\
             admin: {{listen: '${{ADMIN}}'}}\n\
             domains:\n  player: {{handler: 'http://{}'}}\n",
            bootstrap(),
            prefix("ready"),
            handler.addr
        ),
    )
    .unwrap();
    let mut processes = Killed(Vec::new());
    let mut start = |admin: &str, n: usize| {
        let log = std::fs::File::create(dir.path().join(format!("worker-{n}.log"))).unwrap();
        processes.0.push(
            Command::new(env!("CARGO_BIN_EXE_angzarr"))
                .args(["coordinator", "command-handler", "--config"])
                .arg(&config)
                .env("ADMIN", admin)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    };
    let (a, b) = (free_addr(), free_addr());
    start(&a, 0);
    let first = until_ready(&a).await;
    assert!(first.last().unwrap().1.contains("\"partitions\":1"), "the first member owns the partition: {first:?}");

    start(&b, 1);
    let second = until_ready(&b).await;
    let (last, before) = second.split_last().unwrap();
    assert!(last.1.contains("\"partitions\":0"), "ready with no partition: {second:?}");
    assert!(
        before.iter().all(|(s, body)| *s == 503 && body.contains("\"state\":\"joining\"")),
        "before that, not ready because it was joining: {second:?}"
    );
    assert!(!before.is_empty(), "joining a group with a member takes a rebalance: it was seen not ready: {second:?}");
    // The first one still owns and serves it.
    let (status, body) = readyz(&a).await.unwrap();
    assert_eq!(status, 200, "{body}");
}
