//! A process: a log, the command-handler worker, and the gateway's gRPC
//! listener, all stopped by one [`Shutdown`].

use std::net::SocketAddr;
use std::sync::Arc;

use angzarr_connectors::Log;
use angzarr_connectors::embedded::{EmbeddedConfig, EmbeddedLog};
use angzarr_proto::angzarr::command_handler_coordinator_service_server::CommandHandlerCoordinatorServiceServer;
use angzarr_proto::angzarr::event_query_service_server::EventQueryServiceServer;
use tokio::task::JoinHandle;

use crate::command_handler::aggregate::CacheConfig;
use crate::command_handler::execute::RetryPolicy;
use crate::command_handler::gateway::{Downstream, Gateway};
use crate::command_handler::query::QueryService;
use crate::command_handler::task::{SnapshotPolicy, TaskConfig};
use crate::command_handler::validate::Limits;
use crate::command_handler::worker::Worker;
use crate::config::{Config, LogConfig};
use crate::event_consumer::{EventWorker, OnPoison, Reactor};
use crate::event_stream::EventStream;
use crate::handlers::Handlers;
use crate::hub::Hub;
use crate::process_manager::{PmRouter, ProcessManager};
use crate::projector::ProjectorReactor;
use crate::saga::SagaReactor;
use crate::supervisor::TaskStates;
use crate::upcast::Upcasters;
use crate::{CoordinatorError, Shutdown};
use angzarr_proto::angzarr::event_stream_service_server::EventStreamServiceServer;

/// Opens the configured log for the configured domains.
pub async fn open_log(config: &Config) -> anyhow::Result<Arc<dyn Log>> {
    let domains = config.log_domains();
    match &config.log {
        LogConfig::Embedded { path, partitions, durability } => {
            let cfg = EmbeddedConfig { path: path.clone(), partitions: *partitions, durability: *durability };
            Ok(Arc::new(EmbeddedLog::open(&cfg, domains)?))
        }
        LogConfig::Kafka(k) => {
            tracing::info!(bootstrap = %k.bootstrap_servers, settings = ?k.settings, "connecting to kafka");
            let log = angzarr_connectors::kafka::KafkaLog::connect(k.connector(), domains, k.connect_timeout).await?;
            Ok(Arc::new(log))
        }
    }
}

/// A downstream consumer and what it does with a record it cannot handle.
pub type ReactorWithPolicy = (Arc<dyn Reactor>, OnPoison);

/// Every downstream consumer of `config` (projectors, sagas, process-manager
/// routers) with its poison policy, reporting to `hub`.
pub fn reactors(config: &Config, hub: &Hub) -> Result<Vec<ReactorWithPolicy>, CoordinatorError> {
    let targets: Vec<String> = config.domains.keys().cloned().collect();
    let mut out: Vec<ReactorWithPolicy> = Vec::new();
    for (name, p) in &config.projectors {
        out.push((Arc::new(ProjectorReactor::new(name, &p.handler, p.domains.clone(), hub.clone())?), p.on_poison));
    }
    for (name, s) in &config.sagas {
        let saga = SagaReactor::new(name, &s.handler, s.domains.clone(), targets.clone(), hub.clone())?;
        out.push((Arc::new(saga), s.on_poison));
    }
    for (name, pm) in &config.process_managers {
        out.push((Arc::new(PmRouter::new(name, pm.domains.clone())), pm.on_poison));
    }
    Ok(out)
}

/// What runs in one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles {
    /// Serve the gateway (commands, queries, event streams) over gRPC and HTTP.
    pub gateway: bool,
    /// Be a command-handler worker (consume commands, call business logic).
    pub command_handler: bool,
    /// Run the configured projectors and sagas.
    pub downstream: bool,
}

impl Roles {
    /// Everything in one process.
    pub const ALL: Roles = Roles { gateway: true, command_handler: true, downstream: true };
}

/// A started process.
pub struct Running {
    /// Where the gateway listens (when it runs).
    pub grpc_addr: Option<SocketAddr>,
    /// Where the HTTP listener listens (when configured).
    pub http_addr: Option<SocketAddr>,
    /// Where the admin listener listens (when configured).
    pub admin_addr: Option<SocketAddr>,
    /// The log, shared by every part.
    pub log: Arc<dyn Log>,
    /// Every partition task's state.
    pub states: TaskStates,
    shutdown: Shutdown,
    parts: Vec<JoinHandle<Result<(), CoordinatorError>>>,
}

