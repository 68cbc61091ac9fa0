//! Write angzarr business logic in Rust.
//!
//! An aggregate is a state type, *appliers* that fold events into it and
//! *handlers* that turn a command into events or a rejection:
//!
//! ```ignore
//! let player = Aggregate::<PlayerState>::new("player")
//!     .apply(|s: &mut PlayerState, e: &FundsDeposited| s.bankroll = e.new_balance.clone())
//!     .handle(handle_deposit_funds);
//! angzarr_client::Server::new().aggregate(player).serve("127.0.0.1:50051".parse()?).await?;
//! ```
//!
//! The coordinator does everything else: loading history, checking
//! sequences, persisting, snapshots. Handlers are plain functions, so a test
//! needs no framework running: see [`testing::Scenario`].

mod aggregate;
mod error;
mod events;
pub mod gateway;
mod process_manager;
mod projector;
mod saga;
mod server;
pub mod testing;
mod upcaster;

pub use aggregate::Aggregate;
pub use angzarr_proto as proto;
pub use error::{CommandRejected, ensure};
pub use events::Events;
pub use gateway::{Gateway, GatewayError, Retry};
pub use process_manager::{ProcessManager, Reaction, Trigger};
pub use projector::Projector;
pub use saga::{Saga, command};
pub use server::{Server, ServerHandle};
pub use upcaster::Upcaster;
