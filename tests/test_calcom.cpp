// The Cal.com API v2 adapter against a stateful in-process fake of Cal.com: the documented
// response envelopes ({"status": "success", "data": ...}, {"status": "error", "error": {...}}),
// the 2024-09-04 slots keyed by date, a reschedule that makes a new booking, and a
// `cal-api-version` header that, as on Cal.com, selects another (older) behaviour when missing or
// wrong. The booking scenario runs through the tools; then faults, secrets and bad input.
#include <atomic>
#include <condition_variable>
#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "providers/auth/credentials.hpp"
#include "providers/auth/login.hpp"
#include "providers/booking/calcom.hpp"
#include "providers/error.hpp"
#include "store/history.hpp"
#include "support/app_fixture.hpp"
#include "support/calcom_fake.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::booking;
using namespace std::chrono_literals;

namespace {

// Backoff and Retry-After waits pass at once; the breaker's cool-down moves when told.
struct TestClock : http::Clock {
  std::mutex m;
  std::chrono::steady_clock::time_point t{std::chrono::hours(1000)};
  std::vector<http::Ms> sleeps;
  std::chrono::steady_clock::time_point now() override {
    std::lock_guard l(m);
    return t;
  }
  void sleep_for(http::Ms d) override {
    std::lock_guard l(m);
    sleeps.push_back(d);
    t += d;
  }
};

std::string iso(Millis t) { return calcom_iso(t); }
Millis day_start(Millis t) { return calcom_day_start(t); }

// One account on the fake: a Cal.com API key (a live token the fake accepts).
struct Setup {
  FakeCalcom cal;
  TestClock clock;
  std::string key;
  std::shared_ptr<http::Client> client;
  std::shared_ptr<CalcomBooking> adapter;
  explicit Setup(CalcomVersions versions = {}, int max_attempts = 0) {
    key = cal.up.api_key();
    auto policy = cal.up.policy();
    if (max_attempts) policy.max_attempts = max_attempts;
    client = std::make_shared<http::Client>(policy, clock);
    auto creds = std::make_shared<auth::StaticCredentials>("calcom", "default", "Bearer " + key,
                                                           "replace the API key: concierge config set calcom.api_key");
    adapter = std::make_shared<CalcomBooking>(client, creds, versions);
  }
};

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a tool error: ") + e.what();
  }
  return "no error";
}

// The window the tests book in: tomorrow and the day after (UTC), whatever the time now.
Millis window_start() { return day_start(now_ms()) + kDay; }

}  // namespace

TEST_CASE("calcom: policy and OAuth settings", "[calcom]") {
  auto p = calcom_policy();
  CHECK(p.base_url == "https://api.cal.com/v2");
  CHECK(p.service == "calcom");
  CHECK(p.burst + p.rate_per_second * 60 <= 120);  // Cal.com: 120 requests per minute per API key
  CHECK(p.cache_ttl.count() == 0);
  auto ro = calcom_oauth(true), rw = calcom_oauth(false);
  CHECK(ro.authorize_url == "https://app.cal.com/auth/oauth2/authorize");
  // One documented endpoint for the code exchange and the refresh, on the API (a self-hosted
  // API v2 has its own).
  CHECK(ro.token_url == "https://api.cal.com/v2/auth/oauth2/token");
  CHECK(calcom_oauth(false, "https://cal.example.org/api/v2").token_url == "https://cal.example.org/api/v2/auth/oauth2/token");
  // Cal.com matches redirect URIs exactly: a fixed loopback port, and where to register it.
  CHECK(kCalcomLoopbackPort == 53218);
  CHECK(ro.loopback_port == kCalcomLoopbackPort);
  CHECK_THAT(rw.register_redirect_at, Catch::Contains("https://app.cal.com/settings/developer/oauth"));
  CHECK(ro.scopes == std::vector<std::string>{"EVENT_TYPE_READ", "BOOKING_READ"});
  CHECK(rw.scopes == std::vector<std::string>{"EVENT_TYPE_READ", "BOOKING_READ", "BOOKING_WRITE"});
  CalcomVersions v;
  CHECK(v.bookings == "2026-02-25");
  CHECK(v.slots == "2024-09-04");
  CHECK(v.event_types == "2024-06-14");
  auto set = calcom_versions({{"bookings", "2027-01-01"}});
  CHECK(set.bookings == "2027-01-01");
  CHECK(set.slots == "2024-09-04");
  CHECK_THROWS_WITH(calcom_versions({{"webhooks", "2024-06-14"}}), Catch::StartsWith("webhooks:"));
}

