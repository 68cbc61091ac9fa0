// angzarr::Projector: the ProjectorService.Handle contract without network.
#include <angzarr/projector.hpp>
#include <angzarr/testing.hpp>
#include <gtest/gtest.h>

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
