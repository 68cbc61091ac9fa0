//! The poker example platform.
//!
//! - [`player`]: the player aggregate — registration and a bankroll with
//!   table reservations — written with the Rust client.

pub mod player;

use angzarr_client::Server;

/// Every aggregate of the example, ready to serve.
pub fn server() -> Server {
    Server::new().aggregate(player::aggregate())
}
