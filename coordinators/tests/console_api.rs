//! The web console's JSON API on the embedded log: roots a page at a time,
//! a book decoded with UUIDs as UUIDs, as-of reads, sends only when the
//! configuration allows them, and clear errors that change nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use angzarr_connectors::embedded::{Durability, EmbeddedConfig, EmbeddedLog};
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{Config, DomainConfig, GatewayConfig, LogConfig};
use angzarr_coordinators::runtime::{self, Roles, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

async fn start(dir: &std::path::Path, console_commands: bool) -> Running {
    start_snapshotting(dir, console_commands, 100).await
}

async fn start_snapshotting(dir: &std::path::Path, console_commands: bool, snapshot_every: u32) -> Running {
    let aggregates = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let config = Config::new(
        LogConfig::Embedded { path: dir.join("events.db"), partitions: 2, durability: Durability::Normal },
        GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            http_listen: Some("127.0.0.1:0".parse().unwrap()),
            console_commands,
            ..Default::default()
        },
        BTreeMap::from([(
            "player".to_string(),
            DomainConfig::served_by(format!("http://{}", aggregates.addr), snapshot_every),
        )]),
    );
    std::mem::forget(aggregates);
    let cfg = EmbeddedConfig { path: dir.join("events.db"), partitions: 2, durability: Durability::Normal };
    let log = EmbeddedLog::open(&cfg, config.log_domains()).unwrap();
    runtime::start(&config, Arc::new(log), Roles::ALL, Shutdown::new()).await.unwrap()
}

/// (status, JSON body) of an HTTP exchange.
async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    let json = answer.find("\r\n\r\n").and_then(|i| serde_json::from_str(&answer[i + 4..]).ok());
    (status, json.unwrap_or(serde_json::Value::Null))
}

fn send(root: Uuid, kind: &str, body: serde_json::Value) -> String {
    serde_json::json!({"domain": "player", "root": root.to_string(), "type": kind, "body": body}).to_string()
}

