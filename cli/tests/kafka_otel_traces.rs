//! Traces across processes, through Kafka (`--features otel`): a gateway, a
//! command handler and a downstream process — three `angzarr coordinator`
//! processes — export over OTLP to a receiver in this test. A registration
//! sent to the gateway, decided by the command handler, reacted to by a saga
//! whose deposit the command handler then decides, is one trace:
//!
//! ```text
//! gateway.command                      (gateway)
//! └─ aggregate.handle                  (command-handler; parent read from the command record's traceparent)
//!    ├─ aggregate.execute
//!    └─ saga.orchestrate               (downstream; parent read from the event record's traceparent)
//!       └─ aggregate.handle            (command-handler; the saga's command record)
//!          └─ aggregate.execute
//! ```
#![cfg(feature = "otel")]

mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::{CommandBook, CommandPage, CommandRequest, Cover, PageHeader, SyncMode, command_page};
use angzarr_proto::examples::{Currency, DepositFunds, PlayerRegistered};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use support::{bootstrap, prefix, register};
use uuid::Uuid;

/// A span as received: which process sent it, and what the tree needs.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent: Vec<u8>,
    attributes: HashMap<String, String>,
}

/// The OTLP/gRPC trace receiver: keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let text = |v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>| match v
            .as_ref()
            .and_then(|v| v.value.as_ref())
        {
            Some(Value::StringValue(s)) => s.clone(),
            Some(Value::IntValue(i)) => i.to_string(),
            Some(Value::BoolValue(b)) => b.to_string(),
            other => format!("{other:?}"),
        };
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .map(|a| text(&a.value))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for s in scope.spans {
                    spans.push(Received {
                        service: service.clone(),
                        name: s.name,
                        trace_id: s.trace_id,
                        span_id: s.span_id,
                        parent: s.parent_span_id,
                        attributes: s.attributes.iter().map(|a| (a.key.clone(), text(&a.value))).collect(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Kills the coordinator processes however the test ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The spans of `trace` whose parent is `parent`, by name.
fn children<'a>(trace: &'a [Received], parent: &[u8]) -> Vec<&'a Received> {
    let mut c: Vec<&Received> = trace.iter().filter(|s| s.parent == parent).collect();
    c.sort_by_key(|s| s.name.clone());
    c
}

/// `s` and its descendants, one per line, indented by depth.
fn print(trace: &[Received], s: &Received, depth: usize, out: &mut String) {
    let request = s.attributes.get("request_id").map(|r| format!(" request_id={r}")).unwrap_or_default();
    out.push_str(&format!("{}{} ({}){request}\n", "  ".repeat(depth), s.name, s.service));
    for c in children(trace, &s.span_id) {
        print(trace, c, depth + 1, out);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_one_trace_from_the_gateway_through_a_saga_to_the_target_aggregate() {
    let _serial = support::SERIAL.lock().await;
    // The receiver.
    let receiver = Receiver::default();
    let otlp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp_addr = otlp.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(otlp)),
    );
    // The business logic: the poker player aggregate, and a saga that
    // deposits 1 to every player that registers.
    let aggregates = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let saga = angzarr_client::Saga::new("welcome").on(|_: &PlayerRegistered, cover, _| {
        let root = cover.root.as_ref().and_then(|r| Uuid::from_slice(&r.value).ok()).unwrap();
        let gift = DepositFunds { amount: Some(Currency { amount: 1, currency_code: "USD".into() }) };
        vec![angzarr_client::command("player", root, &gift)]
    });
    let sagas = angzarr_client::Server::new().saga(saga).spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let gateway_port = free_port();
    let config = dir.path().join("angzarr.yaml");
    std::fs::write(
        &config,
        format!(
            "log: {{type: kafka, bootstrap_servers: '{}', topic_prefix: '{}', partitions: 2, session_timeout: 3s}}\n\
             gateway: {{listen: '127.0.0.1:{gateway_port}', decision_timeout: 60s}}\n\
             domains:\n  player: {{handler: 'http://{}'}}\n\
             sagas:\n  welcome: {{handler: 'http://{}', domains: [player]}}\n",
            bootstrap(),
            prefix("otel"),
            aggregates.addr,
            sagas.addr
        ),
    )
    .unwrap();
    let mut processes = Processes(Vec::new());
    for role in ["command-handler", "downstream", "gateway"] {
        let log = std::fs::File::create(dir.path().join(format!("{role}.log"))).unwrap();
        processes.0.push(
            Command::new(env!("CARGO_BIN_EXE_angzarr"))
                .args(["coordinator", role, "--config"])
                .arg(&config)
                .env("RUST_LOG", "warn")
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp_addr}"))
                .env("OTEL_SERVICE_NAME", role)
                .env("OTEL_BSP_SCHEDULE_DELAY", "100")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }

    // One registration, DECISION, once the gateway listens.
    let mut client = None;
    for _ in 0..300 {
        if let Ok(c) = CommandHandlerCoordinatorServiceClient::connect(format!("http://127.0.0.1:{gateway_port}")).await
        {
            client = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut client = client.expect("the gateway listens");
    let (root, correlation) = (Uuid::new_v4(), format!("otel-{}", Uuid::new_v4()));
    let request = CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover {
                root: Some(root.into()),
                domain: "player".into(),
                correlation_id: correlation.clone(),
                ..Default::default()
            }),
            pages: vec![CommandPage {
                header: Some(PageHeader::sequence(0)),
                payload: Some(command_page::Payload::Command(register())),
                ..Default::default()
            }],
        }),
        sync_mode: SyncMode::Decision as i32,
        ..Default::default()
    };
    client.handle_command(request).await.expect("decided");

    // Wait for the deposit's business-logic call to be exported.
    let of_command = |spans: &[Received]| -> Option<Vec<Received>> {
        let root_span = spans
            .iter()
            .find(|s| s.name == "gateway.command" && s.attributes.get("correlation_id") == Some(&correlation))?;
        let trace: Vec<Received> = spans.iter().filter(|s| s.trace_id == root_span.trace_id).cloned().collect();
        let deposits = trace
            .iter()
            .filter(|s| {
                s.name == "aggregate.handle" && s.attributes.get("request_id").is_some_and(|r| r.starts_with("saga:"))
            })
            .count();
        let executes = trace.iter().filter(|s| s.name == "aggregate.execute").count();
        (deposits == 1 && executes == 2).then_some(trace)
    };
    let mut trace = None;
    for _ in 0..600 {
        trace = of_command(&receiver.spans.lock().unwrap());
        if trace.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let trace = trace.unwrap_or_else(|| {
        let seen: Vec<(String, String)> =
            receiver.spans.lock().unwrap().iter().map(|s| (s.service.clone(), s.name.clone())).collect();
        panic!("no complete trace; spans received: {seen:?}")
    });

    // The tree, printed as the closing note quotes it.
    let by_id: HashMap<&[u8], &Received> = trace.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let root_span = trace.iter().find(|s| s.parent.is_empty() || !by_id.contains_key(s.parent.as_slice())).unwrap();
    let mut tree = String::new();
    print(&trace, root_span, 0, &mut tree);
    eprintln!("the trace:\n{tree}");

    let one = |name: &str, parent: &Received| -> Received {
        let found: Vec<&Received> = children(&trace, &parent.span_id).into_iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "one {name} under {} ({}):\n{tree}", parent.name, parent.service);
        found[0].clone()
    };
    assert_eq!((root_span.name.as_str(), root_span.service.as_str()), ("gateway.command", "gateway"), "{tree}");
    let handle = one("aggregate.handle", root_span);
    assert_eq!(handle.service, "command-handler", "crossed the commands topic: {tree}");
    assert_eq!(handle.attributes.get("root"), Some(&root.to_string()));
    let _execute = one("aggregate.execute", &handle);
    let orchestrate = one("saga.orchestrate", &handle);
    assert_eq!(orchestrate.service, "downstream", "crossed the events topic: {tree}");
    assert_eq!(orchestrate.attributes.get("correlation_id"), Some(&correlation));
    let target = one("aggregate.handle", &orchestrate);
    assert_eq!(target.service, "command-handler", "the saga's command crossed the commands topic: {tree}");
    assert!(target.attributes["request_id"].starts_with("saga:welcome:"), "{tree}");
    assert_eq!(target.attributes.get("correlation_id"), Some(&correlation));
    let _ = one("aggregate.execute", &target);
    assert!(
        trace.iter().all(|s| s.name.contains('.') && !s.name.contains("::")),
        "only the coordinator's spans: {tree}"
    );
    drop(processes);
}
