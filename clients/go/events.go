package angzarr

import (
	"errors"
	"fmt"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
)

// Shared by projectors and sagas: handlers registered by event type, and
// reading a book's events page by page.

// eventHandlers are the handlers of a projector or saga, by full event name.
type eventHandlers[F any] struct {
	owner  string // "projector ledger", "saga reserve-on-join": for messages
	byName map[protoreflect.FullName]eventHandler[F]
}

type eventHandler[F any] struct {
	typ protoreflect.MessageType
	fn  F
}

func newEventHandlers[F any](owner string) eventHandlers[F] {
	return eventHandlers[F]{owner: owner, byName: map[protoreflect.FullName]eventHandler[F]{}}
}

func (h eventHandlers[F]) register(prototype proto.Message, fn F) {
	if prototype == nil {
		panic(fmt.Sprintf("angzarr: %s: nil event prototype", h.owner))
	}
	typ := prototype.ProtoReflect().Type()
	name := typ.Descriptor().FullName()
	if _, dup := h.byName[name]; dup {
		panic(fmt.Sprintf("angzarr: %s: event %s already has a handler", h.owner, name))
	}
	h.byName[name] = eventHandler[F]{typ: typ, fn: fn}
}

func (h eventHandlers[F]) types() []string {
	names := make([]string, 0, len(h.byName))
	for n := range h.byName {
		names = append(names, string(n))
	}
	sort.Strings(names)
	return names
}

// delivered is one page of a book as a handler sees it.
type delivered struct {
	seq   uint32
	name  protoreflect.FullName
	event *anypb.Any
}

// pages are the pages of book downstream components react to, in order.
// Pages marked no_commit (persisted, but not to be reacted to) are left
// out. A page without an explicit sequence, or whose event is not inline
// (the coordinator resolves external payloads before delivery), is
// INVALID_ARGUMENT.
func (h eventHandlers[F]) pages(book *angzarrpb.EventBook) ([]delivered, error) {
	out := make([]delivered, 0, len(book.GetPages()))
	for i, p := range book.GetPages() {
		if p.GetNoCommit() {
			continue
		}
		s, ok := p.GetHeader().GetSequenceType().(*angzarrpb.PageHeader_Sequence)
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "%s: page %d has no sequence", h.owner, i)
		}
		ev := p.GetEvent()
		if ev == nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: the page at sequence %d carries no inline event", h.owner, s.Sequence)
		}
		out = append(out, delivered{seq: s.Sequence, name: protoreflect.FullName(TypeName(ev.GetTypeUrl())), event: ev})
	}
	return out, nil
}

// decode is the event of d and its handler; ok is false for an event type
// without a handler (ignored: a component sees every event of its domains).
func (h eventHandlers[F]) decode(d delivered) (event proto.Message, fn F, ok bool, err error) {
	eh, found := h.byName[d.name]
	if !found {
		return nil, fn, false, nil
	}
	event = eh.typ.New().Interface()
	if err := proto.Unmarshal(d.event.GetValue(), event); err != nil {
		return nil, fn, false, status.Errorf(codes.InvalidArgument, "%s: malformed event %s at sequence %d: %v", h.owner, d.name, d.seq, err)
	}
	return event, eh.fn, true, nil
}

// lastSequence is the explicit sequence of the book's last page that has
// one (no_commit pages included: the book covers them), 0 if none has.
func lastSequence(book *angzarrpb.EventBook) uint32 {
	pages := book.GetPages()
	for i := len(pages) - 1; i >= 0; i-- {
		if s, ok := pages[i].GetHeader().GetSequenceType().(*angzarrpb.PageHeader_Sequence); ok {
			return s.Sequence
		}
	}
	return 0
}

// componentError maps an error of a projector's or saga's function (what:
// "handler for examples.FundsDeposited at sequence 3", "view") to a gRPC
// status error: a status the function chose explicitly (status.Error) is
// kept; anything else, a [Rejection] included (there is no command to
// refuse here), is INTERNAL.
func componentError(owner, what string, err error) error {
	var rej *Rejection
	if !errors.As(err, &rej) {
		var withStatus interface{ GRPCStatus() *status.Status }
		if errors.As(err, &withStatus) {
			return err
		}
	}
	return status.Errorf(codes.Internal, "%s: %s failed: %v", owner, what, err)
}

// handlerCover is the cover handlers see: a copy of the book's (so the
// request and the response stay as they are), empty when it has none.
func handlerCover(book *angzarrpb.EventBook) *angzarrpb.Cover {
	if c := book.GetCover(); c != nil {
		return proto.Clone(c).(*angzarrpb.Cover)
	}
	return &angzarrpb.Cover{}
}
