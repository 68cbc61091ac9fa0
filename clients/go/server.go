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
	angzarrkafkapb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr_kafka"
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

// ProjectorService is angzarr.ProjectorService over one [Projector] (the
// service carries no name to route by, so a server hosts at most one).
type ProjectorService struct {
	angzarrpb.UnimplementedProjectorServiceServer
	projector *Projector
}

var _ angzarrpb.ProjectorServiceServer = (*ProjectorService)(nil)

// NewProjectorService serves p.
func NewProjectorService(p *Projector) *ProjectorService {
	if p == nil {
		panic("angzarr: nil projector")
	}
	return &ProjectorService{projector: p}
}

// Handle applies a book: ProjectorService.Handle.
func (s *ProjectorService) Handle(_ context.Context, book *angzarrpb.EventBook) (*angzarrpb.Projection, error) {
	out, err := s.projector.Execute(book)
	logFailure(err, "projection failed", "projector", s.projector.Name())
	return out, err
}

// HandleSpeculative projects a book without side effects:
// ProjectorService.HandleSpeculative (UNIMPLEMENTED unless the projector has
// a speculative function).
func (s *ProjectorService) HandleSpeculative(_ context.Context, book *angzarrpb.EventBook) (*angzarrpb.Projection, error) {
	return s.projector.ExecuteSpeculative(book)
}

// ProjectorBatchService is angzarr_kafka.ProjectorBatchService over one
// [Projector]: the optional batch form of ProjectorService.Handle that a
// coordinator probes for (it keeps calling Handle one book at a time when
// the answer is UNIMPLEMENTED). Every server hosting a projector serves it
// beside ProjectorService.
type ProjectorBatchService struct {
	angzarrkafkapb.UnimplementedProjectorBatchServiceServer
	projector *Projector
}

var _ angzarrkafkapb.ProjectorBatchServiceServer = (*ProjectorBatchService)(nil)

// NewProjectorBatchService serves p's batches.
func NewProjectorBatchService(p *Projector) *ProjectorBatchService {
	if p == nil {
		panic("angzarr: nil projector")
	}
	return &ProjectorBatchService{projector: p}
}

// HandleBatch applies the books in order and answers one projection per
// book ([Projector.ExecuteBatch]): ProjectorBatchService.HandleBatch.
func (s *ProjectorBatchService) HandleBatch(_ context.Context, req *angzarrkafkapb.ProjectorBatch) (*angzarrkafkapb.ProjectionBatch, error) {
	out, err := s.projector.ExecuteBatch(req.GetBooks())
	if err != nil {
		logFailure(err, "batch projection failed", "projector", s.projector.Name(), "books", len(req.GetBooks()))
		return nil, err
	}
	return &angzarrkafkapb.ProjectionBatch{Projections: out}, nil
}

// SagaService is angzarr.SagaService over one [Saga] (the service carries
// no name to route by, so a server hosts at most one).
type SagaService struct {
	angzarrpb.UnimplementedSagaServiceServer
	saga *Saga
}

var _ angzarrpb.SagaServiceServer = (*SagaService)(nil)

// NewSagaService serves s.
func NewSagaService(s *Saga) *SagaService {
	if s == nil {
		panic("angzarr: nil saga")
	}
	return &SagaService{saga: s}
}

// Handle reacts to the source events: SagaService.Handle.
func (s *SagaService) Handle(_ context.Context, req *angzarrpb.SagaHandleRequest) (*angzarrpb.SagaResponse, error) {
	out, err := s.saga.Execute(req)
	logFailure(err, "saga reaction failed", "saga", s.saga.Name())
	return out, err
}

// ProcessManagerService is angzarr.ProcessManagerService over one process
// manager (the service carries no name to route by, so a server hosts at
// most one).
type ProcessManagerService struct {
	angzarrpb.UnimplementedProcessManagerServiceServer
	pm ProcessManagerHandler
}

var _ angzarrpb.ProcessManagerServiceServer = (*ProcessManagerService)(nil)

