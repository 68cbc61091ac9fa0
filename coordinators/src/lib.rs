//! The coordinators: everything between a caller and the user's business logic.
//!
//! Follow a command by opening the folders in order:
//! [`command_handler::gateway`] (validate, put on the commands log, wait) →
//! [`command_handler::worker`] (consumer-group member, one task per owned
//! partition) → [`command_handler::task`] (sequence check, business logic,
//! one atomic commit per batch).
//!
//! [`runtime`] assembles a process from a [`config::Config`]: a log, the
//! workers, the gateway servers, and clean shutdown.

pub mod command_handler;
pub mod config;
pub mod error;
pub mod event_consumer;
pub mod event_stream;
pub mod handlers;
pub mod http;
pub mod hub;
pub mod outbound;
pub mod process_manager;
pub mod projector;
pub mod runtime;
pub mod saga;
pub mod shutdown;
pub mod telemetry;
pub mod upcast;

pub use error::CoordinatorError;
pub use shutdown::Shutdown;