TEST_CASE("calcom: find, book, gone from slots, reschedule (a new uid), cancel with a reason, back, through the tools", "[calcom]") {
  Setup s;
  AppFixture f;
  f.providers.booking = {};
  f.providers.booking.add("default", s.adapter);
  Client c(*f.server);
  c.initialize("2025-11-25");
  const std::string from = iso(window_start()), to = iso(window_start() + 2 * kDay);
  const Json window{{"event_type", "consultation"}, {"start", from}, {"end", to}, {"time_zone", "UTC"}, {"max_results", 500}};

  Json types = structured(call(c, 1, "booking_list_event_types", Json::object()))["event_types"];
  REQUIRE(types.size() == 2);
  CHECK(types[0]["id"] == "intro-call");  // slugs, shortest first as the local provider orders them
  CHECK(types[1]["id"] == "consultation");
  CHECK(types[1]["length_minutes"] == 30);
  CHECK(types[1]["location"] == "+49301234567");

  Json slots = structured(call(c, 2, "booking_find_slots", window))["slots"];
  REQUIRE(slots.size() == 12);  // 09:00-12:00, 30 minutes, two days
  CHECK(slots[0]["start"] == from.substr(0, 10) + "T09:00:00+00:00");
  CHECK(slots[0]["end"] == from.substr(0, 10) + "T09:30:00+00:00");

  Json booked = structured(call(c, 3, "booking_create",
                                {{"event_type", "consultation"}, {"start", slots[2]["start"]},
                                 {"attendee", {{"name", "Ada Lovelace"}, {"email", "ada@example.com"}, {"time_zone", "Europe/London"}}},
                                 {"notes", "About the analytical engine"}, {"time_zone", "UTC"}}))["booking"];
  CHECK(booked["status"] == "accepted");
  CHECK(booked["start"] == slots[2]["start"]);
  CHECK(booked["event_type"] == "consultation");
  CHECK(booked["attendee"]["email"] == "ada@example.com");
  CHECK(booked["attendee"]["time_zone"] == "Europe/London");
  CHECK(booked["notes"] == "About the analytical engine");
  const std::string uid = booked["id"];
  {
    std::lock_guard l(s.cal.m);
    REQUIRE(s.cal.bookings.count(uid));
    CHECK(s.cal.bookings[uid].tz == "Europe/London");
    CHECK(s.cal.bookings[uid].type == 102);
  }
  Json after = structured(call(c, 4, "booking_find_slots", window))["slots"];
  CHECK(after.size() == slots.size() - 1);
  for (auto& sl : after) CHECK(sl["start"] != slots[2]["start"]);
  Json listed = structured(call(c, 5, "booking_list", {{"time_zone", "UTC"}}))["bookings"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == uid);
  // The same slot again: a Conflict naming start.
  CHECK_THAT(error_text(call(c, 6, "booking_create", {{"event_type", "consultation"}, {"start", slots[2]["start"]},
                                                      {"attendee", {{"name", "Bob"}, {"email", "bob@example.com"}}}})),
             Catch::StartsWith("start: that time is no longer free"));

  // Reschedule: Cal.com makes a new booking with a new uid; the old slot opens again.
  const Json target = slots[slots.size() - 1];
  Json moved = structured(call(c, 7, "booking_reschedule", {{"booking_id", uid}, {"start", target["start"]}, {"reason", "travel"}, {"time_zone", "UTC"}}))["booking"];
  CHECK(moved["start"] == target["start"]);
  const std::string new_uid = moved["id"];
  CHECK(new_uid != uid);
  {
    std::lock_guard l(s.cal.m);
    CHECK(s.cal.bookings[new_uid].from_uid == uid);
    CHECK(s.cal.bookings[new_uid].resched_reason == "travel");
  }
  Json again = structured(call(c, 8, "booking_find_slots", window))["slots"];
  CHECK(again.size() == slots.size() - 1);
  CHECK(std::any_of(again.begin(), again.end(), [&](auto& sl) { return sl["start"] == slots[2]["start"]; }));
  CHECK(std::none_of(again.begin(), again.end(), [&](auto& sl) { return sl["start"] == target["start"]; }));
  listed = structured(call(c, 9, "booking_list", {{"time_zone", "UTC"}}))["bookings"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == new_uid);
  // The replaced booking cannot be moved again.
  CHECK_THAT(error_text(call(c, 10, "booking_reschedule", {{"booking_id", uid}, {"start", target["start"]}})),
             Catch::StartsWith("booking_id:"));

  // Cancel with a reason: every slot is back.
  Json cancelled = structured(call(c, 11, "booking_cancel", {{"booking_id", new_uid}, {"reason", "plans changed"}}))["booking"];
  CHECK(cancelled["status"] == "cancelled");
  CHECK(cancelled["cancel_reason"] == "plans changed");
  {
    std::lock_guard l(s.cal.m);
    CHECK(s.cal.bookings[new_uid].cancel_reason == "plans changed");
  }
  CHECK(structured(call(c, 12, "booking_find_slots", window))["slots"].size() == slots.size());
  listed = structured(call(c, 13, "booking_list", {{"status", "cancelled"}}))["bookings"];
  REQUIRE(listed.size() == 1);  // the moved one is not listed as cancelled
  CHECK(listed[0]["id"] == new_uid);
  CHECK(structured(call(c, 14, "booking_list", {}))["bookings"].empty());
  CHECK_THAT(error_text(call(c, 15, "booking_cancel", {{"booking_id", new_uid}})), Catch::StartsWith("booking_id: booking '" + new_uid + "' is already cancelled"));

  // Every call carried its family's version.
  CHECK(s.cal.versions_for("/event-types") == std::set<std::string>{"2024-06-14"});
  CHECK(s.cal.versions_for("/slots") == std::set<std::string>{"2024-09-04"});
  CHECK(s.cal.versions_for("/bookings") == std::set<std::string>{"2026-02-25"});
}

