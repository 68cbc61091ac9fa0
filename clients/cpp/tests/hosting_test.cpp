// One grpc++ server (in-process, 127.0.0.1:0) hosting aggregates, a
// projector, a saga, a process manager and an upcaster:
// CommandHandlerService, ProjectorService (and ProjectorBatchService beside
// it), SagaService, ProcessManagerService and UpcasterService over the wire.
#include <angzarr/server.hpp>
#include <angzarr/testing.hpp>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "angzarr_kafka/batch.grpc.pb.h"
#include "examples/hand.pb.h"
#include "examples/orchestration.pb.h"
#include "examples/player.pb.h"
#include "examples/table.pb.h"
#include "hand_flow.hpp"
#include "wallet.hpp"

using angzarr::testing::event_book;
using namespace wallet_test;

namespace {

const std::string kTable(16, '\x0a');
const std::string kAlice(16, '\x01');

angzarr::Cover cover(const std::string& domain, const std::string& root) {
  angzarr::Cover c;
  c.set_domain(domain);
  c.mutable_root()->set_value(root);
  c.set_correlation_id("corr-1");
  return c;
}

template <class F>
grpc::Status call(F&& f) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return f(&ctx);
}

struct Model {
  std::map<std::string, int64_t> balances;
  int applied = 0;
};

angzarr::Projector ledger(std::shared_ptr<Model> model) {
  return angzarr::Projector("ledger")
      .on<examples::FundsDeposited>([model](const examples::FundsDeposited& e, const angzarr::Cover& c, uint32_t) {
        if (e.amount().amount() == 13) throw std::runtime_error("unlucky");
        model->balances[c.root().value()] = e.new_balance().amount();
        ++model->applied;  // unsynchronized on purpose: the projector applies one book at a time
      })
      .view([model](const angzarr::Cover& c) { return usd(model->balances[c.root().value()]); });
}

angzarr::Saga reserve_on_join() {
  return angzarr::Saga("reserve-on-join")
      .on<examples::PlayerJoined>([](const examples::PlayerJoined& e, const angzarr::Cover& table, uint32_t) {
        if (e.buy_in_amount() == 13) throw std::runtime_error("unlucky");
        examples::ReserveFunds cmd;
        cmd.mutable_amount()->set_amount(e.buy_in_amount());
        cmd.set_table_root(table.root().value());
        return std::vector<angzarr::CommandBook>{angzarr::command("player", e.player_root(), cmd)};
      });
}

examples::PlayerJoined joined(const std::string& player, int64_t buy_in) {
  examples::PlayerJoined e;
  e.set_player_root(player);
  e.set_buy_in_amount(buy_in);
  return e;
}

struct Stubs {
  explicit Stubs(const angzarr::Server& server)
      : channel(grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials())),
        aggregates(angzarr::CommandHandlerService::NewStub(channel)),
        projector(angzarr::ProjectorService::NewStub(channel)),
        batch(angzarr_kafka::ProjectorBatchService::NewStub(channel)),
        saga(angzarr::SagaService::NewStub(channel)),
        process_manager(angzarr::ProcessManagerService::NewStub(channel)),
        upcaster(angzarr::UpcasterService::NewStub(channel)) {}
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<angzarr::CommandHandlerService::Stub> aggregates;
  std::unique_ptr<angzarr::ProjectorService::Stub> projector;
  std::unique_ptr<angzarr_kafka::ProjectorBatchService::Stub> batch;
  std::unique_ptr<angzarr::SagaService::Stub> saga;
  std::unique_ptr<angzarr::ProcessManagerService::Stub> process_manager;
  std::unique_ptr<angzarr::UpcasterService::Stub> upcaster;
};

angzarr::Upcaster player_upcaster() {
  return angzarr::Upcaster().map<examples::PlayerRegisteredV1>([](const examples::PlayerRegisteredV1& old) {
    examples::PlayerRegistered e;
    e.set_display_name(old.name());
    e.set_email(old.email());
    return e;
  });
}

const std::string kHand(16, '\x0b');

