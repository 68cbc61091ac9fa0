//! The hand aggregate: one hand of poker at a table — who is in, what they
//! put in the pot, who won. Low-latency logic in Rust, as the seed tells it.
//!
//! Chips here are the hand's own stacks; the players' bankrolls change only
//! when the hand is settled, by the [`crate::hand_settlement`] saga reacting to
//! `HandComplete`. The table's cover travels in each command's `Cover.ext`,
//! and the coordinator keeps it on every event of the hand.

use angzarr_client::{Aggregate, CommandRejected, Events, ensure};
use angzarr_proto::examples::{
    ActionTaken, ActionType, AwardPot, BlindPosted, CardsDealt, DealCards, HandComplete, HandState, PlayerAction,
    PlayerHandState, PlayerStackSnapshot, PostBlind, PotAwarded, PotWinner,
};

/// The domain name.
pub const DOMAIN: &str = "hand";

/// The hand aggregate.
pub fn aggregate() -> Aggregate<HandState> {
    Aggregate::new(DOMAIN)
        .handle(handle_deal_cards)
        .handle(handle_post_blind)
        .handle(handle_player_action)
        .handle(handle_award_pot)
        .apply(|s: &mut HandState, e: &CardsDealt| {
            s.table_root = e.table_root.clone();
            s.hand_number = e.hand_number;
            s.game_variant = e.game_variant;
            s.dealer_position = e.dealer_position;
            s.players = e
                .players
                .iter()
                .map(|p| PlayerHandState {
                    player_root: p.player_root.clone(),
                    position: p.position,
                    stack: p.stack,
                    ..Default::default()
                })
                .collect();
            s.status = "in_progress".into();
        })
        .apply(|s: &mut HandState, e: &BlindPosted| invest(s, &e.player_root, e.amount, false))
        .apply(|s: &mut HandState, e: &ActionTaken| {
            let folded = e.action == ActionType::Fold as i32;
            invest(s, &e.player_root, e.amount, folded)
        })
        .apply(|s: &mut HandState, e: &PotAwarded| {
            for w in &e.winners {
                if let Some(p) = s.players.iter_mut().find(|p| p.player_root == w.player_root) {
                    p.stack += w.amount;
                }
            }
        })
        .apply(|s: &mut HandState, _: &HandComplete| s.status = "complete".into())
}

fn invest(s: &mut HandState, player: &[u8], amount: i64, folded: bool) {
    if let Some(p) = s.players.iter_mut().find(|p| p.player_root == player) {
        p.stack -= amount;
        p.total_invested += amount;
        p.has_acted = true;
        p.has_folded |= folded;
        p.is_all_in = p.stack == 0;
    }
}

fn pot(s: &HandState) -> i64 {
    s.players.iter().map(|p| p.total_invested).sum()
}

fn in_progress(s: &HandState) -> Result<(), CommandRejected> {
    ensure(s.status == "in_progress", "the hand is not in progress")
}

fn seat<'a>(s: &'a HandState, player: &[u8]) -> Result<&'a PlayerHandState, CommandRejected> {
    s.players.iter().find(|p| p.player_root == player).ok_or_else(|| CommandRejected::new("player is not in this hand"))
}

/// Deals a hand to at least two players with chips.
pub fn handle_deal_cards(cmd: &DealCards, s: &HandState, _seq: u32) -> Result<Events, CommandRejected> {
    ensure(s.status.is_empty(), "the hand was already dealt")?;
    ensure(cmd.players.len() >= 2, "a hand needs at least two players")?;
    ensure(
        cmd.players.iter().all(|p| p.stack > 0 && !p.player_root.is_empty()),
        "every player needs a root and chips",
    )?;
    Ok(Events::one(CardsDealt {
        table_root: cmd.table_root.clone(),
        hand_number: cmd.hand_number,
        game_variant: cmd.game_variant,
        player_cards: vec![],
        dealer_position: cmd.dealer_position,
        players: cmd.players.clone(),
        dealt_at: None,
        remaining_deck: vec![],
    }))
}

/// A player posts a blind.
pub fn handle_post_blind(cmd: &PostBlind, s: &HandState, _seq: u32) -> Result<Events, CommandRejected> {
    in_progress(s)?;
    let p = seat(s, &cmd.player_root)?;
    ensure(cmd.amount > 0 && cmd.amount <= p.stack, "the blind must be positive and covered by the stack")?;
    Ok(Events::one(BlindPosted {
        player_root: cmd.player_root.clone(),
        blind_type: cmd.blind_type.clone(),
        amount: cmd.amount,
        player_stack: p.stack - cmd.amount,
        pot_total: pot(s) + cmd.amount,
        posted_at: None,
    }))
}