TEST_CASE("calcom: numeric event type ids work as well as slugs", "[calcom]") {
  Setup s;
  Millis from = window_start();
  CHECK(s.adapter->event_type(0, "102").id == "consultation");
  auto by_id = s.adapter->slots(0, "102", from, from + kDay);
  auto by_slug = s.adapter->slots(0, "consultation", from, from + kDay);
  REQUIRE(by_id.size() == 6);
  CHECK(by_id.size() == by_slug.size());
  CHECK(by_id[0].end - by_id[0].start == 30 * kMinute);
  auto b = s.adapter->create(0, {.event_type_id = "101", .start = from + 9 * kHour, .attendee = {"Ada", "ada@example.com", ""}});
  CHECK(b.event_type_id == "intro-call");
  CHECK(b.end - b.start == 15 * kMinute);
  CHECK(b.attendee.time_zone == "UTC");  // Cal.com requires one
  CHECK(s.adapter->get(0, b.id).id == b.id);
}

TEST_CASE("calcom: cal-api-version is sent per endpoint, a wrong one is noticed, not misread", "[calcom]") {
  Millis from = window_start();
  SECTION("a wrong event types version") {
    Setup s(CalcomVersions{.event_types = "2024-04-15"});
    CHECK_THAT(error_of([&] { s.adapter->event_types(0); }), Catch::Contains("unexpected shape") && Catch::Contains("2024-04-15"));
    CHECK_THAT(error_of([&] { s.adapter->event_type(0, "102"); }), Catch::Contains("unexpected shape"));
    CHECK(s.cal.versions_for("/event-types") == std::set<std::string>{"2024-04-15"});
  }
  SECTION("a wrong slots version") {
    Setup s(CalcomVersions{.slots = "2024-08-13"});
    CHECK(s.adapter->event_types(0).size() == 2);  // the other families still work
    CHECK_THAT(error_of([&] { s.adapter->slots(0, "consultation", from, from + kDay); }),
               Catch::Contains("unexpected shape") && Catch::Contains("2024-08-13"));
    CHECK(s.cal.versions_for("/slots") == std::set<std::string>{"2024-08-13"});
    CHECK(s.cal.versions_for("/event-types") == std::set<std::string>{"2024-06-14"});
  }
  SECTION("a wrong bookings version") {
    Setup s(CalcomVersions{.bookings = "2024-04-15"});
    CHECK(s.adapter->slots(0, "consultation", from, from + kDay).size() == 6);
    CHECK_THAT(error_of([&] { s.adapter->create(0, {.event_type_id = "consultation", .start = from + 9 * kHour, .attendee = {"A", "a@b.co", ""}}); }),
               Catch::Contains("Cal.com refused it: responses must be an object"));
    CHECK_THAT(error_of([&] { s.adapter->list(0, {.now = now_ms()}); }), Catch::Contains("unexpected shape"));
    CHECK(s.cal.bookings.empty());
  }
  SECTION("no version at all is what Cal.com treats as the oldest") {
    Setup s(CalcomVersions{"", "", ""});
    CHECK_THAT(error_of([&] { s.adapter->event_types(0); }), Catch::Contains("unexpected shape"));
    CHECK(s.cal.versions_for("/event-types") == std::set<std::string>{""});
  }
}

