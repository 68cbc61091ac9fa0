// A toy aggregate for the library's own tests, over the example protos:
// domain "wallet", state examples::Currency, one command (DepositFunds).
#pragma once

#include <angzarr/angzarr.hpp>

#include <stdexcept>

#include "examples/player.pb.h"

namespace wallet_test {

inline examples::Currency usd(int64_t n) {
  examples::Currency c;
  c.set_amount(n);
  c.set_currency_code("USD");
  return c;
}

inline examples::DepositFunds deposit(int64_t n) {
  examples::DepositFunds d;
  *d.mutable_amount() = usd(n);
  return d;
}

inline examples::FundsDeposited deposited(int64_t n, int64_t balance) {
  examples::FundsDeposited e;
  *e.mutable_amount() = usd(n);
  *e.mutable_new_balance() = usd(balance);
  return e;
}

/// Deposits: 0 is rejected, 13 throws a std::runtime_error (a bug), 14
/// throws an int, 2 records two events (1 + 1), -1 records nothing.
inline angzarr::Aggregate<examples::Currency> wallet(const std::string& domain = "wallet") {
  return angzarr::Aggregate<examples::Currency>(domain)
      .on<examples::DepositFunds>(
          [](const examples::DepositFunds& cmd, const examples::Currency& s, uint32_t) -> angzarr::Events {
            const int64_t a = cmd.amount().amount();
            angzarr::ensure(a != 0, "amount must not be zero");
            if (a == 13) throw std::runtime_error("unlucky");
            if (a == 14) throw 14;
            if (a == -1) return angzarr::Events();
            if (a == 2) return angzarr::Events::of(deposited(1, s.amount() + 1), deposited(1, s.amount() + 2));
            return angzarr::Events::one(deposited(a, s.amount() + a));
          })
      .apply<examples::FundsDeposited>([](examples::Currency& s, const examples::FundsDeposited& e) {
        s = e.new_balance();
      });
}

}  // namespace wallet_test
