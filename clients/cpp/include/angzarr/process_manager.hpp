// ProcessManager<State>: a saga with memory, the whole contract of
// angzarr.ProcessManagerService (Prepare / Handle) without any network.
//
// Its state is event-sourced like an aggregate's, one process per
// correlation id; each trigger event (from any domain it listens to) may
// record process events and emit commands. The coordinator commits the
// process events, the commands and the consumed trigger in one
// transaction, so a process never forgets a step it took nor takes one
// twice.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/map.h>
#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "angzarr/aggregate.hpp"
#include "angzarr/any.hpp"
#include "angzarr/errors.hpp"
#include "angzarr/event_handlers.hpp"
#include "angzarr/events.hpp"
#include "angzarr/process_manager.pb.h"
#include "angzarr/saga.hpp"
#include "angzarr/types.pb.h"

namespace angzarr {

/// The trigger an `on` handler reacts to, beyond the event itself.
struct Trigger {
  /// Cover of the aggregate that emitted the event.
  const Cover& cover;
  /// The event's sequence in that aggregate.
  uint32_t sequence;
  /// Next sequence of each destination named by `prepare`, by domain
  /// (ProcessManagerHandleRequest.destination_sequences).
  const google::protobuf::Map<std::string, uint32_t>& destinations;

  /// The next sequence of domain's destination, or nullopt if the
  /// coordinator sent none.
  std::optional<uint32_t> destination(const std::string& domain) const {
    auto it = destinations.find(domain);
    if (it == destinations.end()) return std::nullopt;
    return it->second;
  }
};

/// What a process manager does about one trigger: process events to record
/// (its own history) and commands for other aggregates.
///
///     return angzarr::Reaction::none().record(started).send(angzarr::command("hand", root, deal));
struct Reaction {
  /// Process events to record, in order.
  Events events;
  /// Commands for other aggregates (see angzarr::command).
  std::vector<CommandBook> commands;

  /// Nothing to do.
  static Reaction none() { return Reaction(); }

  /// Records a process event.
  template <class M, class = std::enable_if_t<std::is_base_of_v<google::protobuf::Message, std::decay_t<M>>>>
  Reaction& record(M&& event) & {
    events.add(std::forward<M>(event));
    return *this;
  }
  template <class M, class = std::enable_if_t<std::is_base_of_v<google::protobuf::Message, std::decay_t<M>>>>
  Reaction&& record(M&& event) && {
    record(std::forward<M>(event));
    return std::move(*this);
  }

  /// Emits a command.
  Reaction& send(CommandBook command) & {
    commands.push_back(std::move(command));
    return *this;
  }
  Reaction&& send(CommandBook command) && {
    send(std::move(command));
    return std::move(*this);
  }
};

/// What a server hosts as ProcessManagerService: `ProcessManager<S>` with
/// its state type erased.
class ProcessManagerHandler {
 public:
  virtual ~ProcessManagerHandler() = default;

  /// The process manager's name (also the domain of its own logs).
  virtual const std::string& name() const = 0;
  /// ProcessManagerService.Prepare. Throws `Error`.
  virtual ProcessManagerPrepareResponse execute_prepare(const ProcessManagerPrepareRequest& request) const = 0;
  /// ProcessManagerService.Handle. Throws `Error`.
  virtual ProcessManagerHandleResponse execute(const ProcessManagerHandleRequest& request) const = 0;

