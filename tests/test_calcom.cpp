// The Cal.com API v2 adapter against a stateful in-process fake of Cal.com: the documented
// response envelopes ({"status": "success", "data": ...}, {"status": "error", "error": {...}}),
// the 2024-09-04 slots keyed by date, a reschedule that makes a new booking, and a
// `cal-api-version` header that, as on Cal.com, selects another (older) behaviour when missing or
// wrong. The booking scenario runs through the tools; then faults, secrets and bad input.
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "providers/auth/credentials.hpp"
#include "providers/booking/calcom.hpp"
#include "providers/error.hpp"
#include "store/history.hpp"
#include "support/app_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"

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

std::string iso(Millis t) {
  return date::format("%FT%TZ", date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(t)));
}
Millis day_start(Millis t) { return t - t % kDay; }

// Cal.com, as far as these endpoints go. Event types 101 "intro-call" (15 min) and 102
// "consultation" (30 min), open 09:00-12:00 UTC every day; a slot overlapping an accepted
// booking is not offered.
struct FakeCalcom {
  std::mutex m;
  struct Type {
    int64_t id;
    std::string slug, title;
    int length;
  };
  std::vector<Type> types{{101, "intro-call", "Intro call", 15}, {102, "consultation", "Consultation", 30}};
  struct Rec {
    int64_t id;
    std::string uid;
    int64_t type;
    Millis start, end;
    std::string name, email, tz, notes, status = "accepted", cancel_reason, resched_reason, from_uid, to_uid;
    Millis created;
  };
  std::map<std::string, Rec> bookings;
  int64_t next_id = 1;
  std::vector<std::pair<std::string, std::string>> versions_seen;  // "GET /slots" -> header
  std::atomic<int> posts{0}, fail_posts{0};
  // Last, so it goes first: its server's threads (a stalled request still in a handler) end
  // before the state they use.
  FakeUpstream up;

  static void error(httplib::Response& res, int status, const std::string& code, const std::string& message, const std::string& path) {
    res.status = status;
    res.set_content(Json{{"status", "error"}, {"timestamp", "2026-01-01T00:00:00.000Z"}, {"path", "/v2" + path},
                         {"error", {{"code", code}, {"message", message}}}}.dump(),
                    "application/json");
  }
  static void ok(httplib::Response& res, Json data, int status = 200, Json extra = Json::object()) {
    res.status = status;
    Json j{{"status", "success"}, {"data", std::move(data)}};
    j.update(extra);
    res.set_content(j.dump(), "application/json");
  }
  const Type* type(int64_t id) {
    for (auto& t : types)
      if (t.id == id) return &t;
    return nullptr;
  }
  Json type_json(const Type& t) {
    return {{"id", t.id}, {"ownerId", 7}, {"lengthInMinutes", t.length}, {"title", t.title}, {"slug", t.slug},
            {"description", t.title + ", by phone"}, {"locations", {{{"type", "phone"}, {"phone", "+49301234567"}}}},
            {"bookingFields", Json::array()}, {"disableGuests", false}, {"slotInterval", nullptr}, {"minimumBookingNotice", 0},
            {"beforeEventBuffer", 0}, {"afterEventBuffer", 0}, {"recurrence", nullptr}, {"metadata", Json::object()},
            {"requiresConfirmation", false}, {"price", 0}, {"currency", "usd"}, {"lockTimeZoneToggleOnBookingPage", false},
            {"seatsPerTimeSlot", nullptr}, {"isInstantEvent", false}, {"scheduleId", 55}, {"users", Json::array()}};
  }
  Json booking_json(const Rec& b) {
    const Type* t = type(b.type);
    Json j{{"id", b.id}, {"uid", b.uid}, {"title", t->title + " between Host and " + b.name}, {"description", b.notes},
           {"hosts", {{{"id", 7}, {"name", "Host"}, {"timeZone", "Europe/Berlin"}}}}, {"status", b.status},
           {"start", iso(b.start)}, {"end", iso(b.end)}, {"duration", t->length}, {"eventTypeId", t->id},
           {"eventType", {{"id", t->id}, {"slug", t->slug}}}, {"location", "+49301234567"}, {"absentHost", false},
           {"attendees", {{{"name", b.name}, {"email", b.email}, {"timeZone", b.tz}, {"language", "en"}, {"absent", false}}}},
           {"guests", Json::array()}, {"bookingFieldsResponses", {{"name", b.name}, {"email", b.email}, {"notes", b.notes}}},
           {"createdAt", iso(b.created)}, {"updatedAt", iso(b.created)}};
    if (!b.cancel_reason.empty()) j["cancellationReason"] = b.cancel_reason;
    if (!b.resched_reason.empty()) j["reschedulingReason"] = b.resched_reason;
    if (!b.from_uid.empty()) j["rescheduledFromUid"] = b.from_uid;
    if (!b.to_uid.empty()) {
      j["rescheduled"] = true;
      j["rescheduledToUid"] = b.to_uid;
    }
    return j;
  }
  bool busy(Millis s, Millis e, const std::string& except) {
    for (auto& [uid, b] : bookings)
      if (b.status == "accepted" && uid != except && b.start < e && b.end > s) return true;
    return false;
  }
  // Whether `s` is a start the type offers at all.
  bool offered(const Type& t, Millis s) {
    Millis into = s - day_start(s);
    return s > now_ms() && into >= 9 * kHour && into + t.length * kMinute <= 12 * kHour && into % (t.length * kMinute) == 0;
  }
  // The version check Cal.com does by controller; false: answered the old way already.
  bool version(const httplib::Request& req, const std::string& family, const std::string& want) {
    std::string got = req.get_header_value("cal-api-version");
    {
      std::lock_guard l(m);
      versions_seen.emplace_back(req.method + " " + family, got);
    }
    return got == want;
  }
  Millis time_param(const std::string& s) { return parse_time(s, nullptr, "start"); }

