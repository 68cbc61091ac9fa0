//! The hand-settlement saga: a hand's chips move the players' bankrolls —
//! cross-domain commands from `hand` to `player`, each produced exactly once.
//!
//! Every chip a player puts in (`BlindPosted`, `ActionTaken`) is withdrawn
//! from their bankroll, and every award (`PotAwarded`) deposited, so when the
//! hand completes its result is settled. Each reaction is a pure function of
//! one event: nothing is remembered between events, so a restarted saga
//! worker settles exactly as the one it replaced.

use angzarr_client::{Saga, command};
use angzarr_proto::angzarr::CommandBook;
use angzarr_proto::examples::{ActionTaken, BlindPosted, Currency, DepositFunds, PotAwarded, WithdrawFunds};
use uuid::Uuid;

/// The saga's name.
pub const NAME: &str = "hand-settlement";

fn usd(amount: i64) -> Option<Currency> {
    Some(Currency { amount, currency_code: "USD".into() })
}

fn withdraw(player: &[u8], amount: i64) -> Vec<CommandBook> {
    match Uuid::from_slice(player) {
        Ok(root) if amount > 0 => vec![command(crate::player::DOMAIN, root, &WithdrawFunds { amount: usd(amount) })],
        _ => Vec::new(),
    }
}

/// The saga.
pub fn saga() -> Saga {
    Saga::new(NAME)
        .on(|e: &BlindPosted, _, _| withdraw(&e.player_root, e.amount))
        .on(|e: &ActionTaken, _, _| withdraw(&e.player_root, e.amount))
        .on(|e: &PotAwarded, _, _| {
            e.winners
                .iter()
                .filter_map(|w| {
                    let root = Uuid::from_slice(&w.player_root).ok()?;
                    (w.amount > 0)
                        .then(|| command(crate::player::DOMAIN, root, &DepositFunds { amount: usd(w.amount) }))
                })
                .collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::angzarr::{EventBook, EventPage, PageHeader, event_page};
    use angzarr_proto::examples::PotWinner;
    use angzarr_proto::pack;

    #[test]
    fn chips_in_are_withdrawn_and_awards_deposited() {
        let a = Uuid::new_v4();
        let pages = vec![
            EventPage {
                header: Some(PageHeader::sequence(1)),
                payload: Some(event_page::Payload::Event(pack(&BlindPosted {
                    player_root: a.as_bytes().to_vec(),
                    amount: 5,
                    ..Default::default()
                }))),
                ..Default::default()
            },
            EventPage {
                header: Some(PageHeader::sequence(2)),
                payload: Some(event_page::Payload::Event(pack(&PotAwarded {
                    winners: vec![PotWinner { player_root: a.as_bytes().to_vec(), amount: 12, ..Default::default() }],
                    awarded_at: None,
                }))),
                ..Default::default()
            },
        ];
        let out = saga().handle(&EventBook { pages, ..Default::default() }).unwrap();
        let types: Vec<String> = out
            .commands
            .iter()
            .map(|c| c.pages[0].command().unwrap().type_url.rsplit('/').next().unwrap().to_string())
            .collect();
        assert_eq!(types, ["examples.WithdrawFunds", "examples.DepositFunds"]);
        assert!(out.commands.iter().all(|c| c.cover.as_ref().unwrap().domain == "player"));
    }
}
