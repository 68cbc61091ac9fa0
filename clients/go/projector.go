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
// Books are applied one at a time (a mutex around each [Projector.Execute]
// and [Projector.ExecuteSpeculative]), so handlers and the view need no
// locking against each other. Register everything before serving.
type Projector struct {
	name        string
	handlers    eventHandlers[ProjectorHandlerFunc]
	view        ViewFunc
	speculative SpeculativeFunc
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
