//! The coordinators: everything between a caller and the user's business logic.
//!
//! Follow a command by opening the folders in order:
//! [`command_handler::gateway`] (validate, put on the commands log, wait) →
//! [`command_handler::worker`] (consumer-group member, one task per owned
//! partition) → [`command_handler::task`] (sequence check, business logic,
//! one atomic commit per batch).
//!
//! Downstream of committed events: [`event_consumer`] (a consumer-group
//! member per role, one task per events partition) drives [`projector`],
//! [`saga`] and the [`process_manager`] router; a process manager's own
//! partition owner is the command path above with `Prepare`/`Handle` in
//! place of the aggregate ([`process_manager::orchestrate`]). What sagas and
//! process managers emit is checked in [`outbound`]; [`upcast`] brings old
//! events to their current shape on every read.
//!
//! [`runtime`] assembles a process from a [`config::Config`]: a log, the
//! workers, the gateway servers, and clean shutdown.

pub mod admin;
pub mod backoff;
pub mod command_handler;
pub mod config;
pub mod console;
pub mod error;
pub mod event_consumer;
pub mod event_stream;
pub mod handlers;
pub mod http;
pub mod hub;
pub mod json_form;
pub mod lag;
pub mod outbound;
pub mod process_manager;
pub mod projector;
pub mod runtime;
pub mod saga;
pub mod shutdown;
pub mod supervisor;
pub mod telemetry;
pub mod tls;
pub mod upcast;

pub use error::CoordinatorError;
pub use shutdown::Shutdown;
