package angzarr

import (
	"bytes"
	"fmt"
	"reflect"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
)

// SagaHandlerFunc reacts to one event with commands for other aggregates
// (none is fine), built with [Command]. cover is the source book's cover
// (never nil; a copy seen by this book's handlers only) and seq the event's
// sequence.
type SagaHandlerFunc func(event proto.Message, cover *angzarrpb.Cover, seq uint32) ([]*angzarrpb.CommandBook, error)

// Saga is a stateless reaction turning one domain's events into commands for
// other aggregates: handlers per event type, each called with (event,
// source cover, sequence).
//
//	saga := angzarr.NewSaga("reserve-on-join")
//	angzarr.React(saga, func(e *examplespb.PlayerJoined, cover *angzarrpb.Cover, seq uint32) ([]*angzarrpb.CommandBook, error) {
//		return []*angzarrpb.CommandBook{angzarr.Command("player", e.GetPlayerRoot(),
//			&examplespb.ReserveFunds{Amount: usd(e.GetBuyInAmount()), TableRoot: cover.GetRoot().GetValue()})}, nil
//	})
//
// The coordinator writes the returned commands in the same transaction as
// its consumer offset, so each reaction happens once; it stamps each
// command's correlation id and (unless the page has a header) a deferred
// sequence, so the target aggregate takes it at its current sequence.
// Register everything before serving; a Saga is then safe for concurrent use.
type Saga struct {
	name     string
	handlers eventHandlers[SagaHandlerFunc]
}

// NewSaga is a saga called name. It panics on an empty name.
func NewSaga(name string) *Saga {
	if name == "" {
		panic("angzarr: a saga needs a name")
	}
	return &Saga{name: name, handlers: newEventHandlers[SagaHandlerFunc]("saga " + name)}
}

// Name is the saga's name.
func (s *Saga) Name() string { return s.name }

func (s *Saga) owner() string { return s.handlers.owner }

// Handle registers fn as the reaction to prototype's event type (e.g.
// &examplespb.PlayerJoined{}); fn receives a *PlayerJoined. See [React] for
// the typed form. It panics if the type already has a handler.
func (s *Saga) Handle(prototype proto.Message, fn SagaHandlerFunc) *Saga {
	s.handlers.register(prototype, fn)
	return s
}

// React registers a typed reaction, dispatched on E's full proto name:
//
//	angzarr.React(saga, func(e *examplespb.PlayerJoined, cover *angzarrpb.Cover, seq uint32) ([]*angzarrpb.CommandBook, error) { ... })
func React[E any, PE interface {
	*E
	proto.Message
}](s *Saga, fn func(event PE, cover *angzarrpb.Cover, seq uint32) ([]*angzarrpb.CommandBook, error)) *Saga {
	return s.Handle(PE(new(E)), func(event proto.Message, cover *angzarrpb.Cover, seq uint32) ([]*angzarrpb.CommandBook, error) {
		return fn(event.(PE), cover, seq)
	})
}

// EventTypes are the full names of the event types reacted to, sorted.
func (s *Saga) EventTypes() []string { return s.handlers.types() }

