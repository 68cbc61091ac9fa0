package angzarr_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
	examplespb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

// ledger is a read model: balance per root, and every application seen.
type ledger struct {
	mu       sync.Mutex
	balances map[string]int64
	applied  []string // "root/seq/type"
}

func newLedger() *ledger { return &ledger{balances: map[string]int64{}} }

func (l *ledger) record(cover *angzarrpb.Cover, seq uint32, what string) {
	l.applied = append(l.applied, fmt.Sprintf("%x/%d/%s", cover.GetRoot().GetValue()[:1], seq, what))
}

// ledgerProjector projects FundsDeposited and FundsWithdrawn into l; a
// withdrawal of 666 fails, one of 999 panics, one of 42 returns a status.
func ledgerProjector(l *ledger) *angzarr.Projector {
	p := angzarr.NewProjector("ledger")
	angzarr.Project(p, func(e *examplespb.FundsDeposited, cover *angzarrpb.Cover, seq uint32) error {
		l.balances[string(cover.GetRoot().GetValue())] = e.GetNewBalance().GetAmount()
		l.record(cover, seq, "deposited")
		cover.Domain = "mutated by a handler" // must not leak into the projection
		return nil
	})
	p.Handle(&examplespb.FundsWithdrawn{}, func(ev proto.Message, cover *angzarrpb.Cover, seq uint32) error {
		e := ev.(*examplespb.FundsWithdrawn)
		switch e.GetAmount().GetAmount() {
		case 666:
			return errors.New("read model on fire")
		case 999:
			var m map[string]int
			m["boom"] = 1
		case 42:
			return status.Error(codes.Unavailable, "database away")
		case 7:
			return angzarr.Rejected("projectors do not reject")
		}
		l.balances[string(cover.GetRoot().GetValue())] = e.GetNewBalance().GetAmount()
		l.record(cover, seq, "withdrawn")
		return nil
	})
	p.View(func(cover *angzarrpb.Cover) (proto.Message, error) {
		return wrapperspb.Int64(l.balances[string(cover.GetRoot().GetValue())]), nil
	})
	return p
}

func book(cover *angzarrpb.Cover, pages ...*angzarrpb.EventPage) *angzarrpb.EventBook {
	return &angzarrpb.EventBook{Cover: cover, Pages: pages}
}

func viewOf(t *testing.T, p *angzarrpb.Projection) int64 {
	t.Helper()
	v := &wrapperspb.Int64Value{}
	if err := p.GetProjection().UnmarshalTo(v); err != nil {
		t.Fatalf("projection %v: %v", p.GetProjection(), err)
	}
	return v.GetValue()
}

func wantCode(t *testing.T, err error, want codes.Code, contains string) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("code %v, want %v (%v)", got, want, err)
	}
	if !strings.Contains(status.Convert(err).Message(), contains) {
		t.Fatalf("message %q does not contain %q", status.Convert(err).Message(), contains)
	}
}

func TestProjectorAppliesABook(t *testing.T) {
	l := newLedger()
	p := ledgerProjector(l)
	if p.Name() != "ledger" {
		t.Fatalf("name %q", p.Name())
	}
	if got := strings.Join(p.EventTypes(), ","); got != "examples.FundsDeposited,examples.FundsWithdrawn" {
		t.Fatalf("event types %s", got)
	}
	skipped := page(6, &examplespb.FundsDeposited{NewBalance: usd(1000)})
	skipped.NoCommit = true
	in := book(testCover,
		page(3, &examplespb.FundsDeposited{NewBalance: usd(10)}),
		page(4, &examplespb.PlayerSittingOut{}), // no handler: ignored
		page(5, &examplespb.FundsWithdrawn{Amount: usd(4), NewBalance: usd(6)}),
		skipped, // no_commit: not applied, but the book covers it
	)
	before := proto.Clone(in)
	out, err := p.Execute(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.applied, " "); got != "07/3/deposited 07/5/withdrawn" {
		t.Fatalf("applied %s", got)
	}
	if !proto.Equal(out.GetCover(), testCover) || out.GetProjector() != "ledger" || out.GetSequence() != 6 {
		t.Fatalf("projection %v", out)
	}
	if viewOf(t, out) != 6 || !angzarr.Is(out.GetProjection(), &wrapperspb.Int64Value{}) {
		t.Fatalf("view %v", out.GetProjection())
	}
	if !proto.Equal(in, before) {
		t.Fatalf("the request was modified: %v", in)
	}
}

