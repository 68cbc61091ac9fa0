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
	playerA = bytes.Repeat([]byte{0xa}, 16)
	playerB = bytes.Repeat([]byte{0xb}, 16)
	tableID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
)

var tableCover = &angzarrpb.Cover{Root: &angzarrpb.UUID{Value: tableID[:]}, Domain: "table", CorrelationId: "corr-9"}

// reserveOnJoin: a player joining a table reserves their buy-in; a
// PlayerLeft with seat 666 fails, 999 panics, 42 returns a status, and the
// seat number picks a broken command book otherwise.
func reserveOnJoin() *angzarr.Saga {
	s := angzarr.NewSaga("reserve-on-join")
	angzarr.React(s, func(e *examplespb.PlayerJoined, cover *angzarrpb.Cover, seq uint32) ([]*angzarrpb.CommandBook, error) {
		cover.Domain = "mutated by a handler" // must not leak into the request
		return []*angzarrpb.CommandBook{
			angzarr.Command("player", e.GetPlayerRoot(), &examplespb.ReserveFunds{Amount: usd(e.GetBuyInAmount()), TableRoot: cover.GetRoot().GetValue()}),
			angzarr.Command("player", e.GetPlayerRoot(), &examplespb.SitIn{TableRoot: []byte{byte(seq)}}),
		}, nil
	})
	s.Handle(&examplespb.PlayerLeft{}, func(ev proto.Message, cover *angzarrpb.Cover, seq uint32) ([]*angzarrpb.CommandBook, error) {
		e := ev.(*examplespb.PlayerLeft)
		good := angzarr.Command("player", e.GetPlayerRoot(), &examplespb.ReleaseFunds{TableRoot: cover.GetRoot().GetValue()})
		bad := proto.Clone(good).(*angzarrpb.CommandBook)
		switch e.GetChipsCashedOut() {
		case 0:
			return nil, nil // nothing to do
		case 666:
			return nil, errors.New("bank on fire")
		case 999:
			angzarr.Command("player", []byte{1, 2}, &examplespb.SitOut{}) // panics: a 2-byte root
		case 42:
			return nil, status.Error(codes.Unavailable, "try later")
		case 1:
			return []*angzarrpb.CommandBook{good, nil}, nil
		case 2:
			bad.Cover.Domain = ""
		case 3:
			bad.Cover.Root.Value = make([]byte, 16)
		case 4:
			bad.Cover.Root = nil
		case 5:
			bad.Pages = append(bad.Pages, bad.Pages[0])
		case 6:
			bad.Pages[0].Payload = nil
		}
		return []*angzarrpb.CommandBook{good, bad}, nil
	})
	return s
}

func sagaRequest(pages ...*angzarrpb.EventPage) *angzarrpb.SagaHandleRequest {
	return &angzarrpb.SagaHandleRequest{Source: book(tableCover, pages...)}
}

func TestSagaReactsWithCommands(t *testing.T) {
	s := reserveOnJoin()
	if s.Name() != "reserve-on-join" || strings.Join(s.EventTypes(), ",") != "examples.PlayerJoined,examples.PlayerLeft" {
		t.Fatalf("saga %s %v", s.Name(), s.EventTypes())
	}
	skipped := page(8, &examplespb.PlayerJoined{PlayerRoot: playerB, BuyInAmount: 1})
	skipped.NoCommit = true
	req := sagaRequest(
		page(3, &examplespb.PlayerJoined{PlayerRoot: playerA, BuyInAmount: 100}),
		page(4, &examplespb.PlayerSeated{}),                                     // no handler: ignored
		page(5, &examplespb.PlayerLeft{PlayerRoot: playerA, ChipsCashedOut: 0}), // no commands
		page(6, &examplespb.PlayerJoined{PlayerRoot: playerB, BuyInAmount: 50}),
		skipped, // no_commit: not reacted to
	)
	before := proto.Clone(req)
	resp, err := s.Execute(req)
	if err != nil {
		t.Fatal(err)
	}
	want := []*angzarrpb.CommandBook{
		angzarr.Command("player", playerA, &examplespb.ReserveFunds{Amount: usd(100), TableRoot: tableID[:]}),
		angzarr.Command("player", playerA, &examplespb.SitIn{TableRoot: []byte{3}}),
		angzarr.Command("player", playerB, &examplespb.ReserveFunds{Amount: usd(50), TableRoot: tableID[:]}),
		angzarr.Command("player", playerB, &examplespb.SitIn{TableRoot: []byte{6}}),
	}
	if !proto.Equal(resp, &angzarrpb.SagaResponse{Commands: want}) {
		t.Fatalf("response %v", resp)
	}
	if !proto.Equal(req, before) {
		t.Fatalf("the request was modified: %v", req)
	}

	if resp, err := s.Execute(sagaRequest()); err != nil || len(resp.GetCommands()) != 0 {
		t.Fatalf("empty book: %v %v", resp, err)
	}
}