  FakeCalcom() {
    auto& s = up.server;
    s.Get("/event-types", [this](const httplib::Request& req, httplib::Response& res) {
      if (!version(req, "/event-types", "2024-06-14")) {
        // Before 2024-06-14 the list came grouped by profile.
        return ok(res, {{"eventTypeGroups", {{{"eventTypes", Json::array()}}}}});
      }
      std::lock_guard l(m);
      Json all = Json::array();
      for (auto& t : types) all.push_back(type_json(t));
      ok(res, all);
    });
    s.Get(R"(/event-types/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (!version(req, "/event-types", "2024-06-14")) return ok(res, {{"eventType", Json::object()}});
      std::lock_guard l(m);
      const Type* t = type(std::stoll(req.matches[1]));
      if (!t) return error(res, 404, "NotFoundException", "Event type with id=" + std::string(req.matches[1]) + " not found", req.path);
      ok(res, type_json(*t));
    });
    s.Get("/slots", [this](const httplib::Request& req, httplib::Response& res) {
      if (!version(req, "/slots", "2024-09-04"))
        // The older controller's shape: {"slots": {date: [{"time": ...}]}}.
        return ok(res, {{"slots", {{"2050-01-01", {{{"time", "2050-01-01T09:00:00.000Z"}}}}}}});
      std::lock_guard l(m);
      if (!req.has_param("eventTypeId") || !req.has_param("start") || !req.has_param("end"))
        return error(res, 400, "BadRequestException", "eventTypeId, start and end are required", req.path);
      const Type* t = type(std::stoll(req.get_param_value("eventTypeId")));
      if (!t) return error(res, 404, "NotFoundException", "Event type not found", req.path);
      Millis from = time_param(req.get_param_value("start")), to = time_param(req.get_param_value("end"));
      bool range = req.get_param_value("format") == "range";
      Json days = Json::object();
      for (Millis d = day_start(from); d < to; d += kDay)
        for (Millis st = d + 9 * kHour; st + t->length * kMinute <= d + 12 * kHour; st += t->length * kMinute) {
          Millis en = st + t->length * kMinute;
          if (st < from || st >= to || !offered(*t, st) || busy(st, en, "")) continue;
          std::string start = iso(st);
          start.replace(start.size() - 1, 1, "+00:00");  // in the requested zone (UTC here), with its offset
          Json slot{{"start", start}};
          if (range) slot["end"] = iso(en);
          days[date::format("%F", date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(st)))].push_back(slot);
        }
      ok(res, days);
    });
    s.Post("/bookings", [this](const httplib::Request& req, httplib::Response& res) {
      ++posts;
      if (fail_posts > 0) {
        --fail_posts;
        return error(res, 500, "InternalServerErrorException", "Internal server error", req.path);
      }
      // The 2024-04-15 controller wants end, responses{name,email}, timeZone, language...
      if (!version(req, "/bookings", "2024-08-13"))
        return error(res, 400, "BadRequestException", "responses must be an object; end must be a valid ISO 8601 date string", req.path);
      Json b = Json::parse(req.body, nullptr, false);
      if (b.is_discarded() || !b.contains("start") || !b.contains("eventTypeId") || !b.contains("attendee"))
        return error(res, 400, "BadRequestException", "start, eventTypeId and attendee are required", req.path);
      const Json& a = b["attendee"];
      if (!a.contains("timeZone") || !a.contains("email") || !a.contains("name"))
        return error(res, 400, "BadRequestException", "attendee.timeZone, attendee.name and attendee.email are required", req.path);
      std::lock_guard l(m);
      const Type* t = type(b["eventTypeId"].get<int64_t>());
      if (!t) return error(res, 404, "NotFoundException", "Event type not found", req.path);
      Millis st = time_param(b["start"].get<std::string>());
      Millis en = st + t->length * kMinute;
      if (!offered(*t, st)) return error(res, 400, "BadRequestException", "booking_time_out_of_bounds_error", req.path);
      if (busy(st, en, "")) return error(res, 400, "BadRequestException", "User either already has booking at this time or is not available", req.path);
      Rec r{next_id, "uid" + std::to_string(next_id) + "x", t->id, st, en, a["name"].get<std::string>(), a["email"].get<std::string>(),
              a["timeZone"].get<std::string>()};
      ++next_id;
      if (b.contains("bookingFieldsResponses")) r.notes = b["bookingFieldsResponses"].value("notes", "");
      r.created = now_ms();
      bookings[r.uid] = r;
      ok(res, booking_json(r), 201);
    });
    s.Get("/bookings", [this](const httplib::Request& req, httplib::Response& res) {
      if (!version(req, "/bookings", "2024-08-13"))
        return ok(res, {{"bookings", Json::array()}, {"recurringInfo", Json::array()}, {"nextCursor", nullptr}});
      std::lock_guard l(m);
      std::string status = req.get_param_value("status");
      size_t take = req.has_param("take") ? std::stoul(req.get_param_value("take")) : 100;
      std::vector<const Rec*> hits;
      for (auto& [uid, b] : bookings) {
        bool cancelled = b.status == "cancelled", past = b.end <= now_ms();
        if ((status == "upcoming" && (cancelled || past)) || (status == "past" && (cancelled || !past)) ||
            (status == "cancelled" && !cancelled))
          continue;
        hits.push_back(&b);
      }
      std::sort(hits.begin(), hits.end(), [](auto* x, auto* y) { return x->start < y->start; });
      Json data = Json::array();
      for (size_t i = 0; i < hits.size() && i < take; ++i) data.push_back(booking_json(*hits[i]));
      ok(res, data, 200,
         {{"pagination", {{"totalItems", hits.size()}, {"remainingItems", hits.size() - data.size()}, {"returnedItems", data.size()},
                          {"itemsPerPage", take}, {"currentPage", 1}, {"totalPages", 1}, {"hasNextPage", false}, {"hasPreviousPage", false}}}});
    });
    s.Get(R"(/bookings/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      // The older controller answered with startTime/endTime and no uid at the top.
      if (!version(req, "/bookings", "2024-08-13")) return ok(res, {{"startTime", "2050-01-01T09:00:00Z"}});
      std::lock_guard l(m);
      auto it = bookings.find(req.matches[1]);
      if (it == bookings.end()) return error(res, 404, "NotFoundException", "Booking with uid=" + std::string(req.matches[1]) + " not found", req.path);
      ok(res, booking_json(it->second));
    });
    s.Post(R"(/bookings/([^/]+)/reschedule)", [this](const httplib::Request& req, httplib::Response& res) {
      ++posts;
      if (!version(req, "/bookings", "2024-08-13"))
        return error(res, 400, "BadRequestException", "Cannot POST /v2/bookings/reschedule", req.path);
      Json b = Json::parse(req.body, nullptr, false);
      std::lock_guard l(m);
      auto it = bookings.find(req.matches[1]);
      if (it == bookings.end()) return error(res, 404, "NotFoundException", "Booking with uid=" + std::string(req.matches[1]) + " not found", req.path);
      Rec& old = it->second;
      if (old.status == "cancelled") return error(res, 400, "BadRequestException", "Can't reschedule a cancelled booking", req.path);
      const Type* t = type(old.type);
      Millis st = time_param(b.at("start").get<std::string>()), en = st + t->length * kMinute;
      if (!offered(*t, st)) return error(res, 400, "BadRequestException", "booking_time_out_of_bounds_error", req.path);
      if (busy(st, en, old.uid)) return error(res, 400, "BadRequestException", "User either already has booking at this time or is not available", req.path);
      Rec r = old;
      r.id = next_id;
      r.uid = "uid" + std::to_string(next_id++) + "x";
      r.start = st;
      r.end = en;
      r.from_uid = old.uid;
      r.resched_reason = b.value("reschedulingReason", "");
      old.status = "cancelled";
      old.to_uid = r.uid;
      bookings[r.uid] = r;
      ok(res, booking_json(r), 201);
    });
    s.Post(R"(/bookings/([^/]+)/cancel)", [this](const httplib::Request& req, httplib::Response& res) {
      ++posts;
      if (!version(req, "/bookings", "2024-08-13"))
        return error(res, 400, "BadRequestException", "Cannot POST /v2/bookings/cancel", req.path);
      Json b = Json::parse(req.body, nullptr, false);
      std::lock_guard l(m);
      auto it = bookings.find(req.matches[1]);
      if (it == bookings.end()) return error(res, 404, "NotFoundException", "Booking with uid=" + std::string(req.matches[1]) + " not found", req.path);
      if (it->second.status == "cancelled") return error(res, 400, "BadRequestException", "This booking has already been cancelled.", req.path);
      it->second.status = "cancelled";
      if (b.is_object()) it->second.cancel_reason = b.value("cancellationReason", "");
      ok(res, booking_json(it->second));
    });
  }
  std::set<std::string> versions_for(const std::string& family) {
    std::lock_guard l(m);
    std::set<std::string> out;
    for (auto& [f, v] : versions_seen)
      if (f.find(" " + family) != std::string::npos) out.insert(v);
    return out;
  }
};

