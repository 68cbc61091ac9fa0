// The player rules of features/README.md, with angzarr::testing.
#include <angzarr/testing.hpp>
#include <gtest/gtest.h>

#include <string>

#include "player.hpp"

using angzarr::testing::Scenario;

namespace {

examples::Currency usd(int64_t n) {
  examples::Currency c;
  c.set_amount(n);
  c.set_currency_code("USD");
  return c;
}

std::string to_hex(const std::string& bytes) { return player::hex(bytes); }

examples::RegisterPlayer register_cmd(const std::string& name, const std::string& email) {
  examples::RegisterPlayer c;
  c.set_display_name(name);
  c.set_email(email);
  return c;
}

examples::PlayerRegistered registered() {
  examples::PlayerRegistered e;
  e.set_display_name("Ada");
  e.set_email("ada@example.com");
  return e;
}

template <class E>
E with_amount_and_balance(int64_t amount, int64_t balance) {
  E e;
  *e.mutable_amount() = usd(amount);
  *e.mutable_new_balance() = usd(balance);
  return e;
}

examples::DepositFunds deposit(int64_t n) {
  examples::DepositFunds c;
  *c.mutable_amount() = usd(n);
  return c;
}
examples::WithdrawFunds withdraw(int64_t n) {
  examples::WithdrawFunds c;
  *c.mutable_amount() = usd(n);
  return c;
}
examples::ReserveFunds reserve(int64_t n, const std::string& table) {
  examples::ReserveFunds c;
  *c.mutable_amount() = usd(n);
  c.set_table_root(table);
  return c;
}
examples::ReleaseFunds release(const std::string& table) {
  examples::ReleaseFunds c;
  c.set_table_root(table);
  return c;
}
examples::TransferFunds transfer(const std::string& from, int64_t n) {
  examples::TransferFunds c;
  c.set_from_player_root(from);
  *c.mutable_amount() = usd(n);
  return c;
}

examples::FundsReserved reserved(int64_t n, const std::string& table, int64_t available, int64_t held) {
  examples::FundsReserved e;
  *e.mutable_amount() = usd(n);
  e.set_table_root(table);
  *e.mutable_new_available_balance() = usd(available);
  *e.mutable_new_reserved_balance() = usd(held);
  return e;
}

Scenario<player::State> with100() {
  return Scenario(player::aggregate()).given(registered(), with_amount_and_balance<examples::FundsDeposited>(100, 100));
}

const std::string kTable = "t1";

}  // namespace

TEST(Player, Register) {
  const auto s = Scenario(player::aggregate());
  auto cmd = register_cmd("Ada", "ada@example.com");
  cmd.set_player_type(examples::AI);
  cmd.set_ai_model_id("m1");
  const auto out = s.when(cmd);
  auto want = registered();
  want.set_player_type(examples::AI);
  want.set_ai_model_id("m1");
  out.then_events(want);
  EXPECT_EQ(out.state.display_name(), "Ada");
  EXPECT_EQ(out.state.email(), "ada@example.com");
  EXPECT_EQ(out.state.player_type(), examples::AI);
  EXPECT_EQ(out.state.ai_model_id(), "m1");
  EXPECT_EQ(out.state.status(), "active");
  EXPECT_FALSE(out.state.has_bankroll());

  s.when(register_cmd("  ", "a@b")).then_rejected("display_name is required");
  s.when(register_cmd("\xE3\x80\x80\t", "a@b")).then_rejected("display_name is required");  // U+3000
  s.when(register_cmd("Ada", "")).then_rejected("email is required");
  s.given(registered()).when(register_cmd("Ada", "a@b")).then_rejected("player already exists");
  EXPECT_EQ(*s.given(registered()).when(register_cmd("", "")).rejection(), "player already exists");
}

TEST(Player, EveryOtherCommandNeedsAPlayer) {
  const auto s = Scenario(player::aggregate());
  EXPECT_EQ(*s.when(deposit(1)).rejection(), "player does not exist");
  EXPECT_EQ(*s.when(withdraw(1)).rejection(), "player does not exist");
  EXPECT_EQ(*s.when(reserve(1, kTable)).rejection(), "player does not exist");
  EXPECT_EQ(*s.when(release(kTable)).rejection(), "player does not exist");
  EXPECT_EQ(*s.when(transfer("\x01", 1)).rejection(), "player does not exist");
}

TEST(Player, AmountsMustBePositive) {
  const auto s = with100();
  EXPECT_EQ(*s.when(deposit(0)).rejection(), "amount must be positive");
  EXPECT_EQ(*s.when(examples::DepositFunds()).rejection(), "amount must be positive");
  EXPECT_EQ(*s.when(withdraw(-5)).rejection(), "amount must be positive");
  EXPECT_EQ(*s.when(reserve(0, kTable)).rejection(), "amount must be positive");
  EXPECT_EQ(*s.when(transfer("\x01", 0)).rejection(), "amount must be positive");
}

