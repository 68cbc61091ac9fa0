// Package angzarr writes angzarr business logic in Go.
//
// An aggregate is a state type (a proto message), appliers that fold events
// into it and handlers that turn a command into events or a rejection:
//
//	agg := angzarr.NewAggregate("player", func() *examplespb.PlayerState { return &examplespb.PlayerState{} })
//	angzarr.On(agg, handleDepositFunds)   // func(*examplespb.DepositFunds, *examplespb.PlayerState, uint32) ([]proto.Message, error)
//	angzarr.Apply(agg, func(s *examplespb.PlayerState, e *examplespb.FundsDeposited) { s.Bankroll = e.NewBalance })
//	log.Fatal(angzarr.Serve("127.0.0.1:50051", agg))
//
// The coordinator does everything else: loading history, checking
// sequences, persisting, snapshots. Handlers are plain functions and
// [Aggregate.Execute] is pure, so a test needs no framework running: see the
// angzarrtest package.
//
// A [Projector] applies events to a read model (ProjectorService, and
// angzarr_kafka.ProjectorBatchService for many books per call) and a
// [Saga] turns events into commands for other aggregates (SagaService), built
// with [Command]; one server hosts aggregates, a projector and a saga:
//
//	angzarr.Serve("127.0.0.1:50051", agg, projector, saga)
//
// A [ProcessManager] is a saga with event-sourced state of its own
// (ProcessManagerService) and an [Upcaster] rewrites old event shapes into
// current ones (UpcasterService); a server hosts at most one of each too.
//
// Errors are gRPC statuses: a [Rejected] reason is FAILED_PRECONDITION, an
// unknown command type or a malformed payload INVALID_ARGUMENT, and any other
// handler error or panic INTERNAL.
//
// A [Gateway] sends commands to the coordinator
// (CommandHandlerCoordinatorService). Every send carries an idempotency key,
// so an unknown outcome is retried safely with the same id:
//
//	gw, err := angzarr.DialGateway("127.0.0.1:1313")
//	resp, err := gw.SendWithRetry(ctx, req, "", angzarr.DefaultRetry)
package angzarr
