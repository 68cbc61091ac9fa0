package angzarr_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
	examplespb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

// serveComponents serves components on 127.0.0.1:0 and returns a connection.
func serveComponents(t *testing.T, components ...angzarr.Component) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := angzarr.NewServer(components)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.GracefulStop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return conn
}

func TestAggregateProjectorAndSagaOnOneServer(t *testing.T) {
	l := newLedger()
	proj := ledgerProjector(l).Speculative(func(b *angzarrpb.EventBook) (proto.Message, error) {
		return wrapperspb.Int64(int64(len(b.GetPages()))), nil
	})
	conn := serveComponents(t, wallet(), proj, reserveOnJoin())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The aggregate.
	handlers := angzarrpb.NewCommandHandlerServiceClient(conn)
	resp, err := handlers.Handle(ctx, request(testCover, &angzarrpb.EventBook{Cover: testCover}, angzarr.MustPack(&examplespb.DepositFunds{Amount: usd(5)})))
	if err != nil || len(resp.GetEvents().GetPages()) != 2 {
		t.Fatalf("aggregate: %v %v", resp, err)
	}

	// The projector, fed the aggregate's events.
	projector := angzarrpb.NewProjectorServiceClient(conn)
	events := resp.GetEvents()
	out, err := projector.Handle(ctx, events)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(out.GetCover(), testCover) || out.GetProjector() != "ledger" || out.GetSequence() != 1 || viewOf(t, out) != 5 {
		t.Fatalf("projection %v", out)
	}
	spec, err := projector.HandleSpeculative(ctx, events)
	if err != nil || viewOf(t, spec) != 2 || spec.GetSequence() != 1 {
		t.Fatalf("speculative: %v %v", spec, err)
	}
	if len(l.applied) != 1 {
		t.Fatalf("applied %v", l.applied)
	}
	_, err = projector.Handle(ctx, book(testCover, page(0, &examplespb.FundsWithdrawn{Amount: usd(999)})))
	wantCode(t, err, codes.Internal, "panicked")
	_, err = projector.Handle(ctx, book(testCover, page(0, &examplespb.FundsWithdrawn{Amount: usd(666)})))
	wantCode(t, err, codes.Internal, "read model on fire")

	// The saga.
	saga := angzarrpb.NewSagaServiceClient(conn)
	reaction, err := saga.Handle(ctx, sagaRequest(page(3, &examplespb.PlayerJoined{PlayerRoot: playerA, BuyInAmount: 100})))
	if err != nil {
		t.Fatal(err)
	}
	if len(reaction.GetCommands()) != 2 || !proto.Equal(reaction.GetCommands()[0],
		angzarr.Command("player", playerA, &examplespb.ReserveFunds{Amount: usd(100), TableRoot: tableID[:]})) {
		t.Fatalf("saga response %v", reaction)
	}
	_, err = saga.Handle(ctx, sagaRequest(page(0, &examplespb.PlayerLeft{PlayerRoot: playerA, ChipsCashedOut: 999})))
	wantCode(t, err, codes.Internal, "panicked")
	_, err = saga.Handle(ctx, &angzarrpb.SagaHandleRequest{})
	wantCode(t, err, codes.InvalidArgument, "no source")

	// Everything still serves after the panics.
	if _, err := handlers.Handle(ctx, request(testCover, nil, angzarr.MustPack(&examplespb.SitIn{}))); err != nil {
		t.Fatalf("aggregate after panics: %v", err)
	}
	if _, err := projector.Handle(ctx, events); err != nil {
		t.Fatalf("projector after panics: %v", err)
	}
	if _, err := saga.Handle(ctx, sagaRequest()); err != nil {
		t.Fatalf("saga after panics: %v", err)
	}
}

// A server hosting only a projector registers only ProjectorService.
func TestProjectorOnlyServer(t *testing.T) {
	conn := serveComponents(t, angzarr.NewProjector("bare"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	out, err := angzarrpb.NewProjectorServiceClient(conn).Handle(ctx, book(testCover, page(2, &examplespb.FundsDeposited{})))
	if err != nil || out.GetSequence() != 2 || out.GetProjection() != nil {
		t.Fatalf("projection %v %v", out, err)
	}
	_, err = angzarrpb.NewProjectorServiceClient(conn).HandleSpeculative(ctx, book(testCover))
	wantCode(t, err, codes.Unimplemented, "does not project speculatively")
	// Only what is hosted is registered.
	_, err = angzarrpb.NewCommandHandlerServiceClient(conn).Handle(ctx, request(testCover, nil, angzarr.MustPack(&examplespb.SitIn{})))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("CommandHandlerService on a projector-only server: %v", err)
	}
	_, err = angzarrpb.NewSagaServiceClient(conn).Handle(ctx, sagaRequest())
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("SagaService on a projector-only server: %v", err)
	}
}

