// The angzarr C++ client: everything but the test helpers.
//
//   angzarr/any.hpp        pack / unpack / type URLs (deterministic encoding)
//   angzarr/errors.hpp     Error, CommandRejected, ensure
//   angzarr/events.hpp     Events builder
//   angzarr/aggregate.hpp  Aggregate<State>, CommandHandler, next_sequence
//   angzarr/projector.hpp  Projector (ProjectorService.Handle and
//                          ProjectorBatchService.HandleBatch without network)
//   angzarr/saga.hpp       Saga, command (SagaService.Handle without network)
//   angzarr/process_manager.hpp  ProcessManager<State>, Reaction, Trigger
//                          (ProcessManagerService without network)
//   angzarr/upcaster.hpp   Upcaster (UpcasterService.Upcast without network)
//   angzarr/gateway.hpp    Gateway: send commands to the coordinator, with an
//                          idempotency key (Rejected, OutcomeUnknown, TransportError)
//   angzarr/server.hpp     HandlerService, HostedProjector, HostedProjectorBatch, HostedSaga,
//                          HostedProcessManager, HostedUpcaster, Server, serve
//   angzarr/testing.hpp    given / when / then, event_book (include it in tests)
//   angzarr/gherkin.hpp    a small Gherkin reader and step runner (tests)
#pragma once

#include "angzarr/aggregate.hpp"
#include "angzarr/any.hpp"
#include "angzarr/errors.hpp"
#include "angzarr/events.hpp"
#include "angzarr/gateway.hpp"
#include "angzarr/process_manager.hpp"
#include "angzarr/projector.hpp"
#include "angzarr/saga.hpp"
#include "angzarr/server.hpp"
#include "angzarr/upcaster.hpp"
