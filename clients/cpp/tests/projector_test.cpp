// angzarr::Projector: the ProjectorService.Handle and
// ProjectorBatchService.HandleBatch contracts without network.
#include <angzarr/projector.hpp>
#include <angzarr/testing.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "examples/player.pb.h"
#include "wallet.hpp"

using angzarr::testing::event_book;
using namespace wallet_test;

namespace {

angzarr::Cover cover(char root = '\x07') {
  angzarr::Cover c;
  c.set_domain("wallet");
  c.mutable_root()->set_value(std::string(16, root));
  c.set_correlation_id("corr-1");
  return c;
}

examples::PlayerRegistered registered(const std::string& name) {
  examples::PlayerRegistered e;
  e.set_display_name(name);
  return e;
}

// A read model: the balance per root, and every (root, sequence) seen.
struct Ledger {
  std::map<std::string, int64_t> balances;
  std::vector<std::pair<std::string, uint32_t>> seen;
};

angzarr::Projector ledger(std::shared_ptr<Ledger> model) {
  return angzarr::Projector("ledger")
      .on<examples::FundsDeposited>([model](const examples::FundsDeposited& e, const angzarr::Cover& c, uint32_t seq) {
        if (e.amount().amount() == 13) throw std::runtime_error("unlucky");
        if (e.amount().amount() == 14) throw 14;
        if (e.amount().amount() == 15) throw angzarr::Error(grpc::StatusCode::UNAVAILABLE, "store down");
        model->balances[c.root().value()] = e.new_balance().amount();
        model->seen.emplace_back(c.root().value(), seq);
      });
}

grpc::Status status_of(const angzarr::Projector& p, const angzarr::EventBook& book, angzarr::Projection* out,
                          bool speculative = false) {
  return speculative ? p.handle_speculative(book, out) : p.handle(book, out);
}

}  // namespace

TEST(Projector, AppliesEveryPageAndReportsTheLastSequence) {
  auto model = std::make_shared<Ledger>();
  const auto p = ledger(model);
  EXPECT_EQ(p.name(), "ledger");
  EXPECT_EQ(p.event_types(), std::vector<std::string>{"examples.FundsDeposited"});

  // An unknown event type in between (and last) is ignored, but its
  // sequence still counts as projected.
  const auto book = event_book(cover(), 4, deposited(5, 5), registered("x"), deposited(2, 7), registered("y"));
  const angzarr::Projection out = p.execute(book);
  EXPECT_EQ(out.projector(), "ledger");
  EXPECT_EQ(out.sequence(), 7u);
  EXPECT_EQ(out.cover().SerializeAsString(), cover().SerializeAsString());
  EXPECT_FALSE(out.has_projection());
  EXPECT_EQ(model->balances[std::string(16, '\x07')], 7);
  const std::vector<std::pair<std::string, uint32_t>> want{{std::string(16, '\x07'), 4},
                                                           {std::string(16, '\x07'), 6}};
  EXPECT_EQ(model->seen, want);
}

TEST(Projector, RedeliveriesReachTheHandlersAgain) {
  // At-least-once delivery and replays: no in-memory dedupe; idempotence
  // belongs with the read model.
  auto model = std::make_shared<Ledger>();
  const auto p = ledger(model);
  const auto book = event_book(cover(), 0, deposited(5, 5), deposited(1, 6));
  p.execute(book);
  p.execute(event_book(cover(), 1, deposited(1, 6)));  // overlapping redelivery
  p.execute(book);                                     // a replay from the start
  ASSERT_EQ(model->seen.size(), 5u);
  EXPECT_EQ(model->seen[2].second, 1u);
  EXPECT_EQ(model->seen[3].second, 0u);
  EXPECT_EQ(model->balances[std::string(16, '\x07')], 6);
}

TEST(Projector, EmptyBookAndNoCommitPages) {
  auto model = std::make_shared<Ledger>();
  const auto p = ledger(model);
  angzarr::EventBook empty;
  *empty.mutable_cover() = cover();
  auto out = p.execute(empty);
  EXPECT_EQ(out.sequence(), 0u);
  EXPECT_EQ(out.cover().domain(), "wallet");
  EXPECT_EQ(out.projector(), "ledger");

  auto book = event_book(cover(), 2, deposited(5, 5), deposited(1, 6));
  book.mutable_pages(1)->set_no_commit(true);  // persisted, not to be reacted to
  out = p.execute(book);
  EXPECT_EQ(out.sequence(), 3u);
  ASSERT_EQ(model->seen.size(), 1u);
  EXPECT_EQ(model->seen[0].second, 2u);

  // A book without a cover: handlers get an empty one, none is echoed.
  angzarr::EventBook bare = event_book(angzarr::Cover(), 0, deposited(1, 1));
  bare.clear_cover();
  out = p.execute(bare);
  EXPECT_FALSE(out.has_cover());
  EXPECT_EQ(model->balances[""], 1);
}

