package angzarr_test

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
	examplespb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

func usd(n int64) *examplespb.Currency { return &examplespb.Currency{Amount: n, CurrencyCode: "USD"} }

// wallet: a tiny aggregate over the example's messages.
func wallet() *angzarr.Aggregate[*examplespb.PlayerState] {
	agg := angzarr.NewAggregate("wallet", func() *examplespb.PlayerState { return &examplespb.PlayerState{} })
	angzarr.On(agg, func(cmd *examplespb.DepositFunds, s *examplespb.PlayerState, seq uint32) ([]proto.Message, error) {
		if cmd.GetAmount().GetAmount() <= 0 {
			return nil, angzarr.Rejected("amount must be positive")
		}
		bal := s.GetBankroll().GetAmount() + cmd.GetAmount().GetAmount()
		// Two events, to check sequencing and that each is applied.
		return []proto.Message{
			&examplespb.FundsDeposited{Amount: cmd.GetAmount(), NewBalance: usd(bal)},
			&examplespb.PlayerSittingOut{TableRoot: []byte{byte(seq)}},
		}, nil
	})
	angzarr.On(agg, func(*examplespb.WithdrawFunds, *examplespb.PlayerState, uint32) ([]proto.Message, error) {
		var m map[string]int
		m["boom"] = 1 // panics: nil map
		return nil, nil
	})
	angzarr.On(agg, func(*examplespb.SitOut, *examplespb.PlayerState, uint32) ([]proto.Message, error) {
		return nil, errors.New("database on fire")
	})
	angzarr.On(agg, func(*examplespb.SitIn, *examplespb.PlayerState, uint32) ([]proto.Message, error) {
		return nil, nil // accepted, nothing to record
	})
	agg.Handle(&examplespb.ReleaseFunds{}, func(cmd proto.Message, s *examplespb.PlayerState, _ uint32) ([]proto.Message, error) {
		s.Status = "mutated by a handler" // must not leak into the state
		return nil, status.Error(codes.Aborted, "custom status")
	})
	angzarr.Apply(agg, func(s *examplespb.PlayerState, e *examplespb.FundsDeposited) { s.Bankroll = e.GetNewBalance() })
	angzarr.Apply(agg, func(s *examplespb.PlayerState, e *examplespb.PlayerSittingOut) { s.Status = "sitting out" })
	return agg
}

func page(seq uint32, ev proto.Message) *angzarrpb.EventPage {
	return &angzarrpb.EventPage{
		Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: seq}},
		Payload: &angzarrpb.EventPage_Event{Event: angzarr.MustPack(ev)},
	}
}

func request(cover *angzarrpb.Cover, history *angzarrpb.EventBook, cmd *anypb.Any) *angzarrpb.ContextualCommand {
	return &angzarrpb.ContextualCommand{
		Events: history,
		Command: &angzarrpb.CommandBook{Cover: cover, Pages: []*angzarrpb.CommandPage{{
			Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: history.GetNextSequence()}},
			Payload: &angzarrpb.CommandPage_Command{Command: cmd},
		}}},
	}
}

var testCover = &angzarrpb.Cover{
	Root:          &angzarrpb.UUID{Value: bytes.Repeat([]byte{7}, 16)},
	Domain:        "wallet",
	CorrelationId: "corr-1",
}

