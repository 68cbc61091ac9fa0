// angzarr::testing: given / when / then.
#include <angzarr/testing.hpp>
#include <gtest/gtest.h>

#include "wallet.hpp"

using angzarr::testing::Failure;
using angzarr::testing::Scenario;
using namespace wallet_test;

TEST(Testing, GivenWhenThenEvents) {
  const auto s = Scenario(wallet()).given(deposited(100, 100));
  EXPECT_EQ(s.state().amount(), 100);
  EXPECT_EQ(s.history().next_sequence(), 1u);
  const auto out = s.when(deposit(50));
  out.then_events(deposited(50, 150));
  EXPECT_TRUE(out.accepted());
  EXPECT_EQ(out.state.amount(), 150);
  EXPECT_EQ(out.event<examples::FundsDeposited>().new_balance().amount(), 150);
  EXPECT_EQ(out.response.events().pages(0).header().sequence(), 1u);
  s.when(deposit(2)).then_events(deposited(1, 101), deposited(1, 102));
  // given() leaves s unchanged.
  EXPECT_EQ(s.given(deposited(1, 101)).state().amount(), 101);
  EXPECT_EQ(s.state().amount(), 100);
}

TEST(Testing, ThenFailsLoudly) {
  const auto s = Scenario(wallet());
  EXPECT_THROW(s.when(deposit(5)).then_events(deposited(5, 6)), Failure);
  EXPECT_THROW(s.when(deposit(5)).then_events(), Failure);
  EXPECT_THROW(s.when(deposit(5)).then_rejected("amount"), Failure);
  EXPECT_THROW(s.when(deposit(0)).then_events(deposited(0, 0)), Failure);
  EXPECT_THROW(s.when(deposit(0)).then_rejected("something else"), Failure);
  EXPECT_THROW(s.when(deposit(5)).event<examples::FundsWithdrawn>(), Failure);
  EXPECT_THROW(s.when(deposit(5)).then_code(grpc::StatusCode::INTERNAL), Failure);
}

TEST(Testing, RejectionsAndCodes) {
  const auto s = Scenario(wallet());
  const auto out = s.when(deposit(0));
  out.then_rejected("must not be zero").then_code(grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(out.rejection().has_value());
  EXPECT_EQ(*out.rejection(), "amount must not be zero");
  EXPECT_TRUE(out.events.empty());
  s.when(deposit(13)).then_code(grpc::StatusCode::INTERNAL);
  EXPECT_FALSE(s.when(deposit(13)).rejection().has_value());
  s.when(examples::WithdrawFunds()).then_code(grpc::StatusCode::INVALID_ARGUMENT);
}
