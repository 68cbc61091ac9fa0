package angzarr

import (
	"fmt"
	"maps"
	"reflect"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
)

// Trigger is what a process manager's reaction sees of the trigger beyond
// the event itself.
type Trigger struct {
	// Cover of the aggregate that emitted the event (never nil; a copy).
	Cover *angzarrpb.Cover
	// Sequence is the event's sequence in that aggregate.
	Sequence uint32
	// Destinations is the next sequence of each destination named by the
	// prepare functions, by domain (the request's destination_sequences; a
	// copy).
	Destinations map[string]uint32
}

// Reaction is what a process manager does about one trigger event: process
// events to record (its own history) and commands for other aggregates.
// The zero value does nothing.
type Reaction struct {
	Events   []proto.Message
	Commands []*angzarrpb.CommandBook
}

// Record is r with a process event added.
func (r Reaction) Record(event proto.Message) Reaction {
	r.Events = append(r.Events[:len(r.Events):len(r.Events)], event)
	return r
}

// Send is r with a command added, built with [Command].
func (r Reaction) Send(command *angzarrpb.CommandBook) Reaction {
	r.Commands = append(r.Commands[:len(r.Commands):len(r.Commands)], command)
	return r
}

// ReactionFunc reacts to one trigger event given the process's state (a
// copy the function may not keep).
type ReactionFunc[S proto.Message] func(event proto.Message, state S, trigger Trigger) (Reaction, error)

// PrepareFunc names the aggregates (covers: domain and root) whose next
// sequence the reaction to one trigger event needs.
type PrepareFunc[S proto.Message] func(event proto.Message, state S) ([]*angzarrpb.Cover, error)

// ProcessManagerHandler is what [NewProcessManagerService] hosts: the
// contract of ProcessManagerService. *ProcessManager[S] is one.
type ProcessManagerHandler interface {
	// Name is the process manager's name.
	Name() string
	// Execute implements ProcessManagerService.Handle; errors are gRPC statuses.
	Execute(*angzarrpb.ProcessManagerHandleRequest) (*angzarrpb.ProcessManagerHandleResponse, error)
	// ExecutePrepare implements ProcessManagerService.Prepare.
	ExecutePrepare(*angzarrpb.ProcessManagerPrepareRequest) (*angzarrpb.ProcessManagerPrepareResponse, error)
}

// ProcessManager is a saga with memory: a state S, event-sourced like an
// aggregate's (one process per correlation id), appliers folding the
// process's own events into it, and per trigger event type a reaction
// (process events and commands) and optionally a prepare function.
//
//	pm := angzarr.NewProcessManager("hand-flow", func() *examplespb.HandFlowState { return &examplespb.HandFlowState{} })
//	angzarr.ProcessApply(pm, func(s *examplespb.HandFlowState, e *examplespb.HandFlowStarted) { s.Phase = "dealing" })
//	angzarr.ProcessPrepare(pm, func(e *examplespb.HandStarted, s *examplespb.HandFlowState) ([]*angzarrpb.Cover, error) { ... })
//	angzarr.ProcessOn(pm, func(e *examplespb.HandStarted, s *examplespb.HandFlowState, t angzarr.Trigger) (angzarr.Reaction, error) {
//		return angzarr.Reaction{}.Record(&examplespb.HandFlowStarted{...}).Send(angzarr.Command("hand", e.GetHandRoot(), deal)), nil
//	})
//
// The coordinator commits the process events, the commands and the consumed
// trigger in one transaction. Register everything before serving; a
// ProcessManager is then safe for concurrent use.
type ProcessManager[S proto.Message] struct {
	name     string
	state    *Aggregate[S] // its appliers and state type
	on       eventHandlers[ReactionFunc[S]]
	prepares eventHandlers[PrepareFunc[S]]
}

var _ ProcessManagerHandler = (*ProcessManager[*angzarrpb.Cover])(nil)

// NewProcessManager is a process manager called name (also the domain of
// its own logs) whose state starts as newState(). It panics on an empty
// name or a nil initial state.
func NewProcessManager[S proto.Message](name string, newState func() S) *ProcessManager[S] {
	if name == "" {
		panic("angzarr: a process manager needs a name")
	}
	owner := "process manager " + name
	return &ProcessManager[S]{
		name:     name,
		state:    NewAggregate(name, newState),
		on:       newEventHandlers[ReactionFunc[S]](owner),
		prepares: newEventHandlers[PrepareFunc[S]](owner),
	}
}

