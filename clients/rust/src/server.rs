//! Serving aggregates as `CommandHandlerService` over gRPC.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use angzarr_proto::angzarr::command_handler_service_server::{CommandHandlerService, CommandHandlerServiceServer};
use angzarr_proto::angzarr::{BusinessResponse, ContextualCommand, ReplayRequest, ReplayResponse};
use angzarr_proto::pack;
use prost::{Message, Name};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

use crate::aggregate::Aggregate;
use crate::process_manager::ProcessManager;
use crate::projector::Projector;
use crate::saga::Saga;
use crate::upcaster::Upcaster;
use angzarr_proto::angzarr::process_manager_service_server::{ProcessManagerService, ProcessManagerServiceServer};
use angzarr_proto::angzarr::projector_service_server::{ProjectorService, ProjectorServiceServer};
use angzarr_proto::angzarr::saga_service_server::{SagaService, SagaServiceServer};
use angzarr_proto::angzarr::upcaster_service_server::{UpcasterService, UpcasterServiceServer};
use angzarr_proto::angzarr::{EventBook, Projection, SagaHandleRequest, SagaResponse};
use angzarr_proto::angzarr::{
    ProcessManagerHandleRequest, ProcessManagerHandleResponse, ProcessManagerPrepareRequest,
    ProcessManagerPrepareResponse, UpcastRequest, UpcastResponse,
};
use angzarr_proto::angzarr_kafka::projector_batch_service_server::{
    ProjectorBatchService, ProjectorBatchServiceServer,
};
use angzarr_proto::angzarr_kafka::{ProjectionBatch, ProjectorBatch};

struct HostedProjector(Projector);

#[tonic::async_trait]
impl ProjectorService for HostedProjector {
    async fn handle(&self, request: Request<EventBook>) -> Result<Response<Projection>, Status> {
        self.0.handle(request.get_ref()).map(Response::new)
    }

    async fn handle_speculative(&self, _: Request<EventBook>) -> Result<Response<Projection>, Status> {
        Err(Status::unimplemented("speculative projection is not supported by this client"))
    }
}

struct HostedBatchProjector(Projector);

#[tonic::async_trait]
impl ProjectorBatchService for HostedBatchProjector {
    async fn handle_batch(&self, request: Request<ProjectorBatch>) -> Result<Response<ProjectionBatch>, Status> {
        let projections = self.0.handle_batch(&request.get_ref().books)?;
        Ok(Response::new(ProjectionBatch { projections }))
    }
}

struct HostedSaga(Saga);

#[tonic::async_trait]
impl SagaService for HostedSaga {
    async fn handle(&self, request: Request<SagaHandleRequest>) -> Result<Response<SagaResponse>, Status> {
        let source = request.into_inner().source.unwrap_or_default();
        self.0.handle(&source).map(Response::new)
    }
}

struct HostedUpcaster(Upcaster);

#[tonic::async_trait]
impl UpcasterService for HostedUpcaster {
    async fn upcast(&self, request: Request<UpcastRequest>) -> Result<Response<UpcastResponse>, Status> {
        self.0.upcast(request.get_ref()).map(Response::new)
    }
}

/// A process manager with its state type erased.
trait HostedPm: Send + Sync {
    fn prepare(&self, req: &ProcessManagerPrepareRequest) -> Result<ProcessManagerPrepareResponse, Status>;
    fn handle(&self, req: &ProcessManagerHandleRequest) -> Result<ProcessManagerHandleResponse, Status>;
}

impl<S> HostedPm for ProcessManager<S>
where
    S: Message + Name + Default + Clone + Send + Sync + 'static,
{
    fn prepare(&self, req: &ProcessManagerPrepareRequest) -> Result<ProcessManagerPrepareResponse, Status> {
        self.handle_prepare(req)
    }

    fn handle(&self, req: &ProcessManagerHandleRequest) -> Result<ProcessManagerHandleResponse, Status> {
        ProcessManager::handle(self, req)
    }
}

struct PmService(Arc<dyn HostedPm>);

#[tonic::async_trait]
impl ProcessManagerService for PmService {
    async fn prepare(
        &self,
        request: Request<ProcessManagerPrepareRequest>,
    ) -> Result<Response<ProcessManagerPrepareResponse>, Status> {
        self.0.prepare(request.get_ref()).map(Response::new)
    }

    async fn handle(
        &self,
        request: Request<ProcessManagerHandleRequest>,
    ) -> Result<Response<ProcessManagerHandleResponse>, Status> {
        self.0.handle(request.get_ref()).map(Response::new)
    }
}

/// An aggregate with its state type erased, so one server can host several.
trait Hosted: Send + Sync {
    fn execute(&self, cmd: &ContextualCommand) -> Result<BusinessResponse, Status>;
    fn replay(&self, req: &ReplayRequest) -> Result<ReplayResponse, Status>;
}

impl<S> Hosted for Aggregate<S>
where
    S: Message + Name + Default + Clone + Send + Sync + 'static,
{
    fn execute(&self, cmd: &ContextualCommand) -> Result<BusinessResponse, Status> {
        Aggregate::execute(self, cmd)
    }

    fn replay(&self, req: &ReplayRequest) -> Result<ReplayResponse, Status> {
        let state = self.rebuild(req.base_snapshot.as_ref(), &req.events)?;
        Ok(ReplayResponse { state: Some(pack(&state)) })
    }
}

