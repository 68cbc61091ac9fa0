// Aggregate<State>: the business logic of one domain, and the whole contract
// of angzarr.CommandHandlerService.Handle / Replay without any network.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/repeated_ptr_field.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "angzarr/any.hpp"
#include "angzarr/command_handler.pb.h"
#include "angzarr/errors.hpp"
#include "angzarr/events.hpp"
#include "angzarr/types.pb.h"

namespace angzarr {

/// What a server hosts: the business logic of one domain. `Aggregate<S>` is
/// one; a hand-written implementation may be another.
class CommandHandler {
 public:
  virtual ~CommandHandler() = default;

  /// The domain (aggregate type) served, e.g. "player".
  virtual const std::string& domain() const = 0;
  /// CommandHandlerService.Handle. Throws `Error` (its code is the gRPC status).
  virtual BusinessResponse execute(const ContextualCommand& request) const = 0;
  /// CommandHandlerService.Replay. Throws `Error`.
  virtual ReplayResponse replay(const ReplayRequest& request) const = 0;

  /// execute() as a gRPC status; never throws.
  grpc::Status handle(const ContextualCommand& request, BusinessResponse* response) const noexcept {
    return guarded("handle", [&] { *response = execute(request); });
  }
  /// replay() as a gRPC status; never throws.
  grpc::Status handle_replay(const ReplayRequest& request, ReplayResponse* response) const noexcept {
    return guarded("replay", [&] { *response = replay(request); });
  }

  /// Runs f, mapping what it throws to a status: `Error` keeps its code,
  /// anything else is INTERNAL.
  template <class F>
  static grpc::Status guarded(const char* what, F&& f) noexcept {
    try {
      try {
        f();
        return grpc::Status::OK;
      } catch (const Error& e) {
        return e.status();
      } catch (const std::exception& e) {
        return grpc::Status(grpc::StatusCode::INTERNAL, std::string(what) + " failed: " + e.what());
      } catch (...) {
        return grpc::Status(grpc::StatusCode::INTERNAL, std::string(what) + " failed: unknown exception");
      }
    } catch (...) {  // e.g. bad_alloc while building the message
      return grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
    }
  }
};

/// The sequence the next event of book gets: the coordinator sends it in
/// next_sequence; older coordinators did not, so fall back to the highest
/// page sequence + 1, the snapshot's + 1, or the number of pages.
inline uint32_t next_sequence(const EventBook& book) {
  if (book.next_sequence() > 0) return book.next_sequence();
  bool found = false;
  uint32_t max_seq = 0;
  for (const auto& page : book.pages()) {
    if (page.header().sequence_type_case() == PageHeader::kSequence) {
      if (!found || page.header().sequence() > max_seq) max_seq = page.header().sequence();
      found = true;
    }
  }
  if (found) return max_seq + 1;
  if (book.has_snapshot() && book.snapshot().has_state()) return book.snapshot().sequence() + 1;
  return static_cast<uint32_t>(book.pages_size());
}

namespace detail {
template <class>
inline constexpr bool always_false = false;

template <class R>
EventList to_event_list(R&& result) {
  using T = std::decay_t<R>;
  if constexpr (std::is_same_v<T, Events>) {
    return std::move(result).take();
  } else if constexpr (std::is_same_v<T, EventList>) {
    return std::move(result);
  } else if constexpr (std::is_base_of_v<google::protobuf::Message, T>) {
    EventList list;
    list.push_back(std::make_unique<T>(std::forward<R>(result)));
    return list;
  } else {
    static_assert(always_false<T>,
                  "a command handler returns angzarr::Events, "
                  "std::vector<std::unique_ptr<google::protobuf::Message>> or one event message");
  }
}
}  // namespace detail

/// The business logic of one domain: a state type (a generated message, e.g.
/// examples::PlayerState), the handlers of its commands and the appliers of
/// its events, each registered under its proto type's full name.
///
///     auto agg = angzarr::Aggregate<examples::PlayerState>("player")
///         .on<examples::DepositFunds>([](const examples::DepositFunds& cmd,
///                                        const examples::PlayerState& state, uint32_t seq) {
///           angzarr::ensure(cmd.amount().amount() > 0, "amount must be positive");
///           examples::FundsDeposited e;
///           ...
///           return angzarr::Events::one(e);
///         })
///         .apply<examples::FundsDeposited>([](examples::PlayerState& s, const examples::FundsDeposited& e) {
///           *s.mutable_bankroll() = e.new_balance();
///         });
///
/// A handler is `(const Cmd&, const State&, uint32_t seq) -> R` (or without
/// seq), R being `angzarr::Events`, an `EventList` or one event message; seq
/// is the sequence the first new event gets. It refuses a command by throwing
/// `CommandRejected`. Register everything before serving; an Aggregate is
/// then safe for concurrent use (execute is const and pure).
template <class State>
class Aggregate final : public CommandHandler {
  static_assert(std::is_base_of_v<google::protobuf::Message, State>,
                "the state of an Aggregate is a generated protobuf message");

