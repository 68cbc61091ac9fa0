package angzarr_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
	examplespb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

var (
	handID     = bytes.Repeat([]byte{0xc}, 16)
	handCover  = &angzarrpb.Cover{Domain: "hand", Root: &angzarrpb.UUID{Value: handID}, CorrelationId: "corr-9"}
	flowCover  = &angzarrpb.Cover{Domain: "hand-flow", Root: &angzarrpb.UUID{Value: bytes.Repeat([]byte{0xf}, 16)}, CorrelationId: "corr-9"}
	flowStates = func() *examplespb.HandFlowState { return &examplespb.HandFlowState{} }
)

// handFlow is the poker example's hand-flow process manager
// (examples/poker/src/hand_flow.rs), across the table and hand domains:
// HandStarted (table) → record HandFlowStarted and deal, only if the hand
// has no events yet; HandComplete (hand) → record HandFlowEnded and end the
// hand at the table. PlayerJoined's seat picks a misbehaviour (see
// TestProcessManagerErrors).
func handFlow() *angzarr.ProcessManager[*examplespb.HandFlowState] {
	pm := angzarr.NewProcessManager("hand-flow", flowStates)
	angzarr.ProcessApply(pm, func(s *examplespb.HandFlowState, e *examplespb.HandFlowStarted) {
		s.TableRoot, s.HandRoot, s.HandNumber, s.Phase = e.GetTableRoot(), e.GetHandRoot(), e.GetHandNumber(), "dealing"
	})
	angzarr.ProcessApply(pm, func(s *examplespb.HandFlowState, e *examplespb.HandFlowEnded) { s.Phase = "ended" })
	angzarr.ProcessPrepare(pm, func(e *examplespb.HandStarted, s *examplespb.HandFlowState) ([]*angzarrpb.Cover, error) {
		return []*angzarrpb.Cover{{Domain: "hand", Root: &angzarrpb.UUID{Value: e.GetHandRoot()}}}, nil
	})
	angzarr.ProcessOn(pm, func(e *examplespb.HandStarted, s *examplespb.HandFlowState, t angzarr.Trigger) (angzarr.Reaction, error) {
		// A process runs one hand; a hand that already has events was dealt.
		if s.GetPhase() != "" || t.Destinations["hand"] != 0 {
			return angzarr.Reaction{}, nil
		}
		s.Phase = "mutated by a reaction" // must not leak into the state
		t.Cover.Domain = "mutated too"    // nor into the request
		t.Destinations["hand"] = 99       // nor this
		deal := &examplespb.DealCards{TableRoot: tableID[:], HandNumber: e.GetHandNumber(), SmallBlind: e.GetSmallBlind()}
		for _, p := range e.GetActivePlayers() {
			deal.Players = append(deal.Players, &examplespb.PlayerInHand{PlayerRoot: p.GetPlayerRoot(), Position: p.GetPosition(), Stack: p.GetStack()})
		}
		return angzarr.Reaction{}.
			Record(&examplespb.HandFlowStarted{TableRoot: t.Cover.GetRoot().GetValue(), HandRoot: e.GetHandRoot(), HandNumber: e.GetHandNumber()}).
			Send(angzarr.Command("hand", e.GetHandRoot(), deal)), nil
	})
	angzarr.ProcessOn(pm, func(e *examplespb.HandComplete, s *examplespb.HandFlowState, t angzarr.Trigger) (angzarr.Reaction, error) {
		if s.GetPhase() != "dealing" || !bytes.Equal(t.Cover.GetRoot().GetValue(), s.GetHandRoot()) {
			return angzarr.Reaction{}, nil
		}
		end := &examplespb.EndHand{HandRoot: s.GetHandRoot()}
		ended := &examplespb.HandFlowEnded{HandRoot: s.GetHandRoot()}
		for _, w := range e.GetWinners() {
			end.Results = append(end.Results, &examplespb.PotResult{WinnerRoot: w.GetPlayerRoot(), Amount: w.GetAmount()})
			ended.Winners = append(ended.Winners, &examplespb.PotWinnerRef{PlayerRoot: w.GetPlayerRoot(), Amount: w.GetAmount()})
		}
		return angzarr.Reaction{}.Record(ended).Send(angzarr.Command("table", s.GetTableRoot(), end)), nil
	})
	pm.Handle(&examplespb.PlayerJoined{}, func(ev proto.Message, s *examplespb.HandFlowState, t angzarr.Trigger) (angzarr.Reaction, error) {
		good := angzarr.Command("table", tableID, &examplespb.SitIn{})
		switch ev.(*examplespb.PlayerJoined).GetSeatPosition() {
		case 666:
			return angzarr.Reaction{}, errors.New("process on fire")
		case 42:
			return angzarr.Reaction{}, status.Error(codes.Unavailable, "try later")
		case 7:
			return angzarr.Reaction{}, angzarr.Rejected("no command to reject")
		case 999:
			var m map[string]int
			m["boom"] = 1
		case 1:
			return angzarr.Reaction{}.Record(nil), nil
		case 2:
			return angzarr.Reaction{}.Send(good).Send(&angzarrpb.CommandBook{}), nil
		case 4:
			return angzarr.Reaction{}.Send(angzarr.Command("table", tableID, &examplespb.SitIn{TableRoot: []byte{byte(t.Sequence)}})), nil
		case 3: // two process events in one reaction, one without an applier
			return angzarr.Reaction{}.Record(&examplespb.PlayerSeated{}).Record(&examplespb.HandFlowEnded{}), nil
		}
		return angzarr.Reaction{}, nil
	})
	return pm
}

