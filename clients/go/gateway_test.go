package angzarr_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
)

// fakeGateway answers by command.cover.domain:
//   - "flaky": the first call of a request id is an unknown outcome
//     (DEADLINE_EXCEEDED + `angzarr-outcome: unknown` trailer), then success;
//   - "slow": plain DEADLINE_EXCEEDED first, then success;
//   - "down": UNAVAILABLE first, then success;
//   - "reject": always FAILED_PRECONDITION; "broken": always INTERNAL;
//   - anything else: success (the response echoes the cover).
type fakeGateway struct {
	angzarrpb.UnimplementedCommandHandlerCoordinatorServiceServer
	mu    sync.Mutex
	calls []call
}

type call struct{ domain, requestID string }

func (f *fakeGateway) ids(domain string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if c.domain == domain {
			out = append(out, c.requestID)
		}
	}
	return out
}

func (f *fakeGateway) HandleCommand(ctx context.Context, req *angzarrpb.CommandRequest) (*angzarrpb.CommandResponse, error) {
	domain := req.GetCommand().GetCover().GetDomain()
	md, _ := metadata.FromIncomingContext(ctx)
	id := ""
	if v := md.Get(angzarr.RequestIDHeader); len(v) > 0 {
		id = v[0]
	}
	f.mu.Lock()
	seen := 0
	for _, c := range f.calls {
		if c.domain == domain && c.requestID == id {
			seen++
		}
	}
	f.calls = append(f.calls, call{domain, id})
	f.mu.Unlock()
	first := seen == 0
	switch {
	case domain == "reject":
		return nil, status.Error(codes.FailedPrecondition, "insufficient funds")
	case domain == "broken":
		return nil, status.Error(codes.Internal, "boom")
	case first && domain == "flaky":
		if err := grpc.SetTrailer(ctx, metadata.Pairs(angzarr.OutcomeHeader, "unknown")); err != nil {
			return nil, err
		}
		return nil, status.Error(codes.DeadlineExceeded, "outcome unknown: no decision within 5s")
	case first && domain == "slow":
		return nil, status.Error(codes.DeadlineExceeded, "no decision within 5s")
	case first && domain == "down":
		return nil, status.Error(codes.Unavailable, "log unavailable")
	}
	return &angzarrpb.CommandResponse{Events: &angzarrpb.EventBook{Cover: req.GetCommand().GetCover()}}, nil
}

func startFakeGateway(t *testing.T) (*fakeGateway, *angzarr.Gateway) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeGateway{}
	srv := grpc.NewServer()
	angzarrpb.RegisterCommandHandlerCoordinatorServiceServer(srv, fake)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	gw, err := angzarr.DialGateway(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gw.Close()
		srv.GracefulStop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return fake, gw
}

func commandTo(domain string) *angzarrpb.CommandRequest {
	return &angzarrpb.CommandRequest{Command: &angzarrpb.CommandBook{Cover: &angzarrpb.Cover{Domain: domain}}}
}

