// The player-cpp executable, end to end: started as a child process on
// 127.0.0.1:0, called over gRPC, stopped with SIGTERM.
#include <angzarr/angzarr.hpp>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "examples/player.pb.h"

#ifndef PLAYER_CPP_BINARY
#error "PLAYER_CPP_BINARY must name the player-cpp executable"
#endif

namespace {

// A running player-cpp.
class Child {
 public:
  explicit Child(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    // Everything the child needs is built before fork: between fork and exec
    // only async-signal-safe calls.
    std::string bin = PLAYER_CPP_BINARY;
    args.insert(args.begin(), bin);
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      bool overridden = false;
      for (const auto& o : env) overridden |= kv.compare(0, o.find('=') + 1, o, 0, o.find('=') + 1) == 0;
      if (!overridden) environment.push_back(kv);
    }
    environment.insert(environment.end(), env.begin(), env.end());
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);

    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(out[1]);
    out_ = out[0];
  }

  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }

  // The first line of stdout, or "" at EOF / after timeout.
  std::string first_line(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char c;
      ssize_t n = read(out_, &c, 1);
      if (n <= 0) return "";
      if (c == '\n') return line;
      line.push_back(c);
    }
    return "";
  }

  // Sends sig and waits for the exit status.
  int stop(int sig = SIGTERM) {
    kill(pid_, sig);
    return wait();
  }

  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
};

const std::regex kReady(R"(^player-cpp: serving domain player on (127\.0\.0\.1):(\d+)$)");

examples::Currency usd(int64_t n) {
  examples::Currency c;
  c.set_amount(n);
  c.set_currency_code("USD");
  return c;
}

angzarr::ContextualCommand command(const google::protobuf::Message& cmd, const angzarr::EventBook& history) {
  angzarr::ContextualCommand req;
  *req.mutable_events() = history;
  auto* book = req.mutable_command();
  *book->mutable_cover() = history.cover();
  auto* page = book->add_pages();
  page->mutable_header()->set_sequence(history.next_sequence());
  *page->mutable_command() = angzarr::pack(cmd);
  return req;
}

grpc::Status call(angzarr::CommandHandlerService::Stub& stub, const angzarr::ContextualCommand& req,
                  angzarr::BusinessResponse* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stub.Handle(&ctx, req, resp);
}

}  // namespace

TEST(PlayerCpp, ServesTheContractOverGrpcAndStopsOnSigterm) {
  Child child({"--listen", "127.0.0.1:0"});
  const std::string line = child.first_line();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(line, m, kReady)) << "ready line: `" << line << "`";
  auto stub = angzarr::CommandHandlerService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + m[2].str(), grpc::InsecureChannelCredentials()));

  angzarr::EventBook history;
  history.mutable_cover()->set_domain("player");
  history.mutable_cover()->mutable_root()->set_value(std::string(16, '\x2a'));

  examples::RegisterPlayer reg;
  reg.set_display_name("Ada");
  reg.set_email("ada@example.com");
  angzarr::BusinessResponse resp;
  ASSERT_TRUE(call(*stub, command(reg, history), &resp).ok());
  ASSERT_EQ(resp.events().pages_size(), 1);
  EXPECT_EQ(resp.events().pages(0).header().sequence(), 0u);
  EXPECT_EQ(resp.events().pages(0).event().type_url(), "type.googleapis.com/examples.PlayerRegistered");
  EXPECT_EQ(resp.events().cover().root().value(), std::string(16, '\x2a'));
  EXPECT_EQ(resp.events().snapshot().sequence(), 0u);

  // The coordinator's next call: the history so far.
  *history.add_pages() = resp.events().pages(0);
  history.set_next_sequence(1);
  examples::DepositFunds dep;
  *dep.mutable_amount() = usd(50);
  ASSERT_TRUE(call(*stub, command(dep, history), &resp).ok());
  EXPECT_EQ(resp.events().pages(0).header().sequence(), 1u);
  EXPECT_EQ(angzarr::unpack<examples::FundsDeposited>(resp.events().pages(0).event()).new_balance().amount(), 50);
  EXPECT_EQ(angzarr::unpack<examples::PlayerState>(resp.events().snapshot().state()).bankroll().amount(), 50);

  examples::WithdrawFunds wd;
  *wd.mutable_amount() = usd(80);
  auto st = call(*stub, command(wd, history), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), "insufficient funds: available 0, requested 80");

  EXPECT_EQ(call(*stub, command(examples::SitOut(), history), &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto malformed = command(dep, history);
  malformed.mutable_command()->mutable_pages(0)->mutable_command()->set_value("\x0a\xff\xff");
  EXPECT_EQ(call(*stub, malformed, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto other = command(dep, history);
  other.mutable_command()->mutable_cover()->set_domain("table");
  EXPECT_EQ(call(*stub, other, &resp).error_code(), grpc::StatusCode::NOT_FOUND);

  angzarr::ReplayRequest replay;
  *replay.mutable_events() = history.pages();
  angzarr::ReplayResponse replayed;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->Replay(&ctx, replay, &replayed).ok());
  EXPECT_EQ(angzarr::unpack<examples::PlayerState>(replayed.state()).status(), "active");

  // Graceful: the grace of shutdown (1 s) at most, with the client's
  // connection still open.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(child.stop(SIGTERM), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST(PlayerCpp, BindsLocalhostByDefault) {
  Child child({}, {"LISTEN=", "PORT=0"});
  const std::string line = child.first_line();
  EXPECT_TRUE(std::regex_match(line, kReady)) << "ready line: `" << line << "`";
  EXPECT_EQ(child.stop(SIGINT), 0);
}

TEST(PlayerCpp, FailsOnBadArguments) {
  EXPECT_EQ(Child({"--bogus"}).wait(), 2);
  EXPECT_EQ(Child({"--listen"}).wait(), 2);
  EXPECT_EQ(Child({"--help"}).wait(), 0);

  Child first({"--listen", "127.0.0.1:0"});
  std::smatch m;
  const std::string line = first.first_line();
  ASSERT_TRUE(std::regex_match(line, m, kReady)) << line;
  EXPECT_EQ(Child({"--listen", "127.0.0.1:" + m[2].str()}).wait(), 1);  // the port is taken
  EXPECT_EQ(first.stop(), 0);
}
