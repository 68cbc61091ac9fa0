// The angzarr C++ client: everything but the test helpers.
//
//   angzarr/any.hpp        pack / unpack / type URLs (deterministic encoding)
//   angzarr/errors.hpp     Error, CommandRejected, ensure
//   angzarr/events.hpp     Events builder
//   angzarr/aggregate.hpp  Aggregate<State>, CommandHandler, next_sequence
//   angzarr/server.hpp     HandlerService, Server, serve
//   angzarr/testing.hpp    given / when / then (include it in tests)
//   angzarr/gherkin.hpp    a small Gherkin reader and step runner (tests)
#pragma once

#include "angzarr/aggregate.hpp"
#include "angzarr/any.hpp"
#include "angzarr/errors.hpp"
#include "angzarr/events.hpp"
#include "angzarr/server.hpp"