func TestSagaErrors(t *testing.T) {
	s := reserveOnJoin()
	left := func(n int64) *angzarrpb.SagaHandleRequest {
		return sagaRequest(page(0, &examplespb.PlayerJoined{PlayerRoot: playerA}), page(1, &examplespb.PlayerLeft{PlayerRoot: playerA, ChipsCashedOut: n}))
	}
	_, err := s.Execute(left(666))
	wantCode(t, err, codes.Internal, "saga reserve-on-join: handler for examples.PlayerLeft at sequence 1 failed: bank on fire")
	_, err = s.Execute(left(999))
	wantCode(t, err, codes.Internal, "handler for examples.PlayerLeft at sequence 1 panicked: angzarr.Command: a root is 16 bytes, got 2")
	_, err = s.Execute(left(42))
	wantCode(t, err, codes.Unavailable, "try later")
	for n, problem := range map[int64]string{
		1: "#1: nil",
		2: "#1: no target domain",
		3: "#1: the root is the nil UUID",
		4: "#1: the root is 0 bytes, not 16",
		5: "#1: 2 pages, exactly one is required",
		6: "#1: the page has no inline command",
	} {
		_, err = s.Execute(left(n))
		wantCode(t, err, codes.Internal, "returned a bad command book "+problem)
	}

	_, err = s.Execute(&angzarrpb.SagaHandleRequest{})
	wantCode(t, err, codes.InvalidArgument, "no source event book")
	_, err = s.Execute(sagaRequest(&angzarrpb.EventPage{
		Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: 2}},
		Payload: &angzarrpb.EventPage_Event{Event: &anypb.Any{TypeUrl: angzarr.TypeURL(&examplespb.PlayerJoined{}), Value: []byte{0xff}}},
	}))
	wantCode(t, err, codes.InvalidArgument, "malformed event examples.PlayerJoined at sequence 2")
	_, err = s.Execute(sagaRequest(&angzarrpb.EventPage{
		Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_ExternalDeferred{ExternalDeferred: &angzarrpb.ExternalDeferredSequence{}}},
		Payload: &angzarrpb.EventPage_Event{Event: angzarr.MustPack(&examplespb.PlayerJoined{})},
	}))
	wantCode(t, err, codes.InvalidArgument, "page 0 has no sequence")
}

type myUUID [16]byte

func TestCommand(t *testing.T) {
	cmd := &examplespb.DepositFunds{Amount: usd(5)}
	want := &angzarrpb.CommandBook{
		Cover: &angzarrpb.Cover{Domain: "player", Root: &angzarrpb.UUID{Value: tableID[:]}},
		Pages: []*angzarrpb.CommandPage{{Payload: &angzarrpb.CommandPage_Command{Command: angzarr.MustPack(cmd)}}},
	}
	for name, got := range map[string]*angzarrpb.CommandBook{
		"[16]byte": angzarr.Command("player", tableID, cmd),
		"named":    angzarr.Command("player", myUUID(tableID), cmd),
		"[]byte":   angzarr.Command("player", tableID[:], cmd),
		"UUID":     angzarr.Command("player", &angzarrpb.UUID{Value: tableID[:]}, cmd),
		"cover":    angzarr.Command("player", tableCover.GetRoot(), cmd),
	} {
		if !proto.Equal(got, want) {
			t.Errorf("%s: %v", name, got)
		}
		if got.GetPages()[0].GetHeader() != nil || got.GetCover().GetCorrelationId() != "" {
			t.Errorf("%s: the coordinator stamps sequence and correlation: %v", name, got)
		}
	}
	// The book owns its root.
	root := bytes.Clone(playerA)
	b := angzarr.Command("player", root, cmd)
	root[0] = 0
	if b.GetCover().GetRoot().GetValue()[0] != 0xa {
		t.Fatal("the command book shares the caller's root slice")
	}

	for name, f := range map[string]func(){
		"no domain":  func() { angzarr.Command("", tableID, cmd) },
		"short root": func() { angzarr.Command("player", []byte{1}, cmd) },
		"nil root":   func() { angzarr.Command("player", [16]byte{}, cmd) },
		"nil UUID":   func() { angzarr.Command("player", (*angzarrpb.UUID)(nil), cmd) },
		"nil msg":    func() { angzarr.Command("player", tableID, nil) },
		"typed nil":  func() { angzarr.Command("player", tableID, (*examplespb.SitIn)(nil)) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "angzarr.Command: ") {
					t.Errorf("%s: panic %v", name, r)
				}
			}()
			f()
		}()
	}
}

func TestSagaRegistrationPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"empty name": func() { angzarr.NewSaga("") },
		"duplicate": func() {
			h := func(proto.Message, *angzarrpb.Cover, uint32) ([]*angzarrpb.CommandBook, error) { return nil, nil }
			angzarr.NewSaga("s").Handle(&examplespb.PlayerJoined{}, h).Handle(&examplespb.PlayerJoined{}, h)
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