 public:
  explicit Aggregate(std::string domain) : domain_(std::move(domain)) {}

  /// Registers the handler of command type Cmd. Throws std::logic_error if
  /// Cmd already has one.
  template <class Cmd, class F>
  Aggregate& on(F handler) & {
    static_assert(std::is_base_of_v<google::protobuf::Message, Cmd>, "Cmd must be a generated protobuf message");
    const std::string& name = full_name<Cmd>();
    if (handlers_.count(name)) {
      throw std::logic_error("angzarr: command " + name + " already has a handler in domain " + domain_);
    }
    Handler h;
    h.parse = [](const std::string& bytes) -> std::unique_ptr<google::protobuf::Message> {
      auto cmd = std::make_unique<Cmd>();
      if (!cmd->ParseFromString(bytes)) return nullptr;
      return cmd;
    };
    h.call = [fn = std::move(handler)](const google::protobuf::Message& cmd, const State& state,
                                       uint32_t seq) -> EventList {
      const Cmd& typed = static_cast<const Cmd&>(cmd);
      if constexpr (std::is_invocable_v<const F&, const Cmd&, const State&, uint32_t>) {
        return detail::to_event_list(fn(typed, state, seq));
      } else {
        static_assert(std::is_invocable_v<const F&, const Cmd&, const State&>,
                      "a command handler is (const Cmd&, const State&, uint32_t seq) or (const Cmd&, const State&)");
        return detail::to_event_list(fn(typed, state));
      }
    };
    handlers_.emplace(name, std::move(h));
    return *this;
  }
  template <class Cmd, class F>
  Aggregate&& on(F handler) && {
    on<Cmd>(std::move(handler));
    return std::move(*this);
  }

  /// Registers the applier of event type Evt: `(State&, const Evt&)`, folding
  /// the event into the state in place. Throws std::logic_error if Evt
  /// already has one. Event types without an applier leave the state as it
  /// is (old events may outlive the code that cared about them).
  template <class Evt, class F>
  Aggregate& apply(F applier) & {
    static_assert(std::is_base_of_v<google::protobuf::Message, Evt>, "Evt must be a generated protobuf message");
    static_assert(std::is_invocable_v<const F&, State&, const Evt&>, "an applier is (State&, const Evt&)");
    const std::string& name = full_name<Evt>();
    if (appliers_.count(name)) {
      throw std::logic_error("angzarr: event " + name + " already has an applier in domain " + domain_);
    }
    appliers_.emplace(name, [fn = std::move(applier)](State& state, const std::string& bytes) {
      Evt event;
      if (!event.ParseFromString(bytes)) return false;
      fn(state, event);
      return true;
    });
    return *this;
  }
  template <class Evt, class F>
  Aggregate&& apply(F applier) && {
    apply<Evt>(std::move(applier));
    return std::move(*this);
  }

  const std::string& domain() const override { return domain_; }

  /// The full names of the handled command types, sorted.
  std::vector<std::string> command_types() const {
    std::vector<std::string> names;
    for (const auto& [name, _] : handlers_) names.push_back(name);
    return names;
  }

  /// The full name of the state type, e.g. "examples.PlayerState".
  static const std::string& state_type() { return full_name<State>(); }

  /// Folds one packed event into state. INVALID_ARGUMENT if it does not decode.
  void apply_event(State& state, const google::protobuf::Any& event) const {
    auto it = appliers_.find(type_name(event.type_url()));
    if (it == appliers_.end()) return;
    if (!it->second(state, event.value())) throw invalid_argument("malformed event " + it->first);
  }

