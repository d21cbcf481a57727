// Booking: slot computation (availability, buffers, notice, DST), the local engine against the
// calendar, 20 threads racing for one slot, and bad input through the tools.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "providers/booking/local.hpp"
#include "providers/booking/slots.hpp"
#include "providers/calendar/local.hpp"
#include "providers/error.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::booking;
using namespace std::chrono;

namespace {

const char* kTz = "Europe/Berlin";

Millis at(int y, unsigned m, unsigned d, int h, int mi) {
  return to_utc(LocalMs{date::local_days{date::year{y} / m / d}} + hours(h) + minutes(mi), zone(kTz));
}

std::vector<std::string> starts(const std::vector<Slot>& slots) {
  std::vector<std::string> out;
  for (auto& s : slots) out.push_back(format_time(s.start, zone(kTz)).substr(11, 5));
  return out;
}

EventType morning(int length, int before = 0, int after = 0, int notice = 0) {
  EventType t{.id = "t", .title = "T", .length_minutes = length, .buffer_before_minutes = before, .buffer_after_minutes = after,
              .minimum_notice_minutes = notice, .time_zone = kTz};
  for (int d = 0; d < 5; ++d) t.availability.days[d] = {{9 * 60, 11 * 60}};
  return t;
}

}  // namespace

TEST_CASE("slots: weekly availability, length, interval", "[booking][unit]") {
  // Monday 2026-12-07, 09:00-11:00, 30-minute slots.
  auto day = at(2026, 12, 7, 0, 0);
  CHECK(starts(compute_slots(morning(30), day, day + kDay, 0, {})) == std::vector<std::string>{"09:00", "09:30", "10:00", "10:30"});
  auto t = morning(45);
  t.slot_interval_minutes = 15;
  CHECK(starts(compute_slots(t, day, day + kDay, 0, {})) == std::vector<std::string>{"09:00", "09:15", "09:30", "09:45", "10:00", "10:15"});
  auto saturday = at(2026, 12, 12, 0, 0);
  CHECK(compute_slots(morning(30), saturday, saturday + kDay, 0, {}).empty());
}

TEST_CASE("slots: busy time padded by buffers, minimum notice", "[booking][unit]") {
  auto day = at(2026, 12, 7, 0, 0);
  std::vector<Busy> busy{{at(2026, 12, 7, 9, 30), at(2026, 12, 7, 10, 0)}};
  CHECK(starts(compute_slots(morning(30), day, day + kDay, 0, busy)) == std::vector<std::string>{"09:00", "10:00", "10:30"});
  // 10 minutes after each slot: 09:00 would end 09:30 + 10 > busy start; 10:00 starts right after
  // the busy end, and its before-buffer of 0 allows it.
  CHECK(starts(compute_slots(morning(30, 0, 10), day, day + kDay, 0, busy)) == std::vector<std::string>{"10:00", "10:30"});
  CHECK(starts(compute_slots(morning(30, 15, 0), day, day + kDay, 0, busy)) == std::vector<std::string>{"09:00", "10:30"});
  // Notice: at 09:10 with two hours' notice, nothing before 11:10 that day.
  CHECK(compute_slots(morning(30, 0, 0, 120), day, day + kDay, at(2026, 12, 7, 9, 10), {}).empty());
  CHECK(starts(compute_slots(morning(30, 0, 0, 60), day, day + kDay, at(2026, 12, 7, 9, 10), {})) == std::vector<std::string>{"10:30"});
}

TEST_CASE("slots: the wall clock holds across DST", "[booking][unit][dst]") {
  auto t = morning(60);
  auto before = compute_slots(t, at(2026, 10, 23, 0, 0), at(2026, 10, 24, 0, 0), 0, {});  // Friday, CEST
  auto after = compute_slots(t, at(2026, 10, 26, 0, 0), at(2026, 10, 27, 0, 0), 0, {});  // Monday, CET
  CHECK(starts(before) == starts(after));
  CHECK(format_time(after.front().start, zone(kTz)) == "2026-10-26T09:00:00+01:00");
}