func TestComponentsRefused(t *testing.T) {
	p, s := angzarr.NewProjector("p"), angzarr.NewSaga("s")
	for name, tc := range map[string]struct {
		components []angzarr.Component
		want       string
	}{
		"two projectors":  {[]angzarr.Component{p, angzarr.NewProjector("q")}, `two projectors ("p", "q")`},
		"two sagas":       {[]angzarr.Component{s, angzarr.NewSaga("t")}, `two sagas ("s", "t")`},
		"duplicate":       {[]angzarr.Component{wallet(), p, wallet()}, `domain "wallet" hosted twice`},
		"not a component": {[]angzarr.Component{p, "player"}, "component #1 is a string"},
		"nil projector":   {[]angzarr.Component{(*angzarr.Projector)(nil)}, "component #0 is a nil projector"},
		"nil":             {[]angzarr.Component{nil}, "component #0 is a <nil>"},
		"two pms":         {[]angzarr.Component{handFlow(), angzarr.NewProcessManager("other", flowStates)}, `two process managers ("hand-flow", "other")`},
		"two upcasters":   {[]angzarr.Component{angzarr.NewUpcaster(), p, angzarr.NewUpcaster()}, "two upcasters"},
		"nil pm":          {[]angzarr.Component{(*angzarr.ProcessManager[*examplespb.HandFlowState])(nil)}, "component #0 is a nil process manager"},
		"nil upcaster":    {[]angzarr.Component{(*angzarr.Upcaster)(nil)}, "component #0 is a nil upcaster"},
	} {
		err := angzarr.Register(grpc.NewServer(), tc.components...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Register: %v", name, err)
			// Serve would start serving what Register accepted and never return.
			continue
		}
		if err := angzarr.Serve("127.0.0.1:0", tc.components...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Serve: %v", name, err)
		}
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), tc.want) {
					t.Errorf("%s: NewServer panic %v", name, r)
				}
			}()
			angzarr.NewServer(tc.components)
		}()
	}
	// Register on an existing server.
	if err := angzarr.Register(grpc.NewServer(), wallet(), p, s, handFlow(), angzarr.NewUpcaster()); err != nil {
		t.Fatal(err)
	}
}

