#include "player.hpp"

#include <string>

namespace player {
namespace {

bool exists(const State& s) { return !s.status().empty(); }

// amount in like's currency code.
examples::Currency currency(int64_t amount, const examples::Currency& like) {
  examples::Currency c;
  c.set_amount(amount);
  c.set_currency_code(like.currency_code());
  return c;
}

void must_exist(const State& s) { angzarr::ensure(exists(s), "player does not exist"); }

int64_t positive(const examples::Currency& c) {
  angzarr::ensure(c.amount() > 0, "amount must be positive");
  return c.amount();
}

void sufficient(const State& s, int64_t requested) {
  if (requested > available(s)) {
    throw angzarr::CommandRejected("insufficient funds: available " + std::to_string(available(s)) + ", requested " +
                                   std::to_string(requested));
  }
}

// The bankroll / reserved funds an event names, absent when the event leaves
// it unset (as Go's clone of a nil pointer and Rust's Option::clone).
void set_bankroll(State& s, bool has, const examples::Currency& c) {
  if (has) {
    *s.mutable_bankroll() = c;
  } else {
    s.clear_bankroll();
  }
}

void set_reserved(State& s, bool has, const examples::Currency& c) {
  if (has) {
    *s.mutable_reserved_funds() = c;
  } else {
    s.clear_reserved_funds();
  }
}

// One UTF-8 code point at s[i], advancing i; invalid bytes yield 0xFFFD.
char32_t next_code_point(const std::string& s, std::size_t& i) {
  auto b = static_cast<unsigned char>(s[i++]);
  if (b < 0x80) return b;
  int extra = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : -1;
  if (extra < 0) return 0xFFFD;
  char32_t cp = b & (0x3F >> extra);
  for (int k = 0; k < extra; ++k) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  }
  return cp;
}

// Unicode White_Space (what Rust's trim and Go's unicode.IsSpace strip).
bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace

int64_t available(const State& s) { return s.bankroll().amount() - s.reserved_funds().amount(); }

std::string hex(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xF]);
  }
  return out;
}

bool is_blank(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    if (!is_space(next_code_point(s, i))) return false;
  }
  return true;
}

angzarr::Events handle_register_player(const examples::RegisterPlayer& cmd, const State& s, uint32_t) {
  angzarr::ensure(!exists(s), "player already exists");
  angzarr::ensure(!is_blank(cmd.display_name()), "display_name is required");
  angzarr::ensure(!is_blank(cmd.email()), "email is required");
  examples::PlayerRegistered e;
  e.set_display_name(cmd.display_name());
  e.set_email(cmd.email());
  e.set_player_type(cmd.player_type());
  e.set_ai_model_id(cmd.ai_model_id());
  return angzarr::Events::one(std::move(e));
}

angzarr::Events handle_deposit_funds(const examples::DepositFunds& cmd, const State& s, uint32_t) {
  must_exist(s);
  const int64_t a = positive(cmd.amount());
  examples::FundsDeposited e;
  *e.mutable_amount() = cmd.amount();
  *e.mutable_new_balance() = currency(s.bankroll().amount() + a, cmd.amount());
  return angzarr::Events::one(std::move(e));
}

angzarr::Events handle_withdraw_funds(const examples::WithdrawFunds& cmd, const State& s, uint32_t) {
  must_exist(s);
  const int64_t a = positive(cmd.amount());
  sufficient(s, a);
  examples::FundsWithdrawn e;
  *e.mutable_amount() = cmd.amount();
  *e.mutable_new_balance() = currency(s.bankroll().amount() - a, cmd.amount());
  return angzarr::Events::one(std::move(e));
}

