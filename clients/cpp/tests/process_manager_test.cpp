// angzarr::ProcessManager: the ProcessManagerService contract (Prepare /
// Handle) without network, on a port of the poker hand-flow process
// manager (hand_flow.hpp) and a few toy ones.
#include <angzarr/process_manager.hpp>
#include <angzarr/testing.hpp>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "examples/hand.pb.h"
#include "examples/orchestration.pb.h"
#include "examples/player.pb.h"
#include "examples/table.pb.h"
#include "hand_flow.hpp"

using angzarr::testing::event_book;
using hand_flow_test::process_manager;

namespace {

const std::string kTable(16, '\x0a');
const std::string kHand(16, '\x0b');
const std::string kAlice(16, '\x01');

angzarr::Cover cover(const std::string& domain, const std::string& root) {
  angzarr::Cover c;
  c.set_domain(domain);
  c.mutable_root()->set_value(root);
  c.set_correlation_id("corr-7");
  return c;
}

examples::HandStarted hand_started(const std::string& hand = kHand) {
  examples::HandStarted e;
  e.set_hand_root(hand);
  e.set_hand_number(1);
  e.set_dealer_position(2);
  e.set_small_blind(5);
  e.set_big_blind(10);
  auto* seat = e.add_active_players();
  seat->set_position(0);
  seat->set_player_root(kAlice);
  seat->set_stack(100);
  return e;
}

examples::HandComplete hand_complete() {
  examples::HandComplete e;
  e.set_table_root(kTable);
  e.set_hand_number(1);
  auto* w = e.add_winners();
  w->set_player_root(kAlice);
  w->set_amount(15);
  w->set_pot_type("main");
  auto* f = e.add_final_stacks();
  f->set_player_root(kAlice);
  f->set_stack(115);
  return e;
}

// The process's own stream (as the coordinator keys it: by correlation id).
angzarr::Cover process_cover() {
  angzarr::Cover c;
  c.set_domain(hand_flow_test::kName);
  c.set_correlation_id("corr-7");
  return c;
}

angzarr::ProcessManagerHandleRequest handle_request(const angzarr::EventBook& trigger,
                                                    const angzarr::EventBook& process,
                                                    std::map<std::string, uint32_t> destinations = {}) {
  angzarr::ProcessManagerHandleRequest req;
  *req.mutable_trigger() = trigger;
  *req.mutable_process_state() = process;
  for (const auto& [d, s] : destinations) (*req.mutable_destination_sequences())[d] = s;
  return req;
}

angzarr::EventBook empty_process() {
  angzarr::EventBook b;
  *b.mutable_cover() = process_cover();
  return b;
}

// A toy process manager counting triggers in a Currency (amount = count):
// each PlayerJoined records one FundsDeposited per unit of buy-in (0..n) and
// sends nothing; 13 throws, 14 rejects, 15 sends a bad command book.
angzarr::ProcessManager<examples::Currency> counter(std::vector<std::string>* seen = nullptr) {
  return angzarr::ProcessManager<examples::Currency>("counter")
      .apply<examples::FundsDeposited>([](examples::Currency& s, const examples::FundsDeposited& e) {
        s.set_amount(s.amount() + e.amount().amount());
      })
      .on<examples::PlayerJoined>([seen](const examples::PlayerJoined& e, const examples::Currency& s,
                                         const angzarr::Trigger& t) {
        if (seen) {
          std::string line = t.cover.domain() + "@" + std::to_string(t.sequence) + " count=" +
                             std::to_string(s.amount());
          for (const auto& [d, n] : std::map<std::string, uint32_t>(t.destinations.begin(), t.destinations.end())) {
            line += " " + d + "=" + std::to_string(n);
          }
          seen->push_back(line);
        }
        if (e.buy_in_amount() == 13) throw std::runtime_error("unlucky");
        if (e.buy_in_amount() == 14) throw angzarr::CommandRejected("not now");
        angzarr::Reaction r;
        if (e.buy_in_amount() == 15) {
          angzarr::CommandBook bad;
          bad.mutable_cover()->set_domain("player");
          return std::move(r).send(bad);
        }
        for (int64_t i = 0; i < e.buy_in_amount(); ++i) {
          examples::FundsDeposited d;
          d.mutable_amount()->set_amount(1);
          r.record(d);
        }
        return r;
      });
}

examples::PlayerJoined joined(int64_t buy_in) {
  examples::PlayerJoined e;
  e.set_player_root(kAlice);
  e.set_buy_in_amount(buy_in);
  return e;
}

examples::Currency count_state(const angzarr::EventBook& book) {
  return angzarr::unpack<examples::Currency>(book.snapshot().state());
}

}  // namespace