// NewProcessManagerService serves pm (e.g. a *[ProcessManager]).
func NewProcessManagerService(pm ProcessManagerHandler) *ProcessManagerService {
	if pm == nil || isNilPointer(pm) {
		panic("angzarr: nil process manager")
	}
	return &ProcessManagerService{pm: pm}
}

// Prepare names the destinations: ProcessManagerService.Prepare.
func (s *ProcessManagerService) Prepare(_ context.Context, req *angzarrpb.ProcessManagerPrepareRequest) (*angzarrpb.ProcessManagerPrepareResponse, error) {
	out, err := s.pm.ExecutePrepare(req)
	logFailure(err, "process manager prepare failed", "process_manager", s.pm.Name())
	return out, err
}

// Handle reacts to the trigger: ProcessManagerService.Handle.
func (s *ProcessManagerService) Handle(_ context.Context, req *angzarrpb.ProcessManagerHandleRequest) (*angzarrpb.ProcessManagerHandleResponse, error) {
	out, err := s.pm.Execute(req)
	logFailure(err, "process manager reaction failed", "process_manager", s.pm.Name())
	return out, err
}

// UpcasterService is angzarr.UpcasterService over one [Upcaster].
type UpcasterService struct {
	angzarrpb.UnimplementedUpcasterServiceServer
	upcaster *Upcaster
}

var _ angzarrpb.UpcasterServiceServer = (*UpcasterService)(nil)

// NewUpcasterService serves u.
func NewUpcasterService(u *Upcaster) *UpcasterService {
	if u == nil {
		panic("angzarr: nil upcaster")
	}
	return &UpcasterService{upcaster: u}
}

// Upcast rewrites old events: UpcasterService.Upcast.
func (s *UpcasterService) Upcast(_ context.Context, req *angzarrpb.UpcastRequest) (*angzarrpb.UpcastResponse, error) {
	out, err := s.upcaster.Execute(req)
	logFailure(err, "upcast failed", "domain", req.GetDomain())
	return out, err
}