var fastRetry = angzarr.RetryPolicy{Attempts: 5, Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGatewayRetriesUnknownOutcomeWithTheSameID(t *testing.T) {
	fake, gw := startFakeGateway(t)
	resp, err := gw.SendWithRetry(testContext(t), commandTo("flaky"), "", fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetEvents().GetCover().GetDomain(); got != "flaky" {
		t.Fatalf("response for %q", got)
	}
	ids := fake.ids("flaky")
	if len(ids) != 2 || ids[0] != ids[1] || ids[0] == "" {
		t.Fatalf("calls carried %q, want the same id twice", ids)
	}
}

func TestGatewaySendReportsUnknownOutcome(t *testing.T) {
	fake, gw := startFakeGateway(t)
	ctx := testContext(t)
	_, err := gw.Send(ctx, commandTo("flaky"), "order-42")
	var gerr *angzarr.GatewayError
	if !errors.As(err, &gerr) || !errors.Is(err, angzarr.ErrOutcomeUnknown) || errors.Is(err, angzarr.ErrRejected) {
		t.Fatalf("want an unknown outcome, got %v", err)
	}
	if gerr.Code != codes.DeadlineExceeded || gerr.RequestID != "order-42" || !gerr.Retryable() ||
		status.Code(err) != codes.DeadlineExceeded || !regexp.MustCompile(`^outcome unknown`).MatchString(gerr.Message) {
		t.Fatalf("unexpected %+v", gerr)
	}
	if _, err := gw.Send(ctx, commandTo("flaky"), gerr.RequestID); err != nil {
		t.Fatalf("retry with the same id: %v", err)
	}
	if ids := fake.ids("flaky"); len(ids) != 2 || ids[1] != "order-42" {
		t.Fatalf("calls carried %q", ids)
	}
}

func TestGatewayPlainDeadlineExceededIsUnknown(t *testing.T) {
	fake, gw := startFakeGateway(t)
	if _, err := gw.Send(testContext(t), commandTo("slow"), "slow-1"); !errors.Is(err, angzarr.ErrOutcomeUnknown) {
		t.Fatalf("want an unknown outcome, got %v", err)
	}
	if _, err := gw.SendWithRetry(testContext(t), commandTo("slow"), "slow-2", fastRetry); err != nil {
		t.Fatal(err)
	}
	if ids := fake.ids("slow"); len(ids) != 3 || ids[1] != "slow-2" || ids[2] != "slow-2" {
		t.Fatalf("calls carried %q", ids)
	}
}

func TestGatewayRetriesUnavailable(t *testing.T) {
	fake, gw := startFakeGateway(t)
	if _, err := gw.SendWithRetry(testContext(t), commandTo("down"), "down-1", fastRetry); err != nil {
		t.Fatal(err)
	}
	if ids := fake.ids("down"); len(ids) != 2 || ids[0] != "down-1" || ids[1] != "down-1" {
		t.Fatalf("calls carried %q", ids)
	}
}

func TestGatewayDoesNotRetryRejection(t *testing.T) {
	fake, gw := startFakeGateway(t)
	_, err := gw.SendWithRetry(testContext(t), commandTo("reject"), "", fastRetry)
	var gerr *angzarr.GatewayError
	if !errors.As(err, &gerr) || gerr.Kind != angzarr.KindRejected || !errors.Is(err, angzarr.ErrRejected) {
		t.Fatalf("want a rejection, got %v", err)
	}
	if gerr.Code != codes.FailedPrecondition || gerr.Message != "insufficient funds" || gerr.Retryable() {
		t.Fatalf("unexpected %+v", gerr)
	}
	if n := len(fake.ids("reject")); n != 1 {
		t.Fatalf("%d calls, want exactly 1", n)
	}
}

func TestGatewayDoesNotRetryOtherErrors(t *testing.T) {
	fake, gw := startFakeGateway(t)
	_, err := gw.SendWithRetry(testContext(t), commandTo("broken"), "", fastRetry)
	if !errors.Is(err, angzarr.ErrTransport) || status.Code(err) != codes.Internal {
		t.Fatalf("want INTERNAL transport error, got %v", err)
	}
	if n := len(fake.ids("broken")); n != 1 {
		t.Fatalf("%d calls, want exactly 1", n)
	}
}

func TestGatewayAttemptsRunOut(t *testing.T) {
	fake, gw := startFakeGateway(t)
	policy := fastRetry
	policy.Attempts = 1
	_, err := gw.SendWithRetry(testContext(t), commandTo("flaky"), "once-only", policy)
	var gerr *angzarr.GatewayError
	if !errors.As(err, &gerr) || gerr.Kind != angzarr.KindOutcomeUnknown || gerr.RequestID != "once-only" {
		t.Fatalf("want the last unknown outcome, got %v", err)
	}
	if n := len(fake.ids("flaky")); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestGatewayPassesExplicitRequestID(t *testing.T) {
	fake, gw := startFakeGateway(t)
	if _, err := gw.Send(testContext(t), commandTo("echo"), "client-chosen:42"); err != nil {
		t.Fatal(err)
	}
	if ids := fake.ids("echo"); len(ids) != 1 || ids[0] != "client-chosen:42" {
		t.Fatalf("calls carried %q", ids)
	}
}

func TestGatewayGeneratesDistinctIDs(t *testing.T) {
	fake, gw := startFakeGateway(t)
	for range 2 {
		if _, err := gw.Send(testContext(t), commandTo("echo"), ""); err != nil {
			t.Fatal(err)
		}
	}
	ids := fake.ids("echo")
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if len(ids) != 2 || ids[0] == ids[1] || !uuid4.MatchString(ids[0]) || !uuid4.MatchString(ids[1]) {
		t.Fatalf("generated ids %q", ids)
	}
}

func TestGatewayRefusesBadRequestIDs(t *testing.T) {
	fake, gw := startFakeGateway(t)
	long := make([]byte, angzarr.MaxRequestIDLen+1)
	for i := range long {
		long[i] = 'x'
	}
	for _, bad := range []string{string(long), "naïve", "line\nbreak"} {
		if _, err := gw.Send(testContext(t), commandTo("echo"), bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	if n := len(fake.ids("echo")); n != 0 {
		t.Fatalf("%d calls, want none", n)
	}
}

func TestGatewayUnreachableIsRetryableTransportError(t *testing.T) {
	gw, err := angzarr.DialGateway("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	policy := fastRetry
	policy.Attempts = 2
	_, err = gw.SendWithRetry(testContext(t), commandTo("x"), "", policy)
	var gerr *angzarr.GatewayError
	if !errors.As(err, &gerr) || gerr.Kind != angzarr.KindTransport || gerr.Code != codes.Unavailable || !gerr.Retryable() {
		t.Fatalf("want UNAVAILABLE, got %v", err)
	}
}
