// angzarr::Upcaster: the UpcasterService.Upcast contract without network, on
// the poker player upcaster (PlayerRegisteredV1 → PlayerRegistered).
#include <angzarr/upcaster.hpp>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "examples/player.pb.h"

namespace {

angzarr::Upcaster player_upcaster() {
  return angzarr::Upcaster().map<examples::PlayerRegisteredV1>([](const examples::PlayerRegisteredV1& old) {
    if (old.name() == "boom") throw std::runtime_error("cannot upcast boom");
    examples::PlayerRegistered e;
    e.set_display_name(old.name());
    e.set_email(old.email());
    return e;
  });
}

examples::PlayerRegisteredV1 v1(const std::string& name, const std::string& email) {
  examples::PlayerRegisteredV1 e;
  e.set_name(name);
  e.set_email(email);
  return e;
}

angzarr::EventPage page(uint32_t seq, const google::protobuf::Message& event) {
  angzarr::EventPage p;
  p.mutable_header()->set_sequence(seq);
  p.mutable_created_at()->set_seconds(1700000000 + seq);
  *p.mutable_event() = angzarr::pack(event);
  return p;
}

angzarr::UpcastRequest request(std::vector<angzarr::EventPage> pages) {
  angzarr::UpcastRequest req;
  req.set_domain("player");
  for (auto& p : pages) *req.add_events() = std::move(p);
  return req;
}

examples::FundsDeposited deposited(int64_t n) {
  examples::FundsDeposited e;
  e.mutable_amount()->set_amount(n);
  return e;
}

}  // namespace

TEST(Upcaster, MapsOldEventsAndKeepsTheRestOfThePage) {
  const auto up = player_upcaster();
  EXPECT_EQ(up.event_types(), std::vector<std::string>{"examples.PlayerRegisteredV1"});
  const auto out = up.execute(request({page(0, v1("Alice", "alice@example.com"))}));
  ASSERT_EQ(out.events_size(), 1);
  const auto& p = out.events(0);
  EXPECT_EQ(p.event().type_url(), "type.googleapis.com/examples.PlayerRegistered");
  const auto e = angzarr::unpack<examples::PlayerRegistered>(p.event());
  EXPECT_EQ(e.display_name(), "Alice");
  EXPECT_EQ(e.email(), "alice@example.com");
  EXPECT_EQ(p.header().sequence(), 0u);
  EXPECT_EQ(p.created_at().seconds(), 1700000000);
  // Deterministic: the same bytes as packing it here.
  EXPECT_EQ(p.event().value(), angzarr::pack(e).value());
}

TEST(Upcaster, UnmappedEventsPassThroughUnchangedInOrder) {
  const auto up = player_upcaster();
  angzarr::EventPage odd = page(1, deposited(5));
  odd.mutable_event()->set_value(odd.event().value() + std::string("\x50\x01", 2));  // an unknown field, kept
  angzarr::EventPage external;
  external.mutable_header()->set_sequence(3);
  external.mutable_external()->set_uri("s3://bucket/key");
  const auto req = request({page(0, deposited(1)), odd, page(2, v1("Bob", "b@x")), external, page(4, deposited(2))});
  const auto out = up.execute(req);
  ASSERT_EQ(out.events_size(), 5);
  for (int i : {0, 1, 3, 4}) {
    EXPECT_EQ(out.events(i).SerializeAsString(), req.events(i).SerializeAsString()) << "page " << i;
  }
  EXPECT_TRUE(angzarr::is<examples::PlayerRegistered>(out.events(2).event()));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out.events(i).header().sequence(), uint32_t(i));

  // Nothing mapped at all: everything unchanged; no events: none.
  const auto none = angzarr::Upcaster().execute(req);
  ASSERT_EQ(none.events_size(), req.events_size());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(none.events(i).SerializeAsString(), req.events(i).SerializeAsString());
  EXPECT_EQ(angzarr::Upcaster().execute(angzarr::UpcastRequest()).events_size(), 0);
}

TEST(Upcaster, MalformedOldEventIsInvalidArgument) {
  const auto up = player_upcaster();
  auto req = request({page(0, deposited(1)), page(1, v1("A", "a@x"))});
  req.mutable_events(1)->mutable_event()->set_value("\xff");
  angzarr::UpcastResponse out;
  const auto st = up.handle(req, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("examples.PlayerRegisteredV1"), std::string::npos) << st.error_message();
  try {
    up.execute(req);
    FAIL() << "no error";
  } catch (const angzarr::Error& e) {
    EXPECT_EQ(e.code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST(Upcaster, AFailingMappingIsInternalAndMappingsRegisterOnce) {
  const auto up = player_upcaster();
  angzarr::UpcastResponse out;
  const auto st = up.handle(request({page(0, v1("boom", ""))}), &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(st.error_message().find("cannot upcast boom"), std::string::npos) << st.error_message();

  auto twice = player_upcaster();
  EXPECT_THROW(twice.map<examples::PlayerRegisteredV1>(
                   [](const examples::PlayerRegisteredV1&) { return examples::PlayerRegistered(); }),
               std::logic_error);
  // Chained mappings of several types.
  auto two = angzarr::Upcaster()
                 .map<examples::PlayerRegisteredV1>(
                     [](const examples::PlayerRegisteredV1&) { return examples::PlayerRegistered(); })
                 .map<examples::FundsDeposited>([](const examples::FundsDeposited& d) {
                   examples::FundsDeposited e = d;
                   e.mutable_amount()->set_amount(d.amount().amount() * 100);
                   return e;
                 });
  const auto moved = two.execute(request({page(0, deposited(3))}));
  EXPECT_EQ(angzarr::unpack<examples::FundsDeposited>(moved.events(0).event()).amount().amount(), 300);
}
