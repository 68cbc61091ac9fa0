package angzarr_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
	examplespb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

// startServer serves handlers on 127.0.0.1:0 and returns a connected client.
func startServer(t *testing.T, handlers ...angzarr.CommandHandler) angzarrpb.CommandHandlerServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := angzarr.NewServer(handlers)
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
	return angzarrpb.NewCommandHandlerServiceClient(conn)
}

func TestOverGRPC(t *testing.T) {
	client := startServer(t, wallet())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	empty := &angzarrpb.EventBook{Cover: testCover}

	resp, err := client.Handle(ctx, request(testCover, empty, angzarr.MustPack(&examplespb.DepositFunds{Amount: usd(5)})))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetEvents().GetPages()); n != 2 {
		t.Fatalf("want 2 events, got %d", n)
	}

	check := func(name string, cmd *angzarrpb.ContextualCommand, want codes.Code) {
		t.Helper()
		_, err := client.Handle(ctx, cmd)
		if got := status.Code(err); got != want {
			t.Fatalf("%s: code %v, want %v (%v)", name, got, want, err)
		}
	}
	check("rejection", request(testCover, empty, angzarr.MustPack(&examplespb.DepositFunds{})), codes.FailedPrecondition)
	check("unknown command", request(testCover, empty, angzarr.MustPack(&examplespb.Card{})), codes.InvalidArgument)
	check("panic", request(testCover, empty, angzarr.MustPack(&examplespb.WithdrawFunds{})), codes.Internal)
	other := &angzarrpb.Cover{Domain: "table"}
	check("unknown domain", request(other, empty, angzarr.MustPack(&examplespb.DepositFunds{Amount: usd(1)})), codes.NotFound)

	// The server survived the panic, and a cover-less command reaches the only aggregate.
	resp, err = client.Handle(ctx, request(nil, empty, angzarr.MustPack(&examplespb.DepositFunds{Amount: usd(1)})))
	if err != nil || len(resp.GetEvents().GetPages()) != 2 {
		t.Fatalf("after the panic: %v %v", resp, err)
	}
	if msg := status.Convert(func() error {
		_, err := client.Handle(ctx, request(testCover, empty, angzarr.MustPack(&examplespb.DepositFunds{Amount: usd(-1)})))
		return err
	}()).Message(); msg != "amount must be positive" {
		t.Fatalf("rejection message %q", msg)
	}

	rep, err := client.Replay(ctx, &angzarrpb.ReplayRequest{Events: []*angzarrpb.EventPage{page(0, &examplespb.FundsDeposited{NewBalance: usd(4)})}})
	if err != nil {
		t.Fatal(err)
	}
	s := &examplespb.PlayerState{}
	if err := rep.GetState().UnmarshalTo(s); err != nil || s.GetBankroll().GetAmount() != 4 {
		t.Fatalf("replay state %v (%v)", s, err)
	}
}

// panicky is a hand-written CommandHandler whose Execute panics outside the
// aggregate's own recovery: the server's interceptor must catch it.
type panicky struct{}

func (panicky) Domain() string { return "panicky" }
func (panicky) Execute(*angzarrpb.ContextualCommand) (*angzarrpb.BusinessResponse, error) {
	panic("raw panic")
}
func (panicky) Replay(*angzarrpb.ReplayRequest) (*angzarrpb.ReplayResponse, error) {
	panic("raw panic")
}

func TestServerRecoversPanicsAndRoutesByDomain(t *testing.T) {
	client := startServer(t, wallet(), panicky{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.Handle(ctx, request(&angzarrpb.Cover{Domain: "panicky"}, nil, angzarr.MustPack(&examplespb.SitIn{})))
	if status.Code(err) != codes.Internal {
		t.Fatalf("want INTERNAL, got %v", err)
	}
	if _, err := client.Handle(ctx, request(testCover, nil, angzarr.MustPack(&examplespb.SitIn{}))); err != nil {
		t.Fatalf("wallet after a panic elsewhere: %v", err)
	}
	if _, err := client.Handle(ctx, request(nil, nil, angzarr.MustPack(&examplespb.SitIn{}))); status.Code(err) != codes.NotFound {
		t.Fatalf("cover-less command with two domains: %v", err)
	}
	if _, err := client.Replay(ctx, &angzarrpb.ReplayRequest{}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("replay with two domains: %v", err)
	}
}