// Name is the process manager's name.
func (pm *ProcessManager[S]) Name() string { return pm.name }

func (pm *ProcessManager[S]) owner() string { return pm.on.owner }

// Applier registers fn as the applier of prototype's process event type.
// See [ProcessApply] for the typed form. It panics on a duplicate.
func (pm *ProcessManager[S]) Applier(prototype proto.Message, fn ApplierFunc[S]) *ProcessManager[S] {
	pm.state.Applier(prototype, fn)
	return pm
}

// Handle registers fn as the reaction to prototype's trigger event type.
// See [ProcessOn] for the typed form. It panics on a duplicate.
func (pm *ProcessManager[S]) Handle(prototype proto.Message, fn ReactionFunc[S]) *ProcessManager[S] {
	pm.on.register(prototype, fn)
	return pm
}

// Preparer registers fn as the prepare function of prototype's trigger
// event type. See [ProcessPrepare] for the typed form. It panics on a
// duplicate.
func (pm *ProcessManager[S]) Preparer(prototype proto.Message, fn PrepareFunc[S]) *ProcessManager[S] {
	pm.prepares.register(prototype, fn)
	return pm
}

// ProcessApply registers a typed applier of process event E:
//
//	angzarr.ProcessApply(pm, func(s *examplespb.HandFlowState, e *examplespb.HandFlowEnded) { s.Phase = "ended" })
func ProcessApply[E any, PE interface {
	*E
	proto.Message
}, S proto.Message](pm *ProcessManager[S], fn func(state S, event PE)) *ProcessManager[S] {
	return pm.Applier(PE(new(E)), func(state S, event proto.Message) { fn(state, event.(PE)) })
}

// ProcessOn registers a typed reaction to trigger event E.
func ProcessOn[E any, PE interface {
	*E
	proto.Message
}, S proto.Message](pm *ProcessManager[S], fn func(event PE, state S, trigger Trigger) (Reaction, error)) *ProcessManager[S] {
	return pm.Handle(PE(new(E)), func(event proto.Message, state S, trigger Trigger) (Reaction, error) {
		return fn(event.(PE), state, trigger)
	})
}

// ProcessPrepare registers a typed prepare function of trigger event E.
func ProcessPrepare[E any, PE interface {
	*E
	proto.Message
}, S proto.Message](pm *ProcessManager[S], fn func(event PE, state S) ([]*angzarrpb.Cover, error)) *ProcessManager[S] {
	return pm.Preparer(PE(new(E)), func(event proto.Message, state S) ([]*angzarrpb.Cover, error) {
		return fn(event.(PE), state)
	})
}

// EventTypes are the full names of the trigger event types reacted to, sorted.
func (pm *ProcessManager[S]) EventTypes() []string { return pm.on.types() }

// StateOf is the state of a process's stored book (snapshot, then pages).
// The snapshot state must be an S (else INVALID_ARGUMENT).
func (pm *ProcessManager[S]) StateOf(book *angzarrpb.EventBook) (S, error) {
	return pm.state.StateOf(book)
}

// triggerEvent is a trigger page's event and its sequence, if it has both.
// A no_commit page (persisted, but not to be reacted to) has neither.
func triggerEvent(p *angzarrpb.EventPage) (d delivered, hasSeq bool) {
	ev := p.GetEvent()
	if ev == nil || p.GetNoCommit() {
		return d, false
	}
	d = delivered{name: protoreflect.FullName(TypeName(ev.GetTypeUrl())), event: ev}
	if s, ok := p.GetHeader().GetSequenceType().(*angzarrpb.PageHeader_Sequence); ok {
		d.seq, hasSeq = s.Sequence, true
	}
	return d, hasSeq
}

// ExecutePrepare is the contract of ProcessManagerService.Prepare: for each
// trigger page's event with a prepare function, the covers it names, in
// order. Pages without an inline event, no_commit pages and pages of other
// types are passed over.
func (pm *ProcessManager[S]) ExecutePrepare(request *angzarrpb.ProcessManagerPrepareRequest) (resp *angzarrpb.ProcessManagerPrepareResponse, err error) {
	what := "prepare"
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, status.Errorf(codes.Internal, "%s: %s panicked: %v", pm.owner(), what, r)
		}
	}()
	state, err := pm.StateOf(request.GetProcessState())
	if err != nil {
		return nil, err
	}
	resp = &angzarrpb.ProcessManagerPrepareResponse{}
	for _, p := range request.GetTrigger().GetPages() {
		d, _ := triggerEvent(p)
		if d.event == nil {
			continue
		}
		event, fn, ok, err := pm.prepares.decode(d)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		what = fmt.Sprintf("prepare for %s", d.name)
		covers, err := fn(event, proto.Clone(state).(S))
		if err != nil {
			return nil, componentError(pm.owner(), what, err)
		}
		for i, c := range covers {
			if c == nil {
				return nil, status.Errorf(codes.Internal, "%s: %s returned a nil cover #%d", pm.owner(), what, i)
			}
		}
		resp.Destinations = append(resp.Destinations, covers...)
	}
	return resp, nil
}

