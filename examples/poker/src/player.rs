//! The player aggregate: who plays, and what money they have.
//!
//! Bankroll is everything the player owns; reserved funds are bought into
//! tables and cannot be withdrawn; available = bankroll − reserved.
//! Events carry no wall-clock fields: the coordinator stamps each page's
//! `created_at`, and events stay byte-identical whatever language made them.

use angzarr_client::{Aggregate, CommandRejected, Events, ensure};
use angzarr_proto::examples::{
    Currency, DepositFunds, FundsDeposited, FundsReleased, FundsReserved, FundsTransferred, FundsWithdrawn,
    PlayerRegistered, PlayerState, RegisterPlayer, ReleaseFunds, ReserveFunds, TransferFunds, WithdrawFunds,
};

/// The domain name.
pub const DOMAIN: &str = "player";

/// The player aggregate with all its handlers and appliers.
pub fn aggregate() -> Aggregate<PlayerState> {
    Aggregate::new(DOMAIN)
        .handle(handle_register_player)
        .handle(handle_deposit_funds)
        .handle(handle_withdraw_funds)
        .handle(handle_reserve_funds)
        .handle(handle_release_funds)
        .handle(handle_transfer_funds)
        .apply(|s: &mut PlayerState, e: &PlayerRegistered| {
            s.display_name = e.display_name.clone();
            s.email = e.email.clone();
            s.player_type = e.player_type;
            s.ai_model_id = e.ai_model_id.clone();
            s.status = "active".into();
        })
        .apply(|s: &mut PlayerState, e: &FundsDeposited| s.bankroll = e.new_balance.clone())
        .apply(|s: &mut PlayerState, e: &FundsWithdrawn| s.bankroll = e.new_balance.clone())
        .apply(|s: &mut PlayerState, e: &FundsTransferred| s.bankroll = e.new_balance.clone())
        .apply(|s: &mut PlayerState, e: &FundsReserved| {
            s.reserved_funds = e.new_reserved_balance.clone();
            s.table_reservations.insert(hex::encode(&e.table_root), amount(&e.amount));
        })
        .apply(|s: &mut PlayerState, e: &FundsReleased| {
            s.reserved_funds = e.new_reserved_balance.clone();
            s.table_reservations.remove(&hex::encode(&e.table_root));
        })
}

fn amount(c: &Option<Currency>) -> i64 {
    c.as_ref().map_or(0, |c| c.amount)
}

fn exists(state: &PlayerState) -> bool {
    !state.status.is_empty()
}

fn currency(amount: i64, like: &Option<Currency>) -> Option<Currency> {
    Some(Currency { amount, currency_code: like.as_ref().map(|c| c.currency_code.clone()).unwrap_or_default() })
}

/// Bankroll minus what is reserved at tables.
pub fn available(state: &PlayerState) -> i64 {
    amount(&state.bankroll) - amount(&state.reserved_funds)
}

fn positive(c: &Option<Currency>) -> Result<i64, CommandRejected> {
    let a = amount(c);
    ensure(a > 0, "amount must be positive")?;
    Ok(a)
}

fn must_exist(state: &PlayerState) -> Result<(), CommandRejected> {
    ensure(exists(state), "player does not exist")
}

/// Registers a player, once.
pub fn handle_register_player(cmd: &RegisterPlayer, state: &PlayerState, _seq: u32) -> Result<Events, CommandRejected> {
    ensure(!exists(state), "player already exists")?;
    ensure(!cmd.display_name.trim().is_empty(), "display_name is required")?;
    ensure(!cmd.email.trim().is_empty(), "email is required")?;
    Ok(Events::one(PlayerRegistered {
        display_name: cmd.display_name.clone(),
        email: cmd.email.clone(),
        player_type: cmd.player_type,
        ai_model_id: cmd.ai_model_id.clone(),
        registered_at: None,
    }))
}

/// Adds money to the bankroll.
pub fn handle_deposit_funds(cmd: &DepositFunds, state: &PlayerState, _seq: u32) -> Result<Events, CommandRejected> {
    must_exist(state)?;
    let a = positive(&cmd.amount)?;
    Ok(Events::one(FundsDeposited {
        amount: cmd.amount.clone(),
        new_balance: currency(amount(&state.bankroll) + a, &cmd.amount),
        deposited_at: None,
    }))
}

/// Takes money out; reserved funds are not available.
pub fn handle_withdraw_funds(cmd: &WithdrawFunds, state: &PlayerState, _seq: u32) -> Result<Events, CommandRejected> {
    must_exist(state)?;
    let a = positive(&cmd.amount)?;
    ensure(a <= available(state), format!("insufficient funds: available {}, requested {a}", available(state)))?;
    Ok(Events::one(FundsWithdrawn {
        amount: cmd.amount.clone(),
        new_balance: currency(amount(&state.bankroll) - a, &cmd.amount),
        withdrawn_at: None,
    }))
}