func TestExecuteFollowsTheContract(t *testing.T) {
	agg := wallet()
	history := &angzarrpb.EventBook{
		Cover:        testCover,
		Pages:        []*angzarrpb.EventPage{page(0, &examplespb.FundsDeposited{Amount: usd(10), NewBalance: usd(10)})},
		NextSequence: 1,
	}
	req := request(testCover, history, angzarr.MustPack(&examplespb.DepositFunds{Amount: usd(5)}))
	resp, err := agg.Execute(req)
	if err != nil {
		t.Fatal(err)
	}
	book := resp.GetEvents()
	if !proto.Equal(book.GetCover(), testCover) {
		t.Fatalf("cover %v, want the command's %v", book.GetCover(), testCover)
	}
	if len(book.GetPages()) != 2 {
		t.Fatalf("want 2 pages, got %d", len(book.GetPages()))
	}
	for i, p := range book.GetPages() {
		if got := p.GetHeader().GetSequence(); got != uint32(1+i) {
			t.Fatalf("page %d sequence %d, want %d", i, got, 1+i)
		}
		if p.GetCreatedAt() != nil {
			t.Fatalf("page %d has created_at set; the coordinator stamps it", i)
		}
	}
	if got := book.GetPages()[0].GetEvent().GetTypeUrl(); got != "type.googleapis.com/examples.FundsDeposited" {
		t.Fatalf("type url %q", got)
	}
	want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&examplespb.FundsDeposited{Amount: usd(5), NewBalance: usd(15)})
	if !bytes.Equal(book.GetPages()[0].GetEvent().GetValue(), want) {
		t.Fatal("event bytes differ from the deterministic encoding")
	}
	if got := book.GetPages()[1].GetEvent(); !angzarr.Is(got, &examplespb.PlayerSittingOut{}) {
		t.Fatalf("second event %v", got)
	}
	snap := book.GetSnapshot()
	if snap.GetSequence() != 2 {
		t.Fatalf("snapshot sequence %d, want 2", snap.GetSequence())
	}
	if snap.GetState().GetTypeUrl() != "type.googleapis.com/examples.PlayerState" {
		t.Fatalf("snapshot type %q", snap.GetState().GetTypeUrl())
	}
	state := &examplespb.PlayerState{}
	if err := snap.GetState().UnmarshalTo(state); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(state, &examplespb.PlayerState{Bankroll: usd(15), Status: "sitting out"}) {
		t.Fatalf("snapshot state %v", state)
	}
	if book.GetNextSequence() != 0 {
		t.Fatal("next_sequence is the coordinator's to compute")
	}

	// Pure and deterministic: the same request gives the same bytes.
	again, err := agg.Execute(req)
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	b2, _ := proto.MarshalOptions{Deterministic: true}.Marshal(again)
	if !bytes.Equal(b1, b2) {
		t.Fatal("Execute is not deterministic")
	}
}

func TestExecuteStartsFromTheSnapshot(t *testing.T) {
	agg := wallet()
	history := &angzarrpb.EventBook{
		Cover:    testCover,
		Snapshot: &angzarrpb.Snapshot{Sequence: 4, State: angzarr.MustPack(&examplespb.PlayerState{Bankroll: usd(100)})},
		Pages:    []*angzarrpb.EventPage{page(5, &examplespb.FundsDeposited{Amount: usd(1), NewBalance: usd(101)})},
		// next_sequence unset, as older coordinators send it: derived from pages.
	}
	resp, err := agg.Execute(request(testCover, history, angzarr.MustPack(&examplespb.DepositFunds{Amount: usd(9)})))
	if err != nil {
		t.Fatal(err)
	}
	ev := &examplespb.FundsDeposited{}
	if err := resp.GetEvents().GetPages()[0].GetEvent().UnmarshalTo(ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetNewBalance().GetAmount() != 110 {
		t.Fatalf("new balance %d, want 110", ev.GetNewBalance().GetAmount())
	}
	if seq := resp.GetEvents().GetPages()[0].GetHeader().GetSequence(); seq != 6 {
		t.Fatalf("first new sequence %d, want 6", seq)
	}
}

func TestNextSequence(t *testing.T) {
	cases := []struct {
		name string
		book *angzarrpb.EventBook
		want uint32
	}{
		{"nil book", nil, 0},
		{"explicit", &angzarrpb.EventBook{NextSequence: 7}, 7},
		{"pages", &angzarrpb.EventBook{Pages: []*angzarrpb.EventPage{page(3, &examplespb.SitIn{}), page(4, &examplespb.SitIn{})}}, 5},
		{"snapshot", &angzarrpb.EventBook{Snapshot: &angzarrpb.Snapshot{Sequence: 9, State: angzarr.MustPack(&examplespb.PlayerState{})}}, 10},
	}
	for _, c := range cases {
		if got := angzarr.NextSequence(c.book); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func code(t *testing.T, err error) codes.Code {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error")
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a gRPC status: %v", err)
	}
	return st.Code()
}

func TestErrorsAreStatuses(t *testing.T) {
	agg := wallet()
	empty := &angzarrpb.EventBook{Cover: testCover}
	cases := []struct {
		name string
		req  *angzarrpb.ContextualCommand
		code codes.Code
		msg  string
	}{
		{"rejection", request(testCover, empty, angzarr.MustPack(&examplespb.DepositFunds{})), codes.FailedPrecondition, "amount must be positive"},
		{"unknown command type", request(testCover, empty, angzarr.MustPack(&examplespb.PlayerState{})), codes.InvalidArgument, "unknown command type `examples.PlayerState`"},
		{"malformed payload", request(testCover, empty, &anypb.Any{TypeUrl: "type.googleapis.com/examples.DepositFunds", Value: []byte{0xff, 0xff}}), codes.InvalidArgument, "malformed command"},
		{"no command book", &angzarrpb.ContextualCommand{Events: empty}, codes.InvalidArgument, "no command book"},
		{"no pages", &angzarrpb.ContextualCommand{Command: &angzarrpb.CommandBook{Cover: testCover}}, codes.InvalidArgument, "no pages"},
		{"panic", request(testCover, empty, angzarr.MustPack(&examplespb.WithdrawFunds{})), codes.Internal, "panicked"},
		{"plain error", request(testCover, empty, angzarr.MustPack(&examplespb.SitOut{})), codes.Internal, "database on fire"},
		{"status passes through", request(testCover, empty, angzarr.MustPack(&examplespb.ReleaseFunds{})), codes.Aborted, "custom status"},
		{"snapshot of another type", request(testCover, &angzarrpb.EventBook{Snapshot: &angzarrpb.Snapshot{State: angzarr.MustPack(&examplespb.Card{})}}, angzarr.MustPack(&examplespb.SitIn{})), codes.InvalidArgument, "snapshot state is examples.Card"},
		{"malformed history", request(testCover, &angzarrpb.EventBook{Pages: []*angzarrpb.EventPage{{Payload: &angzarrpb.EventPage_Event{Event: &anypb.Any{TypeUrl: "type.googleapis.com/examples.FundsDeposited", Value: []byte{0x0a, 0x05}}}}}}, angzarr.MustPack(&examplespb.SitIn{})), codes.InvalidArgument, "malformed event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := agg.Execute(c.req)
			if resp != nil {
				t.Fatalf("expected no response, got %v", resp)
			}
			if got := code(t, err); got != c.code {
				t.Fatalf("code %v, want %v (%v)", got, c.code, err)
			}
			if msg := status.Convert(err).Message(); !bytes.Contains([]byte(msg), []byte(c.msg)) {
				t.Fatalf("message %q does not contain %q", msg, c.msg)
			}
		})
	}
}

func TestNoEventsNoSnapshot(t *testing.T) {
	resp, err := wallet().Execute(request(testCover, &angzarrpb.EventBook{}, angzarr.MustPack(&examplespb.SitIn{})))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetEvents().GetPages()) != 0 || resp.GetEvents().GetSnapshot() != nil {
		t.Fatalf("want an empty book, got %v", resp.GetEvents())
	}
	if !proto.Equal(resp.GetEvents().GetCover(), testCover) {
		t.Fatal("cover not echoed")
	}
}