TEST(ProcessManager, DealsOnceThenEndsTheHandAtTheTable) {
  const auto pm = process_manager();
  EXPECT_EQ(pm.name(), "hand-flow");
  EXPECT_EQ(pm.event_types(), (std::vector<std::string>{"examples.HandComplete", "examples.HandStarted"}));
  const auto trigger = event_book(cover("table", kTable), 3, hand_started());

  // Prepare names the hand.
  angzarr::ProcessManagerPrepareRequest prep;
  *prep.mutable_trigger() = trigger;
  const auto prepared = pm.execute_prepare(prep);
  ASSERT_EQ(prepared.destinations_size(), 1);
  EXPECT_EQ(prepared.destinations(0).domain(), "hand");
  EXPECT_EQ(prepared.destinations(0).root().value(), kHand);

  // The hand has no events: deal.
  const auto out = pm.execute(handle_request(trigger, empty_process(), {{"hand", 0}}));
  ASSERT_EQ(out.commands_size(), 1);
  const auto& deal_book = out.commands(0);
  EXPECT_EQ(deal_book.cover().domain(), "hand");
  EXPECT_EQ(deal_book.cover().root().value(), kHand);
  EXPECT_FALSE(deal_book.pages(0).has_header());
  const auto deal = angzarr::unpack<examples::DealCards>(deal_book.pages(0).command());
  EXPECT_EQ(deal.table_root(), kTable);
  EXPECT_EQ(deal.hand_number(), 1);
  EXPECT_EQ(deal.big_blind(), 10);
  ASSERT_EQ(deal.players_size(), 1);
  EXPECT_EQ(deal.players(0).stack(), 100);
  EXPECT_EQ(out.facts_size(), 0);
  const auto& state = out.process_events();
  EXPECT_EQ(state.cover().domain(), "hand-flow");
  EXPECT_EQ(state.cover().correlation_id(), "corr-7");
  ASSERT_EQ(state.pages_size(), 1);
  EXPECT_EQ(state.pages(0).header().sequence(), 0u);
  const auto started = angzarr::unpack<examples::HandFlowStarted>(state.pages(0).event());
  EXPECT_EQ(started.hand_root(), kHand);
  EXPECT_EQ(started.table_root(), kTable);
  EXPECT_EQ(state.snapshot().sequence(), 0u);
  const auto snap = angzarr::unpack<examples::HandFlowState>(state.snapshot().state());
  EXPECT_EQ(snap.phase(), "dealing");
  EXPECT_EQ(snap.hand_root(), kHand);

  // Already dealt (the hand has events): nothing, not even a snapshot.
  const auto again = pm.execute(handle_request(trigger, empty_process(), {{"hand", 2}}));
  EXPECT_EQ(again.commands_size(), 0);
  EXPECT_EQ(again.process_events().pages_size(), 0);
  EXPECT_FALSE(again.process_events().has_snapshot());
  EXPECT_EQ(again.process_events().cover().correlation_id(), "corr-7");

  // A started process does not deal again, whatever the hand says.
  angzarr::EventBook stored = state;
  stored.clear_snapshot();  // rebuilt from the pages alone
  EXPECT_EQ(pm.execute(handle_request(trigger, stored, {{"hand", 0}})).commands_size(), 0);

  // The hand completes: end it at the table; the process event is numbered after the history.
  const auto complete = event_book(cover("hand", kHand), 9, hand_complete());
  const auto end = pm.execute(handle_request(complete, stored));
  ASSERT_EQ(end.commands_size(), 1);
  EXPECT_EQ(end.commands(0).cover().domain(), "table");
  EXPECT_EQ(end.commands(0).cover().root().value(), kTable);
  const auto end_hand = angzarr::unpack<examples::EndHand>(end.commands(0).pages(0).command());
  EXPECT_EQ(end_hand.hand_root(), kHand);
  ASSERT_EQ(end_hand.final_stacks_size(), 1);
  EXPECT_EQ(end_hand.final_stacks(0).stack(), 115);
  ASSERT_EQ(end_hand.results_size(), 1);
  EXPECT_EQ(end_hand.results(0).amount(), 15);
  ASSERT_EQ(end.process_events().pages_size(), 1);
  EXPECT_EQ(end.process_events().pages(0).header().sequence(), 1u);
  EXPECT_TRUE(angzarr::is<examples::HandFlowEnded>(end.process_events().pages(0).event()));
  EXPECT_EQ(end.process_events().snapshot().sequence(), 1u);
  EXPECT_EQ(angzarr::unpack<examples::HandFlowState>(end.process_events().snapshot().state()).phase(), "ended");

  // Ended: a second HandComplete changes nothing.
  angzarr::EventBook history = stored;
  *history.add_pages() = end.process_events().pages(0);
  const auto twice = pm.execute(handle_request(complete, history));
  EXPECT_EQ(twice.commands_size(), 0);
  EXPECT_EQ(twice.process_events().pages_size(), 0);

  // Another hand's HandComplete does not end this one.
  const auto other = event_book(cover("hand", std::string(16, '\x0c')), 9, hand_complete());
  EXPECT_EQ(pm.execute(handle_request(other, stored)).commands_size(), 0);
}