  /// The state after an optional snapshot and the pages after it.
  State rebuild(const Snapshot* snapshot, const google::protobuf::RepeatedPtrField<EventPage>& pages) const {
    State state;
    if (snapshot != nullptr && snapshot->has_state()) {
      const auto& packed = snapshot->state();
      if (type_name(packed.type_url()) != state_type()) {
        throw invalid_argument("snapshot state is " + type_name(packed.type_url()) + ", this aggregate keeps " +
                               state_type());
      }
      if (!state.ParseFromString(packed.value())) throw invalid_argument("malformed snapshot state " + state_type());
    }
    for (const auto& page : pages) {
      if (page.payload_case() == EventPage::kEvent) apply_event(state, page.event());
    }
    return state;
  }
  /// The state after a list of events (no snapshot).
  State rebuild(const google::protobuf::RepeatedPtrField<EventPage>& pages) const { return rebuild(nullptr, pages); }

  /// The state of a stored book: its snapshot, then its pages.
  State state_of(const EventBook& book) const {
    return rebuild(book.has_snapshot() ? &book.snapshot() : nullptr, book.pages());
  }

  /// Decides on one command against its history: the whole contract of
  /// CommandHandlerService.Handle. Pure: the same request gives the same
  /// (byte-identical) response.
  ///
  /// The response's events book has the command's cover, one page per event
  /// with header.sequence = next_sequence + i, and (when there are events) a
  /// snapshot {sequence: the last new sequence, state: Any(new state)}.
  /// Throws `Error`: FAILED_PRECONDITION for a rejection, INVALID_ARGUMENT for
  /// an unknown command type or a malformed payload, INTERNAL for anything
  /// else a handler throws.
  BusinessResponse execute(const ContextualCommand& request) const override {
    std::string name;
    try {
      if (!request.has_command()) throw invalid_argument("no command book");
      const CommandBook& command = request.command();
      if (command.pages_size() == 0) throw invalid_argument("command book has no pages");
      const CommandPage& page = command.pages(0);
      if (page.payload_case() != CommandPage::kCommand) throw invalid_argument("command page has no inline command");
      name = type_name(page.command().type_url());
      auto h = handlers_.find(name);
      if (h == handlers_.end()) {
        throw invalid_argument("unknown command type `" + name + "` for domain `" + domain_ + "`");
      }
      auto cmd = h->second.parse(page.command().value());
      if (!cmd) throw invalid_argument("malformed command " + name);

      const EventBook& history = request.events();
      State state = state_of(history);
      const uint32_t next = next_sequence(history);

      EventList events = h->second.call(*cmd, state, next);

      BusinessResponse response;
      EventBook* book = response.mutable_events();
      if (command.has_cover()) *book->mutable_cover() = command.cover();
      uint32_t seq = next;
      for (std::size_t i = 0; i < events.size(); ++i, ++seq) {
        if (!events[i]) throw internal_error("handler for " + name + " returned a null event");
        google::protobuf::Any packed = pack(*events[i]);
        apply_event(state, packed);
        EventPage* out = book->add_pages();
        out->mutable_header()->set_sequence(seq);
        *out->mutable_event() = std::move(packed);
      }
      if (!events.empty()) {
        Snapshot* snapshot = book->mutable_snapshot();
        snapshot->set_sequence(seq - 1);
        *snapshot->mutable_state() = pack(state);
      }
      return response;
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw internal_error("handler for " + (name.empty() ? std::string("command") : name) + " failed: " + e.what());
    } catch (...) {
      throw internal_error("handler for " + (name.empty() ? std::string("command") : name) +
                           " failed: unknown exception");
    }
  }

  /// Folds events onto a base snapshot: CommandHandlerService.Replay.
  ReplayResponse replay(const ReplayRequest& request) const override {
    try {
      State state = rebuild(request.has_base_snapshot() ? &request.base_snapshot() : nullptr, request.events());
      ReplayResponse response;
      *response.mutable_state() = pack(state);
      return response;
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw internal_error(std::string("replay failed: ") + e.what());
    } catch (...) {
      throw internal_error("replay failed: unknown exception");
    }
  }

 private:
  struct Handler {
    std::function<std::unique_ptr<google::protobuf::Message>(const std::string&)> parse;
    std::function<EventList(const google::protobuf::Message&, const State&, uint32_t)> call;
  };
  using Applier = std::function<bool(State&, const std::string&)>;

  std::string domain_;
  std::map<std::string, Handler> handlers_;
  std::map<std::string, Applier> appliers_;
};

}  // namespace angzarr
