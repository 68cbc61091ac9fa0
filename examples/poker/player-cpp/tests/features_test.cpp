// Runs the shared features/player.feature (unchanged, read by path) against
// the C++ player aggregate in-process, with the small in-repo Gherkin runner
// of angzarr/gherkin.hpp (not Cucumber: no Cucumber for C++ could be built
// here). Each scenario is one GoogleTest test, PlayerFeature.<scenario name>;
// an undefined, ambiguous or failing step fails it.
//
// The world plays the coordinator's part as features/README.md describes: it
// keeps the recorded events, refuses a command whose expected sequence is not
// the number of recorded events, sends the handler the history as the
// coordinator does (over a protobuf wire round trip) and checks the response
// follows the handler contract before recording its events.
//
// ANGZARR_FEATURES=<dir> overrides the features folder.
#include <angzarr/angzarr.hpp>
#include <angzarr/gherkin.hpp>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "player.hpp"

namespace gherkin = angzarr::gherkin;

namespace {

std::string features_dir() {
  if (const char* d = std::getenv("ANGZARR_FEATURES"); d != nullptr && *d != '\0') return d;
  return ANGZARR_FEATURES_DIR;
}

// A broken expectation or contract: the step fails with this message.
struct StepFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

examples::Currency usd(int64_t n) {
  examples::Currency c;
  c.set_amount(n);
  c.set_currency_code("USD");
  return c;
}

int64_t money(const std::string& s) { return std::stoll(s); }

// The protobuf wire round trip the coordinator's gRPC call implies.
template <class M>
M round_trip(const M& m) {
  M out;
  if (!out.ParseFromString(m.SerializeAsString())) throw StepFailure("message does not survive the wire");
  return out;
}

// One scenario's player aggregate and its recorded events.
class World {
 public:
  World() : agg_(player::aggregate()), root_(new_root()) {}

  // Sends cmd with an expected sequence, playing the coordinator: the
  // sequence check, Handle, contract checks, recording. A broken contract
  // throws (the step fails); a refused command is kept for the Then steps.
  void send(const google::protobuf::Message& cmd, uint32_t expected) {
    sent_ = true;
    last_events_.clear();
    last_error_.reset();
    const auto n = static_cast<uint32_t>(recorded_.size());
    if (expected != n) {
      last_error_ = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "sequence mismatch: the command expects sequence " + std::to_string(expected) +
                                     ", the aggregate is at " + std::to_string(n));
      return;
    }
    angzarr::ContextualCommand req;
    *req.mutable_events() = history();
    auto* book = req.mutable_command();
    *book->mutable_cover() = cover();
    auto* page = book->add_pages();
    page->mutable_header()->set_sequence(expected);
    *page->mutable_command() = angzarr::pack(cmd);

    angzarr::BusinessResponse resp;
    const grpc::Status st = agg_.handle(round_trip(req), &resp);
    if (!st.ok()) {
      last_error_ = st;
      return;
    }
    resp = round_trip(resp);
    check_contract(resp, n);
    for (const auto& p : resp.events().pages()) {
      recorded_.push_back(p.event());
      last_events_.push_back(p.event());
    }
  }

  // A When: the current expected sequence, the count noted first.
  void when(const google::protobuf::Message& cmd) {
    before_ = recorded_.size();
    send(cmd, static_cast<uint32_t>(recorded_.size()));
  }
  void when_expecting(const google::protobuf::Message& cmd, uint32_t expected) {
    before_ = recorded_.size();
    send(cmd, expected);
  }

  // A Given: must be accepted.
  void given(const google::protobuf::Message& cmd) {
    send(cmd, static_cast<uint32_t>(recorded_.size()));
    if (last_error_) {
      throw StepFailure("given " + cmd.GetDescriptor()->full_name() + " was refused: " +
                        angzarr::code_name(last_error_->error_code()) + ": " + last_error_->error_message());
    }
  }

