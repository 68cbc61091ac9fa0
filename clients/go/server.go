package angzarr

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
)

// Service is angzarr.CommandHandlerService over several aggregates, routed
// by the command's cover.domain.
type Service struct {
	angzarrpb.UnimplementedCommandHandlerServiceServer
	byDomain map[string]CommandHandler
}

var _ angzarrpb.CommandHandlerServiceServer = (*Service)(nil)

// NewService hosts handlers, one per domain. It panics on a duplicate domain.
func NewService(handlers ...CommandHandler) *Service {
	s := &Service{byDomain: map[string]CommandHandler{}}
	for _, h := range handlers {
		if _, dup := s.byDomain[h.Domain()]; dup {
			panic(fmt.Sprintf("angzarr: domain %q hosted twice", h.Domain()))
		}
		s.byDomain[h.Domain()] = h
	}
	return s
}

// Domains are the hosted domains, sorted.
func (s *Service) Domains() []string {
	d := make([]string, 0, len(s.byDomain))
	for k := range s.byDomain {
		d = append(d, k)
	}
	sort.Strings(d)
	return d
}

func (s *Service) route(domain string) (CommandHandler, error) {
	if h, ok := s.byDomain[domain]; ok {
		return h, nil
	}
	// A single-domain server accepts a cover-less command, as upstream's clients do.
	if domain == "" && len(s.byDomain) == 1 {
		for _, h := range s.byDomain {
			return h, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "no aggregate for domain `%s` here", domain)
}

// Handle decides on a command: CommandHandlerService.Handle.
func (s *Service) Handle(_ context.Context, req *angzarrpb.ContextualCommand) (*angzarrpb.BusinessResponse, error) {
	h, err := s.route(req.GetCommand().GetCover().GetDomain())
	if err != nil {
		return nil, err
	}
	resp, err := h.Execute(req)
	if err != nil {
		st := status.Convert(err)
		slog.Debug("command not accepted", "domain", h.Domain(), "code", st.Code(), "message", st.Message())
	}
	return resp, err
}

// Replay folds events onto a snapshot: CommandHandlerService.Replay. The
// request names no domain, so it needs a single-aggregate service.
func (s *Service) Replay(_ context.Context, req *angzarrpb.ReplayRequest) (*angzarrpb.ReplayResponse, error) {
	if len(s.byDomain) != 1 {
		return nil, status.Error(codes.Unimplemented, "replay needs a single-aggregate server")
	}
	for _, h := range s.byDomain {
		return h.Replay(req)
	}
	panic("unreachable")
}

// RecoverPanics is a unary interceptor turning a panic into INTERNAL, so a
// faulty handler never takes the server down.
func RecoverPanics(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, status.Errorf(codes.Internal, "%s panicked: %v", info.FullMethod, r)
		}
	}()
	return next(ctx, req)
}

// NewServer is a grpc.Server with the Service of handlers registered and
// panics recovered; opts are added to the server's options.
func NewServer(handlers []CommandHandler, opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{grpc.ChainUnaryInterceptor(RecoverPanics)}, opts...)
	srv := grpc.NewServer(opts...)
	angzarrpb.RegisterCommandHandlerServiceServer(srv, NewService(handlers...))
	return srv
}

// Serve listens on addr (e.g. "127.0.0.1:50051") and serves handlers until
// the listener fails or the process ends.
func Serve(addr string, handlers ...CommandHandler) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ServeListener(lis, handlers...)
}

// ServeListener serves handlers on an existing listener (e.g. one bound to
// port 0) until it fails.
func ServeListener(lis net.Listener, handlers ...CommandHandler) error {
	srv := NewServer(handlers)
	slog.Info("business logic serving", "addr", lis.Addr().String(), "domains", NewService(handlers...).Domains())
	return srv.Serve(lis)
}
