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

// HandlerFunc decides on a command: the events to record, in order, or an
// error ([Rejected] for a business refusal). state is the aggregate's state
// (a copy the handler may not keep); seq is the sequence the first new event
// will get.
type HandlerFunc[S proto.Message] func(cmd proto.Message, state S, seq uint32) ([]proto.Message, error)

// ApplierFunc folds one event into the state, in place.
type ApplierFunc[S proto.Message] func(state S, event proto.Message)

type handler[S proto.Message] struct {
	typ protoreflect.MessageType
	fn  HandlerFunc[S]
}

type applier[S proto.Message] struct {
	typ protoreflect.MessageType
	fn  ApplierFunc[S]
}

// CommandHandler is what [NewService] hosts: the business logic of one
// domain. *Aggregate[S] is one; a hand-written implementation may be another.
type CommandHandler interface {
	// Domain is the domain (aggregate type) served, e.g. "player".
	Domain() string
	// Execute implements CommandHandlerService.Handle; errors are gRPC statuses.
	Execute(*angzarrpb.ContextualCommand) (*angzarrpb.BusinessResponse, error)
	// Replay implements CommandHandlerService.Replay.
	Replay(*angzarrpb.ReplayRequest) (*angzarrpb.ReplayResponse, error)
}

// Aggregate is the business logic of one domain: a state type S, the
// handlers of its commands and the appliers of its events, each registered
// under its proto type's full name.
//
// Register everything before serving; an Aggregate is then safe for
// concurrent use.
type Aggregate[S proto.Message] struct {
	domain    string
	newState  func() S
	stateName protoreflect.FullName
	handlers  map[protoreflect.FullName]handler[S]
	appliers  map[protoreflect.FullName]applier[S]
}

var _ CommandHandler = (*Aggregate[*anypb.Any])(nil)

// NewAggregate is an aggregate of domain whose state starts as newState()
// (an empty message, e.g. `func() *examplespb.PlayerState { return &examplespb.PlayerState{} }`).
func NewAggregate[S proto.Message](domain string, newState func() S) *Aggregate[S] {
	s := newState()
	if !s.ProtoReflect().IsValid() {
		panic("angzarr: newState must return a non-nil message")
	}
	return &Aggregate[S]{
		domain:    domain,
		newState:  newState,
		stateName: s.ProtoReflect().Descriptor().FullName(),
		handlers:  map[protoreflect.FullName]handler[S]{},
		appliers:  map[protoreflect.FullName]applier[S]{},
	}
}

// Domain is the domain this aggregate serves.
func (a *Aggregate[S]) Domain() string { return a.domain }

// NewState is a fresh initial state.
func (a *Aggregate[S]) NewState() S { return a.newState() }

// Handle registers fn as the handler of prototype's command type (e.g.
// &examplespb.DepositFunds{}); fn receives a *DepositFunds as cmd. See [On]
// for the typed form. It panics if the type already has a handler.
func (a *Aggregate[S]) Handle(prototype proto.Message, fn HandlerFunc[S]) *Aggregate[S] {
	typ := prototype.ProtoReflect().Type()
	name := typ.Descriptor().FullName()
	if _, dup := a.handlers[name]; dup {
		panic(fmt.Sprintf("angzarr: command %s already has a handler in domain %s", name, a.domain))
	}
	a.handlers[name] = handler[S]{typ: typ, fn: fn}
	return a
}

// Applier registers fn as the applier of prototype's event type. See [Apply]
// for the typed form. It panics if the type already has an applier.
func (a *Aggregate[S]) Applier(prototype proto.Message, fn ApplierFunc[S]) *Aggregate[S] {
	typ := prototype.ProtoReflect().Type()
	name := typ.Descriptor().FullName()
	if _, dup := a.appliers[name]; dup {
		panic(fmt.Sprintf("angzarr: event %s already has an applier in domain %s", name, a.domain))
	}
	a.appliers[name] = applier[S]{typ: typ, fn: fn}
	return a
}