TEST(ProcessManager, ProcessEventsAreNumberedAfterTheProcessHistory) {
  const auto pm = counter();
  const auto trigger = event_book(cover("table", kTable), 0, joined(2));

  // next_sequence given by the coordinator.
  angzarr::EventBook process = empty_process();
  process.set_next_sequence(7);
  auto out = pm.execute(handle_request(trigger, process));
  ASSERT_EQ(out.process_events().pages_size(), 2);
  EXPECT_EQ(out.process_events().pages(0).header().sequence(), 7u);
  EXPECT_EQ(out.process_events().pages(1).header().sequence(), 8u);
  EXPECT_EQ(out.process_events().snapshot().sequence(), 8u);
  EXPECT_EQ(count_state(out.process_events()).amount(), 2);

  // From the pages: highest sequence + 1; the state folds them.
  examples::FundsDeposited one;
  one.mutable_amount()->set_amount(1);
  process = event_book(process_cover(), 3, one, one);
  process.set_next_sequence(0);
  out = pm.execute(handle_request(trigger, process));
  EXPECT_EQ(out.process_events().pages(0).header().sequence(), 5u);
  EXPECT_EQ(out.process_events().snapshot().sequence(), 6u);
  EXPECT_EQ(count_state(out.process_events()).amount(), 4);

  // From a snapshot alone: its sequence + 1; the state starts from it.
  process = empty_process();
  process.mutable_snapshot()->set_sequence(10);
  examples::Currency ten;
  ten.set_amount(10);
  *process.mutable_snapshot()->mutable_state() = angzarr::pack(ten);
  out = pm.execute(handle_request(trigger, process));
  EXPECT_EQ(out.process_events().pages(0).header().sequence(), 11u);
  EXPECT_EQ(count_state(out.process_events()).amount(), 12);

  // No history at all (no process_state either): 0.
  angzarr::ProcessManagerHandleRequest bare;
  *bare.mutable_trigger() = trigger;
  out = pm.execute(bare);
  EXPECT_EQ(out.process_events().pages(0).header().sequence(), 0u);
  EXPECT_FALSE(out.process_events().has_cover());
}

