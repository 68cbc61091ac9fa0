// The poker example's player aggregate, written with the C++ client: who
// plays, and what money they have.
//
// Bankroll is everything the player owns; reserved funds are bought into
// tables and cannot be withdrawn; available = bankroll - reserved. Events
// carry no wall-clock fields: the coordinator stamps each page's created_at,
// so the same commands give byte-identical events in every language. The
// rules and messages are those of features/README.md (reference:
// examples/poker/src/player.rs).
#pragma once

#include <angzarr/angzarr.hpp>

#include <cstdint>
#include <string>

#include "examples/player.pb.h"

namespace player {

/// The domain name.
inline const std::string kDomain = "player";

/// The aggregate's state type.
using State = examples::PlayerState;

/// The player aggregate with all its handlers and appliers.
angzarr::Aggregate<State> aggregate();

/// The bankroll minus what is reserved at tables.
int64_t available(const State& state);

/// Lower-case hex of bytes: the key of State.table_reservations.
std::string hex(const std::string& bytes);

/// Whether s is empty or only Unicode white space (Rust's str::trim, Go's
/// strings.TrimSpace).
bool is_blank(const std::string& s);

angzarr::Events handle_register_player(const examples::RegisterPlayer& cmd, const State& state, uint32_t seq);
angzarr::Events handle_deposit_funds(const examples::DepositFunds& cmd, const State& state, uint32_t seq);
angzarr::Events handle_withdraw_funds(const examples::WithdrawFunds& cmd, const State& state, uint32_t seq);
angzarr::Events handle_reserve_funds(const examples::ReserveFunds& cmd, const State& state, uint32_t seq);
angzarr::Events handle_release_funds(const examples::ReleaseFunds& cmd, const State& state, uint32_t seq);
angzarr::Events handle_transfer_funds(const examples::TransferFunds& cmd, const State& state, uint32_t seq);

}  // namespace player