TEST_CASE("calcom: two concurrent bookings of one slot: exactly one succeeds, the other is a clear Conflict", "[calcom][concurrency]") {
  Setup s;
  Millis start = window_start() + 10 * kHour;
  std::atomic<int> ok{0};
  std::string errors[2];
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&, i] {
      try {
        s.adapter->create(0, {.event_type_id = "consultation", .start = start,
                              .attendee = {"Guest " + std::to_string(i), "g" + std::to_string(i) + "@example.com", "UTC"}});
        ++ok;
      } catch (const Conflict& e) {
        errors[i] = e.what();
      } catch (const std::exception& e) {
        errors[i] = std::string("unexpected: ") + e.what();
      }
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 1);
  std::string err = errors[0].empty() ? errors[1] : errors[0];
  CHECK_THAT(err, Catch::StartsWith("start: that time is no longer free; booking_find_slots lists the open ones"));
  CHECK(s.adapter->list(0, {.status = "upcoming", .now = now_ms()}).size() == 1);
}

TEST_CASE("calcom: a 500 on POST /bookings is reported, not retried", "[calcom]") {
  Setup s;
  s.cal.fail_posts = 1;
  int before = s.cal.posts;
  std::string e = error_of([&] {
    s.adapter->create(0, {.event_type_id = "consultation", .start = window_start() + 9 * kHour, .attendee = {"A", "a@b.co", "UTC"}});
  });
  CHECK_THAT(e, Catch::Contains("HTTP 500") && Catch::Contains("try again later"));
  CHECK(s.cal.posts - before == 1);  // one attempt: a booking must not be made twice
  CHECK(s.cal.bookings.empty());
  // Reads are retried: a 500, then success.
  s.cal.up.inject({Fault::Status500});
  CHECK(s.adapter->event_types(0).size() == 2);
}

TEST_CASE("calcom faults: 429 with Retry-After, 500, stall, malformed JSON", "[calcom][faults]") {
  Setup s;
  SECTION("429 then success, honouring Retry-After") {
    s.cal.up.inject({Fault::Status429, 2});
    CHECK(s.adapter->event_types(0).size() == 2);
    REQUIRE_FALSE(s.clock.sleeps.empty());
    CHECK(s.clock.sleeps.front() >= 1900ms);
  }
  SECTION("500 then success on a read") {
    s.cal.up.inject({Fault::Status500});
    s.cal.up.inject({Fault::Status500});
    CHECK(s.adapter->list(0, {.now = now_ms()}).empty());
  }
  SECTION("a stall past the timeout: the service did not answer") {
    auto p = s.cal.up.policy();
    p.max_attempts = 1;
    auto client = std::make_shared<http::Client>(p, s.clock);
    CalcomBooking once(client, std::make_shared<auth::StaticCredentials>("calcom", "default", "Bearer " + s.key, "fix"));
    s.cal.up.inject({Fault::Stall});
    CHECK_THAT(error_of([&] { once.event_types(0); }), Catch::Contains("did not answer"));
  }
  SECTION("malformed JSON: a clear tool error") {
    s.cal.up.inject({Fault::Malformed});
    std::string e = error_of([&] { s.adapter->event_types(0); });
    CHECK_THAT(e, Catch::Contains("not JSON"));
    CHECK_THAT(e, !Catch::Contains("not a tool error"));
  }
}

