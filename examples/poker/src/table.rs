//! The table aggregate: seats, buy-ins and the sequence of hands.
//!
//! A table starts a hand (`HandStarted`, naming a fresh hand root and the
//! seated players' stacks); the [`crate::hand_flow`] process manager deals
//! it in the `hand` domain and, when the hand completes, records its end
//! here (`EndHand` → `HandEnded` with each stack's change).

use angzarr_client::{Aggregate, CommandRejected, Events, ensure};
use angzarr_proto::examples::{
    CreateTable, Currency, EndHand, HandEnded, HandStarted, JoinTable, LeaveTable, PlayerJoined, PlayerLeft, Seat,
    SeatSnapshot, StartHand, TableCreated, TableState,
};
use uuid::Uuid;

/// The domain name.
pub const DOMAIN: &str = "table";

/// The table aggregate.
pub fn aggregate() -> Aggregate<TableState> {
    Aggregate::new(DOMAIN)
        .handle(handle_create_table)
        .handle(handle_join_table)
        .handle(handle_leave_table)
        .handle(handle_start_hand)
        .handle(handle_end_hand)
        .apply(|s: &mut TableState, e: &TableCreated| {
            s.table_name = e.table_name.clone();
            s.game_variant = e.game_variant;
            s.small_blind = e.small_blind;
            s.big_blind = e.big_blind;
            s.min_buy_in = e.min_buy_in;
            s.max_buy_in = e.max_buy_in;
            s.max_players = e.max_players;
            s.action_timeout_seconds = e.action_timeout_seconds;
            s.dealer_position = -1;
            s.status = "open".into();
        })
        .apply(|s: &mut TableState, e: &PlayerJoined| {
            s.seats.push(Seat {
                position: e.seat_position,
                player_root: e.player_root.clone(),
                stack: Some(Currency { amount: e.stack, currency_code: "CHIPS".into() }),
                is_active: true,
                is_sitting_out: false,
            });
            s.seats.sort_by_key(|seat| seat.position);
        })
        .apply(|s: &mut TableState, e: &PlayerLeft| s.seats.retain(|seat| seat.player_root != e.player_root))
        .apply(|s: &mut TableState, e: &HandStarted| {
            s.hand_count = e.hand_number;
            s.dealer_position = e.dealer_position;
            s.current_hand_root = e.hand_root.clone();
            s.status = "in_hand".into();
        })
        .apply(|s: &mut TableState, e: &HandEnded| {
            for seat in &mut s.seats {
                let change = e.stack_changes.get(&hex::encode(&seat.player_root)).copied().unwrap_or(0);
                if let Some(stack) = seat.stack.as_mut() {
                    stack.amount += change;
                }
            }
            s.current_hand_root.clear();
            s.status = "open".into();
        })
}

fn stack(seat: &Seat) -> i64 {
    seat.stack.as_ref().map_or(0, |c| c.amount)
}

fn exists(s: &TableState) -> Result<(), CommandRejected> {
    ensure(!s.status.is_empty(), "the table does not exist")
}

/// Opens a table.
pub fn handle_create_table(cmd: &CreateTable, s: &TableState, _seq: u32) -> Result<Events, CommandRejected> {
    ensure(s.status.is_empty(), "the table already exists")?;
    ensure(!cmd.table_name.is_empty(), "a table needs a name")?;
    ensure(cmd.small_blind > 0 && cmd.big_blind > cmd.small_blind, "blinds must be positive, small below big")?;
    ensure(cmd.min_buy_in > 0 && cmd.max_buy_in >= cmd.min_buy_in, "buy-in range is invalid")?;
    ensure((2..=10).contains(&cmd.max_players), "a table seats 2 to 10 players")?;
    Ok(Events::one(TableCreated {
        table_name: cmd.table_name.clone(),
        game_variant: cmd.game_variant,
        small_blind: cmd.small_blind,
        big_blind: cmd.big_blind,
        min_buy_in: cmd.min_buy_in,
        max_buy_in: cmd.max_buy_in,
        max_players: cmd.max_players,
        action_timeout_seconds: cmd.action_timeout_seconds,
        created_at: None,
    }))
}

/// Seats a player: the preferred seat if free, else the lowest free one.
pub fn handle_join_table(cmd: &JoinTable, s: &TableState, _seq: u32) -> Result<Events, CommandRejected> {
    exists(s)?;
    ensure(Uuid::from_slice(&cmd.player_root).is_ok(), "player_root must be a UUID")?;
    ensure(!s.seats.iter().any(|seat| seat.player_root == cmd.player_root), "the player is already seated")?;
    ensure((s.seats.len() as i32) < s.max_players, "the table is full")?;
    ensure(
        (s.min_buy_in..=s.max_buy_in).contains(&cmd.buy_in_amount),
        format!("the buy-in must be between {} and {}", s.min_buy_in, s.max_buy_in),
    )?;
    let taken = |p: i32| s.seats.iter().any(|seat| seat.position == p);
    let seat = if (0..s.max_players).contains(&cmd.preferred_seat) && !taken(cmd.preferred_seat) {
        cmd.preferred_seat
    } else {
        (0..s.max_players).find(|p| !taken(*p)).unwrap_or_default()
    };
    Ok(Events::one(PlayerJoined {
        player_root: cmd.player_root.clone(),
        seat_position: seat,
        buy_in_amount: cmd.buy_in_amount,
        stack: cmd.buy_in_amount,
        joined_at: None,
    }))
}