#[tokio::test]
async fn a_command_sent_from_the_console_shows_in_the_book_and_the_roots() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), true).await;
    let http = running.http_addr.unwrap();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    for root in [a, b] {
        let (status, answer) = call(
            http,
            "POST",
            "/v1/console/send",
            &send(
                root,
                "examples.RegisterPlayer",
                serde_json::json!({"displayName": "Ada", "email": "ada@example.com"}),
            ),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["response"]["events"]["cover"]["root"], root.to_string(), "the root reads as a UUID");
    }
    let deposit = serde_json::json!({"amount": {"amount": "5", "currencyCode": "USD"}});
    assert_eq!(call(http, "POST", "/v1/console/send", &send(a, "examples.DepositFunds", deposit)).await.0, 200);

    let (status, book) = call(http, "GET", &format!("/v1/books/player/{a}"), "").await;
    assert_eq!(status, 200, "{book}");
    assert_eq!(book["root"], a.to_string());
    let types: Vec<&str> = book["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["examples.PlayerRegistered", "examples.FundsDeposited"]);
    assert_eq!(book["events"][1]["event"]["amount"]["amount"], "5");
    let (_, early) = call(http, "GET", &format!("/v1/books/player/{a}?asOfSequence=0"), "").await;
    assert_eq!(early["events"].as_array().unwrap().len(), 1, "as of sequence 0: the registration only");

    let mut sorted = [a, b];
    sorted.sort();
    let (_, first) = call(http, "GET", "/v1/roots/player?limit=1", "").await;
    assert_eq!(first["roots"], serde_json::json!([sorted[0].to_string()]));
    assert_eq!(first["next"], sorted[0].to_string());
    let (_, second) = call(http, "GET", &format!("/v1/roots/player?limit=1&after={}", sorted[0]), "").await;
    assert_eq!(second["roots"], serde_json::json!([sorted[1].to_string()]));
    assert_eq!(second["next"], serde_json::Value::Null, "the last page");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn bad_requests_are_refused_clearly_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), true).await;
    let http = running.http_addr.unwrap();
    let root = Uuid::new_v4();
    let cases = [
        (send(root, "examples.RegisterPlayer", serde_json::json!({"displayNam": "x"})), 400, "displayNam"),
        (send(root, "examples.NoSuchThing", serde_json::json!({})), 400, "unknown message type"),
        (r#"{"domain":"player","root":"not-a-uuid","type":"examples.RegisterPlayer","body":{}}"#.to_string(), 400, "not a UUID"),
        (r#"{"domain":"nope","root":"5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11","type":"examples.RegisterPlayer","body":{}}"#.to_string(), 404, "nope"),
    ];
    let refused = send(root, "examples.RegisterPlayer", serde_json::json!({"displayName": "x"}));
    let (status, answer) = call(http, "POST", "/v1/console/send", &refused).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("FAILED_PRECONDITION")),
        "the business logic's refusal: {answer}"
    );
    for (body, status, says) in cases {
        let (got, answer) = call(http, "POST", "/v1/console/send", &body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(says), "{answer}");
    }
    assert_eq!(call(http, "GET", "/v1/books/nope/5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11", "").await.0, 404);
    assert_eq!(call(http, "GET", "/v1/books/player/xyz", "").await.0, 400);
    let (_, roots) = call(http, "GET", "/v1/roots/player", "").await;
    assert_eq!(roots["roots"], serde_json::json!([]), "nothing was written");
    // Positive control through the same path.
    let ok = send(root, "examples.RegisterPlayer", serde_json::json!({"displayName": "x", "email": "x@example.com"}));
    assert_eq!(call(http, "POST", "/v1/console/send", &ok).await.0, 200);
    let (_, roots) = call(http, "GET", "/v1/roots/player", "").await;
    assert_eq!(roots["roots"], serde_json::json!([root.to_string()]));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn sending_is_off_unless_the_configuration_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), false).await;
    let http = running.http_addr.unwrap();
    let (_, config) = call(http, "GET", "/v1/console/config", "").await;
    assert_eq!(config["commandsEnabled"], false);
    let root = Uuid::new_v4();
    let (status, answer) =
        call(http, "POST", "/v1/console/send", &send(root, "examples.RegisterPlayer", serde_json::json!({}))).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("PERMISSION_DENIED")), "{answer}");
    let (_, roots) = call(http, "GET", "/v1/roots/player", "").await;
    assert_eq!(roots["roots"], serde_json::json!([]), "nothing was written");
    let (status, page) = call(http, "GET", "/ui", "").await;
    assert_eq!(status, 200, "the pages are served (reading stays on): {page}");
    running.stop().await.unwrap();
}

/// The state as of a sequence the latest snapshot is past comes from the
/// whole history, not a refusal.
#[tokio::test]
async fn a_book_as_of_a_sequence_below_the_snapshot_is_read_from_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_snapshotting(dir.path(), true, 2).await;
    let http = running.http_addr.unwrap();
    let root = Uuid::new_v4();
    let register =
        send(root, "examples.RegisterPlayer", serde_json::json!({"displayName": "Ada", "email": "ada@example.com"}));
    let (status, answer) = call(http, "POST", "/v1/console/send", &register).await;
    assert_eq!(status, 200, "{answer}");
    for _ in 0..3 {
        let deposit = serde_json::json!({"amount": {"amount": "5", "currencyCode": "USD"}});
        let (status, answer) =
            call(http, "POST", "/v1/console/send", &send(root, "examples.DepositFunds", deposit)).await;
        assert_eq!(status, 200, "{answer}");
    }
    let (_, latest) = call(http, "GET", &format!("/v1/books/player/{root}"), "").await;
    assert!(latest["snapshot"]["sequence"].as_u64().unwrap() >= 1, "the positive control: a snapshot past 0: {latest}");
    let (status, early) = call(http, "GET", &format!("/v1/books/player/{root}?asOfSequence=0"), "").await;
    assert_eq!(status, 200, "{early}");
    let types: Vec<&str> = early["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["examples.PlayerRegistered"], "{early}");
    assert_eq!(early["snapshot"], serde_json::Value::Null);
    running.stop().await.unwrap();
}