func tableBook(pages ...*angzarrpb.EventPage) *angzarrpb.EventBook { return book(tableCover, pages...) }

func handStarted() *examplespb.HandStarted {
	return &examplespb.HandStarted{HandRoot: handID, HandNumber: 1, SmallBlind: 5,
		ActivePlayers: []*examplespb.SeatSnapshot{{PlayerRoot: playerA, Stack: 100}, {PlayerRoot: playerB, Position: 1, Stack: 80}}}
}

func stateIn(t *testing.T, b *angzarrpb.EventBook) *examplespb.HandFlowState {
	t.Helper()
	s := &examplespb.HandFlowState{}
	if err := b.GetSnapshot().GetState().UnmarshalTo(s); err != nil {
		t.Fatalf("snapshot %v: %v", b.GetSnapshot(), err)
	}
	return s
}

// A hand is dealt once, then ended at the table; the process numbers its
// own events and its snapshot is the state after them.
func TestProcessManagerDealsOnceThenEnds(t *testing.T) {
	pm := handFlow()
	if pm.Name() != "hand-flow" || strings.Join(pm.EventTypes(), ",") != "examples.HandComplete,examples.HandStarted,examples.PlayerJoined" {
		t.Fatalf("pm %s %v", pm.Name(), pm.EventTypes())
	}
	trigger := tableBook(page(3, handStarted()))

	// Prepare: the hand's next sequence is needed.
	prep, err := pm.ExecutePrepare(&angzarrpb.ProcessManagerPrepareRequest{Trigger: trigger})
	if err != nil {
		t.Fatal(err)
	}
	if want := []*angzarrpb.Cover{{Domain: "hand", Root: &angzarrpb.UUID{Value: handID}}}; len(prep.GetDestinations()) != 1 || !proto.Equal(prep.GetDestinations()[0], want[0]) {
		t.Fatalf("destinations %v", prep.GetDestinations())
	}

	// Deal: a fresh process (no history: its cover only) and a fresh hand.
	fresh := &angzarrpb.EventBook{Cover: flowCover}
	req := &angzarrpb.ProcessManagerHandleRequest{Trigger: trigger, ProcessState: fresh, DestinationSequences: map[string]uint32{"hand": 0}}
	before := proto.Clone(req)
	dealt, err := pm.Execute(req)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(req, before) {
		t.Fatalf("the request was modified: %v", req)
	}
	wantDeal := angzarr.Command("hand", handID, &examplespb.DealCards{TableRoot: tableID[:], HandNumber: 1, SmallBlind: 5, Players: []*examplespb.PlayerInHand{
		{PlayerRoot: playerA, Stack: 100}, {PlayerRoot: playerB, Position: 1, Stack: 80}}})
	wantStarted := &examplespb.HandFlowStarted{TableRoot: tableID[:], HandRoot: handID, HandNumber: 1}
	wantEvents := &angzarrpb.EventBook{
		Cover:    flowCover,
		Pages:    []*angzarrpb.EventPage{page(0, wantStarted)},
		Snapshot: &angzarrpb.Snapshot{Sequence: 0, State: angzarr.MustPack(&examplespb.HandFlowState{TableRoot: tableID[:], HandRoot: handID, HandNumber: 1, Phase: "dealing"})},
	}
	if !proto.Equal(dealt, &angzarrpb.ProcessManagerHandleResponse{ProcessEvents: wantEvents, Commands: []*angzarrpb.CommandBook{wantDeal}}) {
		t.Fatalf("dealt %v", dealt)
	}

	// The hand already has events: nothing, not even a snapshot.
	again, err := pm.Execute(&angzarrpb.ProcessManagerHandleRequest{Trigger: trigger, ProcessState: fresh, DestinationSequences: map[string]uint32{"hand": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again, &angzarrpb.ProcessManagerHandleResponse{ProcessEvents: &angzarrpb.EventBook{Cover: flowCover}}) {
		t.Fatalf("again %v", again)
	}

	// The process is dealing: a second HandStarted changes nothing.
	history := dealt.GetProcessEvents()
	if out, err := pm.Execute(&angzarrpb.ProcessManagerHandleRequest{Trigger: trigger, ProcessState: history}); err != nil || len(out.GetCommands())+len(out.GetProcessEvents().GetPages()) != 0 {
		t.Fatalf("second start: %v %v", out, err)
	}

	// The hand completes: the table ends it; the process event follows its history.
	complete := &examplespb.HandComplete{TableRoot: tableID[:], HandNumber: 1, Winners: []*examplespb.PotWinner{{PlayerRoot: playerB, Amount: 30}}}
	ended, err := pm.Execute(&angzarrpb.ProcessManagerHandleRequest{Trigger: book(handCover, page(7, complete)), ProcessState: history})
	if err != nil {
		t.Fatal(err)
	}
	wantEnd := angzarr.Command("table", tableID, &examplespb.EndHand{HandRoot: handID, Results: []*examplespb.PotResult{{WinnerRoot: playerB, Amount: 30}}})
	if len(ended.GetCommands()) != 1 || !proto.Equal(ended.GetCommands()[0], wantEnd) || len(ended.GetFacts()) != 0 {
		t.Fatalf("ended %v", ended)
	}
	events := ended.GetProcessEvents()
	if len(events.GetPages()) != 1 || events.GetPages()[0].GetHeader().GetSequence() != 1 || events.GetSnapshot().GetSequence() != 1 ||
		!proto.Equal(events.GetCover(), flowCover) || stateIn(t, events).GetPhase() != "ended" || stateIn(t, events).GetHandNumber() != 1 {
		t.Fatalf("process events %v", events)
	}

	// From the snapshot alone, a second HandComplete changes nothing; one
	// of another hand neither.
	snapOnly := &angzarrpb.EventBook{Cover: flowCover, Snapshot: events.GetSnapshot()}
	for _, trig := range []*angzarrpb.EventBook{book(handCover, page(8, complete)), tableBook(page(9, complete))} {
		if out, err := pm.Execute(&angzarrpb.ProcessManagerHandleRequest{Trigger: trig, ProcessState: snapOnly}); err != nil || len(out.GetCommands())+len(out.GetProcessEvents().GetPages()) != 0 {
			t.Fatalf("after the end: %v %v", out, err)
		}
	}
	// A HandComplete before any HandStarted neither.
	if out, err := pm.Execute(&angzarrpb.ProcessManagerHandleRequest{Trigger: book(handCover, page(7, complete))}); err != nil || len(out.GetCommands()) != 0 || out.GetProcessEvents() == nil {
		t.Fatalf("complete first: %v %v", out, err)
	}
}

func TestProcessManagerSequencesAndTriggers(t *testing.T) {
	pm := angzarr.NewProcessManager("recorder", flowStates)
	angzarr.ProcessApply(pm, func(s *examplespb.HandFlowState, e *examplespb.HandFlowStarted) { s.HandNumber = e.GetHandNumber() })
	var seen []angzarr.Trigger
	angzarr.ProcessOn(pm, func(e *examplespb.HandStarted, s *examplespb.HandFlowState, tr angzarr.Trigger) (angzarr.Reaction, error) {
		seen = append(seen, tr)
		s.Phase = "mutated by a reaction" // must not leak into the state
		// Each reaction sees the events recorded before it; two per trigger.
		n := s.GetHandNumber() + e.GetHandNumber()
		return angzarr.Reaction{}.
			Record(&examplespb.HandFlowStarted{HandNumber: n}).
			Record(&examplespb.HandFlowStarted{HandNumber: n + 1}), nil
	})
	noSeq := page(0, &examplespb.HandStarted{HandNumber: 100})
	noSeq.Header = nil
	noEvent := &angzarrpb.EventPage{Header: seqHeader(11)}
	noCommit := page(4, &examplespb.HandStarted{HandNumber: 100})
	noCommit.NoCommit = true
	trigger := tableBook(
		noCommit, // not to be reacted to
		page(5, &examplespb.HandStarted{HandNumber: 10}),
		page(6, &examplespb.HandComplete{}), // no reaction: ignored
		&angzarrpb.EventPage{Header: seqHeader(7), Payload: &angzarrpb.EventPage_Event{Event: &anypb.Any{TypeUrl: "type.googleapis.com/examples.Unknown", Value: []byte{0xff}}}},
		noSeq,   // no sequence: passed over
		noEvent, // no event: passed over
		page(12, &examplespb.HandStarted{HandNumber: 20}),
	)
	dest := map[string]uint32{"hand": 4, "table": 9}

	for name, tc := range map[string]struct {
		process  *angzarrpb.EventBook
		next     uint32
		startNum int64 // HandNumber in the state before the trigger
	}{
		"no process state":   {nil, 0, 0},
		"next_sequence":      {&angzarrpb.EventBook{NextSequence: 40, Pages: []*angzarrpb.EventPage{page(2, &examplespb.HandFlowStarted{HandNumber: 3})}}, 40, 3},
		"max page sequence":  {&angzarrpb.EventBook{Pages: []*angzarrpb.EventPage{page(8, &examplespb.HandFlowStarted{HandNumber: 3}), page(6, &examplespb.HandFlowStarted{HandNumber: 1})}}, 9, 1},
		"snapshot sequence":  {&angzarrpb.EventBook{Snapshot: &angzarrpb.Snapshot{Sequence: 20, State: angzarr.MustPack(&examplespb.HandFlowState{HandNumber: 5})}}, 21, 5},
		"snapshot and pages": {&angzarrpb.EventBook{Snapshot: &angzarrpb.Snapshot{Sequence: 20, State: angzarr.MustPack(&examplespb.HandFlowState{HandNumber: 5})}, Pages: []*angzarrpb.EventPage{page(21, &examplespb.HandFlowStarted{HandNumber: 2})}}, 22, 2},
	} {
		seen = nil
		out, err := pm.Execute(&angzarrpb.ProcessManagerHandleRequest{Trigger: trigger, ProcessState: tc.process, DestinationSequences: dest})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Two triggers reacted to, each with the trigger's cover and sequence.
		if len(seen) != 2 || seen[0].Sequence != 5 || seen[1].Sequence != 12 || !proto.Equal(seen[0].Cover, tableCover) ||
			len(seen[1].Destinations) != 2 || seen[1].Destinations["hand"] != 4 || seen[1].Destinations["table"] != 9 {
			t.Fatalf("%s: triggers %v", name, seen)
		}
		pages := out.GetProcessEvents().GetPages()
		s := tc.startNum
		want := []int64{s + 10, s + 11, s + 31, s + 32}
		if len(pages) != len(want) {
			t.Fatalf("%s: %d pages", name, len(pages))
		}
		for i, p := range pages {
			e := &examplespb.HandFlowStarted{}
			if p.GetHeader().GetSequence() != tc.next+uint32(i) || p.GetEvent().UnmarshalTo(e) != nil || e.GetHandNumber() != want[i] {
				t.Fatalf("%s: page %d: %v", name, i, p)
			}
		}
		snap := out.GetProcessEvents().GetSnapshot()
		total := s + 32
		if snap.GetSequence() != tc.next+3 || stateIn(t, out.GetProcessEvents()).GetHandNumber() != total {
			t.Fatalf("%s: snapshot %v, want state %d", name, snap, total)
		}
		if stateIn(t, out.GetProcessEvents()).GetPhase() != "" {
			t.Fatalf("%s: a reaction changed the state: %v", name, snap)
		}
		if !proto.Equal(out.GetProcessEvents().GetCover(), tc.process.GetCover()) || len(out.GetCommands()) != 0 || len(out.GetFacts()) != 0 {
			t.Fatalf("%s: %v", name, out)
		}
	}
}

func seqHeader(seq uint32) *angzarrpb.PageHeader {
	return &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: seq}}
}