// Delivery is at-least-once and replays re-deliver on purpose: the
// projector applies every delivery, idempotence is the read model's.
func TestProjectorAppliesRedeliveries(t *testing.T) {
	l := newLedger()
	p := ledgerProjector(l)
	in := book(testCover, page(0, &examplespb.FundsDeposited{NewBalance: usd(10)}))
	for range 2 {
		if _, err := p.Execute(in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Execute(book(testCover, page(0, &examplespb.FundsDeposited{NewBalance: usd(10)}), page(1, &examplespb.FundsDeposited{NewBalance: usd(20)}))); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.applied, " "); got != "07/0/deposited 07/0/deposited 07/0/deposited 07/1/deposited" {
		t.Fatalf("applied %s", got)
	}
}

func TestProjectorEmptyBooks(t *testing.T) {
	p := angzarr.NewProjector("bare") // no view
	out, err := p.Execute(&angzarrpb.EventBook{})
	if err != nil {
		t.Fatal(err)
	}
	if out.GetCover() != nil || out.GetSequence() != 0 || out.GetProjection() != nil || out.GetProjector() != "bare" {
		t.Fatalf("projection %v", out)
	}
	out, err = p.Execute(nil)
	if err != nil || out.GetProjector() != "bare" {
		t.Fatalf("nil book: %v %v", out, err)
	}
	p.View(func(*angzarrpb.Cover) (proto.Message, error) { return nil, nil })
	if out, err := p.Execute(book(testCover, page(9, &examplespb.Card{}))); err != nil || out.GetProjection() != nil || out.GetSequence() != 9 {
		t.Fatalf("nil view: %v %v", out, err)
	}
}

func TestProjectorErrors(t *testing.T) {
	l := newLedger()
	p := ledgerProjector(l)
	withdraw := func(n int64) *angzarrpb.EventBook {
		return book(testCover, page(0, &examplespb.FundsDeposited{NewBalance: usd(10)}), page(1, &examplespb.FundsWithdrawn{Amount: usd(n)}))
	}
	_, err := p.Execute(withdraw(666))
	wantCode(t, err, codes.Internal, "projector ledger: handler for examples.FundsWithdrawn at sequence 1 failed: read model on fire")
	_, err = p.Execute(withdraw(999))
	wantCode(t, err, codes.Internal, "handler for examples.FundsWithdrawn at sequence 1 panicked")
	_, err = p.Execute(withdraw(42))
	wantCode(t, err, codes.Unavailable, "database away")
	_, err = p.Execute(withdraw(7))
	wantCode(t, err, codes.Internal, "projectors do not reject")

	malformed := book(testCover, &angzarrpb.EventPage{
		Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: 2}},
		Payload: &angzarrpb.EventPage_Event{Event: &anypb.Any{TypeUrl: angzarr.TypeURL(&examplespb.FundsDeposited{}), Value: []byte{0xff}}},
	})
	_, err = p.Execute(malformed)
	wantCode(t, err, codes.InvalidArgument, "malformed event examples.FundsDeposited at sequence 2")
	_, err = p.Execute(book(testCover, &angzarrpb.EventPage{Payload: &angzarrpb.EventPage_Event{Event: angzarr.MustPack(&examplespb.FundsDeposited{})}}))
	wantCode(t, err, codes.InvalidArgument, "page 0 has no sequence")
	_, err = p.Execute(book(testCover, &angzarrpb.EventPage{
		Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: 4}},
		Payload: &angzarrpb.EventPage_External{External: &angzarrpb.PayloadReference{}},
	}))
	wantCode(t, err, codes.InvalidArgument, "sequence 4 carries no inline event")

	// Pages before a failure stay applied (the coordinator retries the book).
	if got := strings.Join(l.applied, " "); got != "07/0/deposited 07/0/deposited 07/0/deposited 07/0/deposited" {
		t.Fatalf("applied %s", got)
	}

	broken := angzarr.NewProjector("broken").View(func(*angzarrpb.Cover) (proto.Message, error) {
		return nil, errors.New("no view today")
	})
	_, err = broken.Execute(book(testCover))
	wantCode(t, err, codes.Internal, "projector broken: view failed: no view today")
	panicky := angzarr.NewProjector("panicky").View(func(*angzarrpb.Cover) (proto.Message, error) { panic("view bug") })
	_, err = panicky.Execute(book(testCover))
	wantCode(t, err, codes.Internal, "view panicked: view bug")
}

