//! Span and metric names, in one place so dashboards and tests agree; the
//! process's trace subscriber and trace context ([`traces`]).

pub mod traces;

/// Span around a command at the gateway: validation, the append, the wait
/// for its outcome (the root of a command's trace).
pub const SPAN_GATEWAY_COMMAND: &str = "gateway.command";

/// Span around one command in its partition owner: sequence check,
/// business logic, the events it decided (a child of the span that sent it).
pub const SPAN_AGGREGATE_HANDLE: &str = "aggregate.handle";
/// Span around the business-logic call in the partition owner.
pub const SPAN_AGGREGATE_EXECUTE: &str = "aggregate.execute";
/// Histogram of command latency at the gateway, seconds.
pub const COMMAND_DURATION: &str = "angzarr.command.duration";
/// Counter of commands by outcome.
pub const COMMANDS_TOTAL: &str = "angzarr.commands";
/// Gauge of commands the gateway is answering, by domain.
pub const COMMANDS_IN_FLIGHT: &str = "angzarr.commands.in_flight";
/// Counter of business-logic errors, by domain and gRPC code.
pub const HANDLER_ERRORS: &str = "angzarr.handler.errors";
/// Histogram of a partition owner's restore, seconds.
pub const RESTORE_DURATION: &str = "angzarr.restore.duration";
/// Counter of records that did not decode (each then follows its consumer's poison policy).
pub const UNDECODABLE_RECORDS: &str = "angzarr.records.undecodable";
/// Counter of records moved to a dead-letter log, by consumer group.
pub const DEAD_LETTERS: &str = "angzarr.dead_letters";
/// Span around a saga call.
pub const SPAN_SAGA_ORCHESTRATE: &str = "saga.orchestrate";
/// Span around a projector call.
pub const SPAN_PROJECTOR_HANDLE: &str = "projector.handle";
/// Histogram of saga calls, seconds.
pub const SAGA_DURATION: &str = "angzarr.saga.duration";
/// Histogram of projector calls, seconds.
pub const PROJECTOR_DURATION: &str = "angzarr.projector.duration";
/// Span around a process manager's whole reaction to one trigger.
pub const SPAN_PM_ORCHESTRATE: &str = "pm.orchestrate";
/// Span around the process manager's `Handle` call.
pub const SPAN_ORCHESTRATION_EXECUTE: &str = "orchestration.execute";
/// Histogram of process-manager reactions, seconds.
pub const PM_DURATION: &str = "angzarr.pm.duration";

/// The process's Prometheus recorder, installed on first use: the `metrics`
/// facade has one global recorder, so every coordinator of the process (and
/// every runtime a test starts) reports into the same one, rendered at
/// `GET /metrics` on the HTTP listener. `None` when another recorder was
/// installed first (say, by an embedding application).
pub fn prometheus() -> Option<&'static metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics is empty");
                None
            }
        })
        .as_ref()
}
