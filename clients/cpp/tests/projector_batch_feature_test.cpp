// Runs the shared features/projector_batch.feature (unchanged, read by path)
// with the small in-repo Gherkin runner of angzarr/gherkin.hpp, as
// examples/poker/player-cpp runs features/player.feature. Each scenario is
// one GoogleTest test, ProjectorBatchFeature.<scenario name>; an undefined,
// ambiguous or failing step fails it.
//
// The projector is built with angzarr::Projector alone and served by
// angzarr::Server on 127.0.0.1:0 (nothing batch-specific is written for it);
// the steps reach it through a real gRPC channel: batches through
// angzarr_kafka.ProjectorBatchService.HandleBatch, single books through
// angzarr.ProjectorService.Handle. The world plays the coordinator: it builds
// the books (sequences continuing per root) and checks every answer follows
// the contract (one projection per book, in order: the book's cover, the
// projector's name, the book's last sequence).
//
// Step meanings: features/README.md, "projector_batch.feature".
// ANGZARR_FEATURES=<dir> overrides the features folder.
#include <angzarr/angzarr.hpp>
#include <angzarr/gherkin.hpp>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "angzarr_kafka/batch.grpc.pb.h"
#include "examples/player.pb.h"

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

// Root "A": the UUID whose 16 bytes are zero but the last, the letter's code.
std::string root_of(const std::string& letter) {
  if (letter.size() != 1) throw StepFailure("a root is named by one letter, not \"" + letter + "\"");
  std::string b(16, '\0');
  b[15] = letter[0];
  return b;
}

std::string letter_of(const std::string& root) {
  if (root.size() == 16 && root.compare(0, 15, std::string(15, '\0')) == 0) return std::string(1, root[15]);
  return "<" + std::to_string(root.size()) + " bytes>";
}

// The ledger's read model: per root, the sequences applied and the last one.
struct Ledger {
  std::mutex mu;  // the handler runs on the server's threads, the steps on the test's
  std::map<std::string, std::set<uint32_t>> applied;
  std::map<std::string, uint32_t> last;
  std::set<std::string> refused;
};

// `Given a ledger projector`: built with the library's projector helper only.
angzarr::Projector ledger_projector(std::shared_ptr<Ledger> model) {
  return angzarr::Projector("ledger").on<examples::FundsDeposited>(
      [model](const examples::FundsDeposited&, const angzarr::Cover& cover, uint32_t seq) {
        std::lock_guard<std::mutex> guard(model->mu);
        const std::string& root = cover.root().value();
        if (model->refused.count(root)) {
          throw angzarr::Error(grpc::StatusCode::FAILED_PRECONDITION,
                               "refused: events of root " + letter_of(root) + " are refused");
        }
        auto last = model->last.find(root);
        if (last != model->last.end() && seq <= last->second) return;  // idempotent by sequence
        model->last[root] = seq;
        model->applied[root].insert(seq);
      });
}

struct BookSpec {
  std::string letter;
  uint32_t events;
};

// `"A" with 2 events, "B" with 1 event, ...` or `none`.
std::vector<BookSpec> parse_books(const std::string& list) {
  std::vector<BookSpec> out;
  if (list == "none") return out;
  static const std::regex item(R"re(^"([A-Za-z])" with (\d+) events?$)re");
  std::size_t at = 0;
  while (true) {
    const std::size_t comma = list.find(", ", at);
    const std::string part = list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    std::smatch m;
    if (!std::regex_match(part, m, item)) {
      throw StepFailure("cannot read the book `" + part + "` (want `\"R\" with N events` or `none`)");
    }
    out.push_back(BookSpec{m[1], static_cast<uint32_t>(std::stoul(m[2]))});
    if (comma == std::string::npos) break;
    at = comma + 2;
  }
  return out;
}

template <class F>
grpc::Status call(F&& f) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return f(&ctx);
}

// One scenario: the served ledger projector and the coordinator's side.
class World {
 public:
  World() = default;
  World(const World&) = delete;
  World& operator=(const World&) = delete;
  ~World() {
    // The client goes first: a connected client makes shutdown wait the whole grace.
    batch_stub_.reset();
    unary_stub_.reset();
    channel_.reset();
    if (server_) server_->shutdown(std::chrono::milliseconds(100));
  }