// A process manager and an upcaster over gRPC, next to an aggregate.
func TestProcessManagerAndUpcasterOverGRPC(t *testing.T) {
	conn := serveComponents(t, handFlow(), playerUpcaster(), wallet())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pm := angzarrpb.NewProcessManagerServiceClient(conn)
	trigger := tableBook(page(3, handStarted()))
	prep, err := pm.Prepare(ctx, &angzarrpb.ProcessManagerPrepareRequest{Trigger: trigger})
	if err != nil || len(prep.GetDestinations()) != 1 || prep.GetDestinations()[0].GetDomain() != "hand" {
		t.Fatalf("prepare: %v %v", prep, err)
	}
	dealt, err := pm.Handle(ctx, &angzarrpb.ProcessManagerHandleRequest{Trigger: trigger, ProcessState: &angzarrpb.EventBook{Cover: flowCover},
		DestinationSequences: map[string]uint32{"hand": 0}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dealt.GetCommands()) != 1 || !angzarr.Is(dealt.GetCommands()[0].GetPages()[0].GetCommand(), &examplespb.DealCards{}) ||
		len(dealt.GetProcessEvents().GetPages()) != 1 || !proto.Equal(dealt.GetProcessEvents().GetCover(), flowCover) {
		t.Fatalf("dealt %v", dealt)
	}
	ended, err := pm.Handle(ctx, &angzarrpb.ProcessManagerHandleRequest{
		Trigger:      book(handCover, page(9, &examplespb.HandComplete{})),
		ProcessState: dealt.GetProcessEvents(),
	})
	if err != nil || len(ended.GetCommands()) != 1 || ended.GetCommands()[0].GetCover().GetDomain() != "table" ||
		ended.GetProcessEvents().GetPages()[0].GetHeader().GetSequence() != 1 || stateIn(t, ended.GetProcessEvents()).GetPhase() != "ended" {
		t.Fatalf("ended: %v %v", ended, err)
	}
	_, err = pm.Handle(ctx, &angzarrpb.ProcessManagerHandleRequest{Trigger: tableBook(page(0, &examplespb.PlayerJoined{SeatPosition: 999}))})
	wantCode(t, err, codes.Internal, "panicked")
	_, err = pm.Handle(ctx, &angzarrpb.ProcessManagerHandleRequest{})
	wantCode(t, err, codes.InvalidArgument, "no trigger")

	upcaster := angzarrpb.NewUpcasterServiceClient(conn)
	up, err := upcaster.Upcast(ctx, &angzarrpb.UpcastRequest{Domain: "player", Events: []*angzarrpb.EventPage{
		page(0, &examplespb.PlayerRegisteredV1{Name: "ann", Email: "a@x"}), page(1, &examplespb.FundsDeposited{Amount: usd(5)}),
	}})
	if err != nil || len(up.GetEvents()) != 2 ||
		!proto.Equal(up.GetEvents()[0], page(0, &examplespb.PlayerRegistered{DisplayName: "ann", Email: "a@x"})) ||
		!proto.Equal(up.GetEvents()[1], page(1, &examplespb.FundsDeposited{Amount: usd(5)})) {
		t.Fatalf("upcast: %v %v", up, err)
	}
	_, err = upcaster.Upcast(ctx, &angzarrpb.UpcastRequest{Events: []*angzarrpb.EventPage{{Payload: &angzarrpb.EventPage_Event{
		Event: &anypb.Any{TypeUrl: angzarr.TypeURL(&examplespb.PlayerRegisteredV1{}), Value: []byte{0xff}}}}}})
	wantCode(t, err, codes.InvalidArgument, "malformed examples.PlayerRegisteredV1")
	_, err = upcaster.Upcast(ctx, &angzarrpb.UpcastRequest{Events: []*angzarrpb.EventPage{page(0, &examplespb.PlayerRegisteredV1{Name: "panic"})}})
	wantCode(t, err, codes.Internal, "panicked")

	// The aggregate still serves; nothing else is registered.
	if _, err := angzarrpb.NewCommandHandlerServiceClient(conn).Handle(ctx, request(testCover, nil, angzarr.MustPack(&examplespb.SitIn{}))); err != nil {
		t.Fatalf("aggregate: %v", err)
	}
	if _, err := angzarrpb.NewSagaServiceClient(conn).Handle(ctx, sagaRequest()); status.Code(err) != codes.Unimplemented {
		t.Fatalf("SagaService without a saga: %v", err)
	}
}

// A server hosting only a process manager, or only an upcaster, registers
// only its service.
func TestProcessManagerOrUpcasterOnlyServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pmOnly := serveComponents(t, handFlow())
	if _, err := angzarrpb.NewProcessManagerServiceClient(pmOnly).Prepare(ctx, &angzarrpb.ProcessManagerPrepareRequest{}); err != nil {
		t.Fatal(err)
	}
	upOnly := serveComponents(t, angzarr.NewUpcaster())
	if _, err := angzarrpb.NewUpcasterServiceClient(upOnly).Upcast(ctx, &angzarrpb.UpcastRequest{}); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"upcaster on pm server": func() error {
			_, err := angzarrpb.NewUpcasterServiceClient(pmOnly).Upcast(ctx, &angzarrpb.UpcastRequest{})
			return err
		}(),
		"aggregate on pm server": func() error {
			_, err := angzarrpb.NewCommandHandlerServiceClient(pmOnly).Replay(ctx, &angzarrpb.ReplayRequest{})
			return err
		}(),
		"pm on upcaster server": func() error {
			_, err := angzarrpb.NewProcessManagerServiceClient(upOnly).Handle(ctx, &angzarrpb.ProcessManagerHandleRequest{})
			return err
		}(),
		"aggregate on upcaster server": func() error {
			_, err := angzarrpb.NewCommandHandlerServiceClient(upOnly).Replay(ctx, &angzarrpb.ReplayRequest{})
			return err
		}(),
	} {
		if status.Code(err) != codes.Unimplemented || !strings.Contains(status.Convert(err).Message(), "unknown service") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