angzarr::Events handle_reserve_funds(const examples::ReserveFunds& cmd, const State& s, uint32_t) {
  must_exist(s);
  const int64_t a = positive(cmd.amount());
  angzarr::ensure(!cmd.table_root().empty(), "table_root is required");
  angzarr::ensure(s.table_reservations().count(hex(cmd.table_root())) == 0,
                  "funds are already reserved for this table");
  sufficient(s, a);
  const int64_t reserved = s.reserved_funds().amount() + a;
  examples::FundsReserved e;
  *e.mutable_amount() = cmd.amount();
  e.set_table_root(cmd.table_root());
  *e.mutable_new_available_balance() = currency(s.bankroll().amount() - reserved, cmd.amount());
  *e.mutable_new_reserved_balance() = currency(reserved, cmd.amount());
  return angzarr::Events::one(std::move(e));
}

angzarr::Events handle_release_funds(const examples::ReleaseFunds& cmd, const State& s, uint32_t) {
  must_exist(s);
  auto held = s.table_reservations().find(hex(cmd.table_root()));
  angzarr::ensure(held != s.table_reservations().end(), "no funds are reserved for this table");
  const int64_t reserved = s.reserved_funds().amount() - held->second;
  const examples::Currency& like = s.bankroll();
  examples::FundsReleased e;
  *e.mutable_amount() = currency(held->second, like);
  e.set_table_root(cmd.table_root());
  *e.mutable_new_available_balance() = currency(s.bankroll().amount() - reserved, like);
  *e.mutable_new_reserved_balance() = currency(reserved, like);
  return angzarr::Events::one(std::move(e));
}

angzarr::Events handle_transfer_funds(const examples::TransferFunds& cmd, const State& s, uint32_t) {
  must_exist(s);
  const int64_t a = positive(cmd.amount());
  angzarr::ensure(!cmd.from_player_root().empty(), "from_player_root is required");
  examples::FundsTransferred e;
  e.set_from_player_root(cmd.from_player_root());
  *e.mutable_amount() = cmd.amount();
  e.set_hand_root(cmd.hand_root());
  e.set_reason(cmd.reason());
  *e.mutable_new_balance() = currency(s.bankroll().amount() + a, cmd.amount());
  return angzarr::Events::one(std::move(e));
}

angzarr::Aggregate<State> aggregate() {
  return angzarr::Aggregate<State>(kDomain)
      .on<examples::RegisterPlayer>(handle_register_player)
      .on<examples::DepositFunds>(handle_deposit_funds)
      .on<examples::WithdrawFunds>(handle_withdraw_funds)
      .on<examples::ReserveFunds>(handle_reserve_funds)
      .on<examples::ReleaseFunds>(handle_release_funds)
      .on<examples::TransferFunds>(handle_transfer_funds)
      .apply<examples::PlayerRegistered>([](State& s, const examples::PlayerRegistered& e) {
        s.set_display_name(e.display_name());
        s.set_email(e.email());
        s.set_player_type(e.player_type());
        s.set_ai_model_id(e.ai_model_id());
        s.set_status("active");
      })
      .apply<examples::FundsDeposited>([](State& s, const examples::FundsDeposited& e) {
        set_bankroll(s, e.has_new_balance(), e.new_balance());
      })
      .apply<examples::FundsWithdrawn>([](State& s, const examples::FundsWithdrawn& e) {
        set_bankroll(s, e.has_new_balance(), e.new_balance());
      })
      .apply<examples::FundsTransferred>([](State& s, const examples::FundsTransferred& e) {
        set_bankroll(s, e.has_new_balance(), e.new_balance());
      })
      .apply<examples::FundsReserved>([](State& s, const examples::FundsReserved& e) {
        set_reserved(s, e.has_new_reserved_balance(), e.new_reserved_balance());
        (*s.mutable_table_reservations())[hex(e.table_root())] = e.amount().amount();
      })
      .apply<examples::FundsReleased>([](State& s, const examples::FundsReleased& e) {
        set_reserved(s, e.has_new_reserved_balance(), e.new_reserved_balance());
        s.mutable_table_reservations()->erase(hex(e.table_root()));
      });
}

}  // namespace player
