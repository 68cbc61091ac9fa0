// Package player is the poker example's player aggregate, written with the
// Go client: who plays, and what money they have.
//
// Bankroll is everything the player owns; reserved funds are bought into
// tables and cannot be withdrawn; available = bankroll − reserved. Events
// carry no wall-clock fields: the coordinator stamps each page's created_at,
// so the same commands give byte-identical events in every language. The
// rules and messages are those of features/README.md (reference:
// examples/poker/src/player.rs).
package player

import (
	"encoding/hex"
	"strings"

	"google.golang.org/protobuf/proto"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	pb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

// Domain is the domain name.
const Domain = "player"

// State is the aggregate's state type.
type State = *pb.PlayerState

// Aggregate is the player aggregate with all its handlers and appliers.
func Aggregate() *angzarr.Aggregate[State] {
	agg := angzarr.NewAggregate(Domain, func() State { return &pb.PlayerState{} })
	angzarr.On(agg, HandleRegisterPlayer)
	angzarr.On(agg, HandleDepositFunds)
	angzarr.On(agg, HandleWithdrawFunds)
	angzarr.On(agg, HandleReserveFunds)
	angzarr.On(agg, HandleReleaseFunds)
	angzarr.On(agg, HandleTransferFunds)

	angzarr.Apply(agg, func(s State, e *pb.PlayerRegistered) {
		s.DisplayName = e.GetDisplayName()
		s.Email = e.GetEmail()
		s.PlayerType = e.GetPlayerType()
		s.AiModelId = e.GetAiModelId()
		s.Status = "active"
	})
	angzarr.Apply(agg, func(s State, e *pb.FundsDeposited) { s.Bankroll = clone(e.GetNewBalance()) })
	angzarr.Apply(agg, func(s State, e *pb.FundsWithdrawn) { s.Bankroll = clone(e.GetNewBalance()) })
	angzarr.Apply(agg, func(s State, e *pb.FundsTransferred) { s.Bankroll = clone(e.GetNewBalance()) })
	angzarr.Apply(agg, func(s State, e *pb.FundsReserved) {
		s.ReservedFunds = clone(e.GetNewReservedBalance())
		if s.TableReservations == nil {
			s.TableReservations = map[string]int64{}
		}
		s.TableReservations[hex.EncodeToString(e.GetTableRoot())] = e.GetAmount().GetAmount()
	})
	angzarr.Apply(agg, func(s State, e *pb.FundsReleased) {
		s.ReservedFunds = clone(e.GetNewReservedBalance())
		delete(s.TableReservations, hex.EncodeToString(e.GetTableRoot()))
	})
	return agg
}

func clone(c *pb.Currency) *pb.Currency {
	if c == nil {
		return nil
	}
	return proto.Clone(c).(*pb.Currency)
}

func exists(s State) bool { return s.GetStatus() != "" }

// currency is amount in like's currency code.
func currency(amount int64, like *pb.Currency) *pb.Currency {
	return &pb.Currency{Amount: amount, CurrencyCode: like.GetCurrencyCode()}
}

// Available is the bankroll minus what is reserved at tables.
func Available(s State) int64 {
	return s.GetBankroll().GetAmount() - s.GetReservedFunds().GetAmount()
}

func mustExist(s State) error { return angzarr.Ensure(exists(s), "player does not exist") }

func positive(c *pb.Currency) (int64, error) {
	a := c.GetAmount()
	return a, angzarr.Ensure(a > 0, "amount must be positive")
}

func sufficient(s State, requested int64) error {
	if requested > Available(s) {
		return angzarr.Rejectedf("insufficient funds: available %d, requested %d", Available(s), requested)
	}
	return nil
}

func one(e proto.Message) ([]proto.Message, error) { return []proto.Message{e}, nil }

// HandleRegisterPlayer registers a player, once.
func HandleRegisterPlayer(cmd *pb.RegisterPlayer, s State, _ uint32) ([]proto.Message, error) {
	if exists(s) {
		return nil, angzarr.Rejected("player already exists")
	}
	if strings.TrimSpace(cmd.GetDisplayName()) == "" {
		return nil, angzarr.Rejected("display_name is required")
	}
	if strings.TrimSpace(cmd.GetEmail()) == "" {
		return nil, angzarr.Rejected("email is required")
	}
	return one(&pb.PlayerRegistered{
		DisplayName: cmd.GetDisplayName(),
		Email:       cmd.GetEmail(),
		PlayerType:  cmd.GetPlayerType(),
		AiModelId:   cmd.GetAiModelId(),
	})
}

// HandleDepositFunds adds money to the bankroll.
func HandleDepositFunds(cmd *pb.DepositFunds, s State, _ uint32) ([]proto.Message, error) {
	if err := mustExist(s); err != nil {
		return nil, err
	}
	a, err := positive(cmd.GetAmount())
	if err != nil {
		return nil, err
	}
	return one(&pb.FundsDeposited{
		Amount:     cmd.GetAmount(),
		NewBalance: currency(s.GetBankroll().GetAmount()+a, cmd.GetAmount()),
	})
}

// HandleWithdrawFunds takes money out; reserved funds are not available.
func HandleWithdrawFunds(cmd *pb.WithdrawFunds, s State, _ uint32) ([]proto.Message, error) {
	if err := mustExist(s); err != nil {
		return nil, err
	}
	a, err := positive(cmd.GetAmount())
	if err != nil {
		return nil, err
	}
	if err := sufficient(s, a); err != nil {
		return nil, err
	}
	return one(&pb.FundsWithdrawn{
		Amount:     cmd.GetAmount(),
		NewBalance: currency(s.GetBankroll().GetAmount()-a, cmd.GetAmount()),
	})
}

// HandleReserveFunds buys into a table: moves funds from available to reserved.
func HandleReserveFunds(cmd *pb.ReserveFunds, s State, _ uint32) ([]proto.Message, error) {
	if err := mustExist(s); err != nil {
		return nil, err
	}
	a, err := positive(cmd.GetAmount())
	if err != nil {
		return nil, err
	}
	if len(cmd.GetTableRoot()) == 0 {
		return nil, angzarr.Rejected("table_root is required")
	}
	if _, held := s.GetTableReservations()[hex.EncodeToString(cmd.GetTableRoot())]; held {
		return nil, angzarr.Rejected("funds are already reserved for this table")
	}
	if err := sufficient(s, a); err != nil {
		return nil, err
	}
	reserved := s.GetReservedFunds().GetAmount() + a
	return one(&pb.FundsReserved{
		Amount:              cmd.GetAmount(),
		TableRoot:           cmd.GetTableRoot(),
		NewAvailableBalance: currency(s.GetBankroll().GetAmount()-reserved, cmd.GetAmount()),
		NewReservedBalance:  currency(reserved, cmd.GetAmount()),
	})
}

// HandleReleaseFunds leaves a table: its reservation becomes available again.
func HandleReleaseFunds(cmd *pb.ReleaseFunds, s State, _ uint32) ([]proto.Message, error) {
	if err := mustExist(s); err != nil {
		return nil, err
	}
	held, ok := s.GetTableReservations()[hex.EncodeToString(cmd.GetTableRoot())]
	if !ok {
		return nil, angzarr.Rejected("no funds are reserved for this table")
	}
	reserved := s.GetReservedFunds().GetAmount() - held
	like := s.GetBankroll()
	return one(&pb.FundsReleased{
		Amount:              currency(held, like),
		TableRoot:           cmd.GetTableRoot(),
		NewAvailableBalance: currency(s.GetBankroll().GetAmount()-reserved, like),
		NewReservedBalance:  currency(reserved, like),
	})
}

// HandleTransferFunds credits this player with money from another (e.g. a pot won).
func HandleTransferFunds(cmd *pb.TransferFunds, s State, _ uint32) ([]proto.Message, error) {
	if err := mustExist(s); err != nil {
		return nil, err
	}
	a, err := positive(cmd.GetAmount())
	if err != nil {
		return nil, err
	}
	if len(cmd.GetFromPlayerRoot()) == 0 {
		return nil, angzarr.Rejected("from_player_root is required")
	}
	return one(&pb.FundsTransferred{
		FromPlayerRoot: cmd.GetFromPlayerRoot(),
		Amount:         cmd.GetAmount(),
		HandRoot:       cmd.GetHandRoot(),
		Reason:         cmd.GetReason(),
		NewBalance:     currency(s.GetBankroll().GetAmount()+a, cmd.GetAmount()),
	})
}
