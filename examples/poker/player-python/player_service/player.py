"""The player aggregate: who plays, and what money they have.

Bankroll is everything the player owns; reserved funds are bought into
tables and cannot be withdrawn; available = bankroll - reserved.
Events carry no wall-clock fields: the coordinator stamps each page's
``created_at``, and events stay byte-identical whatever language made them.

The same rules as the Rust reference, ``examples/poker/src/player.rs``.
"""

from __future__ import annotations

from angzarr_client import Aggregate, CommandRejectedError, ensure
from angzarr_client.proto.examples import player_pb2, poker_types_pb2

#: The domain name.
DOMAIN = "player"

Currency = poker_types_pb2.Currency
PlayerState = player_pb2.PlayerState

#: The player aggregate with all its handlers and appliers.
aggregate: Aggregate[PlayerState] = Aggregate(DOMAIN, PlayerState)


# -- helpers -------------------------------------------------------------------


def _amount(msg, field: str) -> int:
    return getattr(msg, field).amount if msg.HasField(field) else 0


def _code(msg, field: str) -> str:
    return getattr(msg, field).currency_code if msg.HasField(field) else ""


def _currency(amount: int, like_code: str) -> Currency:
    # Always present (even when zero), like the reference's `Some(Currency { .. })`.
    return Currency(amount=amount, currency_code=like_code)


def _set(target, field: str, source, source_field: str) -> None:
    if source.HasField(source_field):
        getattr(target, field).CopyFrom(getattr(source, source_field))
    else:
        target.ClearField(field)


def exists(state: PlayerState) -> bool:
    return state.status != ""


def available(state: PlayerState) -> int:
    """Bankroll minus what is reserved at tables."""
    return _amount(state, "bankroll") - _amount(state, "reserved_funds")


def _positive(cmd, field: str = "amount") -> int:
    a = _amount(cmd, field)
    ensure(a > 0, "amount must be positive")
    return a


def _must_exist(state: PlayerState) -> None:
    ensure(exists(state), "player does not exist")


def _sufficient(state: PlayerState, requested: int) -> None:
    ensure(
        requested <= available(state),
        f"insufficient funds: available {available(state)}, requested {requested}",
    )


# -- handlers ------------------------------------------------------------------


@aggregate.command_handler(player_pb2.RegisterPlayer)
def handle_register_player(cmd: player_pb2.RegisterPlayer, state: PlayerState, seq: int):
    """Registers a player, once."""
    ensure(not exists(state), "player already exists")
    ensure(cmd.display_name.strip() != "", "display_name is required")
    ensure(cmd.email.strip() != "", "email is required")
    return player_pb2.PlayerRegistered(
        display_name=cmd.display_name,
        email=cmd.email,
        player_type=cmd.player_type,
        ai_model_id=cmd.ai_model_id,
    )


@aggregate.command_handler(player_pb2.DepositFunds)
def handle_deposit_funds(cmd: player_pb2.DepositFunds, state: PlayerState, seq: int):
    """Adds money to the bankroll."""
    _must_exist(state)
    a = _positive(cmd)
    event = player_pb2.FundsDeposited(new_balance=_currency(_amount(state, "bankroll") + a, _code(cmd, "amount")))
    _set(event, "amount", cmd, "amount")
    return event


@aggregate.command_handler(player_pb2.WithdrawFunds)
def handle_withdraw_funds(cmd: player_pb2.WithdrawFunds, state: PlayerState, seq: int):
    """Takes money out; reserved funds are not available."""
    _must_exist(state)
    a = _positive(cmd)
    _sufficient(state, a)
    event = player_pb2.FundsWithdrawn(new_balance=_currency(_amount(state, "bankroll") - a, _code(cmd, "amount")))
    _set(event, "amount", cmd, "amount")
    return event


@aggregate.command_handler(player_pb2.ReserveFunds)
def handle_reserve_funds(cmd: player_pb2.ReserveFunds, state: PlayerState, seq: int):
    """Buys into a table: moves funds from available to reserved."""
    _must_exist(state)
    a = _positive(cmd)
    ensure(cmd.table_root != b"", "table_root is required")
    ensure(cmd.table_root.hex() not in state.table_reservations, "funds are already reserved for this table")
    _sufficient(state, a)
    reserved = _amount(state, "reserved_funds") + a
    code = _code(cmd, "amount")
    event = player_pb2.FundsReserved(
        table_root=cmd.table_root,
        new_available_balance=_currency(_amount(state, "bankroll") - reserved, code),
        new_reserved_balance=_currency(reserved, code),
    )
    _set(event, "amount", cmd, "amount")
    return event


@aggregate.command_handler(player_pb2.ReleaseFunds)
def handle_release_funds(cmd: player_pb2.ReleaseFunds, state: PlayerState, seq: int):
    """Leaves a table: its reservation becomes available again."""
    _must_exist(state)
    key = cmd.table_root.hex()
    if key not in state.table_reservations:
        raise CommandRejectedError("no funds are reserved for this table")
    held = state.table_reservations[key]
    reserved = _amount(state, "reserved_funds") - held
    code = _code(state, "bankroll")
    return player_pb2.FundsReleased(
        amount=_currency(held, code),
        table_root=cmd.table_root,
        new_available_balance=_currency(_amount(state, "bankroll") - reserved, code),
        new_reserved_balance=_currency(reserved, code),
    )


@aggregate.command_handler(player_pb2.TransferFunds)
def handle_transfer_funds(cmd: player_pb2.TransferFunds, state: PlayerState, seq: int):
    """Credits this player with money from another (e.g. a pot won)."""
    _must_exist(state)
    a = _positive(cmd)
    ensure(cmd.from_player_root != b"", "from_player_root is required")
    event = player_pb2.FundsTransferred(
        from_player_root=cmd.from_player_root,
        hand_root=cmd.hand_root,
        reason=cmd.reason,
        new_balance=_currency(_amount(state, "bankroll") + a, _code(cmd, "amount")),
    )
    _set(event, "amount", cmd, "amount")
    return event


# -- appliers ------------------------------------------------------------------


@aggregate.applier(player_pb2.PlayerRegistered)
def apply_registered(state: PlayerState, e: player_pb2.PlayerRegistered) -> None:
    state.display_name = e.display_name
    state.email = e.email
    state.player_type = e.player_type
    state.ai_model_id = e.ai_model_id
    state.status = "active"


@aggregate.applier(player_pb2.FundsDeposited)
def apply_deposited(state: PlayerState, e: player_pb2.FundsDeposited) -> None:
    _set(state, "bankroll", e, "new_balance")


@aggregate.applier(player_pb2.FundsWithdrawn)
def apply_withdrawn(state: PlayerState, e: player_pb2.FundsWithdrawn) -> None:
    _set(state, "bankroll", e, "new_balance")


@aggregate.applier(player_pb2.FundsTransferred)
def apply_transferred(state: PlayerState, e: player_pb2.FundsTransferred) -> None:
    _set(state, "bankroll", e, "new_balance")


@aggregate.applier(player_pb2.FundsReserved)
def apply_reserved(state: PlayerState, e: player_pb2.FundsReserved) -> None:
    _set(state, "reserved_funds", e, "new_reserved_balance")
    state.table_reservations[e.table_root.hex()] = _amount(e, "amount")


@aggregate.applier(player_pb2.FundsReleased)
def apply_released(state: PlayerState, e: player_pb2.FundsReleased) -> None:
    _set(state, "reserved_funds", e, "new_reserved_balance")
    state.table_reservations.pop(e.table_root.hex(), None)
