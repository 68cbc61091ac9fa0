//! The hand-flow process manager: a table's hand from start to end, across
//! the `table` and `hand` domains — one process per correlation id.
//!
//! - `HandStarted` (table) → record `HandFlowStarted`, command the hand to
//!   deal (`DealCards`) — only if that hand has no events yet, which
//!   `prepare` asks the coordinator to check (the destination's next
//!   sequence).
//! - `HandComplete` (hand) → record `HandFlowEnded`, command the table to
//!   end the hand (`EndHand` with the final stacks).
//!
//! The process remembers where it is, so a second `HandComplete`, or a
//! `HandStarted` of another correlation, changes nothing here.

use angzarr_client::{ProcessManager, Reaction, command};
use angzarr_proto::angzarr::Cover;
use angzarr_proto::examples::{
    DealCards, EndHand, HandComplete, HandFlowEnded, HandFlowStarted, HandFlowState, HandStarted, PlayerInHand,
    PotResult, PotWinnerRef, SeatSnapshot,
};
use uuid::Uuid;

/// The process manager's name (also the domain of its own logs).
pub const NAME: &str = "hand-flow";

fn uuid(bytes: &[u8]) -> Option<Uuid> {
    Uuid::from_slice(bytes).ok()
}

/// The process manager.
pub fn process_manager() -> ProcessManager<HandFlowState> {
    ProcessManager::new(NAME)
        .apply(|s: &mut HandFlowState, e: &HandFlowStarted| {
            s.table_root = e.table_root.clone();
            s.hand_root = e.hand_root.clone();
            s.hand_number = e.hand_number;
            s.phase = "dealing".into();
        })
        .apply(|s: &mut HandFlowState, _: &HandFlowEnded| s.phase = "ended".into())
        .prepare(|e: &HandStarted, _: &HandFlowState| {
            uuid(&e.hand_root)
                .map(|root| Cover { domain: crate::hand::DOMAIN.into(), root: Some(root.into()), ..Default::default() })
                .into_iter()
                .collect()
        })
        .on(|e: &HandStarted, s: &HandFlowState, t| {
            let (Some(hand), Some(table)) = (uuid(&e.hand_root), t.cover.root.as_ref()) else {
                return Reaction::none();
            };
            // A process runs one hand; a hand that already has events was dealt.
            if !s.phase.is_empty() || t.destinations.get(crate::hand::DOMAIN).copied().unwrap_or(0) != 0 {
                return Reaction::none();
            }
            let deal = DealCards {
                table_root: table.value.clone(),
                hand_number: e.hand_number,
                game_variant: e.game_variant,
                players: e
                    .active_players
                    .iter()
                    .map(|p| PlayerInHand { player_root: p.player_root.clone(), position: p.position, stack: p.stack })
                    .collect(),
                dealer_position: e.dealer_position,
                small_blind: e.small_blind,
                big_blind: e.big_blind,
                deck_seed: Vec::new(),
            };
            Reaction::none()
                .record(HandFlowStarted {
                    table_root: table.value.clone(),
                    hand_root: e.hand_root.clone(),
                    hand_number: e.hand_number,
                })
                .send(command(crate::hand::DOMAIN, hand, &deal))
        })
        .on(|e: &HandComplete, s: &HandFlowState, t| {
            let this_hand = t.cover.root.as_ref().is_some_and(|r| r.value == s.hand_root);
            let Some(table) = uuid(&s.table_root) else { return Reaction::none() };
            if s.phase != "dealing" || !this_hand {
                return Reaction::none();
            }
            let end = EndHand {
                hand_root: s.hand_root.clone(),
                results: e
                    .winners
                    .iter()
                    .map(|w| PotResult {
                        winner_root: w.player_root.clone(),
                        amount: w.amount,
                        pot_type: w.pot_type.clone(),
                        winning_hand: None,
                    })
                    .collect(),
                final_stacks: e
                    .final_stacks
                    .iter()
                    .map(|f| SeatSnapshot { position: 0, player_root: f.player_root.clone(), stack: f.stack })
                    .collect(),
            };
            Reaction::none()
                .record(HandFlowEnded {
                    hand_root: s.hand_root.clone(),
                    winners: e
                        .winners
                        .iter()
                        .map(|w| PotWinnerRef { player_root: w.player_root.clone(), amount: w.amount })
                        .collect(),
                })
                .send(command(crate::table::DOMAIN, table, &end))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::angzarr::{EventBook, EventPage, PageHeader, ProcessManagerHandleRequest, event_page};
    use angzarr_proto::examples::SeatSnapshot as Seat;
    use angzarr_proto::{pack, type_name};
    use prost::Name;

    fn book(domain: &str, root: Uuid, event: prost_types::Any) -> EventBook {
        EventBook {
            cover: Some(Cover { domain: domain.into(), root: Some(root.into()), ..Default::default() }),
            pages: vec![EventPage {
                header: Some(PageHeader::sequence(3)),
                payload: Some(event_page::Payload::Event(event)),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn deals_once_then_ends_the_hand_at_the_table() {
        let (table, hand, a) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let pm = process_manager();
        let started = HandStarted {
            hand_root: hand.as_bytes().to_vec(),
            hand_number: 1,
            active_players: vec![Seat { position: 0, player_root: a.as_bytes().to_vec(), stack: 100 }],
            ..Default::default()
        };
        let trigger = book("table", table, pack(&started));
        let prepared = pm
            .handle_prepare(&angzarr_proto::angzarr::ProcessManagerPrepareRequest {
                trigger: Some(trigger.clone()),
                process_state: None,
            })
            .unwrap();
        assert_eq!(prepared.destinations[0].domain, "hand");
        let out = pm
            .handle(&ProcessManagerHandleRequest {
                trigger: Some(trigger.clone()),
                process_state: None,
                destination_sequences: [("hand".to_string(), 0)].into(),
            })
            .unwrap();
        assert_eq!(out.commands.len(), 1);
        assert_eq!(type_name(&out.commands[0].pages[0].command().unwrap().type_url), DealCards::full_name());
        let state = out.process_events.unwrap();
        assert_eq!(state.pages.len(), 1);

        // Already dealt (the hand has events): nothing.
        let again = pm
            .handle(&ProcessManagerHandleRequest {
                trigger: Some(trigger),
                process_state: None,
                destination_sequences: [("hand".to_string(), 2)].into(),
            })
            .unwrap();
        assert!(again.commands.is_empty());

        let complete = HandComplete { table_root: table.as_bytes().to_vec(), hand_number: 1, ..Default::default() };
        let end = pm
            .handle(&ProcessManagerHandleRequest {
                trigger: Some(book("hand", hand, pack(&complete))),
                process_state: Some(state),
                destination_sequences: Default::default(),
            })
            .unwrap();
        assert_eq!(end.commands[0].cover.as_ref().unwrap().domain, "table");
        assert_eq!(end.process_events.unwrap().pages[0].seq(), Some(1));
    }
}