namespace {

// Cal.com's own OAuth endpoints (calcom_oauth's defaults) moved onto the fake: same paths.
auth::OAuthConfig on_fake(auth::OAuthConfig c, const CalcomUpstream& up) {
  for (auto* u : {&c.authorize_url, &c.token_url}) *u = up.url(u->substr(u->find('/', u->find("://") + 3)));
  c.client_id = up.client_id;
  return c;
}

// A store, an OAuth client on the fake's clock, and account "work" signed in through the code
// exchange on calcom_oauth's token endpoint.
struct OAuthSetup {
  FakeCalcom cal;
  TestClock clock;
  TempDir dir;
  store::Store store{dir.path / "data"};
  auth::TokenStore tokens{store, auth::Sealer(std::string(32, 'K'))};
  int64_t user = store.user_id("local");
  std::shared_ptr<auth::OAuthClient> oauth;
  std::shared_ptr<http::Client> client;
  OAuthSetup() {
    oauth = std::make_shared<auth::OAuthClient>(on_fake(calcom_oauth(false), cal.up), tokens, cal.up.policy(), [this] { return cal.up.now(); });
    client = std::make_shared<http::Client>(cal.up.policy(), clock);
  }
  auth::Token sign_in(const std::string& account, const std::string& cal_user) {
    auto pkce = auth::Pkce::make();
    const std::string redirect = "http://127.0.0.1:1/callback";
    return oauth->exchange(user, account, cal.up.approve(cal_user, redirect, pkce.challenge), redirect, pkce);
  }
  std::shared_ptr<CalcomBooking> adapter(const std::string& account) {
    return std::make_shared<CalcomBooking>(client, std::make_shared<auth::OAuthCredentials>(oauth, "calcom", account));
  }
};

}  // namespace

TEST_CASE("calcom faults: expired OAuth token refreshed once, revoked grant names the sign-in command, a refused key", "[calcom][faults]") {
  OAuthSetup s;
  auto& cal = s.cal;
  const int64_t user = s.user;
  cal.up.sign_in(s.tokens, user, "work");
  auto owned = s.adapter("work");
  auto& adapter = *owned;
  CHECK(adapter.event_types(user).size() == 2);

  cal.up.inject({Fault::Expired});
  CHECK(adapter.event_types(user).size() == 2);
  CHECK(cal.up.refreshes == 1);

  cal.up.revoked = true;
  cal.up.inject({Fault::Expired});
  std::string e = error_of([&] { adapter.event_types(user); });
  CHECK_THAT(e, Catch::StartsWith("account:") && Catch::Contains("concierge auth login calcom --account work"));

  // An API key Cal.com refuses: replace the key, it says (no refresh for a fixed key).
  auto keyed = std::make_shared<http::Client>(cal.up.policy(), s.clock);
  CalcomBooking bad(keyed, std::make_shared<auth::StaticCredentials>("calcom", "default", "Bearer cal_live_wrong", "set a new Cal.com API key"));
  CHECK_THAT(error_of([&] { bad.event_types(user); }), Catch::StartsWith("account:") && Catch::Contains("set a new Cal.com API key"));
}

TEST_CASE("calcom faults: the breaker opens after repeated failures and recovers", "[calcom][faults]") {
  FakeCalcom cal;
  TestClock clock;
  auto p = cal.up.policy();
  p.max_attempts = 1;
  p.breaker_threshold = 3;
  p.breaker_cooldown = 10s;
  auto client = std::make_shared<http::Client>(p, clock);
  CalcomBooking adapter(client, std::make_shared<auth::StaticCredentials>("calcom", "default", "Bearer " + cal.up.api_key(), "fix"));
  for (int i = 0; i < 3; ++i) cal.up.inject({Fault::Status500});
  for (int i = 0; i < 3; ++i) CHECK_THAT(error_of([&] { adapter.event_types(0); }), Catch::Contains("HTTP 500"));
  CHECK(client->breaker() == http::BreakerState::Open);
  int calls = cal.up.api_calls;
  CHECK_THAT(error_of([&] { adapter.event_types(0); }), Catch::Contains("stops calling it"));
  CHECK(cal.up.api_calls == calls);  // failed fast, nothing sent
  clock.sleep_for(11s);
  CHECK(client->breaker() == http::BreakerState::HalfOpen);
  CHECK(adapter.event_types(0).size() == 2);
  CHECK(client->breaker() == http::BreakerState::Closed);
}