examples::HandStarted hand_started() {
  examples::HandStarted e;
  e.set_hand_root(kHand);
  e.set_hand_number(4);
  auto* seat = e.add_active_players();
  seat->set_player_root(kAlice);
  seat->set_stack(100);
  return e;
}

}  // namespace

TEST(Hosting, AggregatesProjectorAndSagaInOneServer) {
  auto model = std::make_shared<Model>();
  auto server = angzarr::Server::start_with("127.0.0.1:0", wallet("wallet"), ledger(model), reserve_on_join());
  EXPECT_EQ(server->domains(), std::vector<std::string>{"wallet"});
  ASSERT_NE(server->projector(), nullptr);
  EXPECT_EQ(server->projector()->name(), "ledger");
  ASSERT_NE(server->saga(), nullptr);
  EXPECT_EQ(server->saga()->name(), "reserve-on-join");
  EXPECT_EQ(server->services(),
            (std::vector<std::string>{"angzarr.CommandHandlerService", "angzarr.ProjectorService",
                                      "angzarr_kafka.ProjectorBatchService", "angzarr.SagaService"}));
  Stubs stubs(*server);

  // The aggregate.
  angzarr::ContextualCommand cmd;
  *cmd.mutable_command()->mutable_cover() = cover("wallet", kAlice);
  *cmd.mutable_command()->add_pages()->mutable_command() = angzarr::pack(deposit(5));
  angzarr::BusinessResponse business;
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.aggregates->Handle(ctx, cmd, &business); }).ok());
  ASSERT_EQ(business.events().pages_size(), 1);

  // The projector, fed what the aggregate decided.
  angzarr::EventBook book = business.events();
  book.clear_snapshot();
  angzarr::Projection projection;
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.projector->Handle(ctx, book, &projection); }).ok());
  EXPECT_EQ(projection.projector(), "ledger");
  EXPECT_EQ(projection.sequence(), 0u);
  EXPECT_EQ(projection.cover().root().value(), kAlice);
  EXPECT_EQ(angzarr::unpack<examples::Currency>(projection.projection()).amount(), 5);

  const auto later = event_book(cover("wallet", kAlice), 1, deposited(1, 6), deposited(2, 8));
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.projector->Handle(ctx, later, &projection); }).ok());
  EXPECT_EQ(projection.sequence(), 2u);
  EXPECT_EQ(angzarr::unpack<examples::Currency>(projection.projection()).amount(), 8);
  EXPECT_EQ(model->applied, 3);

  auto st = call([&](auto* ctx) {
    return stubs.projector->Handle(ctx, event_book(cover("wallet", kAlice), 3, deposited(13, 21)), &projection);
  });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("unlucky"), std::string::npos);
  st = call([&](auto* ctx) { return stubs.projector->HandleSpeculative(ctx, later, &projection); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);

  // The saga.
  angzarr::SagaHandleRequest req;
  *req.mutable_source() = event_book(cover("table", kTable), 4, joined(kAlice, 50));
  angzarr::SagaResponse reaction;
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.saga->Handle(ctx, req, &reaction); }).ok());
  ASSERT_EQ(reaction.commands_size(), 1);
  EXPECT_EQ(reaction.commands(0).cover().domain(), "player");
  EXPECT_EQ(reaction.commands(0).cover().root().value(), kAlice);
  EXPECT_FALSE(reaction.commands(0).pages(0).has_header());
  const auto reserve = angzarr::unpack<examples::ReserveFunds>(reaction.commands(0).pages(0).command());
  EXPECT_EQ(reserve.amount().amount(), 50);
  EXPECT_EQ(reserve.table_root(), kTable);

  *req.mutable_source() = event_book(cover("table", kTable), 5, joined(kAlice, 13));
  EXPECT_EQ(call([&](auto* ctx) { return stubs.saga->Handle(ctx, req, &reaction); }).error_code(),
            grpc::StatusCode::INTERNAL);

  // Concurrent books: applied one at a time.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&stubs, t] {
      for (int i = 0; i < 25; ++i) {
        angzarr::Projection p;
        auto s = call([&](auto* ctx) {
          return stubs.projector->Handle(ctx, event_book(cover("wallet", std::string(16, char('a' + t))), i,
                                                         deposited(1, i + 1)),
                                         &p);
        });
        EXPECT_TRUE(s.ok()) << s.error_message();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(model->applied, 103);

  // And the aggregate is still there.
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.aggregates->Handle(ctx, cmd, &business); }).ok());
  server->shutdown(std::chrono::milliseconds(100));
}