TEST(Player, DepositAndWithdraw) {
  const auto out = with100().when(deposit(50));
  out.then_events(with_amount_and_balance<examples::FundsDeposited>(50, 150));
  // Byte-identical with every other language: the canonical encoding, no
  // timestamps (the same bytes clients/go's test pins).
  EXPECT_EQ(to_hex(out.events.at(0).value()), "0a0708321203555344" "12080896011203555344");
  EXPECT_EQ(out.events.at(0).type_url(), "type.googleapis.com/examples.FundsDeposited");
  EXPECT_EQ(out.state.bankroll().amount(), 150);

  with100().when(withdraw(30)).then_events(with_amount_and_balance<examples::FundsWithdrawn>(30, 70));
  with100().when(withdraw(100)).then_events(with_amount_and_balance<examples::FundsWithdrawn>(100, 0));
  EXPECT_EQ(*with100().when(withdraw(150)).rejection(), "insufficient funds: available 100, requested 150");
}

TEST(Player, ReserveAndRelease) {
  const auto out = with100().when(reserve(80, kTable));
  out.then_events(reserved(80, kTable, 20, 80));
  EXPECT_EQ(out.state.table_reservations().at(to_hex(kTable)), 80);
  EXPECT_EQ(player::available(out.state), 20);

  const auto s = with100().given(reserved(80, kTable, 20, 80));
  EXPECT_EQ(*s.when(withdraw(50)).rejection(), "insufficient funds: available 20, requested 50");
  EXPECT_EQ(*s.when(reserve(10, kTable)).rejection(), "funds are already reserved for this table");
  EXPECT_EQ(*s.when(reserve(30, "t2")).rejection(), "insufficient funds: available 20, requested 30");
  EXPECT_EQ(*s.when(reserve(10, "")).rejection(), "table_root is required");
  EXPECT_EQ(*s.when(release("t2")).rejection(), "no funds are reserved for this table");

  const auto released = s.when(release(kTable));
  examples::FundsReleased want;
  *want.mutable_amount() = usd(80);
  want.set_table_root(kTable);
  *want.mutable_new_available_balance() = usd(100);
  *want.mutable_new_reserved_balance() = usd(0);
  released.then_events(want);
  EXPECT_TRUE(released.state.table_reservations().empty());
  EXPECT_EQ(released.state.reserved_funds().amount(), 0);

  s.given_packed(released.events)
      .when(withdraw(50))
      .then_events(with_amount_and_balance<examples::FundsWithdrawn>(50, 50));
}

TEST(Player, Transfer) {
  std::string from(16, '\0');
  from[15] = 1;
  auto cmd = transfer(from, 25);
  cmd.set_hand_root("h");
  cmd.set_reason("pot");
  examples::FundsTransferred want;
  want.set_from_player_root(from);
  *want.mutable_amount() = usd(25);
  want.set_hand_root("h");
  want.set_reason("pot");
  *want.mutable_new_balance() = usd(125);
  const auto out = with100().when(cmd);
  out.then_events(want);
  EXPECT_TRUE(out.event<examples::FundsTransferred>().to_player_root().empty());
  EXPECT_EQ(*with100().when(transfer("", 25)).rejection(), "from_player_root is required");
}

TEST(Player, EventsCarryNoTimestamps) {
  const auto s = Scenario(player::aggregate());
  EXPECT_FALSE(s.when(register_cmd("Ada", "a@b")).event<examples::PlayerRegistered>().has_registered_at());
  EXPECT_FALSE(with100().when(deposit(1)).event<examples::FundsDeposited>().has_deposited_at());
  EXPECT_FALSE(with100().when(withdraw(1)).event<examples::FundsWithdrawn>().has_withdrawn_at());
  EXPECT_FALSE(with100().when(reserve(1, kTable)).event<examples::FundsReserved>().has_reserved_at());
  EXPECT_FALSE(with100().when(transfer("\x01", 1)).event<examples::FundsTransferred>().has_transferred_at());
}

TEST(Player, SnapshotIsTheNewStateAtTheLastSequence) {
  const auto out = with100().when(reserve(30, kTable));
  const auto& book = out.response.events();
  ASSERT_EQ(book.pages_size(), 1);
  EXPECT_EQ(book.pages(0).header().sequence(), 2u);
  EXPECT_EQ(book.snapshot().sequence(), 2u);
  EXPECT_EQ(book.snapshot().state().type_url(), "type.googleapis.com/examples.PlayerState");
  EXPECT_EQ(book.snapshot().state().value(), angzarr::serialize_deterministic(out.state));
}

TEST(Player, UnknownCommandIsInvalidArgument) {
  examples::SitOut sit_out;
  sit_out.set_table_root(kTable);
  Scenario(player::aggregate()).when(sit_out).then_code(grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(player::aggregate().command_types().size(), 6u);
  EXPECT_EQ(player::aggregate().domain(), "player");
}

TEST(Player, IsBlankFollowsUnicodeWhiteSpace) {
  EXPECT_TRUE(player::is_blank(""));
  EXPECT_TRUE(player::is_blank(" \t\r\n\v\f"));
  EXPECT_TRUE(player::is_blank("\xC2\xA0\xE2\x80\x83\xE3\x80\x80"));  // NBSP, EM SPACE, IDEOGRAPHIC SPACE
  EXPECT_FALSE(player::is_blank(" a "));
  EXPECT_FALSE(player::is_blank("\xE2\x80\x8B"));  // ZERO WIDTH SPACE is not white space
  EXPECT_EQ(player::hex(std::string("\x00\xff\x10", 3)), "00ff10");
}