TEST_CASE("calcom: the key and tokens reach neither logs, history nor tool errors", "[calcom][secrets]") {
  Setup s({}, 1);  // one attempt per call: a stall costs one timeout
  AppFixture f;
  f.providers.booking = {};
  f.providers.booking.add("default", s.adapter);
  Client c(*f.server);
  c.initialize("2025-11-25");
  std::string texts;
  int id = 1;
  texts += text_of(call(c, id++, "booking_list_event_types", {}));
  texts += text_of(call(c, id++, "booking_find_slots", {{"event_type", "consultation"}, {"start", iso(window_start())}}));
  texts += text_of(call(c, id++, "booking_create", {{"event_type", "consultation"}, {"start", iso(window_start() + 9 * kHour)},
                                                     {"attendee", {{"name", "Ada"}, {"email", "ada@example.com"}}}}));
  texts += text_of(call(c, id++, "booking_cancel", {{"booking_id", "nope"}}));
  s.cal.up.inject({Fault::Stall});
  texts += text_of(call(c, id++, "booking_list", {}));
  s.cal.up.inject({Fault::Expired});  // the key dies: refused
  texts += text_of(call(c, id++, "booking_list", {}));
  CHECK_THAT(texts, Catch::Contains("Booked") && Catch::Contains("did not answer") && Catch::Contains("account:"));
  for (int i = 0; i < 500 && f.history.count("local") < size_t(id - 1); ++i) std::this_thread::sleep_for(10ms);
  store::History::Query q;
  q.user = "local";
  q.limit = 100;
  std::string stored = f.history.query(q).rows.dump();
  CHECK(f.history.count("local") == size_t(id - 1));
  std::string logs;
  for (const auto& l : captured_logs()) logs += l + "\n";
  REQUIRE_FALSE(s.cal.up.seen_tokens.empty());
  for (const auto& secret : s.cal.up.seen_tokens) {
    INFO(secret);
    CHECK(stored.find(secret) == std::string::npos);
    CHECK(logs.find(secret) == std::string::npos);
    CHECK(texts.find(secret) == std::string::npos);
  }
}

TEST_CASE("calcom: bad input names the field", "[calcom]") {
  Setup s;
  Millis from = window_start();
  CHECK_THAT(error_of([&] { s.adapter->event_type(0, "nope"); }), Catch::StartsWith("event_type: no event type 'nope'"));
  CHECK_THAT(error_of([&] { s.adapter->event_type(0, "999"); }), Catch::StartsWith("event_type:"));
  CHECK_THAT(error_of([&] { s.adapter->event_type(0, "../bookings"); }), Catch::StartsWith("event_type:"));
  CHECK_THAT(error_of([&] { s.adapter->slots(0, "nope", from, from + kDay); }), Catch::StartsWith("event_type:"));
  CHECK_THAT(error_of([&] { s.adapter->slots(0, "consultation", from, from); }), Catch::StartsWith("end:"));
  CHECK_THAT(error_of([&] { s.adapter->slots(0, "consultation", from, from + 90 * kDay); }), Catch::StartsWith("end:"));
  CHECK_THAT(error_of([&] { s.adapter->get(0, "nope"); }), Catch::StartsWith("booking_id:"));
  CHECK_THAT(error_of([&] { s.adapter->get(0, "../event-types"); }), Catch::StartsWith("booking_id:"));
  CHECK_THAT(error_of([&] { s.adapter->cancel(0, "nope", ""); }), Catch::StartsWith("booking_id:"));
  CHECK_THAT(error_of([&] { s.adapter->reschedule(0, "nope", from + 9 * kHour, ""); }), Catch::StartsWith("booking_id:"));
  CHECK_THAT(error_of([&] { s.adapter->create(0, {.event_type_id = "consultation", .start = from + 9 * kHour + 7 * kMinute,
                                                   .attendee = {"A", "a@b.co", "UTC"}}); }),
             Catch::StartsWith("start: Cal.com refused it"));
  CHECK_THAT(error_of([&] { s.adapter->list(0, {.status = "someday"}); }), Catch::StartsWith("status:"));
  CHECK(s.cal.bookings.empty());
}