  /// execute_prepare() as a gRPC status; never throws.
  grpc::Status handle_prepare(const ProcessManagerPrepareRequest& request,
                              ProcessManagerPrepareResponse* response) const noexcept {
    return CommandHandler::guarded("prepare", [&] { *response = execute_prepare(request); });
  }
  /// execute() as a gRPC status; never throws.
  grpc::Status handle(const ProcessManagerHandleRequest& request, ProcessManagerHandleResponse* response) const noexcept {
    return CommandHandler::guarded("process manager", [&] { *response = execute(request); });
  }
};

namespace detail {
template <class T>
struct type_identity {
  using type = T;
};
// T, in a non-deduced context.
template <class T>
using type_identity_t = typename type_identity<T>::type;

// What a prepare function returns, as a list: std::vector<Cover>, one Cover
// or std::optional<Cover>.
template <class R>
std::vector<Cover> to_covers(R&& result) {
  using T = std::decay_t<R>;
  if constexpr (std::is_same_v<T, std::vector<Cover>>) {
    return std::forward<R>(result);
  } else if constexpr (std::is_same_v<T, Cover>) {
    std::vector<Cover> out;
    out.push_back(std::forward<R>(result));
    return out;
  } else if constexpr (std::is_same_v<T, std::optional<Cover>>) {
    std::vector<Cover> out;
    if (result) out.push_back(std::move(*result));
    return out;
  } else {
    static_assert(always_false<T>,
                  "a prepare function returns std::vector<angzarr::Cover>, one Cover or std::optional<Cover>");
  }
}
}  // namespace detail

/// A process manager with state `State` (a generated message, e.g.
/// examples::HandFlowState):
///
///     auto pm = angzarr::ProcessManager<examples::HandFlowState>("hand-flow")
///         .apply<examples::HandFlowStarted>([](examples::HandFlowState& s, const examples::HandFlowStarted& e) {
///           s.set_phase("dealing");
///         })
///         .prepare<examples::HandStarted>([](const examples::HandStarted& e, const examples::HandFlowState&) {
///           return std::vector<angzarr::Cover>{hand_cover(e.hand_root())};
///         })
///         .on<examples::HandStarted>([](const examples::HandStarted& e, const examples::HandFlowState& s,
///                                       const angzarr::Trigger& t) {
///           if (!s.phase().empty() || t.destination("hand").value_or(0) != 0) return angzarr::Reaction::none();
///           return angzarr::Reaction::none().record(started).send(angzarr::command("hand", e.hand_root(), deal));
///         });
///
/// - `apply<Evt>((State&, const Evt&))` folds process events into the
///   state, as an aggregate's appliers do (the state is rebuilt from
///   process_state: its snapshot, which must hold a `State`, then its pages).
/// - `on<Evt>((const Evt&, const State&, const Trigger&) -> Reaction)`
///   reacts to trigger events of type Evt.
/// - `prepare<Evt>((const Evt&, const State&) -> std::vector<Cover>)` names
///   the aggregates whose next sequence the reaction to Evt needs (the
///   coordinator sends them as Trigger::destinations).
///
/// Handle: for each trigger page with an event, a sequence and a handler,
/// in page order, the handler is called with the state so far; each
/// recorded event is applied to the state and emitted as a page numbered
/// next_sequence(process_state) + i; with any events, the snapshot is
/// {sequence: the last page's, state: Any(state)}. process_events.cover is
/// process_state's cover; commands are concatenated in order; facts stay
/// empty. Unknown event types are passed over. Failures: no trigger or an
/// event, snapshot or process event that does not decode → INVALID_ARGUMENT;
/// a handler's `Error` keeps its code; anything else a handler throws, and a
/// command book without a domain, a 16-byte non-nil root and exactly one
/// page with an inline command → INTERNAL. Register everything before
/// serving; it is then safe for concurrent use.
template <class State>
class ProcessManager final : public ProcessManagerHandler {
  static_assert(std::is_base_of_v<google::protobuf::Message, State>,
                "the state of a ProcessManager is a generated protobuf message");

 public:
  /// A process manager called name. std::invalid_argument if name is empty.
  explicit ProcessManager(std::string name) : name_(std::move(name)), state_(name_) {
    if (name_.empty()) throw std::invalid_argument("angzarr: a process manager needs a name");
  }

  const std::string& name() const override { return name_; }