impl Running {
    /// Asks every part to stop and waits for them.
    pub async fn stop(self) -> Result<(), CoordinatorError> {
        self.shutdown.trigger();
        self.join().await
    }

    /// Waits until every part has stopped (after the shutdown was triggered elsewhere).
    pub async fn join(self) -> Result<(), CoordinatorError> {
        let mut first = Ok(());
        for part in self.parts {
            let r = part.await.unwrap_or_else(|e| {
                Err(CoordinatorError::Log(angzarr_connectors::LogError::Unavailable(format!("task panicked: {e}"))))
            });
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// Starts the roles of `config` on `log`; stops when `shutdown` is triggered.
pub async fn start(
    config: &Config,
    log: Arc<dyn Log>,
    roles: Roles,
    shutdown: Shutdown,
) -> Result<Running, CoordinatorError> {
    // Record metrics from the start (the first call installs the recorder).
    let _ = crate::telemetry::prometheus();
    // Checked before anything starts: a bad file must not leave parts running.
    let tls = match (&config.gateway.tls, roles.gateway) {
        (Some(t), true) => Some(crate::tls::load(t)?),
        _ => None,
    };
    let mut parts = Parts { list: Vec::new(), shutdown: shutdown.clone() };
    let mut grpc_addr = None;
    let mut http_addr = None;
    let mut admin_addr = None;
    let hub = Hub::default();
    let states = TaskStates::default();
    let upcasters =
        Upcasters::new(config.domains.iter().filter_map(|(d, c)| c.upcaster.clone().map(|u| (d.clone(), u))))?;
    let targets: Vec<String> = config.domains.keys().cloned().collect();
    // This process's serving partition tasks, for its gateway and for other
    // processes' gateways (direct routing).
    let owners = crate::command_handler::route::Owners::default();
    let direct = config.command_handler.direct_routing;
    let mut own_endpoint = None;

    if roles.command_handler && direct {
        let listen = config.command_handler.owner_listen;
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            CoordinatorError::InvalidArgument(format!("cannot listen on {listen} (command_handler.owner_listen): {e}"))
        })?;
        let bound = listener.local_addr().map_err(|e| CoordinatorError::InvalidArgument(e.to_string()))?;
        let endpoint = match config.command_handler.owner_advertise.clone().filter(|a| !a.is_empty()) {
            Some(a) => a,
            // Listening on every interface: announced by this host's name
            // (a container's name resolves in its network).
            None if bound.ip().is_unspecified() => format!("{}:{}", host_name(), bound.port()),
            None => bound.to_string(),
        };
        owners.announce_at(log.clone(), endpoint.clone());
        own_endpoint = Some(endpoint.clone());
        tracing::info!(%bound, endpoint, "partition owners listening (gRPC, direct routing)");
        let service = angzarr_proto::angzarr_kafka::partition_owner_service_server::PartitionOwnerServiceServer::new(
            crate::command_handler::route::server::OwnerServer::new(log.clone(), owners.clone()),
        )
        .max_decoding_message_size(64 << 20);
        let stop = shutdown.clone();
        parts.push(tokio::spawn(async move {
            tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .add_service(service)
                .serve_with_incoming_shutdown(nodelay(listener), stop.wait())
                .await
                .map_err(|e| CoordinatorError::InvalidArgument(format!("partition owner server: {e}")))
        }));
    }

    if roles.command_handler {
        let mut process_managers = Vec::new();
        for (name, pm) in &config.process_managers {
            process_managers.push(ProcessManager::new(name, &pm.handler, targets.clone(), log.clone())?);
        }
        let handlers =
            Handlers::new(config.domains.iter().filter_map(|(d, c)| c.handler.clone().map(|h| (d.clone(), h))))?
                .with_process_managers(process_managers)
                .with_upcasters(upcasters.clone());
        let per_domain = config.domains.iter().map(|(d, c)| (d.clone(), c.snapshot_every));
        let task = TaskConfig {
            snapshots: SnapshotPolicy {
                default_every: 100,
                per_domain: per_domain
                    .chain(config.process_managers.iter().map(|(n, p)| (n.clone(), p.snapshot_every)))
                    .collect(),
            },
            hub: hub.clone(),
            states: states.clone(),
            max_batch: config.command_handler.max_batch,
            dedupe_window: config.command_handler.dedupe_window,
            dedupe_max: config.command_handler.dedupe_max,
            fenced_grace: config.command_handler.fenced_grace,
            cache: config.command_handler.max_cached_aggregates.map(|max_cached| CacheConfig {
                max_cached,
                state_dir: config.command_handler.state_dir.clone().unwrap_or_else(std::env::temp_dir),
            }),
            retry: RetryPolicy { call_timeout: config.command_handler.handler_call_timeout, ..RetryPolicy::default() },
            owners: direct.then(|| owners.clone()),
            concurrent_roots: config.command_handler.concurrent_roots,
            ..TaskConfig::default()
        };
        // Not ready until the group hands this process its assignment: said
        // before any listener answers a probe.
        states.joining(crate::command_handler::GROUP);
        let worker = Worker::new(log.clone(), handlers, task);
        let stop = shutdown.clone();
        parts.push(tokio::spawn(async move { worker.run(stop).await }));
    }

    if roles.downstream {
        for (reactor, on_poison) in reactors(config, &hub)? {
            states.joining(&reactor.group());
            let worker = EventWorker::new(log.clone(), reactor)
                .with_upcasters(upcasters.clone())
                .with_states(states.clone())
                .with_poison_policy(on_poison)
                .with_tuning(config.downstream);
            let stop = shutdown.clone();
            parts.push(tokio::spawn(async move { worker.run(stop).await }));
        }
    }

    // Whoever serves /metrics samples every group's lag.
    let lag = crate::lag::LagBoard::default();
    let admin_state = crate::admin::AdminState { states: states.clone(), lag: lag.clone() };
    if config.admin.listen.is_some() || (roles.gateway && config.gateway.http_listen.is_some()) {
        let groups = crate::lag::groups(config);
        let (lg, every, board, stop) = (log.clone(), config.admin.lag_interval, lag.clone(), shutdown.clone());
        parts.push(tokio::spawn(async move { crate::lag::sample(lg, groups, every, board, stop).await }));
    }

    if let Some(admin) = config.admin.listen {
        let listener = tokio::net::TcpListener::bind(admin)
            .await
            .map_err(|e| CoordinatorError::InvalidArgument(format!("cannot listen on {admin} (admin.listen): {e}")))?;
        admin_addr = listener.local_addr().ok();
        let (st, stop) = (admin_state.clone(), shutdown.clone());
        parts.push(tokio::spawn(async move { crate::admin::serve(listener, st, stop).await }));
    }

    if roles.gateway {
        let g = &config.gateway;
        let listener = tokio::net::TcpListener::bind(g.listen)
            .await
            .map_err(|e| CoordinatorError::InvalidArgument(format!("cannot listen on {}: {e}", g.listen)))?;
        let addr = listener.local_addr().map_err(|e| CoordinatorError::InvalidArgument(e.to_string()))?;
        grpc_addr = Some(addr);
        let limits = Limits { max_command_bytes: g.max_command_bytes };
        // Let tonic decode somewhat more than the limit so the gateway, not
        // the codec, reports an oversized command with the configured number.
        let decode_limit = (g.max_command_bytes * 2).max(4 << 20);
        let mut downstream = Downstream { max_depth: config.max_cascade_depth, hub: hub.clone(), ..Default::default() };
        for (name, p) in config.projectors.iter().filter(|(_, p)| p.sync) {
            for d in &p.domains {
                downstream.sync_projectors.entry(d.clone()).or_default().push(name.clone());
            }
        }
        for (name, s) in &config.sagas {
            for d in &s.domains {
                downstream.sagas.entry(d.clone()).or_default().push(name.clone());
            }
        }
        let mut gateway_core = Gateway::new(log.clone(), limits, g.decision_timeout).with_downstream(downstream);
        if direct {
            let router = crate::command_handler::route::Router::new(log.clone(), owners.clone(), own_endpoint.clone());
            gateway_core = gateway_core.with_router(Arc::new(router));
        }
        let (bridged, bridge_hub, stop) = (log.clone(), hub.clone(), shutdown.clone());
        parts.push(tokio::spawn(async move { crate::hub::bridge(bridged, bridge_hub, stop).await }));
        let events = EventStream::new(log.clone(), shutdown.clone());
        if let Some(http) = g.http_listen {
            let listener = tokio::net::TcpListener::bind(http)
                .await
                .map_err(|e| CoordinatorError::InvalidArgument(format!("cannot listen on {http}: {e}")))?;
            http_addr = listener.local_addr().ok();
            let (gw, ev, lg, st, stop) =
                (gateway_core.clone(), events.clone(), log.clone(), admin_state.clone(), shutdown.clone());
            let http_tls = tls.as_ref().map(|t| t.http.clone());
            let console = crate::console::ConsoleState {
                log: log.clone(),
                gateway: gateway_core.clone(),
                states: states.clone(),
                config: Arc::new(crate::console::describe(config, g.console_commands)),
                commands_enabled: g.console_commands,
            };
            parts.push(tokio::spawn(async move {
                crate::http::serve(listener, gw, ev, lg, st, console, http_tls, stop).await
            }));
        }
        let gateway = CommandHandlerCoordinatorServiceServer::new(gateway_core).max_decoding_message_size(decode_limit);
        let stream = EventStreamServiceServer::new(events);
        let query = EventQueryServiceServer::new(QueryService::new(log.clone()).with_upcasters(upcasters.clone()))
            .max_encoding_message_size(64 << 20);
        // Standard gRPC health (`grpc.health.v1`) and server reflection, so
        // grpcurl, Kubernetes' gRPC probes and service meshes work as usual.
        let (health_reporter, health) = tonic_health::server::health_reporter();
        for name in [
            "",
            <CommandHandlerCoordinatorServiceServer<Gateway> as tonic::server::NamedService>::NAME,
            <EventQueryServiceServer<QueryService> as tonic::server::NamedService>::NAME,
            <EventStreamServiceServer<EventStream> as tonic::server::NamedService>::NAME,
        ] {
            health_reporter.set_service_status(name, tonic_health::ServingStatus::Serving).await;
        }
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(angzarr_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| CoordinatorError::InvalidArgument(format!("reflection: {e}")))?;
        let stop = shutdown.clone();
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = &tls {
            server = server
                .tls_config(tls.grpc.clone())
                .map_err(|e| CoordinatorError::InvalidArgument(format!("gateway TLS: {e}")))?;
        }
        tracing::info!(%addr, tls = tls.is_some(), "gateway listening (gRPC)");
        parts.push(tokio::spawn(async move {
            server
                .tcp_nodelay(true)
                .add_service(health)
                .add_service(reflection)
                .add_service(gateway)
                .add_service(query)
                .add_service(stream)
                .serve_with_incoming_shutdown(nodelay(listener), stop.wait())
                .await
                .map_err(|e| CoordinatorError::InvalidArgument(format!("gateway server: {e}")))
        }));
    }

    Ok(Running { grpc_addr, http_addr, admin_addr, log, states, shutdown, parts: std::mem::take(&mut parts.list) })
}

/// This machine's host name (`localhost` if it cannot be read).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The long-running parts of a process. A part that ends with an error
/// before shutdown stops every other part: the process then exits with that
/// error instead of running without it.
struct Parts {
    list: Vec<JoinHandle<Result<(), CoordinatorError>>>,
    shutdown: Shutdown,
}

/// A start-up that fails half-way (a port taken, a bad file) stops the
/// parts it had already started instead of leaving them running.
impl Drop for Parts {
    fn drop(&mut self) {
        if !self.list.is_empty() {
            self.shutdown.trigger();
        }
    }
}

impl Parts {
    fn push(&mut self, part: JoinHandle<Result<(), CoordinatorError>>) {
        let shutdown = self.shutdown.clone();
        self.list.push(tokio::spawn(async move {
            let ended =
                part.await.unwrap_or_else(|e| Err(CoordinatorError::TaskDied(format!("a process part panicked: {e}"))));
            if let Err(e) = &ended
                && !shutdown.is_triggered()
            {
                tracing::error!(error = %e, "a part of the process failed; stopping the process");
                shutdown.trigger();
            }
            ended
        }));
    }
}

/// Accepted connections with Nagle's algorithm off. `Server::tcp_nodelay`
/// only reaches listeners tonic binds itself; on ours, a response split
/// across TCP segments waited for the peer's delayed ACK (40 ms on Linux)
/// — measured on a projector's batch answers before this.
fn nodelay(listener: tokio::net::TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}