TEST_CASE("calcom oauth: the code exchange and the refresh both go to the documented v2 token endpoint", "[calcom][oauth]") {
  OAuthSetup s;
  auth::Token t = s.sign_in("work", "host");
  // Cal.com documents 1800 s access tokens; the expiry is kept from expires_in.
  CHECK(t.expires_at - s.cal.up.now() > 1790'000);
  CHECK(t.expires_at - s.cal.up.now() <= 1800'000);
  CHECK(t.scopes == std::vector<std::string>{"EVENT_TYPE_READ", "BOOKING_READ", "BOOKING_WRITE"});
  auto adapter = s.adapter("work");
  CHECK(adapter->event_types(s.user).size() == 2);
  CHECK(s.cal.up.refreshes == 0);

  // Past the lifetime: refreshed ahead of the call, on the same endpoint, and the call goes on.
  s.cal.up.advance(std::chrono::seconds(1801));
  CHECK(adapter->event_types(s.user).size() == 2);
  CHECK(s.cal.up.refreshes == 1);
  CHECK(s.cal.up.old_endpoint_refreshes == 0);
  {
    std::lock_guard l(s.cal.up.m);
    REQUIRE(s.cal.up.token_requests.size() == 2);
    CHECK(s.cal.up.token_requests[0]["grant_type"] == "authorization_code");
    CHECK(s.cal.up.token_requests[1]["grant_type"] == "refresh_token");
  }
  // The rotated refresh token works the next time too.
  s.cal.up.advance(std::chrono::seconds(1801));
  CHECK(adapter->event_types(s.user).size() == 2);
  CHECK(s.cal.up.refreshes == 2);
}

TEST_CASE("calcom oauth: a dead grant says sign in again with the command, not unavailable", "[calcom][oauth]") {
  OAuthSetup s;
  s.sign_in("work", "host");
  auto adapter = s.adapter("work");
  SECTION("the refresh token is refused (invalid_grant)") {
    s.cal.up.revoked = true;
    s.cal.up.advance(std::chrono::seconds(1801));
  }
  SECTION("a token endpoint that refuses refreshes (the old code-only one, configured by hand)") {
    auto c = on_fake(calcom_oauth(false), s.cal.up);
    c.token_url = s.cal.up.url("/api/auth/oauth/token");
    s.oauth = std::make_shared<auth::OAuthClient>(c, s.tokens, s.cal.up.policy(), [&] { return s.cal.up.now(); });
    adapter = s.adapter("work");
    s.cal.up.advance(std::chrono::seconds(1801));
  }
  std::string e = error_of([&] { adapter->event_types(s.user); });
  CHECK_THAT(e, Catch::StartsWith("account:") && Catch::Contains("needs signing in again") &&
                    Catch::Contains("concierge auth login calcom --account work"));
  CHECK_THAT(e, !Catch::Contains("unavailable") && !Catch::Contains("try again later"));
}

TEST_CASE("calcom oauth: a token acts as the account that granted it", "[calcom][oauth]") {
  OAuthSetup s;
  s.sign_in("work", "host");
  s.sign_in("home", "other");
  auto work = s.adapter("work"), home = s.adapter("home");
  Millis from = window_start();
  auto b = work->create(s.user, {.event_type_id = "consultation", .start = from + 9 * kHour, .attendee = {"Ada", "ada@example.com", "UTC"}});
  CHECK(work->list(s.user, {.now = now_ms()}).size() == 1);
  CHECK(home->list(s.user, {.now = now_ms()}).empty());
  CHECK_THAT(error_of([&] { home->get(s.user, b.id); }), Catch::StartsWith("booking_id:"));
  // The same slot is still free on the other user's calendar.
  CHECK(home->slots(s.user, "consultation", from, from + kDay).size() == 6);
  // A token the fake never issued, or one past its lifetime, is refused with 401.
  httplib::Client raw("127.0.0.1", s.cal.up.port);
  auto r = raw.Get("/v2/event-types", {{"Authorization", "Bearer cal-access-999-x9"}, {"cal-api-version", "2024-06-14"}});
  REQUIRE(r);
  CHECK(r->status == 401);
}

TEST_CASE("calcom fake: the token endpoint takes JSON or form bodies only, and no unknown fields", "[calcom][oauth]") {
  FakeCalcom cal;
  httplib::Client raw("127.0.0.1", cal.up.port);
  auto post = [&](const std::string& body, const std::string& type) {
    auto r = raw.Post("/v2/auth/oauth2/token", body, type.c_str());
    REQUIRE(r);
    return std::make_pair(r->status, Json::parse(r->body, nullptr, false));
  };
  auto [s1, j1] = post(R"({"client_id":"test-client","grant_type":"refresh_token","refresh_token":"nope"})", "application/json");
  CHECK(s1 == 400);
  CHECK(j1["error"] == "invalid_grant");
  auto [s2, j2] = post("client_id=test-client&grant_type=refresh_token&refresh_token=nope", "application/x-www-form-urlencoded");
  CHECK(s2 == 400);
  CHECK(j2["error"] == "invalid_grant");
  auto [s3, j3] = post("client_id=test-client&grant_type=refresh_token&refresh_token=nope", "text/plain");
  CHECK(s3 == 400);
  CHECK(j3["error_description"] == "client_id is required");
  auto [s4, j4] = post(R"({"client_id":"test-client","grant_type":"refresh_token","refresh_token":"x","scope":"a"})", "application/json");
  CHECK(s4 == 400);
  CHECK(j4["error"] == "invalid_request");
  auto [s5, j5] = post(R"({"client_id":"someone","grant_type":"refresh_token","refresh_token":"x"})", "application/json");
  CHECK(s5 == 401);
  CHECK(j5["error"] == "invalid_client");
  auto r = raw.Post("/api/auth/oauth/token", "client_id=test-client&grant_type=refresh_token&refresh_token=x", "application/x-www-form-urlencoded");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(Json::parse(r->body)["error"] == "invalid_request");
}

namespace {

// What login() prints, readable while it still runs (it blocks until the redirect arrives).
struct Printed : std::streambuf {
  std::mutex m;
  std::condition_variable cv;
  std::string text;
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) xsputn(reinterpret_cast<const char*>(&c), 1);
    return c;
  }
  std::streamsize xsputn(const char* p, std::streamsize n) override {
    {
      std::lock_guard l(m);
      text.append(p, size_t(n));
    }
    cv.notify_all();
    return n;
  }
  // The first line holding `what`, once it is complete.
  std::string wait_line(const std::string& what) {
    std::unique_lock l(m);
    std::string line;
    cv.wait_for(l, 20s, [&] {
      auto at = text.find(what);
      auto end = at == std::string::npos ? at : text.find('\n', at);
      if (end == std::string::npos) return false;
      line = text.substr(at, end - at);
      return true;
    });
    return line;
  }
};

}  // namespace

