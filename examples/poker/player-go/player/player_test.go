package player_test

import (
	"encoding/hex"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/angzarr-kafka/angzarr/clients/go/angzarrtest"
	pb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"

	"github.com/angzarr-kafka/angzarr/examples/poker/player-go/player"
)

func usd(n int64) *pb.Currency { return &pb.Currency{Amount: n, CurrencyCode: "USD"} }

var (
	registered = &pb.PlayerRegistered{DisplayName: "Ada", Email: "ada@example.com"}
	table      = []byte("t1")
)

func with100() angzarrtest.Scenario[player.State] {
	return angzarrtest.New(player.Aggregate()).Given(registered, &pb.FundsDeposited{Amount: usd(100), NewBalance: usd(100)})
}

func TestRegister(t *testing.T) {
	s := angzarrtest.New(player.Aggregate())
	out := s.When(&pb.RegisterPlayer{DisplayName: "Ada", Email: "ada@example.com", PlayerType: pb.PlayerType_AI, AiModelId: "m1"})
	out.ThenEvents(t, &pb.PlayerRegistered{DisplayName: "Ada", Email: "ada@example.com", PlayerType: pb.PlayerType_AI, AiModelId: "m1"})
	want := &pb.PlayerState{DisplayName: "Ada", Email: "ada@example.com", PlayerType: pb.PlayerType_AI, AiModelId: "m1", Status: "active"}
	if !proto.Equal(out.State, want) {
		t.Fatalf("state %v", out.State)
	}
	s.When(&pb.RegisterPlayer{DisplayName: "  ", Email: "a@b"}).ThenRejected(t, "display_name is required")
	s.When(&pb.RegisterPlayer{DisplayName: "Ada"}).ThenRejected(t, "email is required")
	s.Given(registered).When(&pb.RegisterPlayer{DisplayName: "Ada", Email: "a@b"}).ThenRejected(t, "player already exists")
}

func TestEveryOtherCommandNeedsAPlayer(t *testing.T) {
	s := angzarrtest.New(player.Aggregate())
	for _, cmd := range []proto.Message{
		&pb.DepositFunds{Amount: usd(1)},
		&pb.WithdrawFunds{Amount: usd(1)},
		&pb.ReserveFunds{Amount: usd(1), TableRoot: table},
		&pb.ReleaseFunds{TableRoot: table},
		&pb.TransferFunds{FromPlayerRoot: []byte{1}, Amount: usd(1)},
	} {
		if reason, ok := s.When(cmd).Rejection(); !ok || reason != "player does not exist" {
			t.Errorf("%T: %q %v", cmd, reason, ok)
		}
	}
}

func TestAmountsMustBePositive(t *testing.T) {
	s := with100()
	for _, cmd := range []proto.Message{
		&pb.DepositFunds{Amount: usd(0)},
		&pb.DepositFunds{},
		&pb.WithdrawFunds{Amount: usd(-5)},
		&pb.ReserveFunds{Amount: usd(0), TableRoot: table},
		&pb.TransferFunds{FromPlayerRoot: []byte{1}, Amount: usd(0)},
	} {
		if reason, ok := s.When(cmd).Rejection(); !ok || reason != "amount must be positive" {
			t.Errorf("%v: %q %v", cmd, reason, ok)
		}
	}
}

func TestDepositAndWithdraw(t *testing.T) {
	out := with100().When(&pb.DepositFunds{Amount: usd(50)})
	out.ThenEvents(t, &pb.FundsDeposited{Amount: usd(50), NewBalance: usd(150)})
	// Byte-identical with every other language: the canonical encoding,
	// no timestamps.
	if got := hex.EncodeToString(out.Events[0].GetValue()); got != "0a0708321203555344"+"12080896011203555344" {
		t.Fatalf("FundsDeposited bytes %s", got)
	}
	with100().When(&pb.WithdrawFunds{Amount: usd(30)}).ThenEvents(t, &pb.FundsWithdrawn{Amount: usd(30), NewBalance: usd(70)})
	with100().When(&pb.WithdrawFunds{Amount: usd(150)}).ThenRejected(t, "insufficient funds: available 100, requested 150")
}

func TestReserveAndRelease(t *testing.T) {
	out := with100().When(&pb.ReserveFunds{Amount: usd(80), TableRoot: table})
	reserved := &pb.FundsReserved{Amount: usd(80), TableRoot: table, NewAvailableBalance: usd(20), NewReservedBalance: usd(80)}
	out.ThenEvents(t, reserved)
	if got := out.State.GetTableReservations()[hex.EncodeToString(table)]; got != 80 || player.Available(out.State) != 20 {
		t.Fatalf("state %v", out.State)
	}

	s := with100().Given(reserved)
	s.When(&pb.WithdrawFunds{Amount: usd(50)}).ThenRejected(t, "insufficient funds: available 20, requested 50")
	s.When(&pb.ReserveFunds{Amount: usd(10), TableRoot: table}).ThenRejected(t, "funds are already reserved for this table")
	s.When(&pb.ReserveFunds{Amount: usd(30), TableRoot: []byte("t2")}).ThenRejected(t, "insufficient funds: available 20, requested 30")
	s.When(&pb.ReserveFunds{Amount: usd(10)}).ThenRejected(t, "table_root is required")
	s.When(&pb.ReleaseFunds{TableRoot: []byte("t2")}).ThenRejected(t, "no funds are reserved for this table")

	released := s.When(&pb.ReleaseFunds{TableRoot: table})
	released.ThenEvents(t, &pb.FundsReleased{Amount: usd(80), TableRoot: table, NewAvailableBalance: usd(100), NewReservedBalance: usd(0)})
	if len(released.State.GetTableReservations()) != 0 || released.State.GetReservedFunds().GetAmount() != 0 {
		t.Fatalf("state %v", released.State)
	}
	msgs, _ := released.Messages()
	s.Given(msgs...).When(&pb.WithdrawFunds{Amount: usd(50)}).ThenEvents(t, &pb.FundsWithdrawn{Amount: usd(50), NewBalance: usd(50)})
}

func TestTransfer(t *testing.T) {
	from := make([]byte, 16)
	from[15] = 1
	with100().When(&pb.TransferFunds{FromPlayerRoot: from, Amount: usd(25), HandRoot: []byte("h"), Reason: "pot"}).
		ThenEvents(t, &pb.FundsTransferred{FromPlayerRoot: from, Amount: usd(25), HandRoot: []byte("h"), Reason: "pot", NewBalance: usd(125)})
	with100().When(&pb.TransferFunds{Amount: usd(25)}).ThenRejected(t, "from_player_root is required")
}

func TestUnknownCommandIsInvalidArgument(t *testing.T) {
	angzarrtest.New(player.Aggregate()).When(&pb.SitOut{TableRoot: table}).ThenCode(t, codes.InvalidArgument)
	if got := player.Aggregate().CommandTypes(); len(got) != 6 {
		t.Fatalf("command types %v", got)
	}
}