// On registers a typed command handler, dispatched on C's full proto name:
//
//	func HandleDepositFunds(cmd *examplespb.DepositFunds, state *examplespb.PlayerState, seq uint32) ([]proto.Message, error)
//	angzarr.On(agg, HandleDepositFunds)
func On[C any, PC interface {
	*C
	proto.Message
}, S proto.Message](a *Aggregate[S], fn func(cmd PC, state S, seq uint32) ([]proto.Message, error)) *Aggregate[S] {
	return a.Handle(PC(new(C)), func(cmd proto.Message, state S, seq uint32) ([]proto.Message, error) {
		return fn(cmd.(PC), state, seq)
	})
}

// Apply registers a typed event applier:
//
//	angzarr.Apply(agg, func(s *examplespb.PlayerState, e *examplespb.FundsDeposited) { s.Bankroll = e.NewBalance })
func Apply[E any, PE interface {
	*E
	proto.Message
}, S proto.Message](a *Aggregate[S], fn func(state S, event PE)) *Aggregate[S] {
	return a.Applier(PE(new(E)), func(state S, event proto.Message) {
		fn(state, event.(PE))
	})
}

// CommandTypes are the full names of the handled command types, sorted.
func (a *Aggregate[S]) CommandTypes() []string {
	names := make([]string, 0, len(a.handlers))
	for n := range a.handlers {
		names = append(names, string(n))
	}
	sort.Strings(names)
	return names
}

// ApplyEvent folds one packed event into state. Event types without an
// applier leave the state as it is: old events may outlive the code that
// cared about them.
func (a *Aggregate[S]) ApplyEvent(state S, event *anypb.Any) error {
	name := protoreflect.FullName(TypeName(event.GetTypeUrl()))
	ap, ok := a.appliers[name]
	if !ok {
		return nil
	}
	ev := ap.typ.New().Interface()
	if err := proto.Unmarshal(event.GetValue(), ev); err != nil {
		return status.Errorf(codes.InvalidArgument, "malformed event %s: %v", name, err)
	}
	ap.fn(state, ev)
	return nil
}

// Rebuild is the state after an optional snapshot and the pages after it.
func (a *Aggregate[S]) Rebuild(snapshot *angzarrpb.Snapshot, pages []*angzarrpb.EventPage) (S, error) {
	state := a.newState()
	if st := snapshot.GetState(); st != nil {
		if got := TypeName(st.GetTypeUrl()); got != string(a.stateName) {
			var zero S
			return zero, status.Errorf(codes.InvalidArgument, "snapshot state is %s, this aggregate keeps %s", got, a.stateName)
		}
		if err := proto.Unmarshal(st.GetValue(), state); err != nil {
			var zero S
			return zero, status.Errorf(codes.InvalidArgument, "malformed snapshot state %s: %v", a.stateName, err)
		}
	}
	for _, p := range pages {
		if ev := p.GetEvent(); ev != nil {
			if err := a.ApplyEvent(state, ev); err != nil {
				var zero S
				return zero, err
			}
		}
	}
	return state, nil
}

// StateOf is the state of a stored book (snapshot, then its pages).
func (a *Aggregate[S]) StateOf(book *angzarrpb.EventBook) (S, error) {
	return a.Rebuild(book.GetSnapshot(), book.GetPages())
}

// NextSequence is the sequence the next event of book gets: the coordinator
// sends it in next_sequence; older coordinators did not, so fall back to the
// highest page sequence + 1, the snapshot's + 1, or the number of pages.
func NextSequence(book *angzarrpb.EventBook) uint32 {
	if n := book.GetNextSequence(); n > 0 {
		return n
	}
	found := false
	var maxSeq uint32
	for _, p := range book.GetPages() {
		if s, ok := p.GetHeader().GetSequenceType().(*angzarrpb.PageHeader_Sequence); ok {
			if !found || s.Sequence > maxSeq {
				maxSeq = s.Sequence
			}
			found = true
		}
	}
	if found {
		return maxSeq + 1
	}
	if snap := book.GetSnapshot(); snap.GetState() != nil {
		return snap.GetSequence() + 1
	}
	return uint32(len(book.GetPages()))
}