  // The state rebuilt from every recorded event.
  player::State state() const { return agg_.rebuild(history().pages()); }

  // The message of the last command's FAILED_PRECONDITION.
  std::string rejection() const {
    if (!last_error_) {
      throw StepFailure("the last command was accepted (" + std::to_string(last_events_.size()) + " events)");
    }
    if (last_error_->error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
      throw StepFailure(std::string("the last command failed with ") + angzarr::code_name(last_error_->error_code()) +
                        ", want FAILED_PRECONDITION: " + last_error_->error_message());
    }
    return last_error_->error_message();
  }

  void expect_last_event(const std::string& name) const {
    if (!sent_) throw StepFailure("no command was sent");
    if (last_error_) throw StepFailure("the last command was refused: " + last_error_->error_message());
    if (last_events_.empty()) throw StepFailure("the last command recorded no event");
    const std::string got = angzarr::type_name(last_events_.back().type_url());
    if (got != "examples." + name) throw StepFailure("last event is " + got + ", want examples." + name);
  }

  void expect_no_new_event() const {
    if (recorded_.size() != before_) {
      throw StepFailure(std::to_string(recorded_.size()) + " events recorded, " + std::to_string(before_) +
                        " before the last command");
    }
  }

 private:
  static std::string new_root() {
    std::random_device rd;
    std::string b(16, '\0');
    for (auto& c : b) c = static_cast<char>(rd() & 0xFF);
    b[6] = static_cast<char>((b[6] & 0x0F) | 0x40);  // UUID v4
    b[8] = static_cast<char>((b[8] & 0x3F) | 0x80);
    return b;
  }

  angzarr::Cover cover() const {
    angzarr::Cover c;
    c.mutable_root()->set_value(root_);
    c.set_domain(player::kDomain);
    c.set_correlation_id(player::hex(root_));
    return c;
  }

  // The book the coordinator would send: every recorded event.
  angzarr::EventBook history() const {
    angzarr::EventBook book;
    *book.mutable_cover() = cover();
    for (std::size_t i = 0; i < recorded_.size(); ++i) {
      auto* p = book.add_pages();
      p->mutable_header()->set_sequence(static_cast<uint32_t>(i));
      *p->mutable_event() = recorded_[i];
    }
    book.set_next_sequence(static_cast<uint32_t>(recorded_.size()));
    return book;
  }

  void check_contract(const angzarr::BusinessResponse& resp, uint32_t n) const {
    if (!resp.has_events()) throw StepFailure("response carries no events book: " + resp.ShortDebugString());
    const auto& book = resp.events();
    if (book.cover().SerializeAsString() != cover().SerializeAsString()) {
      throw StepFailure("response cover " + book.cover().ShortDebugString() + ", want the command's");
    }
    for (int i = 0; i < book.pages_size(); ++i) {
      const auto& p = book.pages(i);
      if (p.header().sequence_type_case() != angzarr::PageHeader::kSequence || p.header().sequence() != n + i) {
        throw StepFailure("page " + std::to_string(i) + " has header " + p.header().ShortDebugString() +
                          ", want sequence " + std::to_string(n + i));
      }
      if (p.has_created_at()) throw StepFailure("page " + std::to_string(i) + " sets created_at");
      if (p.payload_case() != angzarr::EventPage::kEvent ||
          p.event().type_url().rfind(angzarr::kTypeUrlPrefix, 0) != 0) {
        throw StepFailure("page " + std::to_string(i) + " is not an event packed as type.googleapis.com/<name>");
      }
    }
    if (book.pages_size() == 0) {
      if (book.has_snapshot()) throw StepFailure("a snapshot without events");
      return;
    }
    const auto& snap = book.snapshot();
    if (snap.sequence() != n + book.pages_size() - 1) {
      throw StepFailure("snapshot sequence " + std::to_string(snap.sequence()) + ", want " +
                        std::to_string(n + book.pages_size() - 1));
    }
    const auto st = angzarr::unpack<player::State>(snap.state());
    auto pages = history().pages();
    for (const auto& p : book.pages()) *pages.Add() = p;
    const auto rebuilt = agg_.rebuild(pages);
    if (angzarr::serialize_deterministic(st) != angzarr::serialize_deterministic(rebuilt)) {
      throw StepFailure("snapshot state " + st.ShortDebugString() + " differs from the replayed " +
                        rebuilt.ShortDebugString());
    }
  }