TEST(ProcessManager, EachPageSeesTheStateAfterThePreviousPagesReactions) {
  std::vector<std::string> seen;
  const auto pm = counter(&seen);
  // Pages: joined(2) @4, an unknown event @5, joined(1) @6, one without a
  // sequence (deferred header), one stored externally, one without payload.
  auto trigger = event_book(cover("table", kTable), 4, joined(2), examples::PlayerLeft(), joined(1));
  auto* deferred = trigger.add_pages();
  deferred->mutable_header()->mutable_angzarr_deferred();
  *deferred->mutable_event() = angzarr::pack(joined(3));
  auto* external = trigger.add_pages();
  external->mutable_header()->set_sequence(8);
  external->mutable_external()->set_uri("s3://somewhere");
  trigger.add_pages()->mutable_header()->set_sequence(9);

  const auto out = pm.execute(handle_request(trigger, empty_process(), {{"player", 3}, {"hand", 0}}));
  EXPECT_EQ(seen, (std::vector<std::string>{"table@4 count=0 hand=0 player=3", "table@6 count=2 hand=0 player=3"}));
  ASSERT_EQ(out.process_events().pages_size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(out.process_events().pages(i).header().sequence(), uint32_t(i));
  EXPECT_EQ(out.process_events().snapshot().sequence(), 2u);
  EXPECT_EQ(count_state(out.process_events()).amount(), 3);
  EXPECT_EQ(out.commands_size(), 0);
}

TEST(ProcessManager, PrepareCollectsTheDestinationsOfEveryPage) {
  auto pm = process_manager();
  angzarr::ProcessManagerPrepareRequest prep;
  const std::string other(16, '\x0c');
  *prep.mutable_trigger() =
      event_book(cover("table", kTable), 0, hand_started(), examples::PlayerLeft(), hand_started("short"),
                 hand_started(other));
  const auto out = pm.execute_prepare(prep);
  ASSERT_EQ(out.destinations_size(), 2);  // the short root names nothing
  EXPECT_EQ(out.destinations(0).root().value(), kHand);
  EXPECT_EQ(out.destinations(1).root().value(), other);

  // No trigger: nothing to prepare. A malformed event: INVALID_ARGUMENT.
  EXPECT_EQ(pm.execute_prepare(angzarr::ProcessManagerPrepareRequest()).destinations_size(), 0);
  prep.mutable_trigger()->mutable_pages(0)->mutable_event()->set_value("\xff");
  angzarr::ProcessManagerPrepareResponse resp;
  EXPECT_EQ(pm.handle_prepare(prep, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The state is the process's: a prepare function sees it.
  auto seen = std::make_shared<std::string>();
  auto phased = angzarr::ProcessManager<examples::HandFlowState>("p")
                    .apply<examples::HandFlowStarted>([](examples::HandFlowState& s, const examples::HandFlowStarted&) {
                      s.set_phase("dealing");
                    })
                    .prepare<examples::HandStarted>([seen](const examples::HandStarted&, const examples::HandFlowState& s) {
                      *seen = s.phase();
                      return std::vector<angzarr::Cover>{cover("hand", kHand), cover("player", kAlice)};
                    });
  angzarr::ProcessManagerPrepareRequest p2;
  *p2.mutable_trigger() = event_book(cover("table", kTable), 0, hand_started());
  *p2.mutable_process_state() = event_book(process_cover(), 0, examples::HandFlowStarted());
  const auto two = phased.execute_prepare(p2);
  EXPECT_EQ(*seen, "dealing");
  ASSERT_EQ(two.destinations_size(), 2);
  EXPECT_EQ(two.destinations(1).domain(), "player");
}

TEST(ProcessManager, FailuresAreStatuses) {
  const auto pm = counter();
  angzarr::ProcessManagerHandleResponse out;
  auto code = [&](const angzarr::ProcessManagerHandleRequest& req) { return pm.handle(req, &out).error_code(); };
  const auto process = empty_process();

  // No trigger.
  angzarr::ProcessManagerHandleRequest no_trigger;
  EXPECT_EQ(code(no_trigger), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THROW(pm.execute(no_trigger), angzarr::Error);

  // A malformed trigger event.
  auto bad_event = event_book(cover("table", kTable), 0, joined(1));
  bad_event.mutable_pages(0)->mutable_event()->set_value("\xff");
  EXPECT_EQ(code(handle_request(bad_event, process)), grpc::StatusCode::INVALID_ARGUMENT);

  // A snapshot of another type, and a malformed one.
  auto wrong_snapshot = process;
  *wrong_snapshot.mutable_snapshot()->mutable_state() = angzarr::pack(examples::HandFlowState());
  const auto trigger = event_book(cover("table", kTable), 0, joined(1));
  auto st = pm.handle(handle_request(trigger, wrong_snapshot), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("examples.HandFlowState"), std::string::npos) << st.error_message();
  auto bad_snapshot = process;
  *bad_snapshot.mutable_snapshot()->mutable_state() = angzarr::pack(examples::Currency());
  bad_snapshot.mutable_snapshot()->mutable_state()->set_value("\xff");
  EXPECT_EQ(code(handle_request(trigger, bad_snapshot)), grpc::StatusCode::INVALID_ARGUMENT);

  // A malformed process event in the history.
  auto bad_history = event_book(process_cover(), 0, examples::FundsDeposited());
  bad_history.mutable_pages(0)->mutable_event()->set_value("\xff");
  EXPECT_EQ(code(handle_request(trigger, bad_history)), grpc::StatusCode::INVALID_ARGUMENT);

  // A handler throwing: a std::exception is INTERNAL, an Error keeps its code.
  st = pm.handle(handle_request(event_book(cover("table", kTable), 0, joined(13)), process), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("unlucky"), std::string::npos) << st.error_message();
  st = pm.handle(handle_request(event_book(cover("table", kTable), 0, joined(14)), process), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), "not now");

  // A command book the coordinator would refuse: INTERNAL.
  st = pm.handle(handle_request(event_book(cover("table", kTable), 0, joined(15)), process), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("bad command book"), std::string::npos) << st.error_message();

  // And a good one still works.
  ASSERT_TRUE(pm.handle(handle_request(trigger, process), &out).ok());
  EXPECT_EQ(out.process_events().pages_size(), 1);
}

TEST(ProcessManager, RegistrationMistakesAreCaughtEarly) {
  EXPECT_THROW(angzarr::ProcessManager<examples::Currency>(""), std::invalid_argument);
  auto pm = counter();
  EXPECT_THROW(pm.on<examples::PlayerJoined>([](const examples::PlayerJoined&, const examples::Currency&,
                                                const angzarr::Trigger&) { return angzarr::Reaction::none(); }),
               std::logic_error);
  EXPECT_THROW(pm.apply<examples::FundsDeposited>([](examples::Currency&, const examples::FundsDeposited&) {}),
               std::logic_error);
  pm.prepare<examples::PlayerJoined>(
      [](const examples::PlayerJoined&, const examples::Currency&) { return std::optional<angzarr::Cover>(); });
  EXPECT_THROW(pm.prepare<examples::PlayerJoined>([](const examples::PlayerJoined&, const examples::Currency&) {
    return std::vector<angzarr::Cover>();
  }),
               std::logic_error);
}

TEST(ProcessManager, ReactionBuilder) {
  examples::HandFlowStarted a;
  a.set_hand_number(1);
  examples::HandFlowEnded b;
  angzarr::Reaction r = angzarr::Reaction::none().record(a).record(b).send(
      angzarr::command("hand", kHand, examples::DealCards()));
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].GetDescriptor()->full_name(), "examples.HandFlowStarted");
  EXPECT_EQ(r.events[1].GetDescriptor()->full_name(), "examples.HandFlowEnded");
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_EQ(r.commands[0].cover().domain(), "hand");
  EXPECT_TRUE(angzarr::Reaction::none().events.empty());
}