// Execute is the contract of ProcessManagerService.Handle, without any
// network. The state is rebuilt from process_state; each trigger page with
// an inline event, a sequence and a reaction registered for its type (other
// pages, and no_commit ones, are passed over) is reacted to, in order. Each recorded process
// event is applied to the state and becomes a page numbered from the
// process's next sequence ([NextSequence]); when there are any, the new
// state is the snapshot at the last one. process_events has
// process_state's cover; commands are those of all reactions, in order;
// facts are empty.
//
// Errors are gRPC statuses: INVALID_ARGUMENT for a request without a
// trigger, a malformed event or a snapshot state that is not an S;
// INTERNAL when a reaction fails or panics (an error carrying a status of
// its own keeps it), records a nil event or returns a command book the
// coordinator would refuse.
func (pm *ProcessManager[S]) Execute(request *angzarrpb.ProcessManagerHandleRequest) (resp *angzarrpb.ProcessManagerHandleResponse, err error) {
	what := "reaction"
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, status.Errorf(codes.Internal, "%s: %s panicked: %v", pm.owner(), what, r)
		}
	}()
	trigger := request.GetTrigger()
	if trigger == nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: the request has no trigger", pm.owner())
	}
	process := request.GetProcessState()
	state, err := pm.StateOf(process)
	if err != nil {
		return nil, err
	}
	next := NextSequence(process)
	cover := handlerCover(trigger)

	var pages []*angzarrpb.EventPage
	var commands []*angzarrpb.CommandBook
	for _, p := range trigger.GetPages() {
		d, hasSeq := triggerEvent(p)
		if d.event == nil || !hasSeq {
			continue
		}
		event, fn, ok, err := pm.on.decode(d)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		what = fmt.Sprintf("reaction to %s at sequence %d", d.name, d.seq)
		reaction, err := fn(event, proto.Clone(state).(S), Trigger{
			Cover:        cover,
			Sequence:     d.seq,
			Destinations: maps.Clone(request.GetDestinationSequences()),
		})
		if err != nil {
			return nil, componentError(pm.owner(), what, err)
		}
		for i, ev := range reaction.Events {
			if ev == nil || !ev.ProtoReflect().IsValid() {
				return nil, status.Errorf(codes.Internal, "%s: %s recorded a nil event #%d", pm.owner(), what, i)
			}
			packed, err := Pack(ev)
			if err != nil {
				return nil, status.Errorf(codes.Internal, "%s: %s: event #%d does not marshal: %v", pm.owner(), what, i, err)
			}
			if err := pm.state.ApplyEvent(state, packed); err != nil {
				return nil, status.Errorf(codes.Internal, "%s: applying %s: %v", pm.owner(), TypeName(packed.GetTypeUrl()), status.Convert(err).Message())
			}
			pages = append(pages, &angzarrpb.EventPage{
				Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: next + uint32(len(pages))}},
				Payload: &angzarrpb.EventPage_Event{Event: packed},
			})
		}
		for i, c := range reaction.Commands {
			if problem := commandProblem(c); problem != "" {
				return nil, status.Errorf(codes.Internal, "%s: %s returned a bad command book #%d: %s", pm.owner(), what, i, problem)
			}
		}
		commands = append(commands, reaction.Commands...)
	}

	events := &angzarrpb.EventBook{Pages: pages}
	if c := process.GetCover(); c != nil {
		events.Cover = proto.Clone(c).(*angzarrpb.Cover)
	}
	if len(pages) > 0 {
		st, err := Pack(state)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "%s: state does not marshal: %v", pm.owner(), err)
		}
		events.Snapshot = &angzarrpb.Snapshot{Sequence: next + uint32(len(pages)) - 1, State: st}
	}
	return &angzarrpb.ProcessManagerHandleResponse{ProcessEvents: events, Commands: commands}, nil
}

// isNilPointer reports whether v is a nil pointer in an interface (a
// typed nil component).
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
