// The gateway client against a fake gateway (grpc++, in-process on 127.0.0.1:0).
#include <angzarr/gateway.hpp>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

const angzarr::RetryPolicy kFast{5, 5ms, 20ms};

// Answers by command.cover.domain: "flaky" = the first call of a request id
// is an unknown outcome (DEADLINE_EXCEEDED + `angzarr-outcome: unknown`),
// then success; "slow" = plain DEADLINE_EXCEEDED first; "down" = UNAVAILABLE
// first; "reject" = always FAILED_PRECONDITION; "broken" = always INTERNAL;
// anything else = success (the response echoes the cover).
class FakeGateway final : public angzarr::CommandHandlerCoordinatorService::Service {
 public:
  grpc::Status HandleCommand(grpc::ServerContext* ctx, const angzarr::CommandRequest* req,
                             angzarr::CommandResponse* resp) override {
    const std::string domain = req->command().cover().domain();
    std::string id;
    auto found = ctx->client_metadata().find(angzarr::kRequestIdHeader);
    if (found != ctx->client_metadata().end()) id.assign(found->second.data(), found->second.size());
    bool first;
    {
      std::lock_guard<std::mutex> lock(mu_);
      first = std::none_of(calls_.begin(), calls_.end(), [&](auto& c) { return c.first == domain && c.second == id; });
      calls_.emplace_back(domain, id);
    }
    if (domain == "reject") return {grpc::StatusCode::FAILED_PRECONDITION, "insufficient funds"};
    if (domain == "broken") return {grpc::StatusCode::INTERNAL, "boom"};
    if (first && domain == "flaky") {
      ctx->AddTrailingMetadata(angzarr::kOutcomeHeader, "unknown");
      return {grpc::StatusCode::DEADLINE_EXCEEDED, "outcome unknown: no decision within 5s"};
    }
    if (first && domain == "slow") return {grpc::StatusCode::DEADLINE_EXCEEDED, "no decision within 5s"};
    if (first && domain == "down") return {grpc::StatusCode::UNAVAILABLE, "log unavailable"};
    *resp->mutable_events()->mutable_cover() = req->command().cover();
    return grpc::Status::OK;
  }

  std::vector<std::string> ids(const std::string& domain) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (auto& c : calls_) {
      if (c.first == domain) out.push_back(c.second);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> calls_;
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    ASSERT_GT(port, 0);
    gateway_ = std::make_unique<angzarr::Gateway>(
        angzarr::Gateway::connect("127.0.0.1:" + std::to_string(port)).with_timeout(10s));
  }
  void TearDown() override {
    gateway_.reset();
    server_->Shutdown(std::chrono::system_clock::now() + 1s);
  }

  static angzarr::CommandRequest to(const std::string& domain) {
    angzarr::CommandRequest req;
    req.mutable_command()->mutable_cover()->set_domain(domain);
    return req;
  }

  FakeGateway fake_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<angzarr::Gateway> gateway_;
};

using Ids = std::vector<std::string>;

}  // namespace

TEST_F(GatewayTest, UnknownOutcomeIsRetriedWithTheSameId) {
  auto resp = gateway_->send_with_retry(to("flaky"), std::nullopt, kFast);
  EXPECT_EQ(resp.events().cover().domain(), "flaky");
  auto ids = fake_.ids("flaky");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_FALSE(ids[0].empty());
}

TEST_F(GatewayTest, SendReportsAnUnknownOutcomeWithTheIdToRetry) {
  try {
    gateway_->send(to("flaky"), "order-42");
    FAIL() << "no error";
  } catch (const angzarr::OutcomeUnknown& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(e.message().rfind("outcome unknown", 0), 0u) << e.message();
    EXPECT_EQ(e.request_id(), "order-42");
    EXPECT_TRUE(e.retryable());
    EXPECT_EQ(gateway_->send(to("flaky"), e.request_id()).events().cover().domain(), "flaky");
  }
  EXPECT_EQ(fake_.ids("flaky"), (Ids{"order-42", "order-42"}));
}

TEST_F(GatewayTest, PlainDeadlineExceededIsUnknownAndRetried) {
  EXPECT_THROW(gateway_->send(to("slow"), "slow-1"), angzarr::OutcomeUnknown);
  gateway_->send_with_retry(to("slow"), "slow-2", kFast);
  EXPECT_EQ(fake_.ids("slow"), (Ids{"slow-1", "slow-2", "slow-2"}));
}

TEST_F(GatewayTest, UnavailableIsRetriedWithTheSameId) {
  gateway_->send_with_retry(to("down"), "down-1", kFast);
  EXPECT_EQ(fake_.ids("down"), (Ids{"down-1", "down-1"}));
}

TEST_F(GatewayTest, ARejectionIsNotRetried) {
  try {
    gateway_->send_with_retry(to("reject"), std::nullopt, kFast);
    FAIL() << "no error";
  } catch (const angzarr::Rejected& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(e.message(), "insufficient funds");
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_EQ(fake_.ids("reject").size(), 1u);
}

TEST_F(GatewayTest, OtherErrorsAreNotRetried) {
  try {
    gateway_->send_with_retry(to("broken"), std::nullopt, kFast);
    FAIL() << "no error";
  } catch (const angzarr::TransportError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::INTERNAL);
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_EQ(fake_.ids("broken").size(), 1u);
}

TEST_F(GatewayTest, AttemptsRunOutWithTheLastError) {
  try {
    gateway_->send_with_retry(to("flaky"), "once-only", angzarr::RetryPolicy{1, 0ms, 0ms});
    FAIL() << "no error";
  } catch (const angzarr::OutcomeUnknown& e) {
    EXPECT_EQ(e.request_id(), "once-only");
  }
  EXPECT_EQ(fake_.ids("flaky").size(), 1u);
}

TEST_F(GatewayTest, AnExplicitRequestIdIsPassedThrough) {
  gateway_->send(to("echo"), "client-chosen:42");
  EXPECT_EQ(fake_.ids("echo"), (Ids{"client-chosen:42"}));
}

TEST_F(GatewayTest, GeneratedIdsDiffer) {
  gateway_->send(to("echo"));
  gateway_->send(to("echo"));
  auto ids = fake_.ids("echo");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[0], ids[1]);
  const std::regex uuid4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  EXPECT_TRUE(std::regex_match(ids[0], uuid4)) << ids[0];
  EXPECT_TRUE(std::regex_match(ids[1], uuid4)) << ids[1];
}

TEST_F(GatewayTest, BadRequestIdsAreRefusedBeforeSending) {
  for (const std::string& bad : {std::string(), std::string(129, 'x'), std::string("na\xc3\xafve"), std::string("a\nb")}) {
    EXPECT_THROW(gateway_->send(to("echo"), bad), std::invalid_argument) << bad;
  }
  EXPECT_TRUE(fake_.ids("echo").empty());
}

TEST(Gateway, AnUnreachableGatewayIsARetryableTransportError) {
  auto down = angzarr::Gateway::connect("127.0.0.1:1").with_timeout(std::chrono::seconds(5));
  try {
    down.send_with_retry(angzarr::CommandRequest(), std::nullopt, angzarr::RetryPolicy{2, std::chrono::milliseconds(5),
                                                                                       std::chrono::milliseconds(5)});
    FAIL() << "no error";
  } catch (const angzarr::TransportError& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_TRUE(e.retryable());
  }
}
