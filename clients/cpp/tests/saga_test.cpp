// angzarr::Saga and angzarr::command: the SagaService.Handle contract
// without network.
#include <angzarr/saga.hpp>
#include <angzarr/testing.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "examples/player.pb.h"
#include "examples/table.pb.h"

using angzarr::testing::event_book;

namespace {

const std::string kTable(16, '\x0a');
const std::string kAlice(16, '\x01');
const std::string kBob(16, '\x02');

angzarr::Cover table_cover() {
  angzarr::Cover c;
  c.set_domain("table");
  c.mutable_root()->set_value(kTable);
  c.set_correlation_id("corr-9");
  return c;
}

examples::PlayerJoined joined(const std::string& player, int64_t buy_in) {
  examples::PlayerJoined e;
  e.set_player_root(player);
  e.set_buy_in_amount(buy_in);
  return e;
}

examples::PlayerLeft left(const std::string& player) {
  examples::PlayerLeft e;
  e.set_player_root(player);
  return e;
}

examples::ReserveFunds reserve(int64_t amount, const std::string& table) {
  examples::ReserveFunds cmd;
  cmd.mutable_amount()->set_amount(amount);
  cmd.mutable_amount()->set_currency_code("USD");
  cmd.set_table_root(table);
  return cmd;
}

// Reserve the buy-in when a player joins; 13 throws, 14 returns a bad
// book, 0 issues nothing.
angzarr::Saga reserve_on_join() {
  return angzarr::Saga("reserve-on-join")
      .on<examples::PlayerJoined>([](const examples::PlayerJoined& e, const angzarr::Cover& table, uint32_t) {
        std::vector<angzarr::CommandBook> out;
        if (e.buy_in_amount() == 0) return out;
        if (e.buy_in_amount() == 13) throw std::runtime_error("unlucky");
        if (e.buy_in_amount() == 14) {
          out.emplace_back();  // no cover, no page
          return out;
        }
        out.push_back(angzarr::command("player", e.player_root(), reserve(e.buy_in_amount(), table.root().value())));
        return out;
      });
}

}  // namespace

TEST(Saga, CommandBuildsOneHeaderlessPage) {
  const angzarr::CommandBook book = angzarr::command("player", kAlice, reserve(50, kTable));
  EXPECT_EQ(book.cover().domain(), "player");
  EXPECT_EQ(book.cover().root().value(), kAlice);
  EXPECT_EQ(book.cover().correlation_id(), "");  // the coordinator copies the source's
  ASSERT_EQ(book.pages_size(), 1);
  EXPECT_FALSE(book.pages(0).has_header());  // the coordinator stamps the sequence
  EXPECT_EQ(book.pages(0).command().type_url(), "type.googleapis.com/examples.ReserveFunds");
  EXPECT_EQ(book.pages(0).command().value(), angzarr::pack(reserve(50, kTable)).value());
  EXPECT_EQ(angzarr::command_book_problem(book), "");

  angzarr::UUID root;
  root.set_value(kBob);
  EXPECT_EQ(angzarr::command("player", root, reserve(1, kTable)).cover().root().value(), kBob);

  EXPECT_THROW(angzarr::command("", kAlice, reserve(1, kTable)), std::invalid_argument);
  EXPECT_THROW(angzarr::command("player", "short", reserve(1, kTable)), std::invalid_argument);
  EXPECT_THROW(angzarr::command("player", std::string(16, '\0'), reserve(1, kTable)), std::invalid_argument);
}

TEST(Saga, ReactsToEveryPageInOrder) {
  const auto saga = reserve_on_join();
  EXPECT_EQ(saga.name(), "reserve-on-join");
  EXPECT_EQ(saga.event_types(), std::vector<std::string>{"examples.PlayerJoined"});

  angzarr::SagaHandleRequest req;
  *req.mutable_source() =
      event_book(table_cover(), 3, joined(kAlice, 50), left(kAlice), joined(kBob, 0), joined(kBob, 70));
  const angzarr::SagaResponse resp = saga.execute(req);
  ASSERT_EQ(resp.commands_size(), 2);
  EXPECT_EQ(resp.events_size(), 0);
  EXPECT_EQ(resp.commands(0).cover().root().value(), kAlice);
  EXPECT_EQ(angzarr::unpack<examples::ReserveFunds>(resp.commands(0).pages(0).command()).amount().amount(), 50);
  EXPECT_EQ(angzarr::unpack<examples::ReserveFunds>(resp.commands(0).pages(0).command()).table_root(), kTable);
  EXPECT_EQ(resp.commands(1).cover().root().value(), kBob);
  EXPECT_EQ(angzarr::unpack<examples::ReserveFunds>(resp.commands(1).pages(0).command()).amount().amount(), 70);

  // Same from the bare book; handle() gives the same as a status.
  EXPECT_EQ(saga.execute(req.source()).SerializeAsString(), resp.SerializeAsString());
  angzarr::SagaResponse via_status;
  ASSERT_TRUE(saga.handle(req, &via_status).ok());
  EXPECT_EQ(via_status.SerializeAsString(), resp.SerializeAsString());

  // Nothing to react to.
  EXPECT_EQ(saga.execute(angzarr::SagaHandleRequest()).commands_size(), 0);
  auto skipped = event_book(table_cover(), 0, joined(kAlice, 50));
  skipped.mutable_pages(0)->set_no_commit(true);
  EXPECT_EQ(saga.execute(skipped).commands_size(), 0);
}