/// A player acts: fold, check, call, bet, raise or all-in.
pub fn handle_player_action(cmd: &PlayerAction, s: &HandState, _seq: u32) -> Result<Events, CommandRejected> {
    in_progress(s)?;
    let p = seat(s, &cmd.player_root)?;
    ensure(!p.has_folded, "the player has folded")?;
    let action = ActionType::try_from(cmd.action).map_err(|_| CommandRejected::new("unknown action"))?;
    let amount = match action {
        ActionType::Fold | ActionType::Check => 0,
        ActionType::AllIn => p.stack,
        ActionType::Call | ActionType::Bet | ActionType::Raise => cmd.amount,
        ActionType::ActionUnspecified => return Err(CommandRejected::new("unknown action")),
    };
    ensure(amount >= 0 && amount <= p.stack, "not enough chips")?;
    Ok(Events::one(ActionTaken {
        player_root: cmd.player_root.clone(),
        action: action as i32,
        amount,
        player_stack: p.stack - amount,
        pot_total: pot(s) + amount,
        amount_to_call: 0,
        action_at: None,
    }))
}

/// Awards the pot and completes the hand, with every player's final stack.
pub fn handle_award_pot(cmd: &AwardPot, s: &HandState, _seq: u32) -> Result<Events, CommandRejected> {
    in_progress(s)?;
    ensure(!cmd.awards.is_empty(), "no winner")?;
    let awarded: i64 = cmd.awards.iter().map(|a| a.amount).sum();
    ensure(awarded == pot(s), format!("awards total {awarded}, the pot is {}", pot(s)))?;
    for a in &cmd.awards {
        let p = seat(s, &a.player_root)?;
        ensure(!p.has_folded, "a folded player cannot win")?;
    }
    let winners: Vec<PotWinner> = cmd
        .awards
        .iter()
        .map(|a| PotWinner {
            player_root: a.player_root.clone(),
            amount: a.amount,
            pot_type: a.pot_type.clone(),
            winning_hand: None,
        })
        .collect();
    let final_stacks = s
        .players
        .iter()
        .map(|p| {
            let won: i64 = winners.iter().filter(|w| w.player_root == p.player_root).map(|w| w.amount).sum();
            PlayerStackSnapshot { player_root: p.player_root.clone(), stack: p.stack + won, ..Default::default() }
        })
        .collect();
    Ok(Events::one(PotAwarded { winners: winners.clone(), awarded_at: None }).and(HandComplete {
        table_root: s.table_root.clone(),
        hand_number: s.hand_number,
        winners,
        final_stacks,
        completed_at: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_client::testing::Scenario;
    use angzarr_proto::examples::{PlayerInHand, PotAward};

    fn dealt() -> CardsDealt {
        let players = vec![
            PlayerInHand { player_root: vec![1; 16], position: 0, stack: 100 },
            PlayerInHand { player_root: vec![2; 16], position: 1, stack: 100 },
        ];
        CardsDealt { hand_number: 1, players, ..Default::default() }
    }

    #[test]
    fn a_hand_is_played_and_settled() {
        let agg = aggregate();
        let bet = Scenario::new(&agg).given(dealt()).when(PlayerAction {
            player_root: vec![1; 16],
            action: ActionType::Bet as i32,
            amount: 30,
        });
        let e = bet.event::<ActionTaken>();
        assert_eq!((e.player_stack, e.pot_total), (70, 30));
        let s = Scenario::new(&agg).given(dealt()).given(e).given(ActionTaken {
            player_root: vec![2; 16],
            action: ActionType::Fold as i32,
            ..Default::default()
        });
        let award = |who: u8, amount| AwardPot {
            awards: vec![PotAward { player_root: vec![who; 16], amount, pot_type: "main".into() }],
        };
        assert!(s.when(award(2, 30)).rejection().contains("folded"));
        assert!(s.when(award(1, 20)).rejection().contains("the pot is 30"));
        let done = s.when(award(1, 30));
        let complete = done.event::<HandComplete>();
        let stacks: Vec<i64> = complete.final_stacks.iter().map(|p| p.stack).collect();
        assert_eq!(stacks, vec![100, 100]);
        assert_eq!(done.state.status, "complete");
    }

    #[test]
    fn rules() {
        let agg = aggregate();
        assert!(Scenario::new(&agg).when(DealCards::default()).rejection().contains("at least two"));
        let s = Scenario::new(&agg).given(dealt());
        assert!(
            s.when(PostBlind { player_root: vec![9; 16], amount: 1, ..Default::default() })
                .rejection()
                .contains("not in this hand")
        );
        assert!(
            s.when(PlayerAction { player_root: vec![1; 16], action: ActionType::Raise as i32, amount: 500 })
                .rejection()
                .contains("not enough chips")
        );
        assert!(
            s.when(DealCards { players: dealt().players, ..Default::default() }).rejection().contains("already dealt")
        );
    }
}
