package angzarr

// Sending commands to the gateway (angzarr.CommandHandlerCoordinatorService).
//
// Why a client at all: a command sent over a network can fail after it was
// committed, and a blind retry would run it twice. The gateway's answer is an
// idempotency key: every call carries `angzarr-request-id` metadata, and
// within the configured window the partition owner answers a repeated id with
// the original outcome and writes nothing twice. So Send always sends an id
// (a fresh UUIDv4 unless the caller picks one), failures say what to do next
// (rejected: don't retry; outcome unknown: retry with the same id), and
// SendWithRetry does the retrying.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
)

const (
	// RequestIDHeader is the request metadata key of the idempotency key.
	RequestIDHeader = "angzarr-request-id"
	// OutcomeHeader is the response metadata key the gateway sets to
	// "unknown" when it cannot tell whether a command committed.
	OutcomeHeader = "angzarr-outcome"
	// MaxRequestIDLen is the longest request id the gateway accepts.
	MaxRequestIDLen = 128
)

// GatewayErrorKind says what a caller should do about a failed send.
type GatewayErrorKind int

const (
	// KindTransport: anything else (unreachable gateway, INTERNAL, a
	// cancelled context, ...). Retryable only when the code is UNAVAILABLE.
	KindTransport GatewayErrorKind = iota
	// KindRejected: the command was refused (business rule, bad request,
	// sequence mismatch, ...). Nothing was written; never retry.
	KindRejected
	// KindOutcomeUnknown: the gateway could not learn whether the command
	// committed (DEADLINE_EXCEEDED, with or without `angzarr-outcome:
	// unknown`). Not a rejection: retry with the same RequestID.
	KindOutcomeUnknown
)

func (k GatewayErrorKind) String() string {
	switch k {
	case KindRejected:
		return "rejected"
	case KindOutcomeUnknown:
		return "outcome unknown"
	default:
		return "transport error"
	}
}

// Sentinels for errors.Is: errors.Is(err, angzarr.ErrOutcomeUnknown).
var (
	ErrRejected       = errors.New("angzarr: command rejected")
	ErrOutcomeUnknown = errors.New("angzarr: command outcome unknown")
	ErrTransport      = errors.New("angzarr: transport error")
)

// GatewayError is every error Send and SendWithRetry return for a call that
// was made: the kind, the gRPC status and the request id it was sent with.
type GatewayError struct {
	Kind      GatewayErrorKind
	Code      codes.Code
	Message   string
	RequestID string
	Err       error // the grpc-go error
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("%s: %s: %s (request id %s)", e.Kind, e.Code, e.Message, e.RequestID)
}

func (e *GatewayError) Unwrap() error { return e.Err }

// Is matches ErrRejected, ErrOutcomeUnknown or ErrTransport by kind.
func (e *GatewayError) Is(target error) bool {
	switch target {
	case ErrRejected:
		return e.Kind == KindRejected
	case ErrOutcomeUnknown:
		return e.Kind == KindOutcomeUnknown
	case ErrTransport:
		return e.Kind == KindTransport
	}
	return false
}

// GRPCStatus keeps status.Code(err) working.
func (e *GatewayError) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// Retryable is true for an unknown outcome and for UNAVAILABLE: retrying
// with the same request id is then safe and may succeed.
func (e *GatewayError) Retryable() bool {
	return e.Kind == KindOutcomeUnknown || (e.Kind == KindTransport && e.Code == codes.Unavailable)
}

// Codes meaning the command was decided (or refused before it was logged):
// nothing was written and the same request would get the same answer.
func isRejection(c codes.Code) bool {
	switch c {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange, codes.NotFound,
		codes.AlreadyExists, codes.PermissionDenied, codes.Unauthenticated, codes.Aborted,
		codes.ResourceExhausted, codes.Unimplemented:
		return true
	}
	return false
}