TEST(Hosting, ProjectorAndSagaWithoutAggregates) {
  auto model = std::make_shared<Model>();
  auto projector = std::make_shared<angzarr::Projector>(
      ledger(model).speculation([model] { return *model; }, [model](Model m) { *model = std::move(m); }));
  auto server = angzarr::Server::start_with("127.0.0.1:0", reserve_on_join(), projector);
  EXPECT_TRUE(server->domains().empty());
  EXPECT_EQ(server->services(), (std::vector<std::string>{"angzarr.ProjectorService",
                                                          "angzarr_kafka.ProjectorBatchService",
                                                          "angzarr.SagaService"}));
  EXPECT_EQ(server->projector(), projector.get());
  Stubs stubs(*server);

  angzarr::Projection projection;
  const auto book = event_book(cover("wallet", kAlice), 0, deposited(5, 5));
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.projector->HandleSpeculative(ctx, book, &projection); }).ok());
  EXPECT_EQ(angzarr::unpack<examples::Currency>(projection.projection()).amount(), 5);
  EXPECT_EQ(model->applied, 0);  // the read model was restored
  EXPECT_TRUE(model->balances.empty());

  // No aggregates: CommandHandlerService is not served.
  angzarr::BusinessResponse business;
  EXPECT_EQ(call([&](auto* ctx) {
              return stubs.aggregates->Handle(ctx, angzarr::ContextualCommand(), &business);
            }).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  server->shutdown(std::chrono::milliseconds(100));

  // An aggregate-only server serves neither ProjectorService nor SagaService.
  auto plain = angzarr::Server::start_with("127.0.0.1:0", wallet());
  EXPECT_EQ(plain->services(), std::vector<std::string>{"angzarr.CommandHandlerService"});
  EXPECT_EQ(plain->projector(), nullptr);
  Stubs plain_stubs(*plain);
  EXPECT_EQ(call([&](auto* ctx) { return plain_stubs.projector->Handle(ctx, book, &projection); }).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  angzarr_kafka::ProjectorBatch batch;
  *batch.add_books() = book;
  angzarr_kafka::ProjectionBatch projections;
  EXPECT_EQ(call([&](auto* ctx) { return plain_stubs.batch->HandleBatch(ctx, batch, &projections); }).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  plain->shutdown(std::chrono::milliseconds(100));
}

TEST(Hosting, OneProjectorAndOneSagaPerServer) {
  auto model = std::make_shared<Model>();
  EXPECT_THROW(angzarr::Server::start_with("127.0.0.1:0", ledger(model), ledger(model)), std::invalid_argument);
  EXPECT_THROW(angzarr::Server::start_with("127.0.0.1:0", reserve_on_join(), wallet(), reserve_on_join()),
               std::invalid_argument);
  EXPECT_THROW(angzarr::Server::start_with("127.0.0.1:0", std::shared_ptr<const angzarr::Saga>()),
               std::invalid_argument);
  angzarr::Hosting hosting;
  hosting.aggregates.push_back(std::make_shared<angzarr::Aggregate<examples::Currency>>(wallet()));
  hosting.saga = std::make_shared<angzarr::Saga>(reserve_on_join());
  auto server = angzarr::Server::start("127.0.0.1:0", std::move(hosting));
  EXPECT_EQ(server->services(), (std::vector<std::string>{"angzarr.CommandHandlerService", "angzarr.SagaService"}));
}

TEST(Hosting, ProcessManagerAndUpcasterOverTheWire) {
  auto pm = std::make_shared<angzarr::ProcessManager<examples::HandFlowState>>(hand_flow_test::process_manager());
  auto server = angzarr::Server::start_with("127.0.0.1:0", player_upcaster(), pm);
  EXPECT_GT(server->port(), 0);
  EXPECT_TRUE(server->domains().empty());
  EXPECT_EQ(server->process_manager(), pm.get());
  ASSERT_NE(server->upcaster(), nullptr);
  EXPECT_EQ(server->services(),
            (std::vector<std::string>{"angzarr.ProcessManagerService", "angzarr.UpcasterService"}));
  Stubs stubs(*server);

  // Prepare, then Handle: deal the hand.
  const auto trigger = event_book(cover("table", kTable), 2, hand_started());
  angzarr::ProcessManagerPrepareRequest prep;
  *prep.mutable_trigger() = trigger;
  angzarr::ProcessManagerPrepareResponse prepared;
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.process_manager->Prepare(ctx, prep, &prepared); }).ok());
  ASSERT_EQ(prepared.destinations_size(), 1);
  EXPECT_EQ(prepared.destinations(0).domain(), "hand");
  EXPECT_EQ(prepared.destinations(0).root().value(), kHand);

  angzarr::ProcessManagerHandleRequest req;
  *req.mutable_trigger() = trigger;
  req.mutable_process_state()->mutable_cover()->set_domain("hand-flow");
  req.mutable_process_state()->mutable_cover()->set_correlation_id("corr-1");
  req.mutable_process_state()->set_next_sequence(3);
  (*req.mutable_destination_sequences())["hand"] = 0;
  angzarr::ProcessManagerHandleResponse out;
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.process_manager->Handle(ctx, req, &out); }).ok());
  ASSERT_EQ(out.commands_size(), 1);
  EXPECT_EQ(out.commands(0).cover().domain(), "hand");
  EXPECT_EQ(angzarr::unpack<examples::DealCards>(out.commands(0).pages(0).command()).hand_number(), 4);
  EXPECT_EQ(out.process_events().cover().correlation_id(), "corr-1");
  ASSERT_EQ(out.process_events().pages_size(), 1);
  EXPECT_EQ(out.process_events().pages(0).header().sequence(), 3u);
  EXPECT_EQ(out.process_events().snapshot().sequence(), 3u);
  EXPECT_EQ(angzarr::unpack<examples::HandFlowState>(out.process_events().snapshot().state()).phase(), "dealing");

  // The hand already has events: nothing.
  (*req.mutable_destination_sequences())["hand"] = 5;
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.process_manager->Handle(ctx, req, &out); }).ok());
  EXPECT_EQ(out.commands_size(), 0);
  EXPECT_EQ(out.process_events().pages_size(), 0);

  // Failures are statuses: no trigger, a snapshot of another type.
  angzarr::ProcessManagerHandleRequest empty;
  EXPECT_EQ(call([&](auto* ctx) { return stubs.process_manager->Handle(ctx, empty, &out); }).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  *req.mutable_process_state()->mutable_snapshot()->mutable_state() = angzarr::pack(usd(1));
  EXPECT_EQ(call([&](auto* ctx) { return stubs.process_manager->Handle(ctx, req, &out); }).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Upcast: mapped, unmapped, in order.
  angzarr::UpcastRequest up;
  up.set_domain("player");
  examples::PlayerRegisteredV1 old;
  old.set_name("Alice");
  old.set_email("alice@example.com");
  auto* p0 = up.add_events();
  p0->mutable_header()->set_sequence(0);
  *p0->mutable_event() = angzarr::pack(old);
  auto* p1 = up.add_events();
  p1->mutable_header()->set_sequence(1);
  *p1->mutable_event() = angzarr::pack(deposited(5, 5));
  angzarr::UpcastResponse upcast;
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.upcaster->Upcast(ctx, up, &upcast); }).ok());
  ASSERT_EQ(upcast.events_size(), 2);
  const auto registered = angzarr::unpack<examples::PlayerRegistered>(upcast.events(0).event());
  EXPECT_EQ(registered.display_name(), "Alice");
  EXPECT_EQ(upcast.events(0).header().sequence(), 0u);
  EXPECT_EQ(upcast.events(1).SerializeAsString(), up.events(1).SerializeAsString());

  // A malformed old event: INVALID_ARGUMENT.
  p0->mutable_event()->set_value("\xff");
  EXPECT_EQ(call([&](auto* ctx) { return stubs.upcaster->Upcast(ctx, up, &upcast); }).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // No aggregates here: CommandHandlerService is not served.
  angzarr::BusinessResponse business;
  EXPECT_EQ(call([&](auto* ctx) {
              return stubs.aggregates->Handle(ctx, angzarr::ContextualCommand(), &business);
            }).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  server->shutdown(std::chrono::milliseconds(100));
}

TEST(Hosting, EverythingInOneServerAndOneOfEachPerServer) {
  auto model = std::make_shared<Model>();
  auto server = angzarr::Server::start_with("127.0.0.1:0", hand_flow_test::process_manager(), wallet(),
                                            ledger(model), player_upcaster(), reserve_on_join());
  EXPECT_EQ(server->services(),
            (std::vector<std::string>{"angzarr.CommandHandlerService", "angzarr.ProjectorService",
                                      "angzarr_kafka.ProjectorBatchService", "angzarr.SagaService",
                                      "angzarr.ProcessManagerService", "angzarr.UpcasterService"}));
  ASSERT_NE(server->process_manager(), nullptr);
  EXPECT_EQ(server->process_manager()->name(), "hand-flow");
  Stubs stubs(*server);
  angzarr::ContextualCommand cmd;
  *cmd.mutable_command()->mutable_cover() = cover("wallet", kAlice);
  *cmd.mutable_command()->add_pages()->mutable_command() = angzarr::pack(deposit(5));
  angzarr::BusinessResponse business;
  EXPECT_TRUE(call([&](auto* ctx) { return stubs.aggregates->Handle(ctx, cmd, &business); }).ok());
  angzarr::UpcastResponse upcast;
  EXPECT_TRUE(call([&](auto* ctx) { return stubs.upcaster->Upcast(ctx, angzarr::UpcastRequest(), &upcast); }).ok());
  angzarr::ProcessManagerPrepareResponse prepared;
  EXPECT_TRUE(call([&](auto* ctx) {
                return stubs.process_manager->Prepare(ctx, angzarr::ProcessManagerPrepareRequest(), &prepared);
              }).ok());
  server->shutdown(std::chrono::milliseconds(100));

  // Without them, neither service is served.
  auto plain = angzarr::Server::start_with("127.0.0.1:0", wallet());
  EXPECT_EQ(plain->process_manager(), nullptr);
  EXPECT_EQ(plain->upcaster(), nullptr);
  Stubs plain_stubs(*plain);
  EXPECT_EQ(call([&](auto* ctx) { return plain_stubs.upcaster->Upcast(ctx, angzarr::UpcastRequest(), &upcast); })
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  plain->shutdown(std::chrono::milliseconds(100));

  EXPECT_THROW(angzarr::Server::start_with("127.0.0.1:0", hand_flow_test::process_manager(),
                                           hand_flow_test::process_manager()),
               std::invalid_argument);
  EXPECT_THROW(angzarr::Server::start_with("127.0.0.1:0", player_upcaster(), wallet(), player_upcaster()),
               std::invalid_argument);
  EXPECT_THROW(angzarr::Server::start_with("127.0.0.1:0", std::shared_ptr<const angzarr::Upcaster>()),
               std::invalid_argument);
  EXPECT_THROW(angzarr::Server::start_with(
                   "127.0.0.1:0", std::shared_ptr<const angzarr::ProcessManager<examples::HandFlowState>>()),
               std::invalid_argument);
  angzarr::Hosting hosting;
  hosting.upcaster = std::make_shared<angzarr::Upcaster>(player_upcaster());
  auto only = angzarr::Server::start("127.0.0.1:0", std::move(hosting));
  EXPECT_EQ(only->services(), std::vector<std::string>{"angzarr.UpcasterService"});
}

TEST(Hosting, ProjectorBatchServiceBesideProjectorService) {
  // Nothing batch-specific in the projector: serving it serves HandleBatch.
  auto model = std::make_shared<Model>();
  auto server = angzarr::Server::start_with("127.0.0.1:0", ledger(model));
  EXPECT_EQ(server->services(),
            (std::vector<std::string>{"angzarr.ProjectorService", "angzarr_kafka.ProjectorBatchService"}));
  Stubs stubs(*server);
  const std::string kBob(16, '\x02');

  angzarr_kafka::ProjectorBatch batch;
  *batch.add_books() = event_book(cover("wallet", kAlice), 0, deposited(5, 5), deposited(1, 6));
  *batch.add_books() = event_book(cover("wallet", kBob), 0, deposited(2, 2));
  *batch.add_books() = event_book(cover("wallet", kAlice), 2, deposited(3, 9));
  angzarr_kafka::ProjectionBatch out;
  ASSERT_TRUE(call([&](auto* ctx) { return stubs.batch->HandleBatch(ctx, batch, &out); }).ok());
  ASSERT_EQ(out.projections_size(), 3);
  EXPECT_EQ(out.projections(0).cover().root().value(), kAlice);
  EXPECT_EQ(out.projections(0).sequence(), 1u);
  EXPECT_EQ(angzarr::unpack<examples::Currency>(out.projections(0).projection()).amount(), 6);
  EXPECT_EQ(out.projections(1).cover().root().value(), kBob);
  EXPECT_EQ(out.projections(1).sequence(), 0u);
  EXPECT_EQ(out.projections(2).sequence(), 2u);
  EXPECT_EQ(angzarr::unpack<examples::Currency>(out.projections(2).projection()).amount(), 9);
  EXPECT_EQ(out.projections(2).projector(), "ledger");
  EXPECT_EQ(model->applied, 4);

  // An error in book 2 fails the whole call with the status Handle gives
  // that book; book 1 stays applied, book 3 is not reached.
  angzarr_kafka::ProjectorBatch failing;
  *failing.add_books() = event_book(cover("wallet", kAlice), 3, deposited(1, 10));
  *failing.add_books() = event_book(cover("wallet", kBob), 1, deposited(13, 15));
  *failing.add_books() = event_book(cover("wallet", kBob), 2, deposited(1, 16));
  out.Clear();
  const auto st = call([&](auto* ctx) { return stubs.batch->HandleBatch(ctx, failing, &out); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("unlucky"), std::string::npos) << st.error_message();
  EXPECT_EQ(out.projections_size(), 0);
  EXPECT_EQ(model->applied, 5);
  angzarr::Projection single;
  const auto alone = call([&](auto* ctx) { return stubs.projector->Handle(ctx, failing.books(1), &single); });
  EXPECT_EQ(alone.error_code(), st.error_code());
  EXPECT_EQ(alone.error_message(), st.error_message());

  // Empty: no projections.
  ASSERT_TRUE(call([&](auto* ctx) {
                return stubs.batch->HandleBatch(ctx, angzarr_kafka::ProjectorBatch(), &out);
              }).ok());
  EXPECT_EQ(out.projections_size(), 0);

  // Batches and single books from several clients at once: one at a time.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&stubs, t] {
      const std::string root(16, char('a' + t));
      for (int i = 0; i < 10; ++i) {
        grpc::Status s;
        if (t % 2 == 0) {
          angzarr_kafka::ProjectorBatch b;
          *b.add_books() = event_book(cover("wallet", root), 2 * i, deposited(1, 2 * i + 1));
          *b.add_books() = event_book(cover("wallet", root), 2 * i + 1, deposited(1, 2 * i + 2));
          angzarr_kafka::ProjectionBatch o;
          s = call([&](auto* ctx) { return stubs.batch->HandleBatch(ctx, b, &o); });
        } else {
          angzarr::Projection p;
          s = call([&](auto* ctx) {
            return stubs.projector->Handle(ctx, event_book(cover("wallet", root), i, deposited(1, i + 1)), &p);
          });
        }
        EXPECT_TRUE(s.ok()) << s.error_message();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(model->applied, 5 + 2 * 20 + 2 * 10);
  server->shutdown(std::chrono::milliseconds(100));
}
