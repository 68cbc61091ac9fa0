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

use crate::supervisor::{TaskState, TaskStates};
use crate::{CoordinatorError, Shutdown};

/// The admin routes over the partition tasks of this process.
pub fn router(states: TaskStates) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(states)
}

/// Serves the admin routes on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    states: TaskStates,
    shutdown: Shutdown,
) -> Result<(), CoordinatorError> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, "admin listening (HTTP: /healthz, /readyz, /metrics)");
    axum::serve(listener, router(states))
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
        .map_err(|e| CoordinatorError::InvalidArgument(format!("admin listener: {e}")))
}

/// Ready when every partition task of this process serves: `200` with the
/// count, or `503` naming each task that restores or failed (and why).
async fn readyz(State(states): State<TaskStates>) -> Response {
    let tasks = states.list();
    let waiting: Vec<serde_json::Value> = tasks
        .iter()
        .filter(|(_, _, s)| s.state != TaskState::Serving)
        .map(|(group, id, s)| {
            serde_json::json!({
                "group": group,
                "partition": id.to_string(),
                "state": s.state.as_str(),
                "restarts": s.restarts,
                "lastError": s.last_error,
            })
        })
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