func logFailure(err error, msg string, args ...any) {
	if err != nil {
		st := status.Convert(err)
		slog.Warn(msg, append(args, "code", st.Code(), "message", st.Message())...)
	}
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

// Component is what a server hosts: a [CommandHandler] (such as an
// *[Aggregate]), a *[Projector], a *[Saga], a [ProcessManagerHandler] (such
// as a *[ProcessManager]) or an *[Upcaster]. A server hosts any number of
// command handlers (one per domain) and at most one of each of the others;
// anything else is an error.
type Component = any

// hosted are components sorted by kind.
type hosted struct {
	handlers  []CommandHandler
	projector *Projector
	saga      *Saga
	pm        ProcessManagerHandler
	upcaster  *Upcaster
}

func sortComponents[C Component](components []C) (hosted, error) {
	var h hosted
	domains := map[string]bool{}
	for i, c := range components {
		switch c := any(c).(type) {
		case *Projector:
			if c == nil {
				return h, fmt.Errorf("angzarr: component #%d is a nil projector", i)
			}
			if h.projector != nil {
				return h, fmt.Errorf("angzarr: two projectors (%q, %q): a server hosts at most one", h.projector.Name(), c.Name())
			}
			h.projector = c
		case *Saga:
			if c == nil {
				return h, fmt.Errorf("angzarr: component #%d is a nil saga", i)
			}
			if h.saga != nil {
				return h, fmt.Errorf("angzarr: two sagas (%q, %q): a server hosts at most one", h.saga.Name(), c.Name())
			}
			h.saga = c
		case *Upcaster:
			if c == nil {
				return h, fmt.Errorf("angzarr: component #%d is a nil upcaster", i)
			}
			if h.upcaster != nil {
				return h, fmt.Errorf("angzarr: two upcasters: a server hosts at most one")
			}
			h.upcaster = c
		case ProcessManagerHandler:
			if isNilPointer(c) {
				return h, fmt.Errorf("angzarr: component #%d is a nil process manager", i)
			}
			if h.pm != nil {
				return h, fmt.Errorf("angzarr: two process managers (%q, %q): a server hosts at most one", h.pm.Name(), c.Name())
			}
			h.pm = c
		case CommandHandler:
			if domains[c.Domain()] {
				return h, fmt.Errorf("angzarr: domain %q hosted twice", c.Domain())
			}
			domains[c.Domain()] = true
			h.handlers = append(h.handlers, c)
		default:
			return h, fmt.Errorf("angzarr: component #%d is a %T, not a CommandHandler, *Projector, *Saga, process manager or *Upcaster", i, c)
		}
	}
	return h, nil
}

func (h hosted) register(srv grpc.ServiceRegistrar) {
	// CommandHandlerService also when nothing at all is hosted, as before
	// the other components existed.
	if len(h.handlers) > 0 || (h.projector == nil && h.saga == nil && h.pm == nil && h.upcaster == nil) {
		angzarrpb.RegisterCommandHandlerServiceServer(srv, NewService(h.handlers...))
	}
	if h.projector != nil {
		angzarrpb.RegisterProjectorServiceServer(srv, NewProjectorService(h.projector))
		angzarrkafkapb.RegisterProjectorBatchServiceServer(srv, NewProjectorBatchService(h.projector))
	}
	if h.saga != nil {
		angzarrpb.RegisterSagaServiceServer(srv, NewSagaService(h.saga))
	}
	if h.pm != nil {
		angzarrpb.RegisterProcessManagerServiceServer(srv, NewProcessManagerService(h.pm))
	}
	if h.upcaster != nil {
		angzarrpb.RegisterUpcasterServiceServer(srv, NewUpcasterService(h.upcaster))
	}
}

func (h hosted) logAttrs() []any {
	attrs := []any{"domains", NewService(h.handlers...).Domains()}
	if h.projector != nil {
		attrs = append(attrs, "projector", h.projector.Name())
	}
	if h.saga != nil {
		attrs = append(attrs, "saga", h.saga.Name())
	}
	if h.pm != nil {
		attrs = append(attrs, "process_manager", h.pm.Name())
	}
	if h.upcaster != nil {
		attrs = append(attrs, "upcaster", h.upcaster.OldTypes())
	}
	return attrs
}

// Register registers the services of components on srv (an existing
// grpc.Server): CommandHandlerService for the command handlers,
// ProjectorService and angzarr_kafka.ProjectorBatchService for a projector,
// SagaService for a saga,
// ProcessManagerService for a process manager, UpcasterService for an
// upcaster. It fails on a component that is none of these, a domain hosted
// twice, or two projectors, sagas, process managers or upcasters. Add [RecoverPanics] to srv's interceptors.
func Register(srv grpc.ServiceRegistrar, components ...Component) error {
	h, err := sortComponents(components)
	if err != nil {
		return err
	}
	h.register(srv)
	return nil
}

// NewServer is a grpc.Server hosting components (see [Component] and
// [Register]), with panics recovered; opts are added to the server's
// options. Both []CommandHandler and []Component are accepted:
//
//	angzarr.NewServer([]angzarr.Component{agg, projector, saga, pm, upcaster})
//
// It panics on components [Register] would refuse.
func NewServer[C Component](components []C, opts ...grpc.ServerOption) *grpc.Server {
	h, err := sortComponents(components)
	if err != nil {
		panic(err.Error())
	}
	opts = append([]grpc.ServerOption{grpc.ChainUnaryInterceptor(RecoverPanics)}, opts...)
	srv := grpc.NewServer(opts...)
	h.register(srv)
	return srv
}

// Serve listens on addr (e.g. "127.0.0.1:50051") and serves components
// (command handlers such as aggregates, a projector, a saga, a process
// manager, an upcaster) until the
// listener fails or the process ends.
func Serve(addr string, components ...Component) error {
	if _, err := sortComponents(components); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ServeListener(lis, components...)
}

// ServeListener serves components on an existing listener (e.g. one bound
// to port 0) until it fails.
func ServeListener(lis net.Listener, components ...Component) error {
	h, err := sortComponents(components)
	if err != nil {
		lis.Close()
		return err
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(RecoverPanics))
	h.register(srv)
	slog.Info("business logic serving", append([]any{"addr", lis.Addr().String()}, h.logAttrs()...)...)
	return srv.Serve(lis)
}
