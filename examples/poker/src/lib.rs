//! The poker example platform.
//!
//! - [`player`]: the player aggregate — registration and a bankroll with
//!   table reservations — written with the Rust client.
//! - [`hand`]: the hand aggregate — a hand of poker, blinds, actions, the pot.
//! - [`bankroll`]: a projector keeping a leaderboard read model in SQLite.
//! - [`settlement`]: a saga debiting the payer of a transfer.
//! - [`hand_settlement`]: a saga settling a finished hand into the players' bankrolls.
//! - [`table`]: the table aggregate — seats, buy-ins, the sequence of hands.
//! - [`hand_flow`]: a process manager running a table's hand across `table` and `hand`.
//! - [`upcaster`]: reads the first release's `PlayerRegisteredV1` as `PlayerRegistered`.

pub mod bankroll;
pub mod hand;
pub mod hand_flow;
pub mod hand_settlement;
pub mod player;
pub mod settlement;
pub mod table;
pub mod upcaster;

use angzarr_client::Server;

/// Every aggregate of the example, ready to serve.
pub fn server() -> Server {
    Server::new().aggregate(player::aggregate()).aggregate(hand::aggregate()).aggregate(table::aggregate())
}