func classify(err error, requestID string, md ...metadata.MD) *GatewayError {
	st := status.Convert(err)
	kind := KindTransport
	unknown := st.Code() == codes.DeadlineExceeded
	for _, m := range md {
		for _, v := range m.Get(OutcomeHeader) {
			unknown = unknown || v == "unknown"
		}
	}
	switch {
	case unknown:
		kind = KindOutcomeUnknown
	case isRejection(st.Code()):
		kind = KindRejected
	}
	return &GatewayError{Kind: kind, Code: st.Code(), Message: st.Message(), RequestID: requestID, Err: err}
}

// NewRequestID returns a fresh idempotency key (a random UUIDv4).
func NewRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func checkRequestID(id string) error {
	if id == "" || len(id) > MaxRequestIDLen {
		return fmt.Errorf("angzarr: request id must be 1..%d printable ASCII characters: %q", MaxRequestIDLen, id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < ' ' || id[i] > '~' {
			return fmt.Errorf("angzarr: request id must be 1..%d printable ASCII characters: %q", MaxRequestIDLen, id)
		}
	}
	return nil
}

// Gateway sends commands to angzarr.CommandHandlerCoordinatorService.
type Gateway struct {
	client angzarrpb.CommandHandlerCoordinatorServiceClient
	conn   *grpc.ClientConn // owned when made by DialGateway
}

// NewGateway uses an existing connection (the caller closes it).
func NewGateway(conn grpc.ClientConnInterface) *Gateway {
	return &Gateway{client: angzarrpb.NewCommandHandlerCoordinatorServiceClient(conn)}
}

// DialGateway connects to target ("host:port"); without options the
// connection is insecure (plaintext). Close releases it.
func DialGateway(target string, opts ...grpc.DialOption) (*Gateway, error) {
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, err
	}
	g := NewGateway(conn)
	g.conn = conn
	return g, nil
}

// Close closes the connection DialGateway made; it does nothing for NewGateway.
func (g *Gateway) Close() error {
	if g.conn == nil {
		return nil
	}
	return g.conn.Close()
}

// Send sends one command with `angzarr-request-id: requestID` ("" = a new
// UUIDv4). A failed call is a *GatewayError; ctx's deadline expiring is an
// unknown outcome (the command may still commit).
func (g *Gateway) Send(ctx context.Context, req *angzarrpb.CommandRequest, requestID string) (*angzarrpb.CommandResponse, error) {
	if requestID == "" {
		requestID = NewRequestID()
	}
	if err := checkRequestID(requestID); err != nil {
		return nil, err
	}
	var header, trailer metadata.MD
	ctx = metadata.AppendToOutgoingContext(ctx, RequestIDHeader, requestID)
	resp, err := g.client.HandleCommand(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		return nil, classify(err, requestID, header, trailer)
	}
	return resp, nil
}

// RetryPolicy bounds SendWithRetry.
type RetryPolicy struct {
	// Attempts in all, at least 1.
	Attempts int
	// Backoff is the pause before the first retry, doubled after each one
	// up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// AttemptTimeout, when set, bounds each attempt (expiry = unknown outcome).
	AttemptTimeout time.Duration
}

// DefaultRetry: 5 attempts, 100 ms doubling to at most 5 s.
var DefaultRetry = RetryPolicy{Attempts: 5, Backoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second}

// SendWithRetry is Send, repeated with the same request id after an unknown
// outcome or UNAVAILABLE. Rejections and other errors return at once; when
// attempts run out, or ctx ends, the last error is returned (its RequestID
// still lets a later retry find the original outcome).
func (g *Gateway) SendWithRetry(ctx context.Context, req *angzarrpb.CommandRequest, requestID string, policy RetryPolicy) (*angzarrpb.CommandResponse, error) {
	if requestID == "" {
		requestID = NewRequestID()
	}
	delay := policy.Backoff
	for attempt := 1; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if policy.AttemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, policy.AttemptTimeout)
		}
		resp, err := g.Send(actx, req, requestID)
		cancel()
		var gerr *GatewayError
		if err == nil || !errors.As(err, &gerr) || !gerr.Retryable() || attempt >= policy.Attempts {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		if delay *= 2; policy.MaxBackoff > 0 && delay > policy.MaxBackoff {
			delay = policy.MaxBackoff
		}
	}
}