TEST_CASE("calcom oauth: sign-in listens on Cal.com's own port and says which redirect URI to register", "[calcom][oauth]") {
  OAuthSetup s;
  auto config = on_fake(calcom_oauth(false), s.cal.up);
  CHECK(config.loopback_port == kCalcomLoopbackPort);
  config.loopback_port = unused_port();  // a free one here; Cal.com's is fixed, so the URI can be registered
  const std::string redirect = "http://127.0.0.1:" + std::to_string(config.loopback_port) + "/callback";
  auth::OAuthClient client(config, s.tokens, s.cal.up.policy());
  Printed printed;
  std::ostream out(&printed);
  std::thread browser([&] {
    std::string url = printed.wait_line(s.cal.up.url("/auth/oauth2/authorize"));
    std::string code = s.cal.up.approve("host", query_param(url, "redirect_uri"), query_param(url, "code_challenge"));
    httplib::Client back("127.0.0.1", config.loopback_port);
    back.Get(("/callback?code=" + code + "&state=" + query_param(url, "state")).c_str());
  });
  auth::LoginOptions o;
  o.account = "work";
  o.timeout = 20s;
  auth::Token t = auth::login(client, s.user, o, out, -1);
  browser.join();
  CHECK_FALSE(t.access_token.empty());
  CHECK_THAT(printed.text, Catch::Contains("register\n\n  " + redirect + "\n"));
  CHECK_THAT(printed.text, Catch::Contains("app.cal.com/settings/developer/oauth"));
  CHECK(printed.text.find("redirect_uri=" + std::string("http%3A%2F%2F127.0.0.1%3A") + std::to_string(config.loopback_port)) != std::string::npos);
}