func TestProjectorSpeculative(t *testing.T) {
	l := newLedger()
	p := ledgerProjector(l)
	in := book(testCover, page(0, &examplespb.FundsDeposited{NewBalance: usd(10)}), page(1, &examplespb.FundsWithdrawn{Amount: usd(666)}))
	_, err := p.ExecuteSpeculative(in)
	wantCode(t, err, codes.Unimplemented, "does not project speculatively")

	var seen *angzarrpb.EventBook
	p.Speculative(func(b *angzarrpb.EventBook) (proto.Message, error) {
		seen = b
		return wrapperspb.Int64(-1), nil
	})
	out, err := p.ExecuteSpeculative(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.applied) != 0 || len(l.balances) != 0 {
		t.Fatalf("a speculative call applied %v", l.applied)
	}
	if seen != in || viewOf(t, out) != -1 || out.GetSequence() != 1 || out.GetProjector() != "ledger" || !proto.Equal(out.GetCover(), testCover) {
		t.Fatalf("speculative projection %v", out)
	}
	malformed := book(testCover, &angzarrpb.EventPage{
		Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: 0}},
		Payload: &angzarrpb.EventPage_Event{Event: &anypb.Any{TypeUrl: angzarr.TypeURL(&examplespb.FundsDeposited{}), Value: []byte{0xff}}},
	})
	_, err = p.ExecuteSpeculative(malformed)
	wantCode(t, err, codes.InvalidArgument, "malformed")

	failing := angzarr.NewProjector("f").Speculative(func(*angzarrpb.EventBook) (proto.Message, error) { return nil, errors.New("nope") })
	_, err = failing.ExecuteSpeculative(in)
	wantCode(t, err, codes.Internal, "speculative function failed: nope")
}

func TestProjectorRegistrationPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatalf("%s: no panic", name)
			}
		}()
		f()
	}
	mustPanic("empty name", func() { angzarr.NewProjector("") })
	mustPanic("duplicate handler", func() {
		p := angzarr.NewProjector("p")
		noop := func(*examplespb.FundsDeposited, *angzarrpb.Cover, uint32) error { return nil }
		angzarr.Project(angzarr.Project(p, noop), noop)
	})
	mustPanic("two views", func() {
		v := func(*angzarrpb.Cover) (proto.Message, error) { return nil, nil }
		angzarr.NewProjector("p").View(v).View(v)
	})
	mustPanic("two speculative functions", func() {
		s := func(*angzarrpb.EventBook) (proto.Message, error) { return nil, nil }
		angzarr.NewProjector("p").Speculative(s).Speculative(s)
	})
}

// Books are applied one at a time: handlers need no locking of their own
// (run with -race to check).
func TestProjectorSerializesBooks(t *testing.T) {
	count := 0
	p := angzarr.NewProjector("counter")
	angzarr.Project(p, func(*examplespb.FundsDeposited, *angzarrpb.Cover, uint32) error { count++; return nil })
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, err := p.Execute(book(testCover, page(uint32(i), &examplespb.FundsDeposited{}))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if count != 50 {
		t.Fatalf("count %d", count)
	}
}
