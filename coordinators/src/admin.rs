//! The admin endpoints every role serves: `/healthz`, `/readyz`, `/metrics`.
//!
//! They are on the gateway's HTTP listener, and on `admin.listen` in any
//! process — a command-handler or downstream process has no gateway, and an
//! orchestrator still needs to know whether it is alive and serving.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::lag::LagBoard;
use crate::supervisor::{TaskState, TaskStates};
use crate::{CoordinatorError, Shutdown};

/// What the admin routes report on.
#[derive(Clone)]
pub struct AdminState {
    /// The partition tasks of this process.
    pub states: TaskStates,
    /// The latest consumer-lag sample.
    pub lag: LagBoard,
}

/// The admin routes: `/healthz`, `/readyz`, `/metrics`, `/v1/lag`.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/lag", get(lag))
        .with_state(state)
}

/// Serves the admin routes on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AdminState,
    shutdown: Shutdown,
) -> Result<(), CoordinatorError> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, "admin listening (HTTP: /healthz, /readyz, /metrics, /v1/lag)");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
        .map_err(|e| CoordinatorError::InvalidArgument(format!("admin listener: {e}")))
}

/// Ready when every consumer group of this process handed it its
/// assignment (so a member that has not joined yet is not ready, while one
/// with no partition — more members than partitions — is) and every
/// partition task serves: `200` with the count, or `503` naming each group
/// still joining and each task that restores or failed (and why).
async fn readyz(State(admin): State<AdminState>) -> Response {
    let tasks = admin.states.list();
    let joining: Vec<serde_json::Value> = admin
        .states
        .joining_groups()
        .into_iter()
        .map(|group| serde_json::json!({"group": group, "state": "joining"}))
        .collect();
    let waiting: Vec<serde_json::Value> = joining
        .into_iter()
        .chain(tasks.iter().filter(|(_, _, s)| s.state != TaskState::Serving).map(|(group, id, s)| {
            serde_json::json!({
                "group": group,
                "partition": id.to_string(),
                "state": s.state.as_str(),
                "restarts": s.restarts,
                "lastError": s.last_error,
            })
        }))
        .collect();
    if waiting.is_empty() {
        (StatusCode::OK, Json(serde_json::json!({"ready": true, "partitions": tasks.len()}))).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"ready": false, "notServing": waiting})))
            .into_response()
    }
}

/// Every metric of the process, in Prometheus' text format.
async fn metrics() -> Response {
    let body = crate::telemetry::prometheus().map(|h| h.render()).unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// The latest consumer-lag sample of every group of the configuration.
async fn lag(State(admin): State<AdminState>) -> Response {
    let (at, groups) = admin.lag.latest();
    let at = at.map(|t| humantime::format_rfc3339_millis(t).to_string());
    Json(serde_json::json!({"sampledAt": at, "groups": groups})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ready(states: &TaskStates) -> (StatusCode, serde_json::Value) {
        let answer = readyz(State(AdminState { states: states.clone(), lag: LagBoard::default() })).await;
        let status = answer.status();
        let body = axum::body::to_bytes(answer.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_member_is_ready_once_its_group_settled_even_without_partitions() {
        let states = TaskStates::default();
        let (status, body) = ready(&states).await;
        assert_eq!(status, StatusCode::OK, "no group, no task: nothing to wait for: {body}");
        states.joining("projector.board");
        let (status, body) = ready(&states).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["notServing"][0], serde_json::json!({"group": "projector.board", "state": "joining"}));
        states.settled("projector.board");
        let (status, body) = ready(&states).await;
        assert_eq!((status, body["partitions"].as_u64()), (StatusCode::OK, Some(0)), "{body}");
    }
}