// Execute runs one command against its history: the whole contract of
// CommandHandlerService.Handle, without any network. It is pure: the same
// request gives the same (byte-identical) response.
//
// The response's events book has the command's cover, one page per event
// with header.sequence = next_sequence + i, and (when there are events) a
// snapshot of the new state at the last new sequence.
func (a *Aggregate[S]) Execute(request *angzarrpb.ContextualCommand) (resp *angzarrpb.BusinessResponse, err error) {
	name := protoreflect.FullName("")
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, status.Errorf(codes.Internal, "handler for %s panicked: %v", name, r)
		}
	}()

	command := request.GetCommand()
	if command == nil {
		return nil, status.Error(codes.InvalidArgument, "no command book")
	}
	if len(command.GetPages()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "command book has no pages")
	}
	packed := command.GetPages()[0].GetCommand()
	if packed == nil {
		return nil, status.Error(codes.InvalidArgument, "command page has no inline command")
	}
	name = protoreflect.FullName(TypeName(packed.GetTypeUrl()))
	h, ok := a.handlers[name]
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "unknown command type `%s` for domain `%s`", name, a.domain)
	}
	cmd := h.typ.New().Interface()
	if err := proto.Unmarshal(packed.GetValue(), cmd); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "malformed command %s: %v", name, err)
	}

	history := request.GetEvents()
	state, err := a.StateOf(history)
	if err != nil {
		return nil, err
	}
	next := NextSequence(history)

	events, err := h.fn(cmd, proto.Clone(state).(S), next)
	if err != nil {
		return nil, handlerError(name, err)
	}

	pages := make([]*angzarrpb.EventPage, 0, len(events))
	for i, ev := range events {
		if ev == nil || !ev.ProtoReflect().IsValid() {
			return nil, status.Errorf(codes.Internal, "handler for %s returned a nil event", name)
		}
		packedEv, err := Pack(ev)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "handler for %s: event %d does not marshal: %v", name, i, err)
		}
		if err := a.ApplyEvent(state, packedEv); err != nil {
			return nil, status.Errorf(codes.Internal, "applying %s: %v", TypeName(packedEv.TypeUrl), status.Convert(err).Message())
		}
		pages = append(pages, &angzarrpb.EventPage{
			Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: next + uint32(i)}},
			Payload: &angzarrpb.EventPage_Event{Event: packedEv},
		})
	}
	var snapshot *angzarrpb.Snapshot
	if len(pages) > 0 {
		st, err := Pack(state)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "state does not marshal: %v", err)
		}
		snapshot = &angzarrpb.Snapshot{Sequence: next + uint32(len(pages)) - 1, State: st}
	}
	var cover *angzarrpb.Cover
	if command.GetCover() != nil {
		cover = proto.Clone(command.GetCover()).(*angzarrpb.Cover)
	}
	return &angzarrpb.BusinessResponse{Result: &angzarrpb.BusinessResponse_Events{Events: &angzarrpb.EventBook{
		Cover:    cover,
		Snapshot: snapshot,
		Pages:    pages,
	}}}, nil
}

// Replay folds events onto a base snapshot: CommandHandlerService.Replay.
func (a *Aggregate[S]) Replay(request *angzarrpb.ReplayRequest) (resp *angzarrpb.ReplayResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, status.Errorf(codes.Internal, "replay panicked: %v", r)
		}
	}()
	state, err := a.Rebuild(request.GetBaseSnapshot(), request.GetEvents())
	if err != nil {
		return nil, err
	}
	st, err := Pack(state)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "state does not marshal: %v", err)
	}
	return &angzarrpb.ReplayResponse{State: st}, nil
}

// handlerError maps what a handler returned to a gRPC status error.
func handlerError(name protoreflect.FullName, err error) error {
	var rej *Rejection
	if errors.As(err, &rej) {
		return status.Error(codes.FailedPrecondition, rej.Reason)
	}
	var withStatus interface{ GRPCStatus() *status.Status }
	if errors.As(err, &withStatus) {
		return err
	}
	return status.Errorf(codes.Internal, "handler for %s failed: %v", name, err)
}