// One account on the fake: a Cal.com API key (a live token the fake accepts).
struct Setup {
  FakeCalcom cal;
  TestClock clock;
  std::string key;
  std::shared_ptr<http::Client> client;
  std::shared_ptr<CalcomBooking> adapter;
  explicit Setup(CalcomVersions versions = {}, int max_attempts = 0) {
    key = cal.up.issue().first;
    auto policy = cal.up.policy("calcom");
    if (max_attempts) policy.max_attempts = max_attempts;
    client = std::make_shared<http::Client>(policy, clock);
    auto creds = std::make_shared<auth::StaticCredentials>("calcom", "default", "Bearer " + key,
                                                           "replace the API key: concierge config set calcom.api_key");
    adapter = std::make_shared<CalcomBooking>(client, creds, versions);
  }
};

Json call(Client& c, int id, const std::string& tool, Json args) {
  return c.request(id, "tools/call", Json{{"name", tool}, {"arguments", std::move(args)}});
}
std::string text_of(const Json& reply) {
  std::string out;
  for (const auto& c : reply["result"]["content"]) out += c.value("text", "");
  return out;
}
Json structured(const Json& reply) {
  INFO(reply.dump());
  REQUIRE_FALSE(reply["result"].value("isError", false));
  return reply["result"]["structuredContent"];
}
std::string error_text(const Json& reply) {
  INFO(reply.dump());
  CHECK(reply["result"].value("isError", false));
  return text_of(reply);
}
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
  CHECK(ro.token_url == "https://app.cal.com/api/auth/oauth/token");
  CHECK(ro.scopes == std::vector<std::string>{"EVENT_TYPE_READ", "BOOKING_READ"});
  CHECK(rw.scopes == std::vector<std::string>{"EVENT_TYPE_READ", "BOOKING_READ", "BOOKING_WRITE"});
  CalcomVersions v;
  CHECK(v.bookings == "2024-08-13");
  CHECK(v.slots == "2024-09-04");
  CHECK(v.event_types == "2024-06-14");
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
  CHECK(s.cal.versions_for("/bookings") == std::set<std::string>{"2024-08-13"});
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
    auto p = s.cal.up.policy("calcom");
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