  /// The full name of the state type.
  static const std::string& state_type() { return full_name<State>(); }

  /// The full names of the trigger event types it reacts to, sorted.
  std::vector<std::string> event_types() const {
    std::vector<std::string> out;
    for (const auto& [name, _] : on_) out.push_back(name);
    return out;
  }

  /// How process event Evt changes the state: `(State&, const Evt&)`.
  /// std::logic_error if Evt already has an applier.
  template <class Evt, class F>
  ProcessManager& apply(F applier) & {
    state_.template apply<Evt>(std::move(applier));
    return *this;
  }
  template <class Evt, class F>
  ProcessManager&& apply(F applier) && {
    apply<Evt>(std::move(applier));
    return std::move(*this);
  }

  /// Reacts to trigger events of type Evt:
  /// `(const Evt&, const State&, const Trigger&) -> Reaction`.
  /// std::logic_error if Evt already has a handler.
  template <class Evt, class F>
  ProcessManager& on(F handler) & {
    static_assert(std::is_invocable_r_v<Reaction, const F&, const Evt&, const State&, const Trigger&>,
                  "a process manager handler is (const Evt&, const State&, const angzarr::Trigger&) -> Reaction");
    add<Evt>(on_, "handler", [fn = std::move(handler)](const google::protobuf::Message& e, const State& s,
                                                       const Trigger& t) -> Reaction {
      return fn(static_cast<const Evt&>(e), s, t);
    });
    return *this;
  }
  template <class Evt, class F>
  ProcessManager&& on(F handler) && {
    on<Evt>(std::move(handler));
    return std::move(*this);
  }

  /// Names the aggregates whose next sequence the reaction to Evt needs:
  /// `(const Evt&, const State&)` returning std::vector<Cover>, one Cover
  /// or std::optional<Cover>. std::logic_error if Evt already has one.
  template <class Evt, class F>
  ProcessManager& prepare(F fn) & {
    static_assert(std::is_invocable_v<const F&, const Evt&, const State&>,
                  "a prepare function is (const Evt&, const State&) -> std::vector<angzarr::Cover>");
    add<Evt>(prepare_, "prepare function",
             [f = std::move(fn)](const google::protobuf::Message& e, const State& s) -> std::vector<Cover> {
               return detail::to_covers(f(static_cast<const Evt&>(e), s));
             });
    return *this;
  }
  template <class Evt, class F>
  ProcessManager&& prepare(F fn) && {
    prepare<Evt>(std::move(fn));
    return std::move(*this);
  }

  /// The state of a process's stored book: its snapshot, then its pages.
  State state_of(const EventBook& book) const { return state_.state_of(book); }

  /// ProcessManagerService.Prepare: the covers named by the prepare
  /// functions of the trigger's events, in page order.
  ProcessManagerPrepareResponse execute_prepare(const ProcessManagerPrepareRequest& request) const override {
    const State state = state_of(request.process_state());
    ProcessManagerPrepareResponse out;
    for (const EventPage& page : request.trigger().pages()) {
      if (page.payload_case() != EventPage::kEvent) continue;
      const std::string name = type_name(page.event().type_url());
      auto it = prepare_.find(name);
      if (it == prepare_.end()) continue;
      auto event = decode(it->second, name, page);
      auto covers = guard("prepare function for " + name, [&] { return it->second.call(*event, state); });
      for (auto& c : covers) *out.add_destinations() = std::move(c);
    }
    return out;
  }

