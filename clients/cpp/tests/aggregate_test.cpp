// The handler contract of features/README.md, on a toy aggregate.
#include <angzarr/angzarr.hpp>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "wallet.hpp"

using namespace wallet_test;

namespace {

angzarr::Cover cover(const std::string& domain = "wallet") {
  angzarr::Cover c;
  c.set_domain(domain);
  c.mutable_root()->set_value(std::string(16, '\x07'));
  c.set_correlation_id("corr-1");
  return c;
}

// A request: history of `history` events (sequences 0..n-1), then cmd.
angzarr::ContextualCommand request(const google::protobuf::Message& cmd,
                                   const std::vector<examples::FundsDeposited>& history = {}) {
  angzarr::ContextualCommand req;
  auto* book = req.mutable_events();
  *book->mutable_cover() = cover();
  for (std::size_t i = 0; i < history.size(); ++i) {
    auto* p = book->add_pages();
    p->mutable_header()->set_sequence(static_cast<uint32_t>(i));
    *p->mutable_event() = angzarr::pack(history[i]);
  }
  book->set_next_sequence(static_cast<uint32_t>(history.size()));
  auto* cb = req.mutable_command();
  *cb->mutable_cover() = cover();
  auto* page = cb->add_pages();
  page->mutable_header()->set_sequence(static_cast<uint32_t>(history.size()));
  *page->mutable_command() = angzarr::pack(cmd);
  return req;
}

grpc::Status handle(const angzarr::ContextualCommand& req, angzarr::BusinessResponse* resp = nullptr) {
  angzarr::BusinessResponse ignored;
  return wallet().handle(req, resp ? resp : &ignored);
}

}  // namespace

TEST(Any, PackUsesTheTypeUrlAndDeterministicBytes) {
  auto any = angzarr::pack(usd(5));
  EXPECT_EQ(any.type_url(), "type.googleapis.com/examples.Currency");
  EXPECT_EQ(angzarr::type_name(any.type_url()), "examples.Currency");
  EXPECT_EQ(angzarr::type_name("examples.Currency"), "examples.Currency");
  EXPECT_TRUE(angzarr::is<examples::Currency>(any));
  EXPECT_FALSE(angzarr::is<examples::DepositFunds>(any));
  EXPECT_EQ(angzarr::unpack<examples::Currency>(any).amount(), 5);

  // Map entries are sorted whatever the insertion order.
  examples::PlayerState a, b;
  for (const char* k : {"b", "a", "c"}) (*a.mutable_table_reservations())[k] = 1;
  for (const char* k : {"c", "b", "a"}) (*b.mutable_table_reservations())[k] = 1;
  EXPECT_EQ(angzarr::pack(a).value(), angzarr::pack(b).value());
  const std::string bytes = angzarr::pack(a).value();
  EXPECT_LT(bytes.find('a'), bytes.find('b'));
  EXPECT_LT(bytes.find('b'), bytes.find('c'));
}

