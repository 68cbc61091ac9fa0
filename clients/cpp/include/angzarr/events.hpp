// Events: what a command handler returns, the events to record in order.
#pragma once

#include <google/protobuf/message.h>

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace angzarr {

/// The events a handler decided on, in order.
using EventList = std::vector<std::unique_ptr<google::protobuf::Message>>;

/// A small builder of an EventList:
///
///     return angzarr::Events::one(std::move(deposited));
///     return angzarr::Events().add(a).add(b);
///     return angzarr::Events::of(a, b);
///     return angzarr::Events();  // nothing to record
class Events {
 public:
  Events() = default;
  Events(Events&&) noexcept = default;
  Events& operator=(Events&&) noexcept = default;

  /// One event.
  template <class M>
  static Events one(M&& event) {
    Events e;
    e.add(std::forward<M>(event));
    return e;
  }

  /// Several events, in order.
  template <class... M>
  static Events of(M&&... events) {
    Events e;
    (e.add(std::forward<M>(events)), ...);
    return e;
  }

  /// Appends a copy of (or moves) event.
  template <class M, class = std::enable_if_t<std::is_base_of_v<google::protobuf::Message, std::decay_t<M>>>>
  Events& add(M&& event) & {
    list_.push_back(std::make_unique<std::decay_t<M>>(std::forward<M>(event)));
    return *this;
  }
  template <class M, class = std::enable_if_t<std::is_base_of_v<google::protobuf::Message, std::decay_t<M>>>>
  Events&& add(M&& event) && {
    add(std::forward<M>(event));
    return std::move(*this);
  }

  /// Appends an event already on the heap.
  Events& add(std::unique_ptr<google::protobuf::Message> event) & {
    list_.push_back(std::move(event));
    return *this;
  }
  Events&& add(std::unique_ptr<google::protobuf::Message> event) && {
    list_.push_back(std::move(event));
    return std::move(*this);
  }

  std::size_t size() const noexcept { return list_.size(); }
  bool empty() const noexcept { return list_.empty(); }
  const google::protobuf::Message& operator[](std::size_t i) const { return *list_.at(i); }

  /// The events, moved out.
  EventList take() && { return std::move(list_); }

 private:
  EventList list_;
};

}  // namespace angzarr
