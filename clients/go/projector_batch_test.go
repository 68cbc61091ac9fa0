package angzarr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
	angzarrkafkapb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr_kafka"
	examplespb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

var otherCover = &angzarrpb.Cover{Root: &angzarrpb.UUID{Value: bytes.Repeat([]byte{8}, 16)}, Domain: "wallet", CorrelationId: "corr-2"}

// threeBooks: two books of testCover's root around one of otherCover's;
// book 2's withdrawal of `middle` is what the ledger makes of it (666
// fails, 999 panics, 42 is UNAVAILABLE).
func threeBooks(middle int64) []*angzarrpb.EventBook {
	return []*angzarrpb.EventBook{
		book(testCover, page(0, &examplespb.FundsDeposited{NewBalance: usd(10)}), page(1, &examplespb.FundsDeposited{NewBalance: usd(30)})),
		book(otherCover, page(0, &examplespb.FundsDeposited{NewBalance: usd(100)}), page(1, &examplespb.FundsWithdrawn{Amount: usd(middle), NewBalance: usd(99)})),
		book(testCover, page(2, &examplespb.FundsWithdrawn{Amount: usd(5), NewBalance: usd(25)})),
	}
}

// A batch is the same books handed to Execute one at a time: same
// applications, same projections (the view after each book), in order.
func TestProjectorBatchIsExecuteBookByBook(t *testing.T) {
	books := threeBooks(1)
	before := make([]*angzarrpb.EventBook, len(books))
	for i, b := range books {
		before[i] = proto.Clone(b).(*angzarrpb.EventBook)
	}

	batched := newLedger()
	out, err := ledgerProjector(batched).ExecuteBatch(books)
	if err != nil {
		t.Fatal(err)
	}
	single := newLedger()
	p := ledgerProjector(single)
	if len(out) != len(books) {
		t.Fatalf("%d projections for %d books", len(out), len(books))
	}
	for i, b := range books {
		want, err := p.Execute(b)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(out[i], want) {
			t.Fatalf("projection %d: %v, Execute gives %v", i+1, out[i], want)
		}
		if !proto.Equal(b, before[i]) {
			t.Fatalf("book %d was modified: %v", i+1, b)
		}
	}
	if got := strings.Join(batched.applied, " "); got != "07/0/deposited 07/1/deposited 08/0/deposited 08/1/withdrawn 07/2/withdrawn" ||
		got != strings.Join(single.applied, " ") {
		t.Fatalf("batch applied %s, one at a time %s", got, strings.Join(single.applied, " "))
	}
	if viewOf(t, out[0]) != 30 || viewOf(t, out[1]) != 99 || viewOf(t, out[2]) != 25 || out[2].GetSequence() != 2 || !proto.Equal(out[1].GetCover(), otherCover) {
		t.Fatalf("projections %v", out)
	}

	empty, err := ledgerProjector(newLedger()).ExecuteBatch(nil)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty batch: %v %v", empty, err)
	}
}

// An error in book 2 fails the whole call with the status Execute gives for
// that book; book 1 stays applied (no scope), book 3 is not applied.
func TestProjectorBatchErrorInBook2FailsTheCall(t *testing.T) {
	for _, tc := range []struct {
		amount   int64
		code     codes.Code
		contains string
	}{
		{666, codes.Internal, "projector ledger: handler for examples.FundsWithdrawn at sequence 1 failed: read model on fire"},
		{999, codes.Internal, "handler for examples.FundsWithdrawn at sequence 1 panicked"},
		{42, codes.Unavailable, "database away"},
		{7, codes.Internal, "projectors do not reject"},
	} {
		l := newLedger()
		out, err := ledgerProjector(l).ExecuteBatch(threeBooks(tc.amount))
		wantCode(t, err, tc.code, tc.contains)
		if out != nil {
			t.Fatalf("%d: projections %v next to an error", tc.amount, out)
		}
		if got := strings.Join(l.applied, " "); got != "07/0/deposited 07/1/deposited 08/0/deposited" {
			t.Fatalf("%d: applied %s", tc.amount, got)
		}
		_, single := ledgerProjector(newLedger()).Execute(threeBooks(tc.amount)[1])
		if status.Convert(err).Message() != status.Convert(single).Message() {
			t.Fatalf("%d: batch error %v, Execute's %v", tc.amount, err, single)
		}
	}
	malformed := threeBooks(1)
	malformed[1].Pages[0].Header = nil
	_, err := ledgerProjector(newLedger()).ExecuteBatch(malformed)
	wantCode(t, err, codes.InvalidArgument, "page 0 has no sequence")
}

// txLedger is a read model with transactions: writes go to the open
// transaction, if any, else straight to committed.
type txLedger struct {
	committed map[string][]uint32 // root's first byte → sequences applied
	tx        map[string][]uint32 // nil: no transaction open
	scopes    []string            // what each scope call saw
}

func newTxLedger() *txLedger { return &txLedger{committed: map[string][]uint32{}} }

