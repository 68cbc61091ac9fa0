// Shared by Projector and Saga: handlers registered by event type, and the
// walk over a book's pages that decodes each event and calls its handler.
#pragma once

#include <google/protobuf/message.h>

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
#include "angzarr/errors.hpp"
#include "angzarr/types.pb.h"

namespace angzarr::detail {

/// Handlers by event type (full proto name) for one component, each called
/// as `(const google::protobuf::Message& event, const Cover&, uint32_t seq) -> R`.
/// `owner` (e.g. "projector `ledger`") prefixes every error message.
template <class R>
class EventHandlers {
 public:
  using Call = std::function<R(const google::protobuf::Message&, const Cover&, uint32_t)>;

  explicit EventHandlers(std::string owner) : owner_(std::move(owner)) {}

  const std::string& owner() const noexcept { return owner_; }

  /// Registers the handler of Evt; std::logic_error if Evt has one already.
  template <class Evt>
  void add(Call call) {
    static_assert(std::is_base_of_v<google::protobuf::Message, Evt>, "Evt must be a generated protobuf message");
    const std::string& name = full_name<Evt>();
    if (entries_.count(name)) throw std::logic_error("angzarr: " + owner_ + ": event " + name + " already has a handler");
    Entry e;
    e.parse = [](const std::string& bytes) -> std::unique_ptr<google::protobuf::Message> {
      auto event = std::make_unique<Evt>();
      if (!event->ParseFromString(bytes)) return nullptr;
      return event;
    };
    e.call = std::move(call);
    entries_.emplace(name, std::move(e));
  }

  /// The full names of the handled event types, sorted.
  std::vector<std::string> event_types() const {
    std::vector<std::string> out;
    for (const auto& [name, _] : entries_) out.push_back(name);
    return out;
  }

  /// Calls, in page order, the handler of every page of book that has one,
  /// passing its result to sink(result) (for non-void R).
  ///
  /// Pages marked no_commit (persisted, but not to be reacted to) and pages
  /// without a payload are passed over, as are event types without a
  /// handler. A page stored externally (the coordinator resolves those
  /// before delivery) or an event that does not decode: INVALID_ARGUMENT.
  /// A handler throwing `Error` keeps its code; anything else it throws is
  /// INTERNAL.
  template <class Sink>
  void dispatch(const EventBook& book, Sink&& sink) const {
    const Cover& cover = book.cover();
    for (const EventPage& page : book.pages()) {
      if (page.no_commit()) continue;
      const uint32_t seq = page.header().sequence();
      if (page.payload_case() == EventPage::kExternal) {
        throw invalid_argument(owner_ + ": the event at sequence " + std::to_string(seq) + " is stored externally (" +
                               page.external().uri() + "); it must be resolved before delivery");
      }
      if (page.payload_case() != EventPage::kEvent) continue;
      const std::string name = type_name(page.event().type_url());
      auto it = entries_.find(name);
      if (it == entries_.end()) continue;
      auto event = it->second.parse(page.event().value());
      if (!event) throw invalid_argument(owner_ + ": malformed event " + name + " at sequence " + std::to_string(seq));
      const std::string where = owner_ + ": handler for " + name + " failed at sequence " + std::to_string(seq);
      try {
        if constexpr (std::is_void_v<R>) {
          it->second.call(*event, cover, seq);
        } else {
          sink(it->second.call(*event, cover, seq), name, seq);
        }
      } catch (const Error&) {
        throw;
      } catch (const std::exception& e) {
        throw internal_error(where + ": " + e.what());
      } catch (...) {
        throw internal_error(where + ": unknown exception");
      }
    }
  }

  void dispatch(const EventBook& book) const {
    static_assert(std::is_void_v<R>, "dispatch without a sink is for handlers returning nothing");
    dispatch(book, [](auto&&...) {});
  }

 private:
  struct Entry {
    std::function<std::unique_ptr<google::protobuf::Message>(const std::string&)> parse;
    Call call;
  };
  std::string owner_;
  std::map<std::string, Entry> entries_;
};

/// Runs f, turning what it throws into an `Error`: `Error` as is, anything
/// else INTERNAL with `what` as the message prefix.
template <class F>
auto rethrow_as_error(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw internal_error(what + ": " + e.what());
  } catch (...) {
    throw internal_error(what + ": unknown exception");
  }
}

}  // namespace angzarr::detail