/// Cashes a player out (not during a hand).
pub fn handle_leave_table(cmd: &LeaveTable, s: &TableState, _seq: u32) -> Result<Events, CommandRejected> {
    exists(s)?;
    ensure(s.status != "in_hand", "players leave between hands")?;
    let seat = s
        .seats
        .iter()
        .find(|seat| seat.player_root == cmd.player_root)
        .ok_or_else(|| CommandRejected::new("the player is not seated"))?;
    Ok(Events::one(PlayerLeft {
        player_root: cmd.player_root.clone(),
        seat_position: seat.position,
        chips_cashed_out: stack(seat),
        left_at: None,
    }))
}

/// Starts the next hand with every seated player who has chips; the button
/// moves to the next such seat.
pub fn handle_start_hand(_: &StartHand, s: &TableState, _seq: u32) -> Result<Events, CommandRejected> {
    exists(s)?;
    ensure(s.status == "open", "a hand is already in progress")?;
    let players: Vec<&Seat> = s.seats.iter().filter(|seat| stack(seat) > 0 && !seat.is_sitting_out).collect();
    ensure(players.len() >= 2, "a hand needs at least two players with chips")?;
    let dealer = players.iter().find(|seat| seat.position > s.dealer_position).unwrap_or(&players[0]).position;
    let after = |p: i32| players.iter().find(|seat| seat.position > p).unwrap_or(&players[0]).position;
    let small = if players.len() == 2 { dealer } else { after(dealer) };
    Ok(Events::one(HandStarted {
        hand_root: Uuid::new_v4().as_bytes().to_vec(),
        hand_number: s.hand_count + 1,
        dealer_position: dealer,
        small_blind_position: small,
        big_blind_position: after(small),
        active_players: players
            .iter()
            .map(|seat| SeatSnapshot {
                position: seat.position,
                player_root: seat.player_root.clone(),
                stack: stack(seat),
            })
            .collect(),
        game_variant: s.game_variant,
        small_blind: s.small_blind,
        big_blind: s.big_blind,
        started_at: None,
    }))
}

/// Records the end of the current hand: each seat's stack change.
pub fn handle_end_hand(cmd: &EndHand, s: &TableState, _seq: u32) -> Result<Events, CommandRejected> {
    exists(s)?;
    ensure(s.status == "in_hand", "no hand is in progress")?;
    ensure(cmd.hand_root == s.current_hand_root, "that is not the hand in progress")?;
    let mut stack_changes = std::collections::HashMap::new();
    for f in &cmd.final_stacks {
        let seat = s
            .seats
            .iter()
            .find(|seat| seat.player_root == f.player_root)
            .ok_or_else(|| CommandRejected::new("a final stack names a player who is not seated"))?;
        stack_changes.insert(hex::encode(&f.player_root), f.stack - stack(seat));
    }
    Ok(Events::one(HandEnded {
        hand_root: cmd.hand_root.clone(),
        results: cmd.results.clone(),
        stack_changes,
        ended_at: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_client::testing::Scenario;

    fn create() -> CreateTable {
        CreateTable {
            table_name: "main".into(),
            small_blind: 5,
            big_blind: 10,
            min_buy_in: 100,
            max_buy_in: 1000,
            max_players: 6,
            ..Default::default()
        }
    }

    fn join(p: Uuid, seat: i32, chips: i64) -> JoinTable {
        JoinTable { player_root: p.as_bytes().to_vec(), preferred_seat: seat, buy_in_amount: chips }
    }

    /// Commands applied in turn; each sees the events of the ones before.
    struct Table {
        agg: Aggregate<TableState>,
        history: Vec<prost_types::Any>,
        state: TableState,
    }

    impl Table {
        fn new() -> Self {
            Table { agg: aggregate(), history: Vec::new(), state: TableState::default() }
        }

        fn when<C: prost::Name>(&mut self, cmd: C) -> Result<(), String> {
            let out = Scenario::new(&self.agg).given_any(self.history.clone()).when(cmd);
            match out.result {
                Ok(events) => {
                    self.history.extend(events);
                    self.state = out.state;
                    Ok(())
                }
                Err(status) => Err(status.message().to_string()),
            }
        }
    }

    #[test]
    fn a_hand_needs_two_players_and_moves_the_button() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut t = Table::new();
        t.when(create()).unwrap();
        t.when(join(a, 3, 200)).unwrap();
        assert!(t.when(StartHand {}).unwrap_err().contains("at least two"));
        t.when(join(b, 3, 300)).unwrap(); // seat 3 is taken: lowest free seat
        t.when(StartHand {}).unwrap();
        assert_eq!(t.state.status, "in_hand");
        assert_eq!(t.state.hand_count, 1);
        assert_eq!(t.state.dealer_position, 0);
        assert!(t.when(StartHand {}).is_err());
        let end = EndHand {
            hand_root: t.state.current_hand_root.clone(),
            results: vec![],
            final_stacks: vec![
                SeatSnapshot { position: 3, player_root: a.as_bytes().to_vec(), stack: 190 },
                SeatSnapshot { position: 0, player_root: b.as_bytes().to_vec(), stack: 310 },
            ],
        };
        t.when(end).unwrap();
        let stacks: Vec<i64> = t.state.seats.iter().map(stack).collect();
        assert_eq!(stacks, [310, 190]);
        t.when(StartHand {}).unwrap();
        assert_eq!(t.state.dealer_position, 3, "the button moved");
    }

    #[test]
    fn buy_in_must_be_in_range() {
        let mut t = Table::new();
        t.when(create()).unwrap();
        assert!(t.when(join(Uuid::new_v4(), 0, 50)).is_err());
        assert!(t.when(join(Uuid::new_v4(), 0, 5000)).is_err());
        t.when(join(Uuid::new_v4(), 0, 500)).unwrap();
    }
}
