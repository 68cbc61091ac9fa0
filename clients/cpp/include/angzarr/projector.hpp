// Projector: events in, a read model out; the whole contract of
// angzarr.ProjectorService without any network.
//
// Delivery is at-least-once: a coordinator that stopped before committing
// its offset delivers a book again, and a replay (`angzarr replay
// projector`) delivers everything again on purpose. This client therefore
// keeps no "last applied sequence" of its own: a handler sees every delivery.
// Idempotence belongs with the read model: store the last sequence applied
// per stream next to the data (ideally in the same transaction) and skip
// what is not newer; in-process memory would be wrongly trusted by a replay
// into a wiped read model.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
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
#include "angzarr/types.pb.h"
#include "angzarr_kafka/batch.pb.h"

namespace angzarr {

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_smart_ptr : std::false_type {};
template <class T, class D>
struct is_smart_ptr<std::unique_ptr<T, D>> : std::true_type {};
template <class T>
struct is_smart_ptr<std::shared_ptr<T>> : std::true_type {};

// What a view returns, packed: a message (always), std::optional<message>
// or a (unique/shared) pointer to one (nullopt / null: no projection).
template <class R>
std::optional<google::protobuf::Any> to_view(const R& result) {
  if constexpr (std::is_base_of_v<google::protobuf::Message, R>) {
    return pack(result);
  } else if constexpr (is_optional<R>::value) {
    static_assert(std::is_base_of_v<google::protobuf::Message, typename R::value_type>,
                  "a view returns a message, std::optional<message> or a pointer to a message");
    if (!result) return std::nullopt;
    return pack(*result);
  } else if constexpr (is_smart_ptr<R>::value) {
    static_assert(std::is_base_of_v<google::protobuf::Message, typename R::element_type>,
                  "a view returns a message, std::optional<message> or a pointer to a message");
    if (!result) return std::nullopt;
    return pack(*result);
  } else {
    static_assert(always_false<R>, "a view returns a message, std::optional<message> or a pointer to a message");
  }
}
}  // namespace detail

/// A projector: handlers per event type that fold events into a read model
/// of the user's (a map, a database...), and optionally a view returned in
/// `Projection.projection`.
///
///     auto balances = std::make_shared<std::map<std::string, int64_t>>();
///     auto ledger = angzarr::Projector("ledger")
///         .on<examples::FundsDeposited>([balances](const examples::FundsDeposited& e,
///                                                  const angzarr::Cover& cover, uint32_t seq) {
///           (*balances)[cover.root().value()] = e.new_balance().amount();
///         })
///         .view([balances](const angzarr::Cover& cover) {   // optional
///           examples::Currency c;
///           c.set_amount((*balances)[cover.root().value()]);
///           return c;
///         });
///
/// A handler is `(const Evt&, const Cover&, uint32_t seq)` (or without seq),
/// its return value ignored; the cover is the book's (the source stream) and
/// seq the page's sequence. Event types without a handler and pages marked
/// no_commit are passed over. A handler throwing `Error` fails the call with
/// its code (e.g. UNAVAILABLE while the read model's store is down);
/// anything else it throws is INTERNAL. The coordinator then delivers the
/// book again, pages already applied included: see the note on idempotence
/// at the top of this file — there is no deduplication here.
///
/// Books are applied one at a time (a lock shared by the copies of a
/// projector), so handlers and the view need no locking against each other;
/// other readers of the read model need their own. Register everything
/// before serving.
///
/// Served, a projector also answers `angzarr_kafka.ProjectorBatchService`
/// (execute_batch(): many books per call, each applied as by execute()),
/// with nothing more to write; batch_scope() optionally wraps a whole batch
/// in one read-model transaction.
class Projector {
 public:
  /// A projector called name (the `Projection.projector` it reports).
  /// std::invalid_argument if name is empty.
  explicit Projector(std::string name)
      : name_(std::move(name)), handlers_("projector `" + name_ + "`"), lock_(std::make_shared<std::mutex>()) {
    if (name_.empty()) throw std::invalid_argument("angzarr: a projector needs a name");
  }

  /// Its name.
  const std::string& name() const noexcept { return name_; }

  /// The full names of the handled event types, sorted.
  std::vector<std::string> event_types() const { return handlers_.event_types(); }

  /// Registers the handler of event type Evt. std::logic_error if Evt
  /// already has one.
  template <class Evt, class F>
  Projector& on(F handler) & {
    static_assert(std::is_base_of_v<google::protobuf::Message, Evt>, "Evt must be a generated protobuf message");
    handlers_.template add<Evt>([fn = std::move(handler)](const google::protobuf::Message& event, const Cover& cover,
                                                          uint32_t seq) {
      const Evt& typed = static_cast<const Evt&>(event);
      if constexpr (std::is_invocable_v<const F&, const Evt&, const Cover&, uint32_t>) {
        fn(typed, cover, seq);
      } else {
        static_assert(std::is_invocable_v<const F&, const Evt&, const Cover&>,
                      "a projector handler is (const Evt&, const Cover&, uint32_t seq) or (const Evt&, const Cover&)");
        fn(typed, cover);
      }
    });
    return *this;
  }
  template <class Evt, class F>
  Projector&& on(F handler) && {
    on<Evt>(std::move(handler));
    return std::move(*this);
  }

