package angzarrtest_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	"github.com/angzarr-kafka/angzarr/clients/go/angzarrtest"
	examplespb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

func usd(n int64) *examplespb.Currency { return &examplespb.Currency{Amount: n, CurrencyCode: "USD"} }

func bank() *angzarr.Aggregate[*examplespb.PlayerState] {
	agg := angzarr.NewAggregate("bank", func() *examplespb.PlayerState { return &examplespb.PlayerState{} })
	angzarr.On(agg, func(cmd *examplespb.DepositFunds, s *examplespb.PlayerState, _ uint32) ([]proto.Message, error) {
		if s.GetStatus() == "" {
			return nil, angzarr.Rejected("player does not exist")
		}
		return []proto.Message{&examplespb.FundsDeposited{Amount: cmd.GetAmount(), NewBalance: usd(s.GetBankroll().GetAmount() + cmd.GetAmount().GetAmount())}}, nil
	})
	angzarr.Apply(agg, func(s *examplespb.PlayerState, e *examplespb.PlayerRegistered) { s.Status = "active" })
	angzarr.Apply(agg, func(s *examplespb.PlayerState, e *examplespb.FundsDeposited) { s.Bankroll = e.GetNewBalance() })
	return agg
}

func TestGivenWhenThen(t *testing.T) {
	registered := angzarrtest.New(bank()).Given(&examplespb.PlayerRegistered{DisplayName: "Ada"})
	out := registered.Given(&examplespb.FundsDeposited{Amount: usd(10), NewBalance: usd(10)}).
		When(&examplespb.DepositFunds{Amount: usd(5)})
	out.ThenEvents(t, &examplespb.FundsDeposited{Amount: usd(5), NewBalance: usd(15)})
	if out.State.GetBankroll().GetAmount() != 15 {
		t.Fatalf("state %v", out.State)
	}
	// The shared history was not changed by the branch above.
	registered.When(&examplespb.DepositFunds{Amount: usd(1)}).ThenEvents(t, &examplespb.FundsDeposited{Amount: usd(1), NewBalance: usd(1)})

	rejected := angzarrtest.New(bank()).When(&examplespb.DepositFunds{Amount: usd(5)})
	rejected.ThenRejected(t, "player does not exist")
	if reason, ok := rejected.Rejection(); !ok || reason != "player does not exist" {
		t.Fatalf("%q %v", reason, ok)
	}
	angzarrtest.New(bank()).When(&examplespb.SitIn{}).ThenCode(t, codes.InvalidArgument)
}
