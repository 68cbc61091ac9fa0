// A C++ port of the poker hand-flow process manager
// (examples/poker/src/hand_flow.rs), for the library's own tests: a table's
// hand from start to end, across the `table` and `hand` domains.
//
// - HandStarted (table) → record HandFlowStarted, command the hand to deal
//   (DealCards) — only if the process has not started and the hand has no
//   events yet (prepare names the hand, the coordinator sends its next
//   sequence).
// - HandComplete (hand) → record HandFlowEnded, command the table to end the
//   hand (EndHand with the final stacks) — only while dealing that hand.
#pragma once

#include <angzarr/process_manager.hpp>

#include <optional>
#include <string>

#include "examples/hand.pb.h"
#include "examples/orchestration.pb.h"
#include "examples/table.pb.h"

namespace hand_flow_test {

inline const std::string kName = "hand-flow";

inline std::optional<angzarr::Cover> hand_cover(const std::string& hand_root) {
  if (hand_root.size() != 16) return std::nullopt;
  angzarr::Cover c;
  c.set_domain("hand");
  c.mutable_root()->set_value(hand_root);
  return c;
}

inline angzarr::ProcessManager<examples::HandFlowState> process_manager() {
  using examples::HandFlowState;
  return angzarr::ProcessManager<HandFlowState>(kName)
      .apply<examples::HandFlowStarted>([](HandFlowState& s, const examples::HandFlowStarted& e) {
        s.set_table_root(e.table_root());
        s.set_hand_root(e.hand_root());
        s.set_hand_number(e.hand_number());
        s.set_phase("dealing");
      })
      .apply<examples::HandFlowEnded>([](HandFlowState& s, const examples::HandFlowEnded&) { s.set_phase("ended"); })
      .prepare<examples::HandStarted>(
          [](const examples::HandStarted& e, const HandFlowState&) { return hand_cover(e.hand_root()); })
      .on<examples::HandStarted>([](const examples::HandStarted& e, const HandFlowState& s, const angzarr::Trigger& t) {
        const std::string& table = t.cover.root().value();
        if (e.hand_root().size() != 16 || table.size() != 16) return angzarr::Reaction::none();
        // A process runs one hand; a hand that already has events was dealt.
        if (!s.phase().empty() || t.destination("hand").value_or(0) != 0) return angzarr::Reaction::none();
        examples::DealCards deal;
        deal.set_table_root(table);
        deal.set_hand_number(e.hand_number());
        deal.set_game_variant(e.game_variant());
        for (const auto& p : e.active_players()) {
          auto* player = deal.add_players();
          player->set_player_root(p.player_root());
          player->set_position(p.position());
          player->set_stack(p.stack());
        }
        deal.set_dealer_position(e.dealer_position());
        deal.set_small_blind(e.small_blind());
        deal.set_big_blind(e.big_blind());
        examples::HandFlowStarted started;
        started.set_table_root(table);
        started.set_hand_root(e.hand_root());
        started.set_hand_number(e.hand_number());
        return angzarr::Reaction::none().record(started).send(angzarr::command("hand", e.hand_root(), deal));
      })
      .on<examples::HandComplete>([](const examples::HandComplete& e, const HandFlowState& s,
                                     const angzarr::Trigger& t) {
        const bool this_hand = t.cover.root().value() == s.hand_root();
        if (s.phase() != "dealing" || !this_hand || s.table_root().size() != 16) return angzarr::Reaction::none();
        examples::EndHand end;
        end.set_hand_root(s.hand_root());
        examples::HandFlowEnded ended;
        ended.set_hand_root(s.hand_root());
        for (const auto& w : e.winners()) {
          auto* r = end.add_results();
          r->set_winner_root(w.player_root());
          r->set_amount(w.amount());
          r->set_pot_type(w.pot_type());
          auto* ref = ended.add_winners();
          ref->set_player_root(w.player_root());
          ref->set_amount(w.amount());
        }
        for (const auto& f : e.final_stacks()) {
          auto* seat = end.add_final_stacks();
          seat->set_player_root(f.player_root());
          seat->set_stack(f.stack());
        }
        return angzarr::Reaction::none().record(ended).send(angzarr::command("table", s.table_root(), end));
      });
}

}  // namespace hand_flow_test