func TestRejectionHelpers(t *testing.T) {
	if angzarr.Ensure(true, "x") != nil {
		t.Fatal("Ensure(true) must be nil")
	}
	err := angzarr.Ensure(false, "player does not exist")
	if code(t, err) != codes.FailedPrecondition || status.Convert(err).Message() != "player does not exist" {
		t.Fatalf("got %v", err)
	}
	if got := angzarr.Rejectedf("insufficient funds: available %d, requested %d", 1, 2).Error(); got != "insufficient funds: available 1, requested 2" {
		t.Fatalf("got %q", got)
	}
}

func TestRegistration(t *testing.T) {
	agg := wallet()
	want := []string{"examples.DepositFunds", "examples.ReleaseFunds", "examples.SitIn", "examples.SitOut", "examples.WithdrawFunds"}
	got := agg.CommandTypes()
	if len(got) != len(want) {
		t.Fatalf("command types %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("command types %v, want %v", got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a second handler of the same type must panic")
		}
	}()
	angzarr.On(agg, func(*examplespb.SitIn, *examplespb.PlayerState, uint32) ([]proto.Message, error) { return nil, nil })
}

func TestReplay(t *testing.T) {
	resp, err := wallet().Replay(&angzarrpb.ReplayRequest{
		BaseSnapshot: &angzarrpb.Snapshot{Sequence: 0, State: angzarr.MustPack(&examplespb.PlayerState{Bankroll: usd(3)})},
		Events:       []*angzarrpb.EventPage{page(1, &examplespb.FundsDeposited{Amount: usd(4), NewBalance: usd(7)})},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &examplespb.PlayerState{}
	if err := resp.GetState().UnmarshalTo(s); err != nil || s.GetBankroll().GetAmount() != 7 {
		t.Fatalf("state %v (%v)", s, err)
	}
}

func TestPackAndUnpack(t *testing.T) {
	a := angzarr.MustPack(&examplespb.DepositFunds{Amount: usd(1)})
	if a.GetTypeUrl() != "type.googleapis.com/examples.DepositFunds" {
		t.Fatal(a.GetTypeUrl())
	}
	m, err := angzarr.Unpack(a)
	if err != nil || !proto.Equal(m, &examplespb.DepositFunds{Amount: usd(1)}) {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := angzarr.Pack(nil); err == nil {
		t.Fatal("packing nil must fail")
	}
	if angzarr.TypeName("x/y/examples.Card") != "examples.Card" || angzarr.TypeName("examples.Card") != "examples.Card" {
		t.Fatal("TypeName")
	}
}