  /// What `Projection.projection` carries after a book: `(const Cover&) -> R`
  /// (or `() -> R`), R a message (packed), std::optional<message> or a
  /// pointer to a message (nullopt / null: no projection). Called after the
  /// book's handlers, under the same lock. Throws std::logic_error if a view
  /// is already set.
  template <class F>
  Projector& view(F fn) & {
    if (view_) throw std::logic_error("angzarr: projector `" + name_ + "` already has a view");
    view_ = [fn = std::move(fn)](const Cover& cover) -> std::optional<google::protobuf::Any> {
      if constexpr (std::is_invocable_v<const F&, const Cover&>) {
        return detail::to_view(fn(cover));
      } else {
        static_assert(std::is_invocable_v<const F&>, "a view is (const Cover&) -> message or () -> message");
        return detail::to_view(fn());
      }
    };
    return *this;
  }
  template <class F>
  Projector&& view(F fn) && {
    view(std::move(fn));
    return std::move(*this);
  }

  /// Enables HandleSpeculative (UNIMPLEMENTED without it): `save() -> T`
  /// returns a copy of the read model, `restore(T)` puts it back. A
  /// speculative book is applied by the same handlers between the two, and
  /// the view (if any) read before restoring; the lock is held throughout,
  /// so no real book is applied meanwhile. restore also runs when a handler
  /// fails. Throws std::logic_error if already enabled.
  template <class Save, class Restore>
  Projector& speculation(Save save, Restore restore) & {
    using T = std::decay_t<std::invoke_result_t<const Save&>>;
    static_assert(!std::is_void_v<T>, "save() returns a copy of the read model");
    static_assert(std::is_invocable_v<const Restore&, T&&>, "restore takes what save() returned");
    if (save_) throw std::logic_error("angzarr: projector `" + name_ + "` already has a speculation");
    save_ = [save = std::move(save)]() -> std::shared_ptr<void> { return std::make_shared<T>(save()); };
    restore_ = [restore = std::move(restore)](const std::shared_ptr<void>& saved) {
      restore(std::move(*static_cast<T*>(saved.get())));
    };
    return *this;
  }
  template <class Save, class Restore>
  Projector&& speculation(Save save, Restore restore) && {
    speculation(std::move(save), std::move(restore));
    return std::move(*this);
  }

  /// Whether HandleSpeculative is enabled.
  bool speculative() const noexcept { return static_cast<bool>(save_); }

  /// Wraps every batch of execute_batch() (HandleBatch; single books through
  /// Handle do not use it) in scope, `(const std::function<void()>& apply)`,
  /// e.g. one read-model transaction per batch:
  ///
  ///     .batch_scope([db](const std::function<void()>& apply) {
  ///       auto tx = db->begin();
  ///       apply();      // every book, in order; throws the first failure
  ///       tx.commit();  // not reached after a failure: tx rolls back
  ///     })
  ///
  /// scope calls apply() (once; a retry calls it again and the last call
  /// counts) and lets what it throws pass. The call fails as a whole when
  /// apply() failed — even if scope swallowed the failure, which is the one
  /// reported when scope then throws something else — when scope throws
  /// (e.g. the commit failed: an `Error` keeps its code, anything else is
  /// INTERNAL) and when scope never called apply() (INTERNAL). A batch that
  /// failed is handed over again, so a scope that rolls back never leaves
  /// half a batch behind. It runs under the projector's lock (it must not
  /// call the projector itself); an empty batch does not open it. Throws std::logic_error if a scope is already set.
  template <class F>
  Projector& batch_scope(F scope) & {
    static_assert(std::is_invocable_v<const F&, const std::function<void()>&>,
                  "a batch scope is (const std::function<void()>& apply), calling apply()");
    if (scope_) throw std::logic_error("angzarr: projector `" + name_ + "` already has a batch scope");
    scope_ = [scope = std::move(scope)](const std::function<void()>& apply) { scope(apply); };
    return *this;
  }
  template <class F>
  Projector&& batch_scope(F scope) && {
    batch_scope(std::move(scope));
    return std::move(*this);
  }

  /// Whether a batch scope is set.
  bool batch_scoped() const noexcept { return static_cast<bool>(scope_); }

  /// Applies a book: the whole contract of ProjectorService.Handle. Every
  /// page goes to its handler, however often it was delivered before.
  ///
  /// Returns {cover: the book's cover, projector: name(), sequence: the
  /// sequence of the book's last page (0 for a book without pages),
  /// projection: the view, if any}. Throws `Error`: INVALID_ARGUMENT for an
  /// event that does not decode or a page stored externally, a handler's
  /// own `Error` code, INTERNAL for anything else a handler or the view
  /// throws. Pages applied before a failure stay applied.
  Projection execute(const EventBook& book) const {
    std::lock_guard<std::mutex> guard(*lock_);
    return project(book);
  }