func TestProcessManagerErrors(t *testing.T) {
	pm := handFlow()
	joined := func(seat int32) *angzarrpb.ProcessManagerHandleRequest {
		return &angzarrpb.ProcessManagerHandleRequest{Trigger: tableBook(page(4, &examplespb.PlayerJoined{SeatPosition: seat}))}
	}
	_, err := pm.Execute(joined(666))
	wantCode(t, err, codes.Internal, "process manager hand-flow: reaction to examples.PlayerJoined at sequence 4 failed: process on fire")
	_, err = pm.Execute(joined(42))
	wantCode(t, err, codes.Unavailable, "try later")
	_, err = pm.Execute(joined(7))
	wantCode(t, err, codes.Internal, "failed: no command to reject")
	_, err = pm.Execute(joined(999))
	wantCode(t, err, codes.Internal, "reaction to examples.PlayerJoined at sequence 4 panicked")
	_, err = pm.Execute(joined(1))
	wantCode(t, err, codes.Internal, "recorded a nil event #0")
	_, err = pm.Execute(joined(2))
	wantCode(t, err, codes.Internal, "returned a bad command book #1: no target domain")
	if out, err := pm.Execute(joined(3)); err != nil || len(out.GetProcessEvents().GetPages()) != 2 || stateIn(t, out.GetProcessEvents()).GetPhase() != "ended" {
		t.Fatalf("two events: %v %v", out, err)
	}

	// The commands of all reactions, in order.
	two, err := pm.Execute(&angzarrpb.ProcessManagerHandleRequest{Trigger: tableBook(
		page(4, &examplespb.PlayerJoined{SeatPosition: 4}), page(5, &examplespb.PlayerJoined{SeatPosition: 4}))})
	if err != nil || len(two.GetCommands()) != 2 ||
		!proto.Equal(two.GetCommands()[1], angzarr.Command("table", tableID, &examplespb.SitIn{TableRoot: []byte{5}})) {
		t.Fatalf("two reactions: %v %v", two, err)
	}

	_, err = pm.Execute(&angzarrpb.ProcessManagerHandleRequest{})
	wantCode(t, err, codes.InvalidArgument, "has no trigger")
	malformed := &angzarrpb.EventPage{Header: seqHeader(2),
		Payload: &angzarrpb.EventPage_Event{Event: &anypb.Any{TypeUrl: angzarr.TypeURL(&examplespb.HandStarted{}), Value: []byte{0xff}}}}
	_, err = pm.Execute(&angzarrpb.ProcessManagerHandleRequest{Trigger: tableBook(malformed)})
	wantCode(t, err, codes.InvalidArgument, "malformed event examples.HandStarted at sequence 2")
	_, err = pm.ExecutePrepare(&angzarrpb.ProcessManagerPrepareRequest{Trigger: tableBook(malformed)})
	wantCode(t, err, codes.InvalidArgument, "malformed event examples.HandStarted")

	wrongState := &angzarrpb.EventBook{Snapshot: &angzarrpb.Snapshot{Sequence: 1, State: angzarr.MustPack(&examplespb.PlayerState{})}}
	_, err = pm.Execute(&angzarrpb.ProcessManagerHandleRequest{Trigger: tableBook(), ProcessState: wrongState})
	wantCode(t, err, codes.InvalidArgument, "snapshot state is examples.PlayerState")
	_, err = pm.ExecutePrepare(&angzarrpb.ProcessManagerPrepareRequest{Trigger: tableBook(), ProcessState: wrongState})
	wantCode(t, err, codes.InvalidArgument, "snapshot state is examples.PlayerState")

	// Prepare: no trigger, types without a prepare function, no_commit: nothing.
	noCommit := page(1, handStarted())
	noCommit.NoCommit = true
	for _, req := range []*angzarrpb.ProcessManagerPrepareRequest{{}, {Trigger: tableBook(page(1, &examplespb.HandComplete{}))}, {Trigger: tableBook(noCommit)}} {
		if out, err := pm.ExecutePrepare(req); err != nil || len(out.GetDestinations()) != 0 {
			t.Fatalf("prepare %v: %v %v", req, out, err)
		}
	}
	bad := angzarr.NewProcessManager("bad", flowStates)
	angzarr.ProcessPrepare(bad, func(e *examplespb.HandStarted, _ *examplespb.HandFlowState) ([]*angzarrpb.Cover, error) {
		switch e.GetHandNumber() {
		case 1:
			return []*angzarrpb.Cover{handCover, nil}, nil
		case 2:
			return nil, errors.New("no idea")
		}
		panic("prepare broke")
	})
	for n, want := range map[int64]string{1: "returned a nil cover #1", 2: "prepare for examples.HandStarted failed: no idea", 3: "prepare for examples.HandStarted panicked: prepare broke"} {
		_, err = bad.ExecutePrepare(&angzarrpb.ProcessManagerPrepareRequest{Trigger: tableBook(page(0, &examplespb.HandStarted{HandNumber: n}))})
		wantCode(t, err, codes.Internal, want)
	}
}

