// Saga: stateless reactions turning one domain's events into commands for
// other domains; the whole contract of angzarr.SagaService without any
// network.
//
// The coordinator appends the returned commands to their domains' command
// logs in the same transaction as its consumer offset, so each reaction
// happens exactly once; it also stamps each command's sequence (deferred:
// the target aggregate takes it at its current sequence) and copies the
// source's correlation id. A saga therefore only says what to send where:
// angzarr::command(domain, root, message).
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <cstdint>
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
#include "angzarr/saga.pb.h"
#include "angzarr/types.pb.h"

namespace angzarr {

/// A CommandBook sending cmd to the aggregate root of domain: the cover
/// {domain, root} and one page with the packed command and no header (the
/// coordinator stamps the sequence and copies the correlation id). root is
/// the 16 bytes of the aggregate id (e.g. a `bytes player_root` field).
/// std::invalid_argument for an empty domain, a root that is not 16 bytes
/// or the nil UUID.
inline CommandBook command(const std::string& domain, const std::string& root, const google::protobuf::Message& cmd) {
  if (domain.empty()) throw std::invalid_argument("angzarr::command: a command needs a target domain");
  if (root.size() != 16) {
    throw std::invalid_argument("angzarr::command: a root is 16 bytes, got " + std::to_string(root.size()));
  }
  if (root == std::string(16, '\0')) throw std::invalid_argument("angzarr::command: the root is the nil UUID");
  CommandBook book;
  book.mutable_cover()->set_domain(domain);
  book.mutable_cover()->mutable_root()->set_value(root);
  *book.add_pages()->mutable_command() = pack(cmd);
  return book;
}

/// command() with the root as an angzarr.UUID.
inline CommandBook command(const std::string& domain, const UUID& root, const google::protobuf::Message& cmd) {
  return command(domain, root.value(), cmd);
}

/// What is wrong with a command book a saga returns, or "" (the
/// coordinator refuses these too, and retries the event forever).
inline std::string command_book_problem(const CommandBook& book) {
  if (book.cover().domain().empty()) return "no target domain";
  const std::string& root = book.cover().root().value();
  if (root.size() != 16) return "the root is " + std::to_string(root.size()) + " bytes, not 16";
  if (root == std::string(16, '\0')) return "the root is the nil UUID";
  if (book.pages_size() != 1) return std::to_string(book.pages_size()) + " pages, exactly one is required";
  if (book.pages(0).payload_case() != CommandPage::kCommand) return "the page has no inline command";
  return "";
}

namespace detail {
// What a saga handler returns, as a list: std::vector<CommandBook>, one
// CommandBook or std::optional<CommandBook>.
template <class R>
std::vector<CommandBook> to_commands(R&& result) {
  using T = std::decay_t<R>;
  if constexpr (std::is_same_v<T, std::vector<CommandBook>>) {
    return std::forward<R>(result);
  } else if constexpr (std::is_same_v<T, CommandBook>) {
    std::vector<CommandBook> out;
    out.push_back(std::forward<R>(result));
    return out;
  } else if constexpr (std::is_same_v<T, std::optional<CommandBook>>) {
    std::vector<CommandBook> out;
    if (result) out.push_back(std::move(*result));
    return out;
  } else {
    static_assert(always_false<T>,
                  "a saga handler returns std::vector<angzarr::CommandBook>, one CommandBook or "
                  "std::optional<CommandBook> (see angzarr::command)");
  }
}
}  // namespace detail

/// A saga: handlers per event type, each turning an event of the source
/// book into commands for other aggregates.
///
///     auto reserve = angzarr::Saga("reserve-on-join")
///         .on<examples::PlayerJoined>([](const examples::PlayerJoined& e,
///                                        const angzarr::Cover& table, uint32_t seq) {
///           examples::ReserveFunds cmd;
///           cmd.mutable_amount()->set_amount(e.buy_in_amount());
///           cmd.set_table_root(table.root().value());
///           return std::vector<angzarr::CommandBook>{angzarr::command("player", e.player_root(), cmd)};
///         });
///
/// A handler is `(const Evt&, const Cover&, uint32_t seq)` (or without seq)
/// returning std::vector<CommandBook>, one CommandBook or
/// std::optional<CommandBook>; the cover is the source book's and seq the
/// page's sequence. The commands of all pages are returned in page order.
/// Event types without a handler and pages marked no_commit are passed
/// over. A handler throwing `Error` fails the call with its code; anything
/// else it throws, and a command book without a domain, a 16-byte non-nil
/// root and exactly one page with an inline command, is INTERNAL. A saga
/// keeps no state (the coordinator makes each reaction exactly once); it is
/// safe for concurrent use once registered.
class Saga {
 public:
  /// A saga called name. std::invalid_argument if name is empty.
  explicit Saga(std::string name) : name_(std::move(name)), handlers_("saga `" + name_ + "`") {
    if (name_.empty()) throw std::invalid_argument("angzarr: a saga needs a name");
  }

  /// Its name.
  const std::string& name() const noexcept { return name_; }

  /// The full names of the event types it reacts to, sorted.
  std::vector<std::string> event_types() const { return handlers_.event_types(); }

  /// Registers the reaction to event type Evt. std::logic_error if Evt
  /// already has one.
  template <class Evt, class F>
  Saga& on(F handler) & {
    static_assert(std::is_base_of_v<google::protobuf::Message, Evt>, "Evt must be a generated protobuf message");
    handlers_.template add<Evt>([fn = std::move(handler)](const google::protobuf::Message& event, const Cover& cover,
                                                          uint32_t seq) -> std::vector<CommandBook> {
      const Evt& typed = static_cast<const Evt&>(event);
      if constexpr (std::is_invocable_v<const F&, const Evt&, const Cover&, uint32_t>) {
        return detail::to_commands(fn(typed, cover, seq));
      } else {
        static_assert(std::is_invocable_v<const F&, const Evt&, const Cover&>,
                      "a saga handler is (const Evt&, const Cover&, uint32_t seq) or (const Evt&, const Cover&)");
        return detail::to_commands(fn(typed, cover));
      }
    });
    return *this;
  }
  template <class Evt, class F>
  Saga&& on(F handler) && {
    on<Evt>(std::move(handler));
    return std::move(*this);
  }

  /// SagaService.Handle: the commands for the source book's events.
  /// Throws `Error` (INVALID_ARGUMENT for an event that does not decode or
  /// a page stored externally; a handler's own code; INTERNAL otherwise).
  SagaResponse execute(const EventBook& source) const {
    SagaResponse out;
    handlers_.dispatch(source, [&](std::vector<CommandBook> commands, const std::string& event, uint32_t seq) {
      for (auto& book : commands) {
        std::string problem = command_book_problem(book);
        if (!problem.empty()) {
          throw internal_error("saga `" + name_ + "`: handler for " + event + " at sequence " + std::to_string(seq) +
                               " returned a bad command book: " + problem);
        }
        *out.add_commands() = std::move(book);
      }
    });
    return out;
  }

  /// execute() of request.source().
  SagaResponse execute(const SagaHandleRequest& request) const { return execute(request.source()); }

  /// execute() as a gRPC status; never throws.
  grpc::Status handle(const SagaHandleRequest& request, SagaResponse* out) const noexcept {
    return CommandHandler::guarded("saga", [&] { *out = execute(request); });
  }

 private:
  std::string name_;
  detail::EventHandlers<std::vector<CommandBook>> handlers_;
};

}  // namespace angzarr