func (l *txLedger) write(cover *angzarrpb.Cover, seq uint32) {
	m := l.committed
	if l.tx != nil {
		m = l.tx
	}
	k := fmt.Sprintf("%x", cover.GetRoot().GetValue()[:1])
	m[k] = append(m[k], seq)
}

func (l *txLedger) String() string { return fmt.Sprint(l.committed) }

// transactional is the usual batch scope: begin, apply, commit or roll back.
func (l *txLedger) transactional(apply func() error) error {
	l.tx = maps.Clone(l.committed)
	for k, v := range l.tx {
		l.tx[k] = append([]uint32(nil), v...)
	}
	err := apply()
	l.scopes = append(l.scopes, fmt.Sprintf("apply: %v", err))
	if err != nil {
		l.tx = nil // rollback
		return err
	}
	l.committed, l.tx = l.tx, nil
	return nil
}

// txProjector projects deposits into l; a withdrawal of 666 fails.
func txProjector(l *txLedger) *angzarr.Projector {
	p := angzarr.NewProjector("tx-ledger")
	angzarr.Project(p, func(_ *examplespb.FundsDeposited, cover *angzarrpb.Cover, seq uint32) error {
		l.write(cover, seq)
		return nil
	})
	angzarr.Project(p, func(e *examplespb.FundsWithdrawn, cover *angzarrpb.Cover, seq uint32) error {
		if e.GetAmount().GetAmount() == 666 {
			return errors.New("read model on fire")
		}
		l.write(cover, seq)
		return nil
	})
	return p
}

// The batch scope wraps the whole batch; it sees the error of book 2 and
// rolls book 1 back, and the call fails with that error.
func TestProjectorBatchScopeSeesTheError(t *testing.T) {
	l := newTxLedger()
	p := txProjector(l).BatchScope(l.transactional)

	_, err := p.ExecuteBatch(threeBooks(666))
	wantCode(t, err, codes.Internal, "handler for examples.FundsWithdrawn at sequence 1 failed: read model on fire")
	if got := strings.Join(l.scopes, "; "); !strings.Contains(got, "apply: rpc error: code = Internal") || !strings.Contains(got, "read model on fire") {
		t.Fatalf("the scope saw %s", got)
	}
	if len(l.committed) != 0 {
		t.Fatalf("a failed batch left %v", l)
	}

	out, err := p.ExecuteBatch(threeBooks(1))
	if err != nil || len(out) != 3 || out[2].GetSequence() != 2 {
		t.Fatalf("batch: %v %v", out, err)
	}
	if got := l.String(); got != "map[07:[0 1 2] 08:[0 1]]" {
		t.Fatalf("committed %s", got)
	}
	if len(l.scopes) != 2 || l.scopes[1] != "apply: <nil>" {
		t.Fatalf("scopes %v", l.scopes)
	}

	// Execute (Handle) and an empty batch do not open a scope.
	if _, err := p.Execute(book(testCover, page(3, &examplespb.FundsDeposited{}))); err != nil {
		t.Fatal(err)
	}
	if out, err := p.ExecuteBatch([]*angzarrpb.EventBook{}); err != nil || len(out) != 0 {
		t.Fatalf("empty batch: %v %v", out, err)
	}
	if len(l.scopes) != 2 || l.String() != "map[07:[0 1 2 3] 08:[0 1]]" {
		t.Fatalf("scopes %v, committed %s", l.scopes, l)
	}
}

func TestProjectorBatchScopeMisbehaving(t *testing.T) {
	run := func(scope angzarr.BatchScopeFunc) (*txLedger, []*angzarrpb.Projection, error) {
		l := newTxLedger()
		out, err := txProjector(l).BatchScope(scope).ExecuteBatch(threeBooks(1))
		return l, out, err
	}

	// Swallowing apply's error does not make the call succeed.
	l := newTxLedger()
	_, err := txProjector(l).BatchScope(func(apply func() error) error {
		_ = apply() // the error is swallowed
		return nil
	}).ExecuteBatch(threeBooks(666))
	wantCode(t, err, codes.Internal, "read model on fire")
	// Wrapping it keeps its status.
	l = newTxLedger()
	_, err = txProjector(l).BatchScope(func(apply func() error) error {
		return fmt.Errorf("tx: %w", apply())
	}).ExecuteBatch(threeBooks(666))
	wantCode(t, err, codes.Internal, "projector tx-ledger: handler for examples.FundsWithdrawn at sequence 1 failed")

	// The scope's own error: INTERNAL, or its own status.
	_, _, err = run(func(apply func() error) error {
		if err := apply(); err != nil {
			return err
		}
		return errors.New("commit failed")
	})
	wantCode(t, err, codes.Internal, "projector tx-ledger: batch scope failed: commit failed")
	_, _, err = run(func(apply func() error) error {
		if err := apply(); err != nil {
			return err
		}
		return status.Error(codes.Aborted, "serialization failure")
	})
	wantCode(t, err, codes.Aborted, "serialization failure")

	// Never calling apply, or panicking, is INTERNAL.
	_, _, err = run(func(func() error) error { return nil })
	wantCode(t, err, codes.Internal, "batch scope returned without calling apply")
	_, _, err = run(func(apply func() error) error { _ = apply(); panic("scope bug") })
	wantCode(t, err, codes.Internal, "batch scope panicked: scope bug")

	// A retrying scope: each apply applies the whole batch again, the last
	// one's projections are answered.
	attempts := 0
	l, out, err := run(func(apply func() error) error {
		for {
			attempts++
			if err := apply(); err != nil || attempts < 2 {
				continue // "conflict": retry
			}
			return nil
		}
	})
	if err != nil || len(out) != 3 || attempts != 2 || sequences(out) != "1 1 2" {
		t.Fatalf("retried batch: %v %v (%d attempts)", out, err, attempts)
	}
	if got := l.String(); got != "map[07:[0 1 2 0 1 2] 08:[0 1 0 1]]" { // no transaction here: applied twice
		t.Fatalf("committed %s", got)
	}

	// apply after the scope returned.
	var kept func() error
	_, _, err = run(func(apply func() error) error { kept = apply; return apply() })
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, kept(), codes.Internal, "called after the scope returned")
}