func TestReaction(t *testing.T) {
	ended := &examplespb.HandFlowEnded{}
	base := angzarr.Reaction{}.Record(ended).Record(ended).Record(ended) // room for a fourth
	a := base.Record(&examplespb.HandFlowStarted{HandNumber: 1})
	b := base.Record(&examplespb.HandFlowStarted{HandNumber: 2}).Send(angzarr.Command("hand", handID, &examplespb.SitIn{}))
	if len(base.Events) != 3 || len(base.Commands) != 0 || len(a.Events) != 4 || len(b.Events) != 4 || len(b.Commands) != 1 ||
		a.Events[3].(*examplespb.HandFlowStarted).GetHandNumber() != 1 || b.Events[3].(*examplespb.HandFlowStarted).GetHandNumber() != 2 {
		t.Fatalf("reactions share their events: %v %v %v", base, a, b)
	}
}

func TestProcessManagerRegistrationPanics(t *testing.T) {
	on := func(proto.Message, *examplespb.HandFlowState, angzarr.Trigger) (angzarr.Reaction, error) {
		return angzarr.Reaction{}, nil
	}
	for name, f := range map[string]func(){
		"empty name": func() { angzarr.NewProcessManager("", flowStates) },
		"nil state":  func() { angzarr.NewProcessManager("p", func() *examplespb.HandFlowState { return nil }) },
		"duplicate":  func() { handFlow().Handle(&examplespb.HandStarted{}, on) },
		"applier": func() {
			angzarr.ProcessApply(handFlow(), func(*examplespb.HandFlowState, *examplespb.HandFlowEnded) {})
		},
		"prepare": func() {
			angzarr.ProcessPrepare(handFlow(), func(*examplespb.HandStarted, *examplespb.HandFlowState) ([]*angzarrpb.Cover, error) { return nil, nil })
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
