// angzarr.CommandHandlerService over grpc++, in-process on 127.0.0.1:0.
#include <angzarr/server.hpp>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>

#include "wallet.hpp"

using namespace wallet_test;

namespace {

angzarr::ContextualCommand command(const std::string& domain, const google::protobuf::Message& cmd) {
  angzarr::ContextualCommand req;
  req.mutable_events()->mutable_cover()->set_domain(domain);
  auto* book = req.mutable_command();
  book->mutable_cover()->set_domain(domain);
  auto* page = book->add_pages();
  page->mutable_header()->set_sequence(0);
  *page->mutable_command() = angzarr::pack(cmd);
  return req;
}

struct Client {
  explicit Client(const angzarr::Server& server)
      : stub(angzarr::CommandHandlerService::NewStub(
            grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()))) {}

  grpc::Status handle(const angzarr::ContextualCommand& req, angzarr::BusinessResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub->Handle(&ctx, req, resp);
  }
  grpc::Status replay(const angzarr::ReplayRequest& req, angzarr::ReplayResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub->Replay(&ctx, req, resp);
  }
  std::unique_ptr<angzarr::CommandHandlerService::Stub> stub;
};

}  // namespace

TEST(Server, RoutesByDomainAndNeverCrashes) {
  auto server = angzarr::Server::start_with("127.0.0.1:0", wallet("wallet"),
                                            std::make_shared<angzarr::Aggregate<examples::Currency>>(wallet("purse")));
  ASSERT_GT(server->port(), 0);
  EXPECT_EQ(server->host(), "127.0.0.1");
  EXPECT_EQ(server->domains(), (std::vector<std::string>{"purse", "wallet"}));
  Client client(*server);

  angzarr::BusinessResponse resp;
  ASSERT_TRUE(client.handle(command("purse", deposit(5)), &resp).ok());
  EXPECT_EQ(resp.events().cover().domain(), "purse");
  EXPECT_EQ(resp.events().pages(0).event().type_url(), "type.googleapis.com/examples.FundsDeposited");

  auto st = client.handle(command("nowhere", deposit(5)), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(client.handle(command("", deposit(5)), &resp).error_code(), grpc::StatusCode::NOT_FOUND);

  st = client.handle(command("wallet", deposit(0)), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), "amount must not be zero");
  EXPECT_EQ(client.handle(command("wallet", deposit(13)), &resp).error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(client.handle(command("wallet", deposit(14)), &resp).error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(client.handle(command("wallet", examples::WithdrawFunds()), &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Still serving.
  EXPECT_TRUE(client.handle(command("wallet", deposit(5)), &resp).ok());

  angzarr::ReplayResponse replayed;
  EXPECT_EQ(client.replay(angzarr::ReplayRequest(), &replayed).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  server->shutdown();
}

TEST(Server, SingleAggregateTakesCoverlessCommandsAndReplays) {
  auto server = angzarr::Server::start_with("127.0.0.1:0", wallet());
  Client client(*server);
  angzarr::BusinessResponse resp;
  EXPECT_TRUE(client.handle(command("", deposit(5)), &resp).ok());

  angzarr::ReplayRequest req;
  auto* p = req.add_events();
  *p->mutable_event() = angzarr::pack(deposited(5, 5));
  angzarr::ReplayResponse replayed;
  ASSERT_TRUE(client.replay(req, &replayed).ok());
  EXPECT_EQ(angzarr::unpack<examples::Currency>(replayed.state()).amount(), 5);
}

TEST(Server, RefusesDuplicateDomainsAndBadAddresses) {
  EXPECT_THROW(angzarr::Server::start_with("127.0.0.1:0", wallet(), wallet()), std::invalid_argument);
  auto first = angzarr::Server::start_with("127.0.0.1:0", wallet());
  EXPECT_THROW(angzarr::Server::start_with(first->address(), wallet()), std::runtime_error);
}
