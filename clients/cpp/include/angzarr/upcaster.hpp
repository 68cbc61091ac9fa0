// Upcaster: old event shapes in, current shapes out — on read, never
// rewriting the log; the whole contract of angzarr.UpcasterService without
// any network. Event types it does not map pass through unchanged.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "angzarr/aggregate.hpp"
#include "angzarr/any.hpp"
#include "angzarr/errors.hpp"
#include "angzarr/event_handlers.hpp"
#include "angzarr/types.pb.h"
#include "angzarr/upcaster.pb.h"

namespace angzarr {

/// Maps from old event types to current ones:
///
///     auto up = angzarr::Upcaster()
///         .map<examples::PlayerRegisteredV1>([](const examples::PlayerRegisteredV1& old) {
///           examples::PlayerRegistered e;
///           e.set_display_name(old.name());
///           e.set_email(old.email());
///           return e;
///         });
///
/// UpcasterService.Upcast returns one event per event in, in order: a page
/// whose event type is mapped gets the mapped event (packed, deterministic),
/// everything else of the page (header, created_at, ...) and every other
/// page is unchanged. An old event that does not decode → INVALID_ARGUMENT;
/// a mapping throwing `Error` keeps its code, anything else → INTERNAL.
/// Register everything before serving; it is then safe for concurrent use.
class Upcaster {
 public:
  /// An upcaster that changes nothing yet.
  Upcaster() = default;

  /// Rewrites events of type Old with f: `(const Old&) -> New` (New a
  /// generated message). std::logic_error if Old is already mapped.
  template <class Old, class F>
  Upcaster& map(F f) & {
    static_assert(std::is_base_of_v<google::protobuf::Message, Old>, "Old must be a generated protobuf message");
    static_assert(std::is_invocable_v<const F&, const Old&>, "a mapping is (const Old&) -> New");
    using New = std::decay_t<std::invoke_result_t<const F&, const Old&>>;
    static_assert(std::is_base_of_v<google::protobuf::Message, New>,
                  "a mapping returns the new event (a generated protobuf message)");
    const std::string& name = full_name<Old>();
    if (maps_.count(name)) throw std::logic_error("angzarr: upcaster: event " + name + " is already mapped");
    maps_.emplace(name, [fn = std::move(f), name](const google::protobuf::Any& any) -> google::protobuf::Any {
      Old old;
      if (!old.ParseFromString(any.value())) throw invalid_argument("upcaster: malformed " + name);
      return detail::rethrow_as_error("upcaster: mapping of " + name + " failed", [&] { return pack(fn(old)); });
    });
    return *this;
  }
  template <class Old, class F>
  Upcaster&& map(F f) && {
    map<Old>(std::move(f));
    return std::move(*this);
  }

  /// The full names of the mapped (old) event types, sorted.
  std::vector<std::string> event_types() const {
    std::vector<std::string> out;
    for (const auto& [name, _] : maps_) out.push_back(name);
    return out;
  }

  /// UpcasterService.Upcast. Throws `Error`.
  UpcastResponse execute(const UpcastRequest& request) const {
    UpcastResponse out;
    *out.mutable_events() = request.events();
    for (EventPage& page : *out.mutable_events()) {
      if (page.payload_case() != EventPage::kEvent) continue;
      auto it = maps_.find(type_name(page.event().type_url()));
      if (it == maps_.end()) continue;
      *page.mutable_event() = it->second(page.event());
    }
    return out;
  }

  /// execute() as a gRPC status; never throws.
  grpc::Status handle(const UpcastRequest& request, UpcastResponse* out) const noexcept {
    return CommandHandler::guarded("upcast", [&] { *out = execute(request); });
  }

 private:
  std::map<std::string, std::function<google::protobuf::Any(const google::protobuf::Any&)>> maps_;
};

}  // namespace angzarr
