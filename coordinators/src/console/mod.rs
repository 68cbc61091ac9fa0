//! The web console's API and its pages, on the gateway's HTTP listener.
//!
//! The pages (`/ui`, built from `console/` with Vite and embedded at compile
//! time: `assets.rs`) read what an operator asks about — who owns what, who
//! is behind, what happened to an aggregate — through the JSON routes here,
//! which only read, except `POST /v1/console/send`: that one goes through
//! the same gateway as every client, and only when `gateway.console_commands`
//! is on (`angzarr dev` turns it on; it is off otherwise).

mod assets;
mod books;

use std::sync::Arc;

use angzarr_connectors::Log;
use angzarr_proto::angzarr::{CommandBook, CommandPage, CommandRequest, Cover, PageHeader, SyncMode, command_page};
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use uuid::Uuid;

use crate::command_handler::gateway::Gateway;
use crate::supervisor::TaskStates;

/// What the console's routes read from.
#[derive(Clone)]
pub struct ConsoleState {
    /// The log.
    pub log: Arc<dyn Log>,
    /// The gateway (for sends).
    pub gateway: Gateway,
    /// This process's partition tasks.
    pub states: TaskStates,
    /// The configuration as the pages show it (`GET /v1/console/config`).
    pub config: Arc<serde_json::Value>,
    /// Whether the page may send commands.
    pub commands_enabled: bool,
}

/// The console's routes: the pages under `/ui` and their JSON API.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/ui", get(assets::index))
        .route("/ui/", get(assets::index))
        .route("/ui/{*path}", get(assets::file))
        .route("/v1/console/config", get(config))
        .route("/v1/console/types", get(types))
        .route("/v1/console/send", post(send))
        .route("/v1/status", get(status))
        .route("/v1/roots/{domain}", get(roots))
        .route("/v1/books/{domain}/{root}", get(books::book))
        .with_state(state)
}

/// An API error: `{"code": "NOT_FOUND", "message": "..."}` with its HTTP status.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({"code": code, "message": message.into()}))).into_response()
}

fn log_error(e: angzarr_connectors::LogError) -> Response {
    match e {
        angzarr_connectors::LogError::UnknownDomain(d) => {
            error(StatusCode::NOT_FOUND, "NOT_FOUND", format!("unknown domain `{d}`"))
        }
        other => error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", other.to_string()),
    }
}