TEST(Any, UnpackRefusesAnotherTypeOrBadBytes) {
  try {
    angzarr::unpack<examples::DepositFunds>(angzarr::pack(usd(5)));
    FAIL() << "unpacked the wrong type";
  } catch (const angzarr::Error& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  google::protobuf::Any bad;
  bad.set_type_url("type.googleapis.com/examples.Currency");
  bad.set_value("\xff\xff\xff");
  EXPECT_THROW(angzarr::unpack<examples::Currency>(bad), angzarr::Error);
}

TEST(Aggregate, ExecuteFollowsTheContract) {
  const auto req = request(deposit(50), {deposited(100, 100), deposited(10, 110)});
  const auto resp = wallet().execute(req);
  ASSERT_TRUE(resp.has_events());
  const auto& book = resp.events();
  EXPECT_EQ(book.cover().SerializeAsString(), cover().SerializeAsString());
  ASSERT_EQ(book.pages_size(), 1);
  EXPECT_EQ(book.pages(0).header().sequence_type_case(), angzarr::PageHeader::kSequence);
  EXPECT_EQ(book.pages(0).header().sequence(), 2u);
  EXPECT_FALSE(book.pages(0).has_created_at());
  EXPECT_EQ(book.pages(0).event().type_url(), "type.googleapis.com/examples.FundsDeposited");
  EXPECT_EQ(book.pages(0).event().value(), angzarr::serialize_deterministic(deposited(50, 160)));
  ASSERT_TRUE(book.has_snapshot());
  EXPECT_EQ(book.snapshot().sequence(), 2u);
  EXPECT_EQ(book.snapshot().state().type_url(), "type.googleapis.com/examples.Currency");
  EXPECT_EQ(angzarr::unpack<examples::Currency>(book.snapshot().state()).amount(), 160);
  EXPECT_EQ(book.next_sequence(), 0u);
}

TEST(Aggregate, ExecuteIsPure) {
  const auto req = request(deposit(2), {deposited(100, 100)});
  EXPECT_EQ(angzarr::serialize_deterministic(wallet().execute(req)),
            angzarr::serialize_deterministic(wallet().execute(req)));
}

TEST(Aggregate, SeveralEventsGetConsecutiveSequences) {
  auto req = request(deposit(2), {deposited(100, 100)});
  req.mutable_events()->set_next_sequence(7);  // the coordinator's word wins
  const auto book = wallet().execute(req).events();
  ASSERT_EQ(book.pages_size(), 2);
  EXPECT_EQ(book.pages(0).header().sequence(), 7u);
  EXPECT_EQ(book.pages(1).header().sequence(), 8u);
  EXPECT_EQ(book.snapshot().sequence(), 8u);
  EXPECT_EQ(angzarr::unpack<examples::Currency>(book.snapshot().state()).amount(), 102);
}

TEST(Aggregate, NoEventsMeansNoPagesAndNoSnapshot) {
  const auto book = wallet().execute(request(deposit(-1))).events();
  EXPECT_EQ(book.pages_size(), 0);
  EXPECT_FALSE(book.has_snapshot());
  EXPECT_EQ(book.cover().domain(), "wallet");
}

TEST(Aggregate, RejectionIsFailedPrecondition) {
  try {
    wallet().execute(request(deposit(0)));
    FAIL() << "accepted";
  } catch (const angzarr::CommandRejected& e) {
    EXPECT_EQ(e.reason(), "amount must not be zero");
  }
  const auto st = handle(request(deposit(0)));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), "amount must not be zero");
}

