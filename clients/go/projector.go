package angzarr

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
)

// ProjectorHandlerFunc applies one event to a read model. cover is the
// book's cover (domain, root, correlation id, edition; never nil; a copy
// seen by this book's handlers only) and seq the event's sequence in its
// aggregate.
type ProjectorHandlerFunc func(event proto.Message, cover *angzarrpb.Cover, seq uint32) error

// ViewFunc is what Projection.projection carries after a book of cover's
// stream was applied (nil: nothing).
type ViewFunc func(cover *angzarrpb.Cover) (proto.Message, error)

// SpeculativeFunc is the view book would give, computed without side
// effects: the read model must be left exactly as it was (nil: nothing).
type SpeculativeFunc func(book *angzarrpb.EventBook) (proto.Message, error)

// BatchScopeFunc runs a whole batch ([Projector.ExecuteBatch], i.e.
// ProjectorBatchService.HandleBatch) inside whatever unit the read model
// needs, typically one transaction:
//
//	func(apply func() error) error {
//		tx, err := db.Begin()
//		if err != nil {
//			return err
//		}
//		if err := apply(); err != nil { // the handlers write through tx
//			tx.Rollback()
//			return err
//		}
//		return tx.Commit()
//	}
//
// apply applies every book of the batch, in order, and returns the first
// error (the error Execute would have returned for that book); the books
// after it are not applied. The scope must call apply and should return its
// error: the call fails with it whatever the scope returns. apply may be
// called again (e.g. by a helper retrying a transaction after a conflict):
// each call applies the whole batch again and the last one's projections are
// answered. It must not be called after the scope returned. An error of the
// scope's own (e.g. the commit failed) fails the call too.
type BatchScopeFunc func(apply func() error) error

// Projector turns events into a read model: handlers per event type, each
// called with (event, cover, sequence), and an optional view returned in
// Projection.projection.
//
//	balances := map[string]int64{}
//	ledger := angzarr.NewProjector("ledger")
//	angzarr.Project(ledger, func(e *examplespb.FundsDeposited, cover *angzarrpb.Cover, seq uint32) error {
//		balances[string(cover.GetRoot().GetValue())] = e.GetNewBalance().GetAmount()
//		return nil
//	})
//
// Delivery is at-least-once: a coordinator that crashed before committing
// its offset delivers a book again, and a replay delivers everything again
// on purpose. The Projector therefore keeps no "last applied sequence" of
// its own — a replay into a wiped read model would wrongly trust it.
// Idempotence belongs with the read model: store the last sequence applied
// next to the data (in the same transaction) and skip what is at or below
// it, or make each write an upsert.
//
// Books are applied one at a time (a mutex around each [Projector.Execute],
// [Projector.ExecuteSpeculative] and whole [Projector.ExecuteBatch]), so
// handlers and the view need no locking against each other, and no other
// book is applied while a batch's scope is open. Register everything before
// serving.
type Projector struct {
	name        string
	handlers    eventHandlers[ProjectorHandlerFunc]
	view        ViewFunc
	speculative SpeculativeFunc
	batchScope  BatchScopeFunc
	mu          sync.Mutex
}

// NewProjector is a projector called name, the Projection.projector it
// reports. It panics on an empty name.
func NewProjector(name string) *Projector {
	if name == "" {
		panic("angzarr: a projector needs a name")
	}
	owner := "projector " + name
	return &Projector{name: name, handlers: newEventHandlers[ProjectorHandlerFunc](owner)}
}

// Name is the projector's name.
func (p *Projector) Name() string { return p.name }

func (p *Projector) owner() string { return p.handlers.owner }

// Handle registers fn as the handler of prototype's event type (e.g.
// &examplespb.FundsDeposited{}); fn receives a *FundsDeposited. See
// [Project] for the typed form. It panics if the type already has a handler.
func (p *Projector) Handle(prototype proto.Message, fn ProjectorHandlerFunc) *Projector {
	p.handlers.register(prototype, fn)
	return p
}

// Project registers a typed event handler, dispatched on E's full proto name:
//
//	angzarr.Project(ledger, func(e *examplespb.FundsDeposited, cover *angzarrpb.Cover, seq uint32) error { ... })
func Project[E any, PE interface {
	*E
	proto.Message
}](p *Projector, fn func(event PE, cover *angzarrpb.Cover, seq uint32) error) *Projector {
	return p.Handle(PE(new(E)), func(event proto.Message, cover *angzarrpb.Cover, seq uint32) error {
		return fn(event.(PE), cover, seq)
	})
}

// View sets what Projection.projection carries after each book: fn's
// message, packed (none when it returns nil). It panics if a view is set.
func (p *Projector) View(fn ViewFunc) *Projector {
	if p.view != nil {
		panic(fmt.Sprintf("angzarr: %s: a view is already set", p.owner()))
	}
	p.view = fn
	return p
}

// Speculative enables ProjectorService.HandleSpeculative: fn computes the
// view a book would give without applying it. Without it HandleSpeculative
// is UNIMPLEMENTED. It panics if one is set.
func (p *Projector) Speculative(fn SpeculativeFunc) *Projector {
	if p.speculative != nil {
		panic(fmt.Sprintf("angzarr: %s: a speculative function is already set", p.owner()))
	}
	p.speculative = fn
	return p
}