  /// Applies a batch of books: the whole contract of
  /// angzarr_kafka.ProjectorBatchService.HandleBatch. The books go in order
  /// through exactly what execute() does for one book (inside the batch
  /// scope, if any, and all under the lock, so no other book is applied
  /// meanwhile); the answer holds one projection per book, in order.
  ///
  /// The call succeeds or fails as a whole: the first book that fails
  /// throws its `Error` as execute() would (same code and message), and
  /// the books after it are not applied; books (and pages) before it stay
  /// applied unless the batch scope rolls them back. The coordinator then
  /// hands the same books over again.
  angzarr_kafka::ProjectionBatch execute_batch(const angzarr_kafka::ProjectorBatch& batch) const {
    std::lock_guard<std::mutex> guard(*lock_);
    angzarr_kafka::ProjectionBatch out;
    if (batch.books_size() == 0) return out;
    auto apply_all = [&] {
      out.Clear();
      for (const EventBook& book : batch.books()) *out.add_projections() = project(book);
    };
    if (!scope_) {
      apply_all();
      return out;
    }
    bool applied = false;
    std::exception_ptr failure;  // of the last apply()
    const std::function<void()> apply = [&] {
      applied = true;
      failure = nullptr;
      try {
        apply_all();
      } catch (...) {
        failure = std::current_exception();
        throw;
      }
    };
    // A failure of apply() is the one reported, whatever the scope made of it.
    const std::string where = "projector `" + name_ + "`: the batch scope failed: ";
    try {
      scope_(apply);
    } catch (const Error&) {
      if (failure) std::rethrow_exception(failure);
      throw;
    } catch (const std::exception& e) {
      if (failure) std::rethrow_exception(failure);
      throw internal_error(where + e.what());
    } catch (...) {
      if (failure) std::rethrow_exception(failure);
      throw internal_error(where + "unknown exception");
    }
    if (failure) std::rethrow_exception(failure);  // swallowed by the scope: the call still fails
    if (!applied) throw internal_error("projector `" + name_ + "`: the batch scope did not call apply()");
    return out;
  }

  /// ProjectorService.HandleSpeculative: the projection the book would
  /// give, the read model left as it was (see speculation()). UNIMPLEMENTED
  /// unless speculation() was given.
  Projection execute_speculative(const EventBook& book) const {
    if (!save_) {
      throw Error(grpc::StatusCode::UNIMPLEMENTED,
                  "projector `" + name_ + "` does not project speculatively (see Projector::speculation)");
    }
    std::lock_guard<std::mutex> guard(*lock_);
    std::shared_ptr<void> saved = detail::rethrow_as_error("projector `" + name_ + "`: save failed", [&] {
      return save_();
    });
    Projection out;
    try {
      out = project(book);
    } catch (...) {
      try {
        restore_(saved);
      } catch (...) {
        // The handler's failure is the one reported.
      }
      throw;
    }
    detail::rethrow_as_error("projector `" + name_ + "`: restore failed", [&] { restore_(saved); });
    return out;
  }

  /// execute() as a gRPC status; never throws.
  grpc::Status handle(const EventBook& book, Projection* out) const noexcept {
    return CommandHandler::guarded("projection", [&] { *out = execute(book); });
  }

  /// execute_batch() as a gRPC status (mapped as handle() maps a book's
  /// failure); never throws.
  grpc::Status handle_batch(const angzarr_kafka::ProjectorBatch& batch,
                            angzarr_kafka::ProjectionBatch* out) const noexcept {
    return CommandHandler::guarded("projection batch", [&] { *out = execute_batch(batch); });
  }

  /// execute_speculative() as a gRPC status; never throws.
  grpc::Status handle_speculative(const EventBook& book, Projection* out) const noexcept {
    return CommandHandler::guarded("speculative projection", [&] { *out = execute_speculative(book); });
  }

 private:
  Projection project(const EventBook& book) const {
    handlers_.dispatch(book);
    Projection out;
    if (book.has_cover()) *out.mutable_cover() = book.cover();
    out.set_projector(name_);
    if (book.pages_size() > 0) out.set_sequence(book.pages(book.pages_size() - 1).header().sequence());
    if (view_) {
      auto packed = detail::rethrow_as_error("projector `" + name_ + "`: the view failed",
                                             [&] { return view_(book.cover()); });
      if (packed) *out.mutable_projection() = std::move(*packed);
    }
    return out;
  }

  std::string name_;
  detail::EventHandlers<void> handlers_;
  std::function<std::optional<google::protobuf::Any>(const Cover&)> view_;
  std::function<std::shared_ptr<void>()> save_;
  std::function<void(const std::shared_ptr<void>&)> restore_;
  std::function<void(const std::function<void()>&)> scope_;
  std::shared_ptr<std::mutex> lock_;
};

}  // namespace angzarr