TEST(Saga, HandlersSeeCoverAndSequenceAndMayReturnOneBook) {
  std::vector<uint32_t> seqs;
  const auto saga = angzarr::Saga("one")
                        .on<examples::PlayerJoined>([&seqs](const examples::PlayerJoined& e,
                                                            const angzarr::Cover& c, uint32_t seq) {
                          EXPECT_EQ(c.correlation_id(), "corr-9");
                          seqs.push_back(seq);
                          return angzarr::command("player", e.player_root(), reserve(1, c.root().value()));
                        })
                        .on<examples::PlayerLeft>(
                            [](const examples::PlayerLeft&, const angzarr::Cover&) -> std::optional<angzarr::CommandBook> {
                              return std::nullopt;
                            });
  const auto resp = saga.execute(event_book(table_cover(), 7, joined(kAlice, 1), left(kAlice), joined(kBob, 1)));
  EXPECT_EQ(resp.commands_size(), 2);
  EXPECT_EQ(seqs, (std::vector<uint32_t>{7, 9}));
}

TEST(Saga, FailuresAreStatusesNeverCrashes) {
  const auto saga = reserve_on_join();
  angzarr::SagaResponse resp;
  angzarr::SagaHandleRequest req;

  *req.mutable_source() = event_book(table_cover(), 0, joined(kAlice, 13));
  auto st = saga.handle(req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("saga `reserve-on-join`"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("unlucky"), std::string::npos) << st.error_message();

  *req.mutable_source() = event_book(table_cover(), 0, joined(kAlice, 14));
  st = saga.handle(req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("bad command book"), std::string::npos) << st.error_message();

  // A handler building a bad command with angzarr::command: its
  // std::invalid_argument is a bug, INTERNAL.
  const auto sloppy = angzarr::Saga("sloppy").on<examples::PlayerJoined>(
      [](const examples::PlayerJoined&, const angzarr::Cover&) {
        return angzarr::command("player", std::string(3, 'x'), examples::ReserveFunds());
      });
  *req.mutable_source() = event_book(table_cover(), 0, joined(kAlice, 1));
  EXPECT_EQ(sloppy.handle(req, &resp).error_code(), grpc::StatusCode::INTERNAL);

  auto bad = event_book(table_cover(), 0, joined(kAlice, 1));
  bad.mutable_pages(0)->mutable_event()->set_value("\xff\xff\xff");
  *req.mutable_source() = bad;
  EXPECT_EQ(saga.handle(req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_THROW(angzarr::Saga(""), std::invalid_argument);
  auto noop = [](const examples::PlayerLeft&, const angzarr::Cover&) { return std::vector<angzarr::CommandBook>(); };
  EXPECT_THROW(angzarr::Saga("s").on<examples::PlayerLeft>(noop).on<examples::PlayerLeft>(noop), std::logic_error);
}

TEST(Saga, CommandBookProblems) {
  auto good = angzarr::command("player", kAlice, reserve(1, kTable));
  auto book = good;
  book.mutable_cover()->clear_domain();
  EXPECT_EQ(angzarr::command_book_problem(book), "no target domain");
  book = good;
  book.mutable_cover()->mutable_root()->set_value(std::string(16, '\0'));
  EXPECT_EQ(angzarr::command_book_problem(book), "the root is the nil UUID");
  book = good;
  *book.add_pages() = good.pages(0);
  EXPECT_EQ(angzarr::command_book_problem(book), "2 pages, exactly one is required");
  book = good;
  book.mutable_pages(0)->mutable_external()->set_uri("x");
  EXPECT_EQ(angzarr::command_book_problem(book), "the page has no inline command");
}
