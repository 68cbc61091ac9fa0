// Testing aggregates without any framework running: given events, when a
// command, then events or a rejection. Independent of any test framework: a
// failed `then_*` throws angzarr::testing::Failure (GoogleTest, Catch2 and
// doctest all report an escaping exception as a failure with its message).
//
//     using angzarr::testing::Scenario;
//     Scenario(player::aggregate())
//         .given(registered, deposited100)
//         .when(withdraw150)
//         .then_rejected("insufficient funds");
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "angzarr/aggregate.hpp"
#include "angzarr/any.hpp"
#include "angzarr/errors.hpp"

namespace angzarr::testing {

/// A failed expectation.
class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline std::string describe(const google::protobuf::Message& m) {
  return m.GetDescriptor()->full_name() + " { " + m.ShortDebugString() + " }";
}

inline std::string describe(const grpc::Status& s) {
  return std::string(code_name(s.error_code())) + ": " + s.error_message();
}

/// What one command produced.
template <class State>
struct Outcome {
  /// OK when accepted; otherwise the status the coordinator would report.
  grpc::Status status;
  /// The whole business response (empty on error).
  BusinessResponse response;
  /// The accepted events, packed (empty on error).
  std::vector<google::protobuf::Any> events;
  /// The state after the events (the state before on error).
  State state;

  bool accepted() const { return status.ok(); }
  grpc::StatusCode code() const { return status.error_code(); }

  /// The reason when the command was rejected (FAILED_PRECONDITION).
  std::optional<std::string> rejection() const {
    if (status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) return std::nullopt;
    return status.error_message();
  }

  /// Event i (default: the last), which must be an E.
  template <class E>
  E event(std::optional<std::size_t> i = std::nullopt) const {
    if (!accepted()) throw Failure("expected an event, the command failed with " + describe(status));
    if (events.empty()) throw Failure("expected an event, the command recorded none");
    std::size_t at = i.value_or(events.size() - 1);
    if (at >= events.size()) throw Failure("no event " + std::to_string(at));
    if (!is<E>(events[at])) {
      throw Failure("event " + std::to_string(at) + " is " + type_name(events[at].type_url()) + ", expected " +
                    full_name<E>());
    }
    return unpack<E>(events[at]);
  }

  /// Fails unless the command was accepted with exactly `want`, in order.
  template <class... M>
  const Outcome& then_events(const M&... want) const {
    if (!accepted()) throw Failure("expected events, the command failed with " + describe(status));
    std::vector<const google::protobuf::Message*> expected{&want...};
    if (expected.size() != events.size()) {
      std::ostringstream out;
      out << "expected " << expected.size() << " events, got " << events.size() << ":";
      for (const auto& e : events) out << " " << type_name(e.type_url());
      throw Failure(out.str());
    }
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const auto& w = *expected[i];
      if (type_name(events[i].type_url()) != w.GetDescriptor()->full_name()) {
        throw Failure("event " + std::to_string(i) + " is " + type_name(events[i].type_url()) + ", expected " +
                      describe(w));
      }
      std::unique_ptr<google::protobuf::Message> got(w.New());
      if (!got->ParseFromString(events[i].value())) throw Failure("event " + std::to_string(i) + " does not decode");
      if (!google::protobuf::util::MessageDifferencer::Equals(*got, w)) {
        throw Failure("event " + std::to_string(i) + ":\n  got  " + describe(*got) + "\n  want " + describe(w));
      }
    }
    return *this;
  }

  /// Fails unless the command was rejected (FAILED_PRECONDITION) with a
  /// reason containing text.
  const Outcome& then_rejected(const std::string& text) const {
    auto reason = rejection();
    if (!reason) {
      throw Failure("expected a rejection containing \"" + text + "\", got " +
                    (accepted() ? std::to_string(events.size()) + " events" : describe(status)));
    }
    if (reason->find(text) == std::string::npos) {
      throw Failure("rejected with \"" + *reason + "\", expected it to contain \"" + text + "\"");
    }
    return *this;
  }

  /// Fails unless the command ended with code.
  const Outcome& then_code(grpc::StatusCode code) const {
    if (status.error_code() != code) {
      throw Failure(std::string("expected ") + code_name(code) + ", got " + describe(status));
    }
    return *this;
  }
};

/// An EventBook of cover holding events (messages) at sequences
/// first_sequence, first_sequence + 1, ...: what a coordinator delivers to
/// a projector or a saga.
template <class... M>
EventBook event_book(const Cover& cover, uint32_t first_sequence, const M&... events) {
  EventBook book;
  *book.mutable_cover() = cover;
  uint32_t seq = first_sequence;
  (
      [&] {
        EventPage* page = book.add_pages();
        page->mutable_header()->set_sequence(seq++);
        *page->mutable_event() = pack(events);
      }(),
      ...);
  book.set_next_sequence(seq);
  return book;
}

/// A history of one aggregate to run commands against. given() returns a new
/// Scenario, so one history can be shared by several whens.
template <class State>
class Scenario {
 public:
  explicit Scenario(Aggregate<State> aggregate)
      : agg_(std::make_shared<const Aggregate<State>>(std::move(aggregate))) {}
  explicit Scenario(std::shared_ptr<const Aggregate<State>> aggregate) : agg_(std::move(aggregate)) {}

  /// Adds prior events (messages).
  template <class... M>
  Scenario given(const M&... events) const {
    Scenario next = *this;
    (next.history_.push_back(pack(events)), ...);
    return next;
  }

  /// Adds prior events already packed.
  Scenario given_packed(const std::vector<google::protobuf::Any>& events) const {
    Scenario next = *this;
    next.history_.insert(next.history_.end(), events.begin(), events.end());
    return next;
  }

  /// The event book of the history (sequences 0..n-1), as the coordinator sends it.
  EventBook history() const {
    EventBook book;
    book.mutable_cover()->set_domain(agg_->domain());
    for (std::size_t i = 0; i < history_.size(); ++i) {
      EventPage* page = book.add_pages();
      page->mutable_header()->set_sequence(static_cast<uint32_t>(i));
      *page->mutable_event() = history_[i];
    }
    book.set_next_sequence(static_cast<uint32_t>(history_.size()));
    return book;
  }

  /// The state after the history.
  State state() const { return agg_->state_of(history()); }

  /// Runs cmd against the history, as the coordinator would.
  Outcome<State> when(const google::protobuf::Message& cmd) const {
    ContextualCommand request;
    *request.mutable_events() = history();
    CommandBook* book = request.mutable_command();
    book->mutable_cover()->set_domain(agg_->domain());
    CommandPage* page = book->add_pages();
    page->mutable_header()->set_sequence(static_cast<uint32_t>(history_.size()));
    *page->mutable_command() = pack(cmd);

    Outcome<State> out;
    out.state = agg_->state_of(request.events());
    out.status = agg_->handle(request, &out.response);
    if (!out.status.ok()) {
      out.response.Clear();
      return out;
    }
    for (const auto& p : out.response.events().pages()) {
      if (p.payload_case() == EventPage::kEvent) {
        out.events.push_back(p.event());
        agg_->apply_event(out.state, p.event());
      }
    }
    return out;
  }

  const Aggregate<State>& aggregate() const { return *agg_; }

 private:
  std::shared_ptr<const Aggregate<State>> agg_;
  std::vector<google::protobuf::Any> history_;
};

}  // namespace angzarr::testing