  /// ProcessManagerService.Handle: each trigger page's reaction, the
  /// process events numbered after the process's history, and the new state
  /// as the snapshot.
  ProcessManagerHandleResponse execute(const ProcessManagerHandleRequest& request) const override {
    if (!request.has_trigger()) throw invalid_argument("process manager `" + name_ + "`: no trigger");
    const EventBook& process = request.process_state();
    State state = state_of(process);
    const EventBook& trigger = request.trigger();
    const uint32_t next = next_sequence(process);

    ProcessManagerHandleResponse out;
    EventBook* book = out.mutable_process_events();
    if (process.has_cover()) *book->mutable_cover() = process.cover();
    for (const EventPage& page : trigger.pages()) {
      if (page.payload_case() != EventPage::kEvent) continue;
      if (page.header().sequence_type_case() != PageHeader::kSequence) continue;
      const std::string name = type_name(page.event().type_url());
      auto it = on_.find(name);
      if (it == on_.end()) continue;
      auto event = decode(it->second, name, page);
      const uint32_t seq = page.header().sequence();
      const Trigger t{trigger.cover(), seq, request.destination_sequences()};
      const std::string where = "handler for " + name + " at sequence " + std::to_string(seq);
      Reaction reaction = guard(where, [&] { return it->second.call(*event, state, t); });
      EventList events = std::move(reaction.events).take();
      for (auto& e : events) {
        if (!e) throw internal_error("process manager `" + name_ + "`: " + where + " recorded a null event");
        google::protobuf::Any packed = pack(*e);
        state_.apply_event(state, packed);
        EventPage* p = book->add_pages();
        p->mutable_header()->set_sequence(next + static_cast<uint32_t>(book->pages_size() - 1));
        *p->mutable_event() = std::move(packed);
      }
      for (auto& command : reaction.commands) {
        const std::string problem = command_book_problem(command);
        if (!problem.empty()) {
          throw internal_error("process manager `" + name_ + "`: " + where + " returned a bad command book: " +
                               problem);
        }
        *out.add_commands() = std::move(command);
      }
    }
    if (book->pages_size() > 0) {
      Snapshot* snapshot = book->mutable_snapshot();
      snapshot->set_sequence(next + static_cast<uint32_t>(book->pages_size()) - 1);
      *snapshot->mutable_state() = pack(state);
    }
    return out;
  }

 private:
  template <class Call>
  struct Entry {
    std::function<std::unique_ptr<google::protobuf::Message>(const std::string&)> parse;
    Call call;
  };
  using OnCall = std::function<Reaction(const google::protobuf::Message&, const State&, const Trigger&)>;
  using PrepareCall = std::function<std::vector<Cover>(const google::protobuf::Message&, const State&)>;

  template <class Evt, class Call>
  void add(std::map<std::string, Entry<Call>>& entries, const char* what, detail::type_identity_t<Call> call) {
    static_assert(std::is_base_of_v<google::protobuf::Message, Evt>, "Evt must be a generated protobuf message");
    const std::string& name = full_name<Evt>();
    if (entries.count(name)) {
      throw std::logic_error("angzarr: process manager `" + name_ + "`: event " + name + " already has a " + what);
    }
    Entry<Call> e;
    e.parse = [](const std::string& bytes) -> std::unique_ptr<google::protobuf::Message> {
      auto event = std::make_unique<Evt>();
      if (!event->ParseFromString(bytes)) return nullptr;
      return event;
    };
    e.call = std::move(call);
    entries.emplace(name, std::move(e));
  }

  template <class Call>
  std::unique_ptr<google::protobuf::Message> decode(const Entry<Call>& entry, const std::string& name,
                                                    const EventPage& page) const {
    auto event = entry.parse(page.event().value());
    if (!event) {
      throw invalid_argument("process manager `" + name_ + "`: malformed event " + name + " at sequence " +
                             std::to_string(page.header().sequence()));
    }
    return event;
  }

  template <class F>
  auto guard(const std::string& where, F&& f) const -> decltype(f()) {
    return detail::rethrow_as_error("process manager `" + name_ + "`: " + where + " failed", std::forward<F>(f));
  }

  std::string name_;
  Aggregate<State> state_;  // the appliers
  std::map<std::string, Entry<OnCall>> on_;
  std::map<std::string, Entry<PrepareCall>> prepare_;
};

}  // namespace angzarr