TEST_CASE("calcom faults: expired OAuth token refreshed once, revoked grant names the sign-in command, a refused key", "[calcom][faults]") {
  FakeCalcom cal;
  TestClock clock;
  TempDir dir;
  store::Store store{dir.path / "data"};
  auth::TokenStore tokens{store, auth::Sealer(std::string(32, 'K'))};
  int64_t user = store.user_id("local");
  cal.up.sign_in(tokens, user, "calcom", "work");
  auto oauth = std::make_shared<auth::OAuthClient>(cal.up.oauth("calcom"), tokens, cal.up.policy("calcom"));
  auto client = std::make_shared<http::Client>(cal.up.policy("calcom"), clock);
  CalcomBooking adapter(client, std::make_shared<auth::OAuthCredentials>(oauth, "calcom", "work"));
  CHECK(adapter.event_types(user).size() == 2);

  cal.up.inject({Fault::Expired});
  CHECK(adapter.event_types(user).size() == 2);
  CHECK(cal.up.refreshes == 1);

  cal.up.revoked = true;
  cal.up.inject({Fault::Expired});
  std::string e = error_of([&] { adapter.event_types(user); });
  CHECK_THAT(e, Catch::StartsWith("account:") && Catch::Contains("concierge auth login calcom --account work"));

  // An API key Cal.com refuses: replace the key, it says (no refresh for a fixed key).
  auto keyed = std::make_shared<http::Client>(cal.up.policy("calcom"), clock);
  CalcomBooking bad(keyed, std::make_shared<auth::StaticCredentials>("calcom", "default", "Bearer cal_live_wrong", "set a new Cal.com API key"));
  CHECK_THAT(error_of([&] { bad.event_types(user); }), Catch::StartsWith("account:") && Catch::Contains("set a new Cal.com API key"));
}

TEST_CASE("calcom faults: the breaker opens after repeated failures and recovers", "[calcom][faults]") {
  FakeCalcom cal;
  TestClock clock;
  auto p = cal.up.policy("calcom");
  p.max_attempts = 1;
  p.breaker_threshold = 3;
  p.breaker_cooldown = 10s;
  auto client = std::make_shared<http::Client>(p, clock);
  CalcomBooking adapter(client, std::make_shared<auth::StaticCredentials>("calcom", "default", "Bearer " + cal.up.issue().first, "fix"));
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