TEST(Projector, FailuresAreStatusesNeverCrashes) {
  auto model = std::make_shared<Ledger>();
  const auto p = ledger(model);
  angzarr::Projection out;

  auto st = p.handle(event_book(cover(), 0, deposited(1, 1), deposited(13, 14)), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("projector `ledger`"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("examples.FundsDeposited"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("sequence 1"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("unlucky"), std::string::npos) << st.error_message();
  EXPECT_EQ(model->seen.size(), 1u);  // pages before the failure stay applied

  EXPECT_EQ(p.handle(event_book(cover(), 0, deposited(14, 1)), &out).error_code(), grpc::StatusCode::INTERNAL);
  st = p.handle(event_book(cover(), 0, deposited(15, 1)), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);  // an Error keeps its code
  EXPECT_EQ(st.error_message(), "store down");

  auto bad = event_book(cover(), 0, deposited(1, 1));
  bad.mutable_pages(0)->mutable_event()->set_value("\xff\xff\xff");
  EXPECT_EQ(p.handle(bad, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Malformed bytes of a type nobody handles are nobody's business.
  bad.mutable_pages(0)->mutable_event()->set_type_url("type.googleapis.com/examples.Unknown");
  EXPECT_TRUE(p.handle(bad, &out).ok());

  angzarr::EventBook external;
  auto* page = external.add_pages();
  page->mutable_header()->set_sequence(0);
  page->mutable_external()->set_uri("s3://bucket/x");
  st = p.handle(external, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("s3://bucket/x"), std::string::npos);

  // Still fine.
  EXPECT_TRUE(p.handle(event_book(cover(), 0, deposited(1, 2)), &out).ok());
}

TEST(Projector, ViewFillsTheProjection) {
  auto model = std::make_shared<Ledger>();
  const auto p = ledger(model).view([model](const angzarr::Cover& c) -> std::optional<examples::Currency> {
    auto it = model->balances.find(c.root().value());
    if (it == model->balances.end()) return std::nullopt;
    return usd(it->second);
  });
  auto out = p.execute(event_book(cover(), 0, deposited(5, 5)));
  ASSERT_TRUE(out.has_projection());
  EXPECT_EQ(out.projection().type_url(), "type.googleapis.com/examples.Currency");
  EXPECT_EQ(angzarr::unpack<examples::Currency>(out.projection()).amount(), 5);
  EXPECT_FALSE(p.execute(event_book(cover('\x08'), 0, registered("x"))).has_projection());

  // A plain message, a pointer, no argument.
  EXPECT_TRUE(angzarr::Projector("a").view([] { return usd(1); }).execute(angzarr::EventBook()).has_projection());
  EXPECT_FALSE(angzarr::Projector("b")
                   .view([](const angzarr::Cover&) { return std::unique_ptr<examples::Currency>(); })
                   .execute(angzarr::EventBook())
                   .has_projection());
  EXPECT_THROW(angzarr::Projector("c").view([] { return usd(1); }).view([] { return usd(2); }), std::logic_error);

  angzarr::Projection ignored;
  const auto broken = angzarr::Projector("broken").view([]() -> examples::Currency { throw std::runtime_error("no"); });
  const auto st = broken.handle(angzarr::EventBook(), &ignored);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("view"), std::string::npos);
}

TEST(Projector, SpeculativeIsUnimplementedUnlessGiven) {
  auto model = std::make_shared<Ledger>();
  const auto plain = ledger(model);
  EXPECT_FALSE(plain.speculative());
  angzarr::Projection out;
  EXPECT_EQ(status_of(plain, event_book(cover(), 0, deposited(5, 5)), &out, true).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(model->seen.empty());

  int restores = 0;
  const auto p = ledger(model)
                     .view([model](const angzarr::Cover& c) { return usd(model->balances[c.root().value()]); })
                     .speculation([model] { return *model; },
                                  [model, &restores](Ledger saved) {
                                    *model = std::move(saved);
                                    ++restores;
                                  });
  EXPECT_TRUE(p.speculative());
  p.execute(event_book(cover(), 0, deposited(5, 5)));
  ASSERT_TRUE(status_of(p, event_book(cover(), 1, deposited(10, 15)), &out, true).ok());
  EXPECT_EQ(out.sequence(), 1u);
  EXPECT_EQ(angzarr::unpack<examples::Currency>(out.projection()).amount(), 15);
  EXPECT_EQ(model->balances[std::string(16, '\x07')], 5);  // restored
  EXPECT_EQ(model->seen.size(), 1u);
  EXPECT_EQ(restores, 1);

  // A failing speculative book restores too.
  EXPECT_EQ(status_of(p, event_book(cover(), 1, deposited(1, 6), deposited(13, 19)), &out, true).error_code(),
            grpc::StatusCode::INTERNAL);
  EXPECT_EQ(model->balances[std::string(16, '\x07')], 5);
  EXPECT_EQ(model->seen.size(), 1u);
  EXPECT_EQ(restores, 2);
}

TEST(Projector, RegistrationIsChecked) {
  EXPECT_THROW(angzarr::Projector(""), std::invalid_argument);
  auto noop = [](const examples::FundsDeposited&, const angzarr::Cover&) {};
  EXPECT_THROW(angzarr::Projector("p").on<examples::FundsDeposited>(noop).on<examples::FundsDeposited>(noop),
               std::logic_error);
  // A handler without the sequence.
  int calls = 0;
  const auto p = angzarr::Projector("p").on<examples::FundsDeposited>(
      [&calls](const examples::FundsDeposited&, const angzarr::Cover&) { ++calls; });
  p.execute(event_book(cover(), 0, deposited(1, 1), deposited(1, 2)));
  EXPECT_EQ(calls, 2);
}

// ProjectorBatchService.HandleBatch without network: execute_batch /
// handle_batch, and the batch scope.
namespace {

angzarr_kafka::ProjectorBatch batch_of(std::initializer_list<angzarr::EventBook> books) {
  angzarr_kafka::ProjectorBatch batch;
  for (const auto& b : books) *batch.add_books() = b;
  return batch;
}

// A read model with one transaction per batch, through batch_scope: a copy
// taken when the scope opens is put back when apply() fails.
struct Scoped {
  std::shared_ptr<Ledger> model = std::make_shared<Ledger>();
  int opened = 0;
  int committed = 0;
  std::vector<std::string> errors;  // what the scope saw apply() throw
};

angzarr::Projector scoped_ledger(const std::shared_ptr<Scoped>& s) {
  return ledger(s->model).batch_scope([s](const std::function<void()>& apply) {
    ++s->opened;
    const Ledger before = *s->model;  // BEGIN
    try {
      apply();
    } catch (const std::exception& e) {
      s->errors.push_back(e.what());
      *s->model = before;  // ROLLBACK
      throw;
    }
    ++s->committed;  // COMMIT
  });
}

}  // namespace

TEST(ProjectorBatch, AppliesBooksInOrderAsHandleWould) {
  auto model = std::make_shared<Ledger>();
  const auto view = [model](const angzarr::Cover& c) { return usd(model->balances[c.root().value()]); };
  const auto p = ledger(model).view(view);
  // Root 7 has two books in the batch, root 8's interleaved; an unknown
  // event type still counts for the sequence.
  const auto b1 = event_book(cover('\x07'), 0, deposited(5, 5), deposited(1, 6));
  const auto b2 = event_book(cover('\x08'), 0, deposited(2, 2));
  const auto b3 = event_book(cover('\x07'), 2, deposited(3, 9), registered("x"));
  const auto out = p.execute_batch(batch_of({b1, b2, b3}));
  ASSERT_EQ(out.projections_size(), 3);

  // The same books one at a time, through execute(), on a fresh read model.
  auto alone = std::make_shared<Ledger>();
  const auto q = ledger(alone).view([alone](const angzarr::Cover& c) { return usd(alone->balances[c.root().value()]); });
  int i = 0;
  for (const auto& book : {b1, b2, b3}) {
    EXPECT_EQ(out.projections(i).SerializeAsString(), q.execute(book).SerializeAsString()) << "book " << i + 1;
    ++i;
  }
  EXPECT_EQ(model->seen, alone->seen);
  EXPECT_EQ(model->balances, alone->balances);

  EXPECT_EQ(out.projections(0).sequence(), 1u);
  EXPECT_EQ(out.projections(1).sequence(), 0u);
  EXPECT_EQ(out.projections(2).sequence(), 3u);
  EXPECT_EQ(out.projections(1).cover().root().value(), std::string(16, '\x08'));
  EXPECT_EQ(out.projections(2).projector(), "ledger");
  // The view is read after each book's own handlers.
  EXPECT_EQ(angzarr::unpack<examples::Currency>(out.projections(0).projection()).amount(), 6);
  EXPECT_EQ(angzarr::unpack<examples::Currency>(out.projections(2).projection()).amount(), 9);

  // An empty batch: no projections.
  angzarr_kafka::ProjectionBatch empty;
  ASSERT_TRUE(p.handle_batch(angzarr_kafka::ProjectorBatch(), &empty).ok());
  EXPECT_EQ(empty.projections_size(), 0);
}

TEST(ProjectorBatch, AnErrorInBook2FailsTheWholeCall) {
  auto model = std::make_shared<Ledger>();
  const auto p = ledger(model);
  const auto b1 = event_book(cover('\x07'), 0, deposited(5, 5));
  const auto b2 = event_book(cover('\x08'), 0, deposited(1, 1), deposited(13, 14));  // throws at sequence 1
  const auto b3 = event_book(cover('\x09'), 0, deposited(2, 2));
  angzarr_kafka::ProjectionBatch out;
  *out.add_projections() = angzarr::Projection();  // left alone on failure
  const grpc::Status st = p.handle_batch(batch_of({b1, b2, b3}), &out);

  // The status handle() gives book 2 alone: same code, same message.
  angzarr::Projection ignored;
  const grpc::Status alone = ledger(std::make_shared<Ledger>()).handle(b2, &ignored);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(st.error_code(), alone.error_code());
  EXPECT_EQ(st.error_message(), alone.error_message());
  EXPECT_NE(st.error_message().find("unlucky"), std::string::npos) << st.error_message();
  EXPECT_EQ(out.projections_size(), 1);

  // What came before stays applied (no scope), book 3 was never reached.
  const std::vector<std::pair<std::string, uint32_t>> want{{std::string(16, '\x07'), 0},
                                                           {std::string(16, '\x08'), 0}};
  EXPECT_EQ(model->seen, want);
  EXPECT_EQ(model->balances.count(std::string(16, '\x09')), 0u);

  // A handler's Error keeps its code; a malformed event is INVALID_ARGUMENT.
  const auto down = event_book(cover('\x08'), 1, deposited(15, 1));
  EXPECT_EQ(p.handle_batch(batch_of({b1, down, b3}), &out).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(p.handle_batch(batch_of({b1, down, b3}), &out).error_message(), "store down");
  auto bad = b3;
  bad.mutable_pages(0)->mutable_event()->set_value("\xff\xff\xff");
  EXPECT_EQ(p.handle_batch(batch_of({b1, bad}), &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Handed over again once the cause is gone: applied as a whole.
  ASSERT_TRUE(p.handle_batch(batch_of({b1, event_book(cover('\x08'), 0, deposited(1, 1)), b3}), &out).ok());
  EXPECT_EQ(out.projections_size(), 3);
  EXPECT_EQ(model->balances[std::string(16, '\x09')], 2);
}

TEST(ProjectorBatch, TheScopeWrapsEachBatchAndSeesTheError) {
  auto s = std::make_shared<Scoped>();
  const auto p = scoped_ledger(s);
  EXPECT_TRUE(p.batch_scoped());
  EXPECT_FALSE(ledger(s->model).batch_scoped());

  // One scope per batch, committed.
  angzarr_kafka::ProjectionBatch out;
  ASSERT_TRUE(p.handle_batch(batch_of({event_book(cover('\x07'), 0, deposited(5, 5)),
                                       event_book(cover('\x08'), 0, deposited(2, 2))}),
                             &out)
                  .ok());
  EXPECT_EQ(out.projections_size(), 2);
  EXPECT_EQ(s->opened, 1);
  EXPECT_EQ(s->committed, 1);
  EXPECT_EQ(s->model->seen.size(), 2u);

  // Handle (one book) does not open it; neither does an empty batch.
  p.execute(event_book(cover('\x07'), 1, deposited(1, 6)));
  ASSERT_TRUE(p.handle_batch(angzarr_kafka::ProjectorBatch(), &out).ok());
  EXPECT_EQ(s->opened, 1);
  EXPECT_EQ(s->model->seen.size(), 3u);

  // An error in book 2: the scope sees it, rolls book 1 back, the call fails.
  const grpc::Status st = p.handle_batch(batch_of({event_book(cover('\x07'), 2, deposited(1, 7)),
                                                   event_book(cover('\x08'), 1, deposited(13, 15)),
                                                   event_book(cover('\x09'), 0, deposited(1, 1))}),
                                         &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("unlucky"), std::string::npos) << st.error_message();
  EXPECT_EQ(s->opened, 2);
  EXPECT_EQ(s->committed, 1);
  ASSERT_EQ(s->errors.size(), 1u);
  EXPECT_EQ(s->errors[0], st.error_message());
  EXPECT_EQ(s->model->seen.size(), 3u);  // rolled back: nothing of that batch
  EXPECT_EQ(s->model->balances[std::string(16, '\x07')], 6);

  // An Error keeps its code through the scope.
  EXPECT_EQ(p.handle_batch(batch_of({event_book(cover('\x08'), 1, deposited(15, 1))}), &out).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s->errors.back(), "store down");
  EXPECT_THROW(scoped_ledger(s).batch_scope([](const std::function<void()>& apply) { apply(); }), std::logic_error);
}

TEST(ProjectorBatch, AScopeCannotTurnAFailureIntoSuccess) {
  auto model = std::make_shared<Ledger>();
  const auto failing = batch_of({event_book(cover('\x07'), 0, deposited(1, 1)),
                                 event_book(cover('\x08'), 0, deposited(15, 1))});
  const auto fine = batch_of({event_book(cover('\x07'), 0, deposited(1, 1))});
  angzarr_kafka::ProjectionBatch out;

  // Swallowed: the call still fails with apply()'s error.
  const auto swallowing = ledger(model).batch_scope([](const std::function<void()>& apply) {
    try {
      apply();
    } catch (...) {
    }
  });
  auto st = swallowing.handle_batch(failing, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(st.error_message(), "store down");

  // Replaced by the scope's own (a failed rollback): apply()'s is reported.
  const auto replacing = ledger(model).batch_scope([](const std::function<void()>& apply) {
    try {
      apply();
    } catch (...) {
      throw std::runtime_error("rollback failed");
    }
  });
  st = replacing.handle_batch(failing, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(st.error_message(), "store down");

  // apply() never called: INTERNAL, nothing applied.
  model->seen.clear();
  const auto lazy = ledger(model).batch_scope([](const std::function<void()>&) {});
  st = lazy.handle_batch(fine, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("did not call apply"), std::string::npos) << st.error_message();
  EXPECT_TRUE(model->seen.empty());

  // The commit fails after apply() succeeded: an Error keeps its code,
  // anything else is INTERNAL.
  const auto conflicted = ledger(model).batch_scope([](const std::function<void()>& apply) {
    apply();
    throw angzarr::Error(grpc::StatusCode::ABORTED, "commit conflict");
  });
  st = conflicted.handle_batch(fine, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(st.error_message(), "commit conflict");
  const auto full = ledger(model).batch_scope([](const std::function<void()>& apply) {
    apply();
    throw std::runtime_error("disk full");
  });
  st = full.handle_batch(fine, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("batch scope"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("disk full"), std::string::npos) << st.error_message();
}

TEST(ProjectorBatch, AScopeMayRetryAndTheLastApplyCounts) {
  int calls = 0;
  int attempts = 0;
  const auto p = angzarr::Projector("flaky")
                     .on<examples::FundsDeposited>([&calls](const examples::FundsDeposited&, const angzarr::Cover&) {
                       if (++calls == 2) throw angzarr::Error(grpc::StatusCode::ABORTED, "serialization failure");
                     })
                     .batch_scope([&attempts](const std::function<void()>& apply) {
                       for (;;) {
                         ++attempts;
                         try {
                           apply();
                           return;
                         } catch (const angzarr::Error& e) {
                           if (e.code() != grpc::StatusCode::ABORTED || attempts > 3) throw;
                         }
                       }
                     });
  angzarr_kafka::ProjectionBatch out;
  const auto st = p.handle_batch(batch_of({event_book(cover('\x07'), 0, deposited(1, 1)),
                                           event_book(cover('\x08'), 0, deposited(1, 1))}),
                                 &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(calls, 4);
  ASSERT_EQ(out.projections_size(), 2);  // the last attempt's, not both
  EXPECT_EQ(out.projections(1).cover().root().value(), std::string(16, '\x08'));
}
