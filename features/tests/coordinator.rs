//! `player.feature` through a real coordinator: gateway gRPC → commands log →
//! partition owner → business logic over gRPC → atomic commit.
//!
//! The log is the embedded one in a temporary directory, or — with
//! `ANGZARR_LOG=kafka` — the Kafka broker at `KAFKA_BOOTSTRAP`, under a fresh
//! topic prefix. The player handler is the Rust example, or the service at
//! `ANGZARR_PLAYER_HANDLER` (any language) when set.

mod support;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{Config, DomainConfig, GatewayConfig, LogConfig};
use angzarr_coordinators::runtime::{self, Roles};
use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::event_query_service_client::EventQueryServiceClient;
use angzarr_proto::angzarr::{
    CommandBook, CommandPage, CommandRequest, Cover, PageHeader, Query, SyncMode, command_page,
};
use angzarr_proto::examples::PlayerState;
use prost_types::Any;
use tonic::Status;
use tonic::transport::Channel;
use uuid::Uuid;

static GATEWAY: OnceLock<Channel> = OnceLock::new();

#[derive(Debug)]
struct ThroughCoordinator {
    root: Uuid,
    channel: Channel,
}

impl ThroughCoordinator {
    fn cover(&self) -> Cover {
        Cover { root: Some(self.root.into()), domain: "player".into(), ..Default::default() }
    }

    async fn book(&self) -> angzarr_proto::angzarr::EventBook {
        EventQueryServiceClient::new(self.channel.clone())
            .get_event_book(Query { cover: Some(self.cover()), selection: None })
            .await
            .expect("GetEventBook")
            .into_inner()
    }
}

#[async_trait::async_trait]
impl support::Backend for ThroughCoordinator {
    async fn reset(&mut self) {
        self.root = Uuid::new_v4();
    }

    async fn send(&mut self, command: Any, expected: u32) -> Result<Vec<Any>, Status> {
        let request = CommandRequest {
            command: Some(CommandBook {
                cover: Some(self.cover()),
                pages: vec![CommandPage {
                    header: Some(PageHeader::sequence(expected)),
                    payload: Some(command_page::Payload::Command(command)),
                    ..Default::default()
                }],
            }),
            sync_mode: SyncMode::Decision as i32,
            ..Default::default()
        };
        let resp = CommandHandlerCoordinatorServiceClient::new(self.channel.clone()).handle_command(request).await?;
        Ok(resp
            .into_inner()
            .events
            .map(|b| b.pages.into_iter().filter_map(|p| p.event().cloned()).collect())
            .unwrap_or_default())
    }

    async fn recorded(&mut self) -> u32 {
        self.book().await.next_sequence
    }

    async fn state(&mut self) -> PlayerState {
        let book = self.book().await;
        poker::player::aggregate().state_of(&book).expect("recorded events apply")
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let handler = match std::env::var("ANGZARR_PLAYER_HANDLER") {
        Ok(url) => url,
        Err(_) => {
            let server = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.expect("player handler");
            let url = format!("http://{}", server.addr);
            std::mem::forget(server);
            url
        }
    };
    eprintln!("player handler: {handler}");
    let log = match std::env::var("ANGZARR_LOG").as_deref() {
        Ok("kafka") => {
            let bootstrap = std::env::var("KAFKA_BOOTSTRAP").expect("ANGZARR_LOG=kafka needs KAFKA_BOOTSTRAP");
            let prefix = format!("features-{}", &Uuid::new_v4().simple().to_string()[..8]);
            eprintln!("log: kafka at {bootstrap}, topic prefix {prefix}");
            angzarr_coordinators::config::parse_log(&format!(
                "type: kafka\nbootstrap_servers: '{bootstrap}'\ntopic_prefix: '{prefix}'\npartitions: 4\n"
            ))
            .unwrap()
        }
        Ok("embedded") | Err(_) => {
            LogConfig::Embedded { path: dir.path().join("events.db"), partitions: 4, durability: Default::default() }
        }
        Ok(other) => panic!("ANGZARR_LOG={other}: use embedded or kafka"),
    };
    let config = Config::new(
        log,
        GatewayConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() },
        BTreeMap::from([("player".to_string(), DomainConfig::served_by(handler, 3))]),
    );
    let log = runtime::open_log(&config).await.expect("embedded log");
    let running = runtime::start(&config, log, Roles::ALL, Shutdown::new()).await.expect("coordinator");
    let addr = running.grpc_addr.unwrap();
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.expect("gateway");
    GATEWAY.set(channel).unwrap();
    support::run(|| Box::new(ThroughCoordinator { root: Uuid::new_v4(), channel: GATEWAY.get().unwrap().clone() }))
        .await;
}
