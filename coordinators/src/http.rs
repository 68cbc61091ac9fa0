//! The gateway's HTTP listener: Server-Sent Events of a correlation id, and
//! the REST/JSON mapping of the command service (`google.api.http`), with
//! proto3 JSON by descriptor — UUIDs as their text unless `?json=proto`
//! asks for the exact proto3 form ([`crate::json_form`]).

use std::convert::Infallible;
use std::net::SocketAddr;

use angzarr_proto::angzarr::{CommandRequest, CommandResponse, EventBook};
use angzarr_proto::descriptor_pool;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use prost::Message;
use prost_reflect::{DynamicMessage, SerializeOptions};

use crate::command_handler::gateway::Gateway;
use crate::event_stream::EventStream;
use crate::json_form::{self, Form};
use crate::{CoordinatorError, Shutdown};

#[derive(Clone)]
struct AppState {
    gateway: Gateway,
    stream: EventStream,
    log: std::sync::Arc<dyn angzarr_connectors::Log>,
}

#[derive(serde::Deserialize)]
struct RejectionsQuery {
    correlation_id: Option<String>,
    #[serde(default)]
    json: Form,
}

/// `?json=proto`: the exact proto3 JSON form.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonQuery {
    #[serde(default)]
    json: Form,
}

/// Commands rejected with nobody waiting for the answer (ASYNC, saga and
/// process-manager commands), oldest first: where the caller of an ASYNC
/// command, or an operator, finds out why it was refused.
async fn rejections(State(app): State<AppState>, Query(q): Query<RejectionsQuery>) -> Response {
    match app.log.rejections(q.correlation_id.as_deref()).await {
        Ok(list) => {
            let rows: Vec<serde_json::Value> = list
                .into_iter()
                .map(|r| {
                    let command = angzarr_proto::angzarr::CommandBook::decode(r.command.as_slice())
                        .map(|c| q.json.apply(to_json(&c)))
                        .unwrap_or(serde_json::Value::Null);
                    serde_json::json!({
                        "domain": r.domain,
                        "root": r.root.hyphenated().to_string(),
                        "requestId": r.request_id,
                        "correlationId": r.correlation_id,
                        "code": format!("{:?}", tonic::Code::from(r.code)),
                        "message": r.message,
                        "command": command,
                    })
                })
                .collect();
            Json(rows).into_response()
        }
        Err(e) => status_response(CoordinatorError::from(e).into()),
    }
}

/// A gRPC status as an HTTP answer: the usual code mapping, the message as JSON.
pub(crate) fn status_response(s: tonic::Status) -> Response {
    let code = match s.code() {
        tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        tonic::Code::FailedPrecondition => StatusCode::CONFLICT,
        tonic::Code::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
        tonic::Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        tonic::Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (code, Json(serde_json::json!({"code": code_name(s.code()), "message": s.message()}))).into_response()
}

/// gRPC's canonical name of a status code (`FAILED_PRECONDITION`), as
/// `google.rpc.Code` spells it in JSON.
pub fn code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Proto3 JSON of a generated message (expanding `Any`s of known types).
pub fn to_json<M: Message + prost::Name>(msg: &M) -> serde_json::Value {
    let desc = descriptor_pool().get_message_by_name(&M::full_name()).expect("descriptor of a contract message");
    let dynamic = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice()).expect("re-decoding our own message");
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new().skip_default_fields(true))
        .unwrap_or(serde_json::Value::Null)
}

async fn sse(
    State(app): State<AppState>,
    Path(correlation_id): Path<String>,
    Query(q): Query<JsonQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    let stream = app.stream.follow(correlation_id.trim()).map_err(status_response)?;
    let form = q.json;
    let events = stream.map(move |item| {
        Ok(match item {
            Ok(book) => {
                Event::default().event("event").json_data(form.apply(to_json::<EventBook>(&book))).unwrap_or_default()
            }
            Err(s) => Event::default().event("error").data(s.message()),
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

async fn empty_correlation() -> Response {
    status_response(tonic::Status::invalid_argument("correlation_id is empty: say whose events to stream"))
}

async fn command(
    State(app): State<AppState>,
    Path(domain): Path<String>,
    Query(q): Query<JsonQuery>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    let request_id = match headers.get(crate::error::REQUEST_ID_HEADER).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(v.to_string()),
        Some(Err(_)) => return status_response(tonic::Status::invalid_argument("angzarr-request-id must be ASCII")),
    };
    let desc = descriptor_pool().get_message_by_name("angzarr.CommandRequest").expect("CommandRequest descriptor");
    // Roots may be UUID text; the rest is proto3 JSON.
    let body: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => json_form::uuids_from_text(v),
        Err(e) => return status_response(tonic::Status::invalid_argument(format!("body is not JSON: {e}"))),
    };
    let request = match DynamicMessage::deserialize(desc, body) {
        Ok(m) => m,
        Err(e) => {
            return status_response(tonic::Status::invalid_argument(format!("body is not a CommandRequest: {e}")));
        }
    };
    let request = match CommandRequest::decode(request.encode_to_vec().as_slice()) {
        Ok(r) => r,
        Err(e) => return status_response(tonic::Status::invalid_argument(e.to_string())),
    };
    let body_domain = request.command.as_ref().and_then(|c| c.cover.as_ref()).map(|c| c.domain.as_str());
    if body_domain != Some(domain.as_str()) {
        return status_response(tonic::Status::invalid_argument(format!(
            "the path says domain `{domain}`, the body's cover says `{}`",
            body_domain.unwrap_or("")
        )));
    }
    match app.gateway.handle(request, request_id).await {
        Ok(resp) => Json(q.json.apply(to_json::<CommandResponse>(&resp))).into_response(),
        Err(e) => status_response(e.into()),
    }
}

/// Serves the HTTP listener on `listener` until `shutdown`.
#[allow(clippy::too_many_arguments)] // one per part the listener serves
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Gateway,
    stream: EventStream,
    log: std::sync::Arc<dyn angzarr_connectors::Log>,
    admin: crate::admin::AdminState,
    console: crate::console::ConsoleState,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    shutdown: Shutdown,
) -> Result<(), CoordinatorError> {
    let app = Router::new()
        .route("/v1/stream/{correlation_id}", get(sse))
        .route("/v1/stream/", get(empty_correlation))
        .route("/v1/ch/{domain}/commands", post(command))
        .route("/v1/rejections", get(rejections))
        .with_state(AppState { gateway, stream, log })
        .merge(crate::admin::router(admin))
        .merge(crate::console::router(console));
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    if let Some(tls) = tls {
        tracing::info!(?addr, "gateway listening (HTTPS: SSE and REST)");
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown.wait().await;
            stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        });
        let listener = listener.into_std().map_err(|e| CoordinatorError::InvalidArgument(e.to_string()))?;
        return axum_server::from_tcp_rustls(listener, axum_server::tls_rustls::RustlsConfig::from_config(tls))
            .handle(handle)
            .serve(app.into_make_service())
            .await
            .map_err(|e| CoordinatorError::InvalidArgument(format!("https listener: {e}")));
    }
    tracing::info!(?addr, "gateway listening (HTTP: SSE and REST)");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
        .map_err(|e| CoordinatorError::InvalidArgument(format!("http listener: {e}")))
}