  void start_ledger() {
    if (server_) throw StepFailure("the ledger projector is already served");
    model_ = std::make_shared<Ledger>();
    server_ = angzarr::Server::start_with("127.0.0.1:0", ledger_projector(model_));
    const auto& services = server_->services();
    for (const char* want : {"angzarr.ProjectorService", "angzarr_kafka.ProjectorBatchService"}) {
      if (std::find(services.begin(), services.end(), want) == services.end()) {
        throw StepFailure(std::string("the server does not serve ") + want);
      }
    }
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    unary_stub_ = angzarr::ProjectorService::NewStub(channel_);
    batch_stub_ = angzarr_kafka::ProjectorBatchService::NewStub(channel_);
  }

  void refuse(const std::string& letter, bool on) {
    Ledger& m = ledger();
    std::lock_guard<std::mutex> guard(m.mu);
    if (on) {
      m.refused.insert(root_of(letter));
    } else {
      m.refused.clear();
    }
  }

  // Books for the list, sequences continuing from the root's earlier books.
  std::vector<angzarr::EventBook> books(const std::string& list) {
    std::vector<angzarr::EventBook> out;
    for (const auto& spec : parse_books(list)) {
      angzarr::Cover cover;
      cover.set_domain("player");
      cover.mutable_root()->set_value(root_of(spec.letter));
      angzarr::EventBook book;
      *book.mutable_cover() = cover;
      uint32_t& next = next_sequence_[spec.letter];
      for (uint32_t i = 0; i < spec.events; ++i) {
        examples::FundsDeposited e;
        e.mutable_amount()->set_amount(1);
        e.mutable_amount()->set_currency_code("USD");
        auto* page = book.add_pages();
        page->mutable_header()->set_sequence(next++);
        *page->mutable_event() = angzarr::pack(e);
      }
      book.set_next_sequence(next);
      out.push_back(std::move(book));
    }
    return out;
  }

  void hand_batch(const std::vector<angzarr::EventBook>& books) {
    angzarr_kafka::ProjectorBatch batch;
    for (const auto& b : books) *batch.add_books() = b;
    last_batch_ = batch;
    send_batch();
  }

  void hand_again() {
    if (!last_batch_) throw StepFailure("no batch was handed over before");
    send_batch();
  }

  void hand_one_at_a_time(const std::vector<angzarr::EventBook>& books) {
    require_server();
    called_ = true;
    last_status_ = grpc::Status::OK;
    last_projections_.clear();
    for (const auto& book : books) {
      angzarr::Projection p;
      last_status_ = call([&](auto* ctx) { return unary_stub_->Handle(ctx, book, &p); });
      if (!last_status_.ok()) return;  // as the coordinator: stop, hand it over again later
      check_projection(book, p, last_projections_.size());
      last_projections_.push_back(std::move(p));
    }
  }

  const std::vector<angzarr::Projection>& answered() const {
    if (!called_) throw StepFailure("nothing was handed over");
    if (!last_status_.ok()) {
      throw StepFailure(std::string("the last call failed: ") + angzarr::code_name(last_status_.error_code()) + ": " +
                        last_status_.error_message());
    }
    return last_projections_;
  }

  const grpc::Status& failure() const {
    if (!called_) throw StepFailure("nothing was handed over");
    if (last_status_.ok()) {
      throw StepFailure("the last call succeeded with " + std::to_string(last_projections_.size()) + " projections");
    }
    if (last_status_.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      throw StepFailure("the last call failed with UNIMPLEMENTED: " + last_status_.error_message());
    }
    return last_status_;
  }

  std::size_t applied(const std::string& letter) {
    Ledger& m = ledger();
    std::lock_guard<std::mutex> guard(m.mu);
    auto it = m.applied.find(root_of(letter));
    return it == m.applied.end() ? 0 : it->second.size();
  }

 private:
  void require_server() const {
    if (!server_) throw StepFailure("no projector is served (`Given a ledger projector`)");
  }
  Ledger& ledger() const {
    require_server();
    return *model_;
  }