TEST_CASE("booking: find, book, gone from slots, on the calendar, reschedule, cancel, back", "[booking]") {
  AppFixture f;
  int64_t u = f.store.user_id("local");
  DemoContext ctx{u, zone(kTz), now_ms(), date::floor<date::days>(to_local(now_ms(), zone(kTz)))};
  REQUIRE(f.providers.local_booking->seed_demo(ctx));
  REQUIRE_FALSE(f.providers.local_booking->seed_demo(ctx));  // only into an empty store
  auto& engine = *f.providers.local_booking;
  auto& cal = *f.providers.local_calendar;
  Millis from = now_ms(), to = from + 14 * kDay;
  auto open = engine.slots(u, "consultation", from, to);
  REQUIRE(open.size() > 3);
  auto b = engine.create(u, {.event_type_id = "consultation", .start = open[1].start, .attendee = {"Ada", "ada@example.com", "Europe/London"}});
  CHECK(b.status == "accepted");
  auto after = engine.slots(u, "consultation", from, to);
  CHECK(std::none_of(after.begin(), after.end(), [&](auto& s) { return s.start == open[1].start; }));
  auto ev = cal.event(u, b.calendar_event_id);
  CHECK(ev.start == b.start);
  CHECK(ev.attendees.at(0).email == "ada@example.com");
  // The calendar's own busy time also closes slots of other types at that time.
  auto intro = engine.slots(u, "intro-call", b.start - kHour, b.end + kHour);
  CHECK(std::none_of(intro.begin(), intro.end(), [&](auto& s) { return s.start < b.end && s.end > b.start; }));

  auto moved = engine.reschedule(u, b.id, open.back().start, "clash");
  CHECK(moved.start == open.back().start);
  CHECK(cal.event(u, b.calendar_event_id).start == open.back().start);
  auto again = engine.slots(u, "consultation", from, to);
  CHECK(std::any_of(again.begin(), again.end(), [&](auto& s) { return s.start == open[1].start; }));

  auto cancelled = engine.cancel(u, b.id, "no longer needed");
  CHECK(cancelled.status == "cancelled");
  CHECK(cancelled.cancel_reason == "no longer needed");
  CHECK_THROWS_AS(cal.event(u, b.calendar_event_id), NotFound);
  CHECK(engine.slots(u, "consultation", from, to).size() == open.size());
  CHECK_THROWS_WITH(engine.cancel(u, b.id, ""), Catch::StartsWith("booking_id:"));
}

TEST_CASE("booking: 20 threads booking one slot: exactly one succeeds, 19 clear errors", "[booking][concurrency]") {
  AppFixture f;
  int64_t u = f.store.user_id("local");
  DemoContext ctx{u, zone(kTz), now_ms(), date::floor<date::days>(to_local(now_ms(), zone(kTz)))};
  f.providers.local_booking->seed_demo(ctx);
  auto open = f.providers.local_booking->slots(u, "intro-call", now_ms(), now_ms() + 14 * kDay);
  REQUIRE_FALSE(open.empty());
  std::atomic<int> ok{0};
  std::vector<std::string> errors(20);
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i)
    threads.emplace_back([&, i] {
      try {
        f.providers.local_booking->create(u, {.event_type_id = "intro-call", .start = open[0].start,
                                              .attendee = {"Guest " + std::to_string(i), "guest" + std::to_string(i) + "@example.com", ""}});
        ++ok;
      } catch (const Conflict& e) {
        errors[i] = e.what();
      } catch (const std::exception& e) {
        errors[i] = std::string("unexpected: ") + e.what();
      }
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 1);
  int clear = 0;
  for (auto& e : errors) clear += e.rfind("start: that time is no longer free", 0) == 0;
  CHECK(clear == 19);
  auto booked = f.providers.local_booking->list(u, {.status = "upcoming", .now = now_ms()});
  CHECK(booked.size() == 1);
  // One calendar event for the one booking, and a sound database.
  auto events = f.providers.local_calendar->events(u, {.from = open[0].start, .to = open[0].end, .max_results = 50}).events;
  CHECK(events.size() == 1);
  CHECK(f.store.integrity_check() == "ok");
}

TEST_CASE("booking tools: bad input names the field and writes nothing", "[booking]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  int64_t u = f.store.user_id("local");
  DemoContext ctx{u, zone(kTz), now_ms(), date::floor<date::days>(to_local(now_ms(), zone(kTz)))};
  f.providers.local_booking->seed_demo(ctx);
  Json slots = call(c, 1, "booking_find_slots", {{"event_type", "consultation"}, {"time_zone", kTz}});
  REQUIRE_FALSE(slots["result"].value("isError", false));
  std::string start = slots["result"]["structuredContent"]["slots"][0]["start"];
  Json attendee{{"name", "Ada"}, {"email", "ada@example.com"}};
  const std::pair<Json, std::string> cases[] = {
      {{{"event_type", "nope"}, {"start", start}, {"attendee", attendee}}, "event_type:"},
      {{{"event_type", "consultation"}, {"start", start}, {"attendee", {{"name", "Ada"}, {"email", "ada-at-example"}}}}, "attendee.email:"},
      {{{"event_type", "consultation"}, {"start", start}, {"attendee", {{"name", "Ada"}, {"email", "a@b.co"}, {"time_zone", "Nowhere/City"}}}}, "attendee.time_zone:"},
      {{{"event_type", "consultation"}, {"start", "2030-01-01T03:17:00Z"}, {"attendee", attendee}}, "start:"},
      {{{"event_type", "consultation"}, {"start", "not a time"}, {"attendee", attendee}}, "start"},
  };
  int id = 2;
  for (auto& [args, field] : cases) {
    INFO(args.dump());
    Json r = call(c, id++, "booking_create", args);
    CHECK(r["result"]["isError"] == true);
    CHECK_THAT(text_of(r), Catch::Contains(field));
  }
  CHECK_THAT(text_of(call(c, id++, "booking_cancel", {{"booking_id", "nope"}})), Catch::StartsWith("booking_id:"));
  CHECK_THAT(text_of(call(c, id++, "booking_reschedule", {{"booking_id", "nope"}, {"start", start}})), Catch::StartsWith("booking_id:"));
  CHECK(f.providers.local_booking->list(u, {.now = 0}).empty());
  CHECK(f.providers.local_calendar->events(u, {.from = 0, .to = now_ms() + 100 * kDay, .max_results = 10}).events.empty());
}
