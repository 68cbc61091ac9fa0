package angzarr

import (
	"fmt"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
)

// UpcastFunc rewrites an old event into its current shape.
type UpcastFunc func(old proto.Message) proto.Message

type upcast struct {
	typ protoreflect.MessageType
	fn  UpcastFunc
}

// Upcaster rewrites old event shapes into current ones on read, never
// touching the log: UpcasterService. Event types it does not map pass
// through unchanged.
//
//	u := angzarr.NewUpcaster()
//	angzarr.Upcast(u, func(old *examplespb.PlayerRegisteredV1) *examplespb.PlayerRegistered {
//		return &examplespb.PlayerRegistered{DisplayName: old.GetName(), Email: old.GetEmail()}
//	})
//
// Register everything before serving; an Upcaster is then safe for
// concurrent use.
type Upcaster struct {
	maps map[protoreflect.FullName]upcast
}

// NewUpcaster is an upcaster that changes nothing yet.
func NewUpcaster() *Upcaster {
	return &Upcaster{maps: map[protoreflect.FullName]upcast{}}
}

// Map registers fn as the rewrite of prototype's (old) event type. See
// [Upcast] for the typed form. It panics if the type is already mapped.
func (u *Upcaster) Map(prototype proto.Message, fn UpcastFunc) *Upcaster {
	if prototype == nil {
		panic("angzarr: upcaster: nil event prototype")
	}
	typ := prototype.ProtoReflect().Type()
	name := typ.Descriptor().FullName()
	if _, dup := u.maps[name]; dup {
		panic(fmt.Sprintf("angzarr: upcaster: event %s is already mapped", name))
	}
	u.maps[name] = upcast{typ: typ, fn: fn}
	return u
}

// Upcast registers a typed rewrite of Old events into New ones.
func Upcast[O any, PO interface {
	*O
	proto.Message
}, N proto.Message](u *Upcaster, fn func(old PO) N) *Upcaster {
	return u.Map(PO(new(O)), func(old proto.Message) proto.Message { return fn(old.(PO)) })
}

// OldTypes are the full names of the mapped (old) event types, sorted.
func (u *Upcaster) OldTypes() []string {
	names := make([]string, 0, len(u.maps))
	for n := range u.maps {
		names = append(names, string(n))
	}
	sort.Strings(names)
	return names
}

// Execute is the contract of UpcasterService.Upcast: one event out per
// event in, in order, mapped events rewritten (headers and the rest of the
// page kept), others unchanged. The request is not modified.
//
// Errors are gRPC statuses: INVALID_ARGUMENT for a malformed old payload,
// INTERNAL when a rewrite panics or returns nil.
func (u *Upcaster) Execute(request *angzarrpb.UpcastRequest) (resp *angzarrpb.UpcastResponse, err error) {
	what := "upcast"
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, status.Errorf(codes.Internal, "upcaster: %s panicked: %v", what, r)
		}
	}()
	resp = &angzarrpb.UpcastResponse{Events: make([]*angzarrpb.EventPage, 0, len(request.GetEvents()))}
	for i, p := range request.GetEvents() {
		ev := p.GetEvent()
		m, ok := u.maps[protoreflect.FullName(TypeName(ev.GetTypeUrl()))]
		if ev == nil || !ok {
			resp.Events = append(resp.Events, proto.Clone(p).(*angzarrpb.EventPage))
			continue
		}
		name := m.typ.Descriptor().FullName()
		what = fmt.Sprintf("rewrite of %s (event #%d)", name, i)
		old := m.typ.New().Interface()
		if err := proto.Unmarshal(ev.GetValue(), old); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "upcaster: malformed %s (event #%d): %v", name, i, err)
		}
		current := m.fn(old)
		if current == nil || !current.ProtoReflect().IsValid() {
			return nil, status.Errorf(codes.Internal, "upcaster: %s returned nil", what)
		}
		packed, err := Pack(current)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "upcaster: %s does not marshal: %v", what, err)
		}
		out := proto.Clone(p).(*angzarrpb.EventPage)
		out.Payload = &angzarrpb.EventPage_Event{Event: packed}
		resp.Events = append(resp.Events, out)
	}
	return resp, nil
}
