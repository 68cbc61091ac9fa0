package angzarr

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Rejection is a command refused by business rules. It reaches the caller as
// gRPC FAILED_PRECONDITION with Reason as the message, and nothing is written.
type Rejection struct {
	Reason string
}

func (r *Rejection) Error() string { return r.Reason }

// GRPCStatus makes a Rejection a FAILED_PRECONDITION status for grpc-go and
// status.FromError.
func (r *Rejection) GRPCStatus() *status.Status {
	return status.New(codes.FailedPrecondition, r.Reason)
}

// Rejected refuses a command with a reason the caller will read.
func Rejected(reason string) error { return &Rejection{Reason: reason} }

// Rejectedf is [Rejected] with a formatted reason.
func Rejectedf(format string, args ...any) error {
	return &Rejection{Reason: fmt.Sprintf(format, args...)}
}

// Ensure is nil when cond holds and Rejected(reason) otherwise:
//
//	if err := angzarr.Ensure(amount > 0, "amount must be positive"); err != nil {
//		return nil, err
//	}
func Ensure(cond bool, reason string) error {
	if cond {
		return nil
	}
	return Rejected(reason)
}