TEST(Aggregate, UnknownOrMalformedCommandsAreInvalidArgument) {
  examples::WithdrawFunds unknown;
  auto st = handle(request(unknown));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("examples.WithdrawFunds"), std::string::npos);

  auto malformed = request(deposit(5));
  malformed.mutable_command()->mutable_pages(0)->mutable_command()->set_value("\x0a\xff\xff\xff");
  EXPECT_EQ(handle(malformed).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  angzarr::ContextualCommand empty;
  EXPECT_EQ(handle(empty).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto no_pages = request(deposit(5));
  no_pages.mutable_command()->clear_pages();
  EXPECT_EQ(handle(no_pages).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto external = request(deposit(5));
  external.mutable_command()->mutable_pages(0)->mutable_external()->set_uri("s3://x");
  EXPECT_EQ(handle(external).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto bad_history = request(deposit(5), {deposited(1, 1)});
  bad_history.mutable_events()->mutable_pages(0)->mutable_event()->set_value("\x0a\xff");
  EXPECT_EQ(handle(bad_history).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(Aggregate, OtherExceptionsAreInternal) {
  auto st = handle(request(deposit(13)));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("unlucky"), std::string::npos);
  EXPECT_EQ(handle(request(deposit(14))).error_code(), grpc::StatusCode::INTERNAL);

  auto null_event = angzarr::Aggregate<examples::Currency>("wallet").on<examples::DepositFunds>(
      [](const examples::DepositFunds&, const examples::Currency&, uint32_t) {
        angzarr::EventList list;
        list.push_back(nullptr);
        return list;
      });
  angzarr::BusinessResponse resp;
  EXPECT_EQ(null_event.handle(request(deposit(5)), &resp).error_code(), grpc::StatusCode::INTERNAL);
  try {
    null_event.execute(request(deposit(5)));
    FAIL() << "accepted";
  } catch (const angzarr::Error& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::INTERNAL);
  }
}

TEST(Aggregate, HandlersMayReturnOneMessageOrAListAndOmitSeq) {
  auto agg = angzarr::Aggregate<examples::Currency>("wallet")
                 .on<examples::DepositFunds>([](const examples::DepositFunds& c, const examples::Currency& s) {
                   return deposited(c.amount().amount(), s.amount() + c.amount().amount());
                 })
                 .on<examples::WithdrawFunds>(
                     [](const examples::WithdrawFunds& c, const examples::Currency&, uint32_t seq) {
                       angzarr::EventList list;
                       list.push_back(std::make_unique<examples::FundsDeposited>(deposited(seq, c.amount().amount())));
                       return list;
                     });
  EXPECT_EQ(agg.execute(request(deposit(4))).events().pages_size(), 1);
  examples::WithdrawFunds w;
  *w.mutable_amount() = usd(9);
  const auto book = agg.execute(request(w, {deposited(1, 1), deposited(1, 2), deposited(1, 3)})).events();
  ASSERT_EQ(book.pages_size(), 1);
  EXPECT_EQ(angzarr::unpack<examples::FundsDeposited>(book.pages(0).event()).amount().amount(), 3);  // seq
  EXPECT_EQ(agg.command_types(), (std::vector<std::string>{"examples.DepositFunds", "examples.WithdrawFunds"}));
}

TEST(Aggregate, DuplicateRegistrationsAreRefused) {
  auto agg = wallet();
  EXPECT_THROW(agg.on<examples::DepositFunds>(
                   [](const examples::DepositFunds&, const examples::Currency&) { return angzarr::Events(); }),
               std::logic_error);
  EXPECT_THROW(agg.apply<examples::FundsDeposited>([](examples::Currency&, const examples::FundsDeposited&) {}),
               std::logic_error);
}

TEST(Aggregate, RebuildStartsFromTheSnapshotAndIgnoresUnknownEvents) {
  angzarr::EventBook book;
  book.mutable_snapshot()->set_sequence(4);
  *book.mutable_snapshot()->mutable_state() = angzarr::pack(usd(40));
  auto* p = book.add_pages();
  p->mutable_header()->set_sequence(5);
  *p->mutable_event() = angzarr::pack(deposited(2, 42));
  p = book.add_pages();
  p->mutable_header()->set_sequence(6);
  *p->mutable_event() = angzarr::pack(examples::FundsWithdrawn());  // no applier: ignored
  EXPECT_EQ(wallet().state_of(book).amount(), 42);
  EXPECT_EQ(angzarr::next_sequence(book), 7u);

  book.clear_pages();
  EXPECT_EQ(angzarr::next_sequence(book), 5u);
  book.set_next_sequence(9);
  EXPECT_EQ(angzarr::next_sequence(book), 9u);
  EXPECT_EQ(angzarr::next_sequence(angzarr::EventBook()), 0u);

  *book.mutable_snapshot()->mutable_state() = angzarr::pack(examples::PlayerState());
  try {
    wallet().state_of(book);
    FAIL() << "accepted a foreign snapshot";
  } catch (const angzarr::Error& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST(Aggregate, Replay) {
  angzarr::ReplayRequest req;
  req.mutable_base_snapshot()->set_sequence(0);
  *req.mutable_base_snapshot()->mutable_state() = angzarr::pack(usd(10));
  auto* p = req.add_events();
  p->mutable_header()->set_sequence(1);
  *p->mutable_event() = angzarr::pack(deposited(5, 15));
  const auto resp = wallet().replay(req);
  EXPECT_EQ(resp.state().type_url(), "type.googleapis.com/examples.Currency");
  EXPECT_EQ(angzarr::unpack<examples::Currency>(resp.state()).amount(), 15);

  angzarr::ReplayResponse out;
  EXPECT_TRUE(wallet().handle_replay(angzarr::ReplayRequest(), &out).ok());
  EXPECT_EQ(angzarr::unpack<examples::Currency>(out.state()).amount(), 0);
}

TEST(Events, Builder) {
  auto e = angzarr::Events().add(usd(1)).add(std::make_unique<examples::Currency>(usd(2)));
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(static_cast<const examples::Currency&>(e[1]).amount(), 2);
  EXPECT_TRUE(angzarr::Events().empty());
  EXPECT_EQ(angzarr::Events::of(usd(1), usd(2), usd(3)).size(), 3u);
  auto list = std::move(e).take();
  EXPECT_EQ(list.size(), 2u);
}