/// The business-logic server: aggregates by domain, and at most one
/// projector, saga, process manager and upcaster (their services carry no
/// name to route by).
#[derive(Clone, Default)]
pub struct Server {
    aggregates: HashMap<String, Arc<dyn Hosted>>,
    projector: Option<Projector>,
    saga: Option<Saga>,
    process_manager: Option<Arc<dyn HostedPm>>,
    upcaster: Option<Upcaster>,
    /// Serve only upstream's unary services, as upstream's published clients do.
    unary_only: bool,
}

/// A running server: its address, and a way to stop it.
pub struct ServerHandle {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl ServerHandle {
    /// Stops accepting calls, lets in-flight calls finish, and waits.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Server {
    /// A server with no aggregates.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hosts `aggregate` for its domain.
    pub fn aggregate<S>(mut self, aggregate: Aggregate<S>) -> Self
    where
        S: Message + Name + Default + Clone + Send + Sync + 'static,
    {
        self.aggregates.insert(aggregate.domain().to_string(), Arc::new(aggregate));
        self
    }

    /// Hosts `projector` (one per server).
    pub fn projector(mut self, projector: Projector) -> Self {
        self.projector = Some(projector);
        self
    }

    /// Hosts `saga` (one per server).
    pub fn saga(mut self, saga: Saga) -> Self {
        self.saga = Some(saga);
        self
    }

    /// Hosts `pm` (one per server).
    pub fn process_manager<S>(mut self, pm: ProcessManager<S>) -> Self
    where
        S: Message + Name + Default + Clone + Send + Sync + 'static,
    {
        self.process_manager = Some(Arc::new(pm));
        self
    }

    /// Hosts `upcaster` (one per server).
    pub fn upcaster(mut self, upcaster: Upcaster) -> Self {
        self.upcaster = Some(upcaster);
        self
    }

    /// Serves only upstream's unary services (no `angzarr_kafka` batch
    /// services), as a handler built with upstream's published clients does:
    /// what a coordinator's fallback is tested and measured against.
    pub fn unary_only(mut self) -> Self {
        self.unary_only = true;
        self
    }

    /// The tonic service of the aggregates, for embedding in another server.
    pub fn into_service(self) -> CommandHandlerServiceServer<Self> {
        CommandHandlerServiceServer::new(self)
    }

    fn router(self) -> tonic::transport::server::Router {
        let projector = self.projector.clone().map(|p| ProjectorServiceServer::new(HostedProjector(p)));
        let batch_projector = match self.unary_only {
            true => None,
            false => self.projector.clone().map(|p| ProjectorBatchServiceServer::new(HostedBatchProjector(p))),
        };
        let saga = self.saga.clone().map(|s| SagaServiceServer::new(HostedSaga(s)));
        let pm = self.process_manager.clone().map(|p| ProcessManagerServiceServer::new(PmService(p)));
        let upcaster = self.upcaster.clone().map(|u| UpcasterServiceServer::new(HostedUpcaster(u)));
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_optional_service(projector)
            .add_optional_service(batch_projector)
            .add_optional_service(saga)
            .add_optional_service(pm)
            .add_optional_service(upcaster)
            .add_service(self.into_service())
    }

    /// Serves on `addr` until the process ends.
    pub async fn serve(self, addr: SocketAddr) -> Result<(), tonic::transport::Error> {
        tracing::info!(%addr, domains = ?self.aggregates.keys().collect::<Vec<_>>(), "business logic serving");
        self.router().serve(addr).await
    }

    /// Binds `addr` (port 0 picks one) and serves in the background.
    pub async fn spawn(self, addr: SocketAddr) -> std::io::Result<ServerHandle> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        // Nagle off on every accepted connection (`Server::tcp_nodelay` does
        // not reach a listener bound here): a multi-segment answer otherwise
        // waits for the coordinator's delayed ACK, 40 ms per batch.
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let router = self.router();
        let task = tokio::spawn(async move {
            router
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(ServerHandle { addr, stop: Some(stop), task })
    }

    fn hosted(&self, cmd: Option<&angzarr_proto::angzarr::CommandBook>) -> Result<&Arc<dyn Hosted>, Status> {
        let domain = cmd.and_then(|c| c.cover.as_ref()).map(|c| c.domain.as_str()).unwrap_or_default();
        match self.aggregates.get(domain) {
            Some(a) => Ok(a),
            // A single-domain server accepts a cover-less command, as upstream's clients do.
            None if domain.is_empty() && self.aggregates.len() == 1 => Ok(self.aggregates.values().next().unwrap()),
            None => Err(Status::not_found(format!("no aggregate for domain `{domain}` here"))),
        }
    }
}

#[tonic::async_trait]
impl CommandHandlerService for Server {
    async fn handle(&self, request: Request<ContextualCommand>) -> Result<Response<BusinessResponse>, Status> {
        let cmd = request.into_inner();
        let hosted = self.hosted(cmd.command.as_ref())?;
        let result = hosted.execute(&cmd);
        if let Err(status) = &result {
            tracing::debug!(code = ?status.code(), message = status.message(), "command not accepted");
        }
        result.map(Response::new)
    }

    async fn replay(&self, request: Request<ReplayRequest>) -> Result<Response<ReplayResponse>, Status> {
        let req = request.into_inner();
        match self.aggregates.len() {
            1 => self.aggregates.values().next().unwrap().replay(&req).map(Response::new),
            _ => Err(Status::unimplemented("replay needs a single-aggregate server")),
        }
    }
}