/// Buys into a table: moves funds from available to reserved.
pub fn handle_reserve_funds(cmd: &ReserveFunds, state: &PlayerState, _seq: u32) -> Result<Events, CommandRejected> {
    must_exist(state)?;
    let a = positive(&cmd.amount)?;
    ensure(!cmd.table_root.is_empty(), "table_root is required")?;
    ensure(
        !state.table_reservations.contains_key(&hex::encode(&cmd.table_root)),
        "funds are already reserved for this table",
    )?;
    ensure(a <= available(state), format!("insufficient funds: available {}, requested {a}", available(state)))?;
    let reserved = amount(&state.reserved_funds) + a;
    Ok(Events::one(FundsReserved {
        amount: cmd.amount.clone(),
        table_root: cmd.table_root.clone(),
        new_available_balance: currency(amount(&state.bankroll) - reserved, &cmd.amount),
        new_reserved_balance: currency(reserved, &cmd.amount),
        reserved_at: None,
    }))
}

/// Leaves a table: its reservation becomes available again.
pub fn handle_release_funds(cmd: &ReleaseFunds, state: &PlayerState, _seq: u32) -> Result<Events, CommandRejected> {
    must_exist(state)?;
    let held = state
        .table_reservations
        .get(&hex::encode(&cmd.table_root))
        .copied()
        .ok_or_else(|| CommandRejected::new("no funds are reserved for this table"))?;
    let reserved = amount(&state.reserved_funds) - held;
    let like = state.bankroll.clone();
    Ok(Events::one(FundsReleased {
        amount: currency(held, &like),
        table_root: cmd.table_root.clone(),
        new_available_balance: currency(amount(&state.bankroll) - reserved, &like),
        new_reserved_balance: currency(reserved, &like),
        released_at: None,
    }))
}

/// Credits this player with money from another (e.g. a pot won).
pub fn handle_transfer_funds(cmd: &TransferFunds, state: &PlayerState, _seq: u32) -> Result<Events, CommandRejected> {
    must_exist(state)?;
    let a = positive(&cmd.amount)?;
    ensure(!cmd.from_player_root.is_empty(), "from_player_root is required")?;
    Ok(Events::one(FundsTransferred {
        from_player_root: cmd.from_player_root.clone(),
        to_player_root: Vec::new(),
        amount: cmd.amount.clone(),
        hand_root: cmd.hand_root.clone(),
        reason: cmd.reason.clone(),
        new_balance: currency(amount(&state.bankroll) + a, &cmd.amount),
        transferred_at: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_client::testing::Scenario;

    fn usd(amount: i64) -> Option<Currency> {
        Some(Currency { amount, currency_code: "USD".into() })
    }

    fn registered() -> PlayerRegistered {
        PlayerRegistered { display_name: "Ada".into(), email: "ada@example.com".into(), ..Default::default() }
    }

    #[test]
    fn deposit_adds_to_the_bankroll() {
        let agg = aggregate();
        let out = Scenario::new(&agg)
            .given(registered())
            .given(FundsDeposited { amount: usd(100), new_balance: usd(100), deposited_at: None })
            .when(DepositFunds { amount: usd(50) });
        assert_eq!(out.event::<FundsDeposited>().new_balance, usd(150));
        assert_eq!(out.state.bankroll, usd(150));
    }

    #[test]
    fn rejections() {
        let agg = aggregate();
        let none = Scenario::new(&agg);
        assert_eq!(none.when(DepositFunds { amount: usd(5) }).rejection(), "player does not exist");
        let reg = Scenario::new(&agg).given(registered());
        assert_eq!(reg.when(DepositFunds { amount: usd(0) }).rejection(), "amount must be positive");
        assert_eq!(
            reg.when(RegisterPlayer { display_name: "x".into(), email: "y".into(), ..Default::default() }).rejection(),
            "player already exists"
        );
        assert!(reg.when(WithdrawFunds { amount: usd(1) }).rejection().starts_with("insufficient funds"));
    }

    #[test]
    fn reserved_funds_cannot_be_withdrawn_until_released() {
        let agg = aggregate();
        let table = vec![7u8; 16];
        let reserved = Scenario::new(&agg)
            .given(registered())
            .given(FundsDeposited { amount: usd(100), new_balance: usd(100), deposited_at: None })
            .when(ReserveFunds { amount: usd(80), table_root: table.clone() });
        let e = reserved.event::<FundsReserved>();
        assert_eq!(e.new_available_balance, usd(20));
        let s = Scenario::new(&agg)
            .given(registered())
            .given(FundsDeposited { amount: usd(100), new_balance: usd(100), deposited_at: None })
            .given(e.clone());
        assert!(s.when(WithdrawFunds { amount: usd(30) }).rejection().starts_with("insufficient funds"));
        let released = s.when(ReleaseFunds { table_root: table.clone() }).event::<FundsReleased>();
        assert_eq!(released.amount, usd(80));
        let s = s.given(released);
        s.when(WithdrawFunds { amount: usd(100) }).event::<FundsWithdrawn>();
    }

    #[test]
    fn unknown_command_type_is_invalid_argument() {
        let agg = aggregate();
        let out = Scenario::new(&agg).when(PlayerState::default());
        assert_eq!(out.result.unwrap_err().code(), tonic::Code::InvalidArgument);
    }
}
