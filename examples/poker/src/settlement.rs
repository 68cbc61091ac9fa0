//! The transfer-settlement saga: when a player is credited with a transfer
//! (`FundsTransferred`, e.g. a pot won), the paying player is debited — a
//! `WithdrawFunds` command to another aggregate, produced exactly once.

use angzarr_client::{Saga, command};
use angzarr_proto::examples::{FundsTransferred, WithdrawFunds};
use uuid::Uuid;

/// The saga's name.
pub const NAME: &str = "transfer-settlement";

/// The saga.
pub fn saga() -> Saga {
    Saga::new(NAME).on(|e: &FundsTransferred, _cover, _seq| match Uuid::from_slice(&e.from_player_root) {
        Ok(payer) if !payer.is_nil() => {
            vec![command(crate::player::DOMAIN, payer, &WithdrawFunds { amount: e.amount.clone() })]
        }
        _ => Vec::new(),
    })
}