// Execute reacts to request.source: the whole contract of SagaService.Handle,
// without any network. Each page, in order, goes to the handler of its event
// type (types without one, and no_commit pages, are passed over); the
// commands of all pages are returned in that order.
//
// Errors are gRPC statuses: INVALID_ARGUMENT for a request without a source,
// a page without a sequence or an inline event, or a malformed payload;
// INTERNAL when a handler fails or panics (an error carrying a status of its
// own, from status.Error, keeps it) or returns a command book the
// coordinator would refuse (no target domain, a root that is not a non-nil
// 16-byte UUID, not exactly one page with an inline command).
func (s *Saga) Execute(request *angzarrpb.SagaHandleRequest) (resp *angzarrpb.SagaResponse, err error) {
	what := "reaction"
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, status.Errorf(codes.Internal, "%s: %s panicked: %v", s.owner(), what, r)
		}
	}()

	source := request.GetSource()
	if source == nil {
		return nil, status.Errorf(codes.InvalidArgument, "%s: the request has no source event book", s.owner())
	}
	pages, err := s.handlers.pages(source)
	if err != nil {
		return nil, err
	}
	cover := handlerCover(source)
	resp = &angzarrpb.SagaResponse{}
	for _, d := range pages {
		event, fn, ok, err := s.handlers.decode(d)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		what = fmt.Sprintf("handler for %s at sequence %d", d.name, d.seq)
		commands, err := fn(event, cover, d.seq)
		if err != nil {
			return nil, componentError(s.owner(), what, err)
		}
		for i, c := range commands {
			if problem := commandProblem(c); problem != "" {
				return nil, status.Errorf(codes.Internal, "%s: %s returned a bad command book #%d: %s", s.owner(), what, i, problem)
			}
		}
		resp.Commands = append(resp.Commands, commands...)
	}
	return resp, nil
}

// commandProblem is why the coordinator would refuse c, "" if it would not.
func commandProblem(c *angzarrpb.CommandBook) string {
	switch {
	case c == nil:
		return "nil"
	case c.GetCover().GetDomain() == "":
		return "no target domain"
	case len(c.GetCover().GetRoot().GetValue()) != 16:
		return fmt.Sprintf("the root is %d bytes, not 16", len(c.GetCover().GetRoot().GetValue()))
	case bytes.Equal(c.GetCover().GetRoot().GetValue(), make([]byte, 16)):
		return "the root is the nil UUID"
	case len(c.GetPages()) != 1:
		return fmt.Sprintf("%d pages, exactly one is required", len(c.GetPages()))
	case c.GetPages()[0].GetCommand() == nil:
		return "the page has no inline command"
	}
	return ""
}

// Root is an aggregate root id as [Command] takes it: 16 bytes as an array
// (a github.com/google/uuid UUID is one), a slice (a bytes field such as
// PlayerJoined.player_root) or an *angzarrpb.UUID (e.g. cover.GetRoot()).
type Root interface {
	~[16]byte | ~[]byte | *angzarrpb.UUID
}

// Command is a command book sending msg to the aggregate root of domain, as
// a saga returns it: the cover (domain, root) and one page with the packed
// command and no header; the coordinator stamps the sequence and the
// correlation id. It panics (INTERNAL when in a saga handler) on an empty
// domain, a root that is not a non-nil 16-byte UUID, or a nil message.
func Command[R Root](domain string, root R, msg proto.Message) *angzarrpb.CommandBook {
	if domain == "" {
		panic("angzarr.Command: no target domain")
	}
	id := rootBytes(root)
	if len(id) != 16 {
		panic(fmt.Sprintf("angzarr.Command: a root is 16 bytes, got %d", len(id)))
	}
	if bytes.Equal(id, make([]byte, 16)) {
		panic("angzarr.Command: the root is the nil UUID")
	}
	packed, err := Pack(msg)
	if err != nil {
		panic(fmt.Sprintf("angzarr.Command: %v", err))
	}
	return &angzarrpb.CommandBook{
		Cover: &angzarrpb.Cover{Domain: domain, Root: &angzarrpb.UUID{Value: id}},
		Pages: []*angzarrpb.CommandPage{{Payload: &angzarrpb.CommandPage_Command{Command: packed}}},
	}
}

// rootBytes is a copy of root's bytes.
func rootBytes[R Root](root R) []byte {
	if u, ok := any(root).(*angzarrpb.UUID); ok {
		return bytes.Clone(u.GetValue())
	}
	v := reflect.ValueOf(root)
	switch v.Kind() {
	case reflect.Array:
		b := make([]byte, v.Len())
		reflect.Copy(reflect.ValueOf(b), v)
		return b
	case reflect.Slice:
		return bytes.Clone(v.Bytes())
	}
	panic(fmt.Sprintf("angzarr.Command: unsupported root type %T", root)) // unreachable: Root's type set
}
