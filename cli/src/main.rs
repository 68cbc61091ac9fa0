//! `angzarr`: run the coordinators, and talk to them.

mod client;
#[cfg(feature = "example")]
mod dev;
mod dlq;
mod json;
mod output;
mod replay;
mod serve;
mod status;
mod topology;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "angzarr", version, about = "Kafka-native CQRS / event sourcing: coordinators and CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log lines: `-v` info, `-vv` debug (`RUST_LOG` overrides both).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Run the poker example on the embedded log, in one process, with no broker.
    #[cfg(feature = "example")]
    Dev(dev::DevArgs),
    /// Run the coordinators for your own config and handlers.
    Standalone {
        /// The YAML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Send a command, built from JSON by its proto type name.
    Send(client::SendArgs),
    /// Show an aggregate's events (a table, or JSON with `--output json`).
    Book(client::BookArgs),
    /// Who owns which partition and who is behind, from a gateway's HTTP API.
    Status(status::StatusArgs),
    /// Every root of a domain, one per line.
    Roots(client::RootsArgs),
    /// Run one coordinator role as its own process (scale by starting more).
    Coordinator {
        /// Which role.
        #[arg(value_enum)]
        role: Role,
        /// The YAML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Rewind a projector to rebuild its read model (stop the projector first).
    Replay {
        /// What to replay (only projectors replay).
        #[arg(value_enum)]
        kind: ReplayKind,
        /// The projector's name in the config.
        name: String,
        /// The YAML configuration.
        #[arg(long)]
        config: PathBuf,
        /// `earliest`, an RFC 3339 time, or an offset.
        #[arg(long, default_value = "earliest")]
        to: replay::Target,
    },
    /// Follow the events of a correlation id as they are committed.
    Tail {
        /// The correlation id.
        #[arg(long)]
        correlation: String,
        /// Gateway URL.
        #[arg(long, env = "ANGZARR_GATEWAY", default_value = "http://127.0.0.1:1313")]
        gateway: String,
        /// `human` (one line per event; the default on a terminal), `json`
        /// or `proto-json` (one line per book).
        #[arg(long, value_enum)]
        output: Option<output::Output>,
    },
    /// The dead letters of the configuration's projectors, sagas and process managers.
    Dlq {
        /// What to do.
        #[command(subcommand)]
        action: dlq::DlqCommand,
    },
    /// Plan or apply the Kafka topics of a configuration.
    Topology {
        /// `plan` shows what would change; `apply` creates missing topics.
        #[arg(value_enum)]
        action: TopologyAction,
        /// The YAML configuration (its log must be kafka).
        #[arg(long)]
        config: PathBuf,
    },
}

/// Coordinator roles that run as separate processes.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Role {
    /// Consumer-group member of the commands topics: decides and commits.
    CommandHandler,
    /// The gRPC gateway: validates, appends commands, answers.
    Gateway,
    /// The configured projectors and sagas (consumer groups of the events topics).
    Downstream,
}

/// What replays.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ReplayKind {
    /// A projector's consumer group.
    Projector,
}

/// Topology actions.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TopologyAction {
    /// Show what would be created, kept or refused.
    Plan,
    /// Create missing topics; refuse if existing ones are unusable.
    Apply,
}

/// The sync modes a caller can ask for.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Sync {
    /// Answer once the command is durably in the commands log.
    Async,
    /// Answer once the aggregate accepted (events committed) or rejected.
    Decision,
    /// DECISION, plus sync projectors applied.
    Simple,
    /// SIMPLE, plus sagas' commands completed recursively.
    Cascade,
    /// Accepted and persisted; nothing downstream reacts.
    Isolated,
}

/// The trace exporter of the process (`--features otel`), flushed when
/// `main` ends.
static VERBOSE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

static TRACES: std::sync::Mutex<Option<angzarr_coordinators::telemetry::traces::TraceGuard>> =
    std::sync::Mutex::new(None);

fn init_tracing(default: &str) {
    let default = match VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
        0 => default,
        1 => "info",
        _ => "debug",
    };
    let guard = angzarr_coordinators::telemetry::traces::init(default);
    *TRACES.lock().unwrap_or_else(|e| e.into_inner()) = Some(guard);
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    VERBOSE.store(cli.verbose, std::sync::atomic::Ordering::Relaxed);
    let result = match cli.command {
        #[cfg(feature = "example")]
        Command::Dev(args) => {
            // A newcomer's terminal: warnings only, the banner last; `-v` for the rest.
            init_tracing("warn");
            dev::run(args).await
        }
        Command::Standalone { config } => {
            init_tracing("info");
            serve::standalone(&config).await
        }
        Command::Coordinator { role, config } => {
            init_tracing("info");
            let roles = match role {
                Role::CommandHandler => {
                    angzarr_coordinators::runtime::Roles { gateway: false, command_handler: true, downstream: false }
                }
                Role::Gateway => {
                    angzarr_coordinators::runtime::Roles { gateway: true, command_handler: false, downstream: false }
                }
                Role::Downstream => {
                    angzarr_coordinators::runtime::Roles { gateway: false, command_handler: false, downstream: true }
                }
            };
            serve::coordinator(roles, &config).await
        }
        Command::Replay { kind: ReplayKind::Projector, name, config, to } => {
            init_tracing("warn");
            replay::run(&name, &config, to).await
        }
        Command::Tail { correlation, gateway, output } => {
            init_tracing("warn");
            return client::tail(&correlation, &gateway, output).await;
        }
        Command::Status(args) => {
            init_tracing("warn");
            return status::run(args).await;
        }
        Command::Roots(args) => {
            init_tracing("warn");
            return client::roots(args).await;
        }
        Command::Dlq { action } => {
            init_tracing("warn");
            dlq::run(action).await
        }
        Command::Topology { action, config } => {
            init_tracing("warn");
            topology::run(action, &config).await
        }
        Command::Send(args) => {
            init_tracing("warn");
            return client::send(args).await;
        }
        Command::Book(args) => {
            init_tracing("warn");
            return client::book(args).await;
        }
    };
    drop(TRACES.lock().unwrap_or_else(|e| e.into_inner()).take());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
