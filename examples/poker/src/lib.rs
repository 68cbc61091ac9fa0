//! The poker example platform.
//!
//! - [`player`]: the player aggregate — registration and a bankroll with
//!   table reservations — written with the Rust client.
//! - [`bankroll`]: a projector keeping a leaderboard read model in SQLite.
//! - [`settlement`]: a saga debiting the payer of a transfer.

pub mod bankroll;
pub mod player;
pub mod settlement;

use angzarr_client::Server;

/// Every aggregate of the example, ready to serve.
pub fn server() -> Server {
    Server::new().aggregate(player::aggregate())
}
