// Package angzarrtest tests aggregates without any framework running:
// given events, when a command, then events or a rejection.
//
//	out := angzarrtest.New(agg).
//		Given(&examplespb.PlayerRegistered{DisplayName: "Ada", Email: "ada@example.com"}).
//		When(&examplespb.DepositFunds{Amount: usd(50)})
//	out.ThenEvents(t, &examplespb.FundsDeposited{Amount: usd(50), NewBalance: usd(50)})
//	angzarrtest.New(agg).When(&examplespb.DepositFunds{Amount: usd(5)}).ThenRejected(t, "player does not exist")
package angzarrtest

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
)

// Scenario is a history of one aggregate to run commands against. Given
// returns a new Scenario, so one history can be shared by several Whens.
type Scenario[S proto.Message] struct {
	agg     *angzarr.Aggregate[S]
	history []*anypb.Any
}

// New is a scenario on a fresh aggregate (no events).
func New[S proto.Message](agg *angzarr.Aggregate[S]) Scenario[S] {
	return Scenario[S]{agg: agg}
}

// Given adds prior events.
func (s Scenario[S]) Given(events ...proto.Message) Scenario[S] {
	h := append([]*anypb.Any(nil), s.history...)
	for _, e := range events {
		h = append(h, angzarr.MustPack(e))
	}
	return Scenario[S]{agg: s.agg, history: h}
}

// GivenPacked adds prior events already packed.
func (s Scenario[S]) GivenPacked(events ...*anypb.Any) Scenario[S] {
	h := append(append([]*anypb.Any(nil), s.history...), events...)
	return Scenario[S]{agg: s.agg, history: h}
}

// History is the event book of the scenario's events (sequences 0..n-1).
func (s Scenario[S]) History() *angzarrpb.EventBook {
	pages := make([]*angzarrpb.EventPage, len(s.history))
	for i, e := range s.history {
		pages[i] = &angzarrpb.EventPage{
			Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: uint32(i)}},
			Payload: &angzarrpb.EventPage_Event{Event: e},
		}
	}
	return &angzarrpb.EventBook{
		Cover:        &angzarrpb.Cover{Domain: s.agg.Domain()},
		Pages:        pages,
		NextSequence: uint32(len(pages)),
	}
}

// Outcome is what a command produced.
type Outcome[S proto.Message] struct {
	// Events are the accepted events, packed (nil on error).
	Events []*anypb.Any
	// Response is the full business response (nil on error).
	Response *angzarrpb.BusinessResponse
	// Err is the gRPC status error the coordinator would report, or nil.
	Err error
	// State is the state after the events (the state before on error).
	State S
}

// When runs cmd against the history, as the coordinator would.
func (s Scenario[S]) When(cmd proto.Message) Outcome[S] {
	history := s.History()
	cover := &angzarrpb.Cover{Domain: s.agg.Domain()}
	req := &angzarrpb.ContextualCommand{
		Events: history,
		Command: &angzarrpb.CommandBook{
			Cover: cover,
			Pages: []*angzarrpb.CommandPage{{
				Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: history.NextSequence}},
				Payload: &angzarrpb.CommandPage_Command{Command: angzarr.MustPack(cmd)},
			}},
		},
	}
	before, err := s.agg.StateOf(history)
	if err != nil {
		panic(fmt.Sprintf("angzarrtest: the given history does not apply: %v", err))
	}
	resp, err := s.agg.Execute(req)
	if err != nil {
		return Outcome[S]{Err: err, State: before}
	}
	var events []*anypb.Any
	for _, p := range resp.GetEvents().GetPages() {
		if e := p.GetEvent(); e != nil {
			events = append(events, e)
		}
	}
	state := before
	for _, e := range events {
		if err := s.agg.ApplyEvent(state, e); err != nil {
			panic(fmt.Sprintf("angzarrtest: a new event does not apply: %v", err))
		}
	}
	return Outcome[S]{Events: events, Response: resp, State: state}
}

// Code is the gRPC code of the outcome (OK when accepted).
func (o Outcome[S]) Code() codes.Code { return status.Code(o.Err) }

// Rejection is the rejection reason, and whether the command was rejected
// (FAILED_PRECONDITION).
func (o Outcome[S]) Rejection() (string, bool) {
	st := status.Convert(o.Err)
	if o.Err == nil || st.Code() != codes.FailedPrecondition {
		return "", false
	}
	return st.Message(), true
}

// Messages are the accepted events, unpacked.
func (o Outcome[S]) Messages() ([]proto.Message, error) {
	out := make([]proto.Message, 0, len(o.Events))
	for _, e := range o.Events {
		m, err := angzarr.Unpack(e)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// ThenEvents fails t unless the command was accepted with exactly want, in
// order (compared with proto.Equal).
func (o Outcome[S]) ThenEvents(t testing.TB, want ...proto.Message) {
	t.Helper()
	if o.Err != nil {
		t.Fatalf("expected events, the command failed: %v", o.Err)
	}
	got, err := o.Messages()
	if err != nil {
		t.Fatalf("events do not unpack: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("expected %d events, got %d: %v", len(want), len(got), got)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("event %d:\n got  %s %v\n want %s %v", i,
				got[i].ProtoReflect().Descriptor().FullName(), got[i],
				want[i].ProtoReflect().Descriptor().FullName(), want[i])
		}
	}
}

// ThenRejected fails t unless the command was rejected (FAILED_PRECONDITION)
// with a reason containing text.
func (o Outcome[S]) ThenRejected(t testing.TB, text string) {
	t.Helper()
	reason, ok := o.Rejection()
	if !ok {
		t.Fatalf("expected a rejection containing %q, got events %v / error %v", text, o.Events, o.Err)
	}
	if !strings.Contains(reason, text) {
		t.Fatalf("rejected with %q, expected it to contain %q", reason, text)
	}
}

// ThenCode fails t unless the command failed with code.
func (o Outcome[S]) ThenCode(t testing.TB, code codes.Code) {
	t.Helper()
	if got := o.Code(); got != code {
		t.Fatalf("expected %v, got %v (%v)", code, got, o.Err)
	}
}