// BatchScope wraps every batch ([Projector.ExecuteBatch], served as
// angzarr_kafka.ProjectorBatchService.HandleBatch) in fn, e.g. one read-model
// transaction per batch, committed when apply succeeded and rolled back
// otherwise: a batch fails as a whole and is handed over again, so a scope
// that rolls back never leaves half a batch behind. Books handed one at a
// time (Handle, [Projector.Execute]) and empty batches do not use it. It
// panics if one is set.
func (p *Projector) BatchScope(fn BatchScopeFunc) *Projector {
	if fn == nil {
		panic(fmt.Sprintf("angzarr: %s: nil batch scope", p.owner()))
	}
	if p.batchScope != nil {
		panic(fmt.Sprintf("angzarr: %s: a batch scope is already set", p.owner()))
	}
	p.batchScope = fn
	return p
}

// EventTypes are the full names of the handled event types, sorted.
func (p *Projector) EventTypes() []string { return p.handlers.types() }

// Execute applies a book: the whole contract of ProjectorService.Handle,
// without any network. Each page, in order, goes to the handler of its
// event type (types without one, and no_commit pages, are passed over).
//
// The Projection has the book's cover, the projector's name, the sequence of
// the book's last page and the view, if any. Errors are gRPC statuses:
// INVALID_ARGUMENT for a page without a sequence or an inline event, or a
// malformed payload; INTERNAL when a handler or the view fails or panics
// (an error carrying a status of its own, from status.Error, keeps it).
// Pages applied before a failure stay applied; the coordinator retries the
// whole book.
func (p *Projector) Execute(book *angzarrpb.EventBook) (*angzarrpb.Projection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.run(book, false)
}

// ExecuteBatch applies books in order, each exactly as [Projector.Execute]
// would, and returns one Projection per book, in order: the whole contract of
// angzarr_kafka.ProjectorBatchService.HandleBatch, without any network. The
// books are applied inside the [BatchScopeFunc], if any (not for an empty
// batch), with no other book applied in between.
//
// The call succeeds or fails as a whole: the first failing book's error
// (the status Execute would return for it) fails it, and the books after
// it are not applied. Without a scope, or with one that does not roll back,
// the books before it stay applied; the coordinator hands the same books
// over again, so the read model must be idempotent by sequence as for any
// redelivery. A scope's own error is INTERNAL unless it carries a status; a
// scope that panics or never calls apply is INTERNAL.
func (p *Projector) ExecuteBatch(books []*angzarrpb.EventBook) ([]*angzarrpb.Projection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*angzarrpb.Projection, 0, len(books))
	if len(books) == 0 {
		return out, nil
	}
	var (
		applied  bool  // apply ran at least once
		applyErr error // its last error
		closed   bool  // the scope returned
	)
	apply := func() error {
		if closed {
			return status.Errorf(codes.Internal, "%s: the batch scope's apply was called after the scope returned", p.owner())
		}
		applied, applyErr, out = true, nil, out[:0]
		for _, book := range books {
			projection, err := p.run(book, false)
			if err != nil {
				applyErr = err
				return err
			}
			out = append(out, projection)
		}
		return nil
	}
	if p.batchScope == nil {
		if err := apply(); err != nil {
			return nil, err
		}
		return out, nil
	}

	scopeErr := p.scope(apply)
	closed = true
	switch {
	case applyErr != nil: // the scope saw it; it fails the call whatever the scope made of it
		return nil, applyErr
	case scopeErr != nil:
		return nil, scopeErr
	case !applied:
		return nil, status.Errorf(codes.Internal, "%s: the batch scope returned without calling apply", p.owner())
	}
	return out, nil
}

// scope runs the batch scope with apply, a panic or an error of its own
// turned into a status.
func (p *Projector) scope(apply func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = status.Errorf(codes.Internal, "%s: batch scope panicked: %v", p.owner(), r)
		}
	}()
	if err := p.batchScope(apply); err != nil {
		return componentError(p.owner(), "batch scope", err)
	}
	return nil
}

// ExecuteSpeculative is ProjectorService.HandleSpeculative: the Projection
// Execute would return, with the view computed by the [SpeculativeFunc] and
// no handler called. UNIMPLEMENTED without a speculative function.
func (p *Projector) ExecuteSpeculative(book *angzarrpb.EventBook) (*angzarrpb.Projection, error) {
	if p.speculative == nil {
		return nil, status.Errorf(codes.Unimplemented, "%s does not project speculatively (see Projector.Speculative)", p.owner())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.run(book, true)
}

func (p *Projector) run(book *angzarrpb.EventBook, speculative bool) (out *angzarrpb.Projection, err error) {
	what := "projection"
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, status.Errorf(codes.Internal, "%s: %s panicked: %v", p.owner(), what, r)
		}
	}()

	pages, err := p.handlers.pages(book)
	if err != nil {
		return nil, err
	}
	out = &angzarrpb.Projection{Projector: p.name, Sequence: lastSequence(book)}
	if book.GetCover() != nil {
		out.Cover = proto.Clone(book.GetCover()).(*angzarrpb.Cover)
	}
	cover := handlerCover(book)

	for _, d := range pages {
		event, fn, ok, err := p.handlers.decode(d)
		if err != nil {
			return nil, err
		}
		if !ok || speculative {
			continue // speculative: decoded only, so a malformed book fails as it would for real
		}
		what = fmt.Sprintf("handler for %s at sequence %d", d.name, d.seq)
		if err := fn(event, cover, d.seq); err != nil {
			return nil, componentError(p.owner(), what, err)
		}
	}

	var view proto.Message
	if speculative {
		what = "speculative function"
		view, err = p.speculative(book)
	} else if p.view != nil {
		what = "view"
		view, err = p.view(handlerCover(book)) // as delivered, whatever handlers did to theirs
	}
	if err != nil {
		return nil, componentError(p.owner(), what, err)
	}
	if view != nil && view.ProtoReflect().IsValid() {
		packed, err := Pack(view)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "%s: the %s's result does not marshal: %v", p.owner(), what, err)
		}
		out.Projection = packed
	}
	return out, nil
}