// The error is the HTTP answer itself, returned at once by every handler.
#[allow(clippy::result_large_err)]
pub(crate) fn parse_root(root: &str) -> Result<Uuid, Response> {
    root.parse().map_err(|e| error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", format!("`{root}` is not a UUID: {e}")))
}

/// The configuration as the pages show it: domains, downstream components,
/// which log, whether commands may be sent.
pub fn describe(config: &crate::config::Config, commands_enabled: bool) -> serde_json::Value {
    use crate::config::LogConfig;
    let (log, prefix, partitions) = match &config.log {
        LogConfig::Embedded { partitions, .. } => ("embedded", None, *partitions),
        LogConfig::Kafka(k) => ("kafka", Some(k.topic_prefix.clone()), k.partitions),
    };
    let topics = |d: &str| {
        prefix.as_ref().map(|p| {
            let t = angzarr_topology::Topics::new(p.clone());
            use angzarr_topology::names::TopicKind::*;
            serde_json::json!({"commands": t.name(d, Commands), "events": t.name(d, Events), "snapshots": t.name(d, Snapshots)})
        })
    };
    let named = |m: Vec<(&String, &Vec<String>)>| -> Vec<serde_json::Value> {
        m.into_iter().map(|(n, d)| serde_json::json!({"name": n, "domains": d})).collect()
    };
    serde_json::json!({
        "commandsEnabled": commands_enabled,
        "log": {"type": log, "topicPrefix": prefix},
        "domains": config.log_domains().iter().map(|d| serde_json::json!({
            "name": d, "partitions": partitions, "topics": topics(d),
        })).collect::<Vec<_>>(),
        "projectors": named(config.projectors.iter().map(|(n, p)| (n, &p.domains)).collect()),
        "sagas": named(config.sagas.iter().map(|(n, s)| (n, &s.domains)).collect()),
        "processManagers": named(config.process_managers.iter().map(|(n, p)| (n, &p.domains)).collect()),
    })
}

async fn config(State(app): State<ConsoleState>) -> Response {
    Json(app.config.as_ref().clone()).into_response()
}

/// The partition tasks of this process.
async fn status(State(app): State<ConsoleState>) -> Response {
    let owner = format!("{}:{}", hostname(), std::process::id());
    let tasks: Vec<serde_json::Value> = app
        .states
        .list()
        .into_iter()
        .map(|(group, id, s)| {
            serde_json::json!({
                "group": group,
                "domain": id.domain.to_string(),
                "partition": id.partition,
                "state": s.state.as_str(),
                "sinceMs": s.since.elapsed().as_millis() as u64,
                "restarts": s.restarts,
                "lastError": s.last_error,
                "owner": owner,
            })
        })
        .collect();
    Json(serde_json::json!({"tasks": tasks})).into_response()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

#[derive(serde::Deserialize)]
struct RootsQuery {
    limit: Option<usize>,
    after: Option<String>,
}

/// Roots of a domain, a page at a time.
async fn roots(State(app): State<ConsoleState>, Path(domain): Path<String>, Query(q): Query<RootsQuery>) -> Response {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let after = match q.after.as_deref().map(parse_root).transpose() {
        Ok(a) => a,
        Err(r) => return r,
    };
    match app.log.roots(&domain, after, limit + 1).await {
        Ok(mut roots) => {
            let next = (roots.len() > limit).then(|| roots[limit - 1].to_string());
            roots.truncate(limit);
            let roots: Vec<String> = roots.iter().map(Uuid::to_string).collect();
            Json(serde_json::json!({"roots": roots, "next": next})).into_response()
        }
        Err(e) => log_error(e),
    }
}

/// The command types a page can send: every message of the descriptor pool
/// outside the framework's own packages, with its fields.
async fn types() -> Response {
    let pool = angzarr_proto::descriptor_pool();
    let commands: Vec<serde_json::Value> = pool
        .all_messages()
        .filter(|m| !m.package_name().starts_with("angzarr") && !m.package_name().starts_with("google"))
        .filter(|m| m.parent_message().is_none())
        .map(|m| {
            let fields: Vec<serde_json::Value> = m
                .fields()
                .map(|f| {
                    let (kind, message) = match f.kind() {
                        prost_reflect::Kind::Message(inner) => {
                            ("message".to_string(), Some(inner.full_name().to_string()))
                        }
                        prost_reflect::Kind::Enum(e) => ("enum".to_string(), Some(e.full_name().to_string())),
                        other => (format!("{other:?}").to_lowercase(), None),
                    };
                    serde_json::json!({"name": f.name(), "jsonName": f.json_name(), "type": kind,
                        "message": message, "repeated": f.is_list()})
                })
                .collect();
            serde_json::json!({"name": m.full_name(), "domain": serde_json::Value::Null, "fields": fields})
        })
        .collect();
    Json(serde_json::json!({"commands": commands})).into_response()
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendBody {
    domain: String,
    root: String,
    r#type: String,
    body: serde_json::Value,
    sync_mode: Option<String>,
    sequence: Option<u32>,
}

/// Sends one command through the gateway, when the configuration allows it.
async fn send(State(app): State<ConsoleState>, body: String) -> Response {
    if !app.commands_enabled {
        return error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "sending commands from the console is off (gateway.console_commands)",
        );
    }
    let req: SendBody = match serde_json::from_str(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", format!("not a send request: {e}")),
    };
    let root = match parse_root(&req.root) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(desc) = angzarr_proto::descriptor_pool().get_message_by_name(&req.r#type) else {
        return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", format!("unknown message type `{}`", req.r#type));
    };
    let command = match prost_reflect::DynamicMessage::deserialize(desc, req.body) {
        Ok(m) => prost_types::Any {
            type_url: format!("{}{}", angzarr_proto::TYPE_URL_PREFIX, req.r#type),
            value: prost::Message::encode_to_vec(&m),
        },
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                format!("body is not a valid {}: {e}", req.r#type),
            );
        }
    };
    let mode = match req.sync_mode.as_deref().unwrap_or("DECISION") {
        "ASYNC" => SyncMode::Async,
        "DECISION" => SyncMode::Decision,
        "SIMPLE" => SyncMode::Simple,
        "CASCADE" => SyncMode::Cascade,
        "ISOLATED" => SyncMode::Isolated,
        other => return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", format!("unknown sync mode `{other}`")),
    };
    let sequence = match req.sequence {
        Some(s) => s,
        None => match app.log.read_book(&req.domain, &root).await {
            Ok(h) => h.pages.last().map(|p| p.seq() + 1).or(h.snapshot.as_ref().map(|s| s.seq() + 1)).unwrap_or(0),
            Err(e) => return log_error(e),
        },
    };
    let request = CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover { root: Some(root.into()), domain: req.domain.clone(), ..Default::default() }),
            pages: vec![CommandPage {
                header: Some(PageHeader::sequence(sequence)),
                payload: Some(command_page::Payload::Command(command)),
                ..Default::default()
            }],
        }),
        sync_mode: mode as i32,
        ..Default::default()
    };
    match app.gateway.handle(request, None).await {
        Ok(resp) => {
            Json(serde_json::json!({"accepted": true, "response": crate::json_form::uuids_readable(crate::http::to_json(&resp))}))
                .into_response()
        }
        Err(e) => {
            let s: tonic::Status = e.into();
            crate::http::status_response(s)
        }
    }
}