func sequences(out []*angzarrpb.Projection) string {
	s := make([]string, len(out))
	for i, p := range out {
		s[i] = fmt.Sprint(p.GetSequence())
	}
	return strings.Join(s, " ")
}

func TestProjectorBatchScopeRegistrationPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"nil": func() { angzarr.NewProjector("p").BatchScope(nil) },
		"two scopes": func() {
			s := func(a func() error) error { return a() }
			angzarr.NewProjector("p").BatchScope(s).BatchScope(s)
		},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// While a batch's scope is open no other book is applied (run with -race
// to check the handlers need no locking).
func TestProjectorBatchesSerializeWithBooks(t *testing.T) {
	inScope, overlaps, count := false, 0, 0
	p := angzarr.NewProjector("counter")
	angzarr.Project(p, func(*examplespb.FundsDeposited, *angzarrpb.Cover, uint32) error { count++; return nil })
	angzarr.Project(p, func(*examplespb.FundsWithdrawn, *angzarrpb.Cover, uint32) error {
		if inScope {
			overlaps++
		}
		return nil
	})
	p.BatchScope(func(apply func() error) error {
		inScope = true
		defer func() { inScope = false }()
		time.Sleep(time.Millisecond)
		return apply()
	})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			books := []*angzarrpb.EventBook{book(testCover, page(uint32(i), &examplespb.FundsDeposited{})), book(otherCover, page(uint32(i), &examplespb.FundsDeposited{}))}
			if _, err := p.ExecuteBatch(books); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := p.Execute(book(testCover, page(uint32(i), &examplespb.FundsWithdrawn{}))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if count != 40 || overlaps != 0 {
		t.Fatalf("count %d, %d books applied inside another batch's scope", count, overlaps)
	}
}

// Every server hosting a projector serves ProjectorBatchService beside
// ProjectorService, with no code of the projector's author.
func TestProjectorBatchOverGRPC(t *testing.T) {
	l := newLedger()
	conn := serveComponents(t, wallet(), ledgerProjector(l))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	batch := angzarrkafkapb.NewProjectorBatchServiceClient(conn)

	resp, err := batch.HandleBatch(ctx, &angzarrkafkapb.ProjectorBatch{Books: threeBooks(1)})
	if err != nil {
		t.Fatal(err)
	}
	out := resp.GetProjections()
	if len(out) != 3 || viewOf(t, out[0]) != 30 || viewOf(t, out[1]) != 99 || viewOf(t, out[2]) != 25 ||
		!proto.Equal(out[1].GetCover(), otherCover) || out[2].GetProjector() != "ledger" || sequences(out) != "1 1 2" {
		t.Fatalf("projections %v", out)
	}

	// An error in book 2 fails the call, with Handle's mapping.
	handle := angzarrpb.NewProjectorServiceClient(conn)
	for _, amount := range []int64{666, 999, 42} {
		_, batchErr := batch.HandleBatch(ctx, &angzarrkafkapb.ProjectorBatch{Books: threeBooks(amount)})
		_, handleErr := handle.Handle(ctx, threeBooks(amount)[1])
		if status.Code(batchErr) != status.Code(handleErr) || status.Code(batchErr) == codes.OK ||
			status.Convert(batchErr).Message() != status.Convert(handleErr).Message() {
			t.Fatalf("%d: HandleBatch %v, Handle %v", amount, batchErr, handleErr)
		}
	}

	resp, err = batch.HandleBatch(ctx, &angzarrkafkapb.ProjectorBatch{})
	if err != nil || len(resp.GetProjections()) != 0 {
		t.Fatalf("empty batch: %v %v", resp, err)
	}

	// Not served without a projector.
	_, err = angzarrkafkapb.NewProjectorBatchServiceClient(serveComponents(t, wallet())).HandleBatch(ctx, &angzarrkafkapb.ProjectorBatch{})
	if status.Code(err) != codes.Unimplemented || !strings.Contains(status.Convert(err).Message(), "unknown service angzarr_kafka.ProjectorBatchService") {
		t.Fatalf("HandleBatch without a projector: %v", err)
	}
}