  angzarr::Aggregate<player::State> agg_;
  std::string root_;
  std::vector<google::protobuf::Any> recorded_;
  std::size_t before_ = 0;                        // recorded_.size() before the last When
  std::vector<google::protobuf::Any> last_events_;  // of the last accepted command
  std::optional<grpc::Status> last_error_;          // of the last refused command
  bool sent_ = false;
};

using Captures = gherkin::Steps<World>::Captures;

// The step meanings of features/README.md.
gherkin::Steps<World> player_steps() {
  gherkin::Steps<World> s;
  s.given(R"re(^a new player aggregate$)re", [](World& w, const Captures&) { w = World(); });
  s.given(R"re(^a registered player with \$(-?\d+) balance$)re", [](World& w, const Captures& m) {
    examples::RegisterPlayer reg;
    reg.set_display_name("Ada");
    reg.set_email("ada@example.com");
    w.given(reg);
    if (const int64_t n = money(m[1]); n > 0) {
      examples::DepositFunds dep;
      *dep.mutable_amount() = usd(n);
      w.given(dep);
    }
  });
  s.when(R"re(^a player registers as "([^"]*)" with email "([^"]*)"$)re", [](World& w, const Captures& m) {
    examples::RegisterPlayer reg;
    reg.set_display_name(m[1]);
    reg.set_email(m[2]);
    w.when(reg);
  });
  s.when(R"re(^they deposit \$(-?\d+)$)re", [](World& w, const Captures& m) {
    examples::DepositFunds dep;
    *dep.mutable_amount() = usd(money(m[1]));
    w.when(dep);
  });
  s.when(R"re(^they deposit \$(-?\d+) expecting sequence (\d+)$)re", [](World& w, const Captures& m) {
    examples::DepositFunds dep;
    *dep.mutable_amount() = usd(money(m[1]));
    w.when_expecting(dep, static_cast<uint32_t>(std::stoul(m[2])));
  });
  s.when(R"re(^they withdraw \$(-?\d+)$)re", [](World& w, const Captures& m) {
    examples::WithdrawFunds wd;
    *wd.mutable_amount() = usd(money(m[1]));
    w.when(wd);
  });
  auto reserve = [](const Captures& m) {
    examples::ReserveFunds r;
    *r.mutable_amount() = usd(money(m[1]));
    r.set_table_root(m[2]);  // the UTF-8 bytes of T
    return r;
  };
  s.given(R"re(^they reserve \$(-?\d+) for table "([^"]*)"$)re",
          [reserve](World& w, const Captures& m) { w.given(reserve(m)); });
  s.when(R"re(^they reserve \$(-?\d+) for table "([^"]*)"$)re",
         [reserve](World& w, const Captures& m) { w.when(reserve(m)); });
  s.when(R"re(^they release the reservation for table "([^"]*)"$)re", [](World& w, const Captures& m) {
    examples::ReleaseFunds r;
    r.set_table_root(m[1]);
    w.when(r);
  });
  s.when(R"re(^they receive a transfer of \$(-?\d+)$)re", [](World& w, const Captures& m) {
    examples::TransferFunds t;
    std::string from(16, '\0');  // UUID 00000000-0000-0000-0000-000000000001
    from[15] = 1;
    t.set_from_player_root(from);
    *t.mutable_amount() = usd(money(m[1]));
    t.set_reason("pot");
    w.when(t);
  });

  s.then(R"re(^their balance is \$(-?\d+)$)re", [](World& w, const Captures& m) {
    const int64_t want = money(m[1]);
    const int64_t got = w.state().bankroll().amount();
    if (got != want) throw StepFailure("balance is $" + std::to_string(got) + ", want $" + std::to_string(want));
  });
  s.then(R"re(^an? (\w+) event is recorded$)re", [](World& w, const Captures& m) { w.expect_last_event(m[1]); });
  s.then(R"re(^the command is rejected with "([^"]*)"$)re", [](World& w, const Captures& m) {
    const std::string msg = w.rejection();
    if (msg.find(m[1]) == std::string::npos) {
      throw StepFailure("rejected with \"" + msg + "\", which does not contain \"" + m[1] + "\"");
    }
  });
  s.then(R"re(^the command is rejected as a sequence mismatch$)re", [](World& w, const Captures&) {
    const std::string msg = w.rejection();
    if (msg.find("sequence") == std::string::npos) throw StepFailure("rejected with \"" + msg + "\", not a sequence mismatch");
  });
  s.then(R"re(^no new event is recorded$)re", [](World& w, const Captures&) { w.expect_no_new_event(); });
  return s;
}

std::string test_name(const std::string& scenario) {
  std::string out;
  for (unsigned char c : scenario) out.push_back(std::isalnum(c) ? static_cast<char>(c) : '_');
  return out;
}

class ScenarioTest : public ::testing::Test {
 public:
  ScenarioTest(std::shared_ptr<const gherkin::Feature> feature, std::size_t index)
      : feature_(std::move(feature)), index_(index) {}
  void TestBody() override {
    static const auto steps = player_steps();
    const auto result = gherkin::run(*feature_, feature_->scenarios.at(index_), steps);
    std::cout << result.report();
    EXPECT_TRUE(result.passed()) << result.report();
  }

 private:
  std::shared_ptr<const gherkin::Feature> feature_;
  std::size_t index_;
};

class ParseFailure : public ::testing::Test {
 public:
  explicit ParseFailure(std::string why) : why_(std::move(why)) {}
  void TestBody() override { FAIL() << why_; }

 private:
  std::string why_;
};

// Strictness: a step this runner cannot execute fails its scenario.
TEST(PlayerFeatureRunner, UndefinedStepsAndFailuresFail) {
  const auto steps = player_steps();
  for (const std::string step : {"When they juggle $5", "Given they withdraw $5", "Then their balance is $1"}) {
    const auto f = gherkin::parse("Feature: strict\n  Scenario: s\n    Given a new player aggregate\n    " + step + "\n");
    EXPECT_FALSE(gherkin::run(f, f.scenarios.at(0), steps).passed()) << step;
  }
  // A refused Given fails: reserving before registering.
  const auto f = gherkin::parse("Feature: strict\n  Scenario: s\n    Given they reserve $5 for table \"t\"\n");
  EXPECT_FALSE(gherkin::run(f, f.scenarios.at(0), steps).passed());
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const std::string path = features_dir() + "/player.feature";
  try {
    auto feature = std::make_shared<const gherkin::Feature>(gherkin::parse_file(path));
    if (feature->scenarios.empty()) throw gherkin::ParseError(path + ": no scenarios");
    for (std::size_t i = 0; i < feature->scenarios.size(); ++i) {
      const auto& sc = feature->scenarios[i];
      ::testing::RegisterTest("PlayerFeature", test_name(sc.name).c_str(), nullptr, nullptr, path.c_str(), sc.line,
                              [feature, i]() -> ::testing::Test* { return new ScenarioTest(feature, i); });
    }
  } catch (const std::exception& e) {
    const std::string why = e.what();
    ::testing::RegisterTest("PlayerFeature", "parse", nullptr, nullptr, path.c_str(), 0,
                            [why]() -> ::testing::Test* { return new ParseFailure(why); });
  }
  return RUN_ALL_TESTS();
}