  void send_batch() {
    require_server();
    called_ = true;
    angzarr_kafka::ProjectionBatch answer;
    last_projections_.clear();
    last_status_ = call([&](auto* ctx) { return batch_stub_->HandleBatch(ctx, *last_batch_, &answer); });
    if (!last_status_.ok()) return;
    if (answer.projections_size() != last_batch_->books_size()) {
      throw StepFailure("HandleBatch answered " + std::to_string(answer.projections_size()) + " projections for " +
                        std::to_string(last_batch_->books_size()) + " books");
    }
    for (int i = 0; i < answer.projections_size(); ++i) {
      check_projection(last_batch_->books(i), answer.projections(i), i);
      last_projections_.push_back(answer.projections(i));
    }
  }

  // One projection per book, in order: the book's cover, the projector's
  // name, the sequence of the book's last page.
  static void check_projection(const angzarr::EventBook& book, const angzarr::Projection& p, std::size_t i) {
    const std::string at = "projection " + std::to_string(i + 1) + " (" + p.ShortDebugString() + ")";
    if (p.cover().SerializeAsString() != book.cover().SerializeAsString()) {
      throw StepFailure(at + ": not the cover of book " + std::to_string(i + 1));
    }
    if (p.projector() != "ledger") throw StepFailure(at + ": projector is not `ledger`");
    const uint32_t want = book.pages_size() ? book.pages(book.pages_size() - 1).header().sequence() : 0;
    if (p.sequence() != want) throw StepFailure(at + ": want sequence " + std::to_string(want));
  }

  std::shared_ptr<Ledger> model_;
  std::unique_ptr<angzarr::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<angzarr::ProjectorService::Stub> unary_stub_;
  std::unique_ptr<angzarr_kafka::ProjectorBatchService::Stub> batch_stub_;
  std::map<std::string, uint32_t> next_sequence_;  // per root letter
  std::optional<angzarr_kafka::ProjectorBatch> last_batch_;
  bool called_ = false;
  grpc::Status last_status_;
  std::vector<angzarr::Projection> last_projections_;
};

using Captures = gherkin::Steps<World>::Captures;

