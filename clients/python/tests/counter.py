"""A tiny aggregate for the library's own tests, built from the example
messages (DepositFunds etc.) so no extra .proto is needed."""

from angzarr_client import Aggregate, CommandRejectedError, ensure
from angzarr_client.proto.examples import player_pb2, poker_types_pb2


def usd(n: int) -> poker_types_pb2.Currency:
    return poker_types_pb2.Currency(amount=n, currency_code="USD")


def make() -> Aggregate:
    agg = Aggregate("counter", player_pb2.PlayerState)

    @agg.command_handler(player_pb2.DepositFunds)
    def deposit(cmd, state, seq):
        ensure(cmd.amount.amount > 0, "amount must be positive")
        if cmd.amount.currency_code == "TWICE":  # two events from one command
            half = cmd.amount.amount // 2
            return [
                player_pb2.FundsDeposited(amount=usd(half), new_balance=usd(state.bankroll.amount + half)),
                player_pb2.FundsDeposited(amount=usd(half), new_balance=usd(state.bankroll.amount + 2 * half)),
            ]
        new_balance = usd(state.bankroll.amount + cmd.amount.amount)
        state.status = "scribbled"  # a handler scribbling on its state changes nothing
        return player_pb2.FundsDeposited(amount=cmd.amount, new_balance=new_balance)

    @agg.command_handler(player_pb2.WithdrawFunds)
    def withdraw(cmd, state, seq):
        if cmd.amount.currency_code == "BOOM":
            raise ZeroDivisionError("boom")
        if cmd.amount.currency_code == "NONE":
            return None
        if cmd.amount.currency_code == "JUNK":
            return "not an event"
        raise CommandRejectedError(f"no withdrawals at sequence {seq}")

    @agg.applier(player_pb2.FundsDeposited)
    def deposited(state, e):
        state.bankroll.CopyFrom(e.new_balance)

    return agg