// The step meanings of features/README.md, "projector_batch.feature".
gherkin::Steps<World> batch_steps() {
  gherkin::Steps<World> s;
  s.given(R"re(^a ledger projector$)re", [](World& w, const Captures&) { w.start_ledger(); });
  s.given(R"re(^the projector refuses events of root "([^"]*)"$)re",
          [](World& w, const Captures& m) { w.refuse(m[1], true); });
  s.when(R"re(^the projector stops refusing$)re", [](World& w, const Captures&) { w.refuse("", false); });
  s.when(R"re(^it is handed a batch of books: (.+)$)re",
         [](World& w, const Captures& m) { w.hand_batch(w.books(m[1])); });
  s.when(R"re(^it is handed books one at a time: (.+)$)re",
         [](World& w, const Captures& m) { w.hand_one_at_a_time(w.books(m[1])); });
  s.when(R"re(^the same batch is handed over again$)re", [](World& w, const Captures&) { w.hand_again(); });

  s.then(R"re(^the call answers (\d+) projections?$)re", [](World& w, const Captures& m) {
    const std::size_t want = std::stoul(m[1]);
    const auto& got = w.answered();
    if (got.size() != want) {
      throw StepFailure("the call answered " + std::to_string(got.size()) + " projections, want " + m[1]);
    }
  });
  s.then(R"re(^projection (\d+) is for root "([^"]*)" at sequence (\d+)$)re", [](World& w, const Captures& m) {
    const auto& got = w.answered();
    const std::size_t i = std::stoul(m[1]);
    if (i < 1 || i > got.size()) {
      throw StepFailure("no projection " + m[1] + " among " + std::to_string(got.size()));
    }
    const auto& p = got[i - 1];
    if (p.cover().root().value() != root_of(m[2])) {
      throw StepFailure("projection " + m[1] + " is for root " + letter_of(p.cover().root().value()) + ", want " +
                        m[2]);
    }
    if (p.sequence() != std::stoul(m[3])) {
      throw StepFailure("projection " + m[1] + " is at sequence " + std::to_string(p.sequence()) + ", want " + m[3]);
    }
  });
  s.then(R"re(^the call fails with a message containing "([^"]*)"$)re", [](World& w, const Captures& m) {
    const auto& st = w.failure();
    if (st.error_message().find(m[1]) == std::string::npos) {
      throw StepFailure(std::string("the call failed with ") + angzarr::code_name(st.error_code()) + ": \"" +
                        st.error_message() + "\", which does not contain \"" + m[1] + "\"");
    }
  });
  s.then(R"re(^the ledger holds (\d+) events? of root "([^"]*)" and (\d+) events? of root "([^"]*)"$)re",
         [](World& w, const Captures& m) {
           for (int k : {1, 3}) {
             const std::size_t got = w.applied(m[k + 1]);
             if (got != std::stoul(m[k])) {
               throw StepFailure("the ledger holds " + std::to_string(got) + " events of root " + m[k + 1] +
                                 ", want " + m[k]);
             }
           }
         });
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
    static const auto steps = batch_steps();
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

// Strictness: a step this runner cannot execute, or an expectation that does
// not hold, fails its scenario.
TEST(ProjectorBatchFeatureRunner, UndefinedStepsAndFailuresFail) {
  const auto steps = batch_steps();
  for (const std::string step : {
           "When it is juggled",
           "Given it is handed a batch of books: \"A\" with 1 event",  // a When step as a Given
           "When it is handed a batch of books: A with 1 event",       // an unreadable list
           "When the same batch is handed over again",                 // nothing handed before
           "Then the call answers 0 projections",                      // nothing handed before
       }) {
    const auto f = gherkin::parse("Feature: strict\n  Scenario: s\n    Given a ledger projector\n    " + step + "\n");
    EXPECT_FALSE(gherkin::run(f, f.scenarios.at(0), steps).passed()) << step;
  }
  for (const std::string then : {
           "Then the call answers 2 projections",
           "Then projection 1 is for root \"B\" at sequence 0",
           "Then projection 1 is for root \"A\" at sequence 1",
           "Then projection 2 is for root \"A\" at sequence 0",
           "Then the call fails with a message containing \"refused\"",
           "Then the ledger holds 2 events of root \"A\" and 0 events of root \"B\"",
           "Then the ledger holds 1 event of root \"A\" and 1 event of root \"B\"",
       }) {
    const auto f = gherkin::parse(
        "Feature: strict\n  Scenario: s\n    Given a ledger projector\n"
        "    When it is handed a batch of books: \"A\" with 1 event\n    " +
        then + "\n");
    EXPECT_FALSE(gherkin::run(f, f.scenarios.at(0), steps).passed()) << then;
  }
  // And the same steps pass when they hold.
  const auto f = gherkin::parse(
      "Feature: strict\n  Scenario: s\n    Given a ledger projector\n"
      "    When it is handed a batch of books: \"A\" with 1 event\n"
      "    Then the call answers 1 projection\n"
      "    And projection 1 is for root \"A\" at sequence 0\n"
      "    And the ledger holds 1 event of root \"A\" and 0 events of root \"B\"\n");
  const auto r = gherkin::run(f, f.scenarios.at(0), steps);
  EXPECT_TRUE(r.passed()) << r.report();
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const std::string path = features_dir() + "/projector_batch.feature";
  try {
    auto feature = std::make_shared<const gherkin::Feature>(gherkin::parse_file(path));
    if (feature->scenarios.empty()) throw gherkin::ParseError(path + ": no scenarios");
    for (std::size_t i = 0; i < feature->scenarios.size(); ++i) {
      const auto& sc = feature->scenarios[i];
      ::testing::RegisterTest("ProjectorBatchFeature", test_name(sc.name).c_str(), nullptr, nullptr, path.c_str(),
                              sc.line, [feature, i]() -> ::testing::Test* { return new ScenarioTest(feature, i); });
    }
  } catch (const std::exception& e) {
    const std::string why = e.what();
    ::testing::RegisterTest("ProjectorBatchFeature", "parse", nullptr, nullptr, path.c_str(), 0,
                            [why]() -> ::testing::Test* { return new ParseFailure(why); });
  }
  return RUN_ALL_TESTS();
}
