// Calendar: RRULE expansion (libical) with DST (date tz), the local provider's recurring-event
// edits, and the tools through the server on a temporary store.
#include <catch2/catch.hpp>

#include "providers/calendar/local.hpp"
#include "providers/calendar/recurrence.hpp"
#include "providers/error.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::calendar;
using namespace std::chrono;

namespace {

LocalMs wall(int y, unsigned m, unsigned d, int h, int mi) {
  return LocalMs{date::local_days{date::year{y} / m / d}} + hours(h) + minutes(mi);
}

std::vector<std::string> shown(const std::vector<Millis>& ts, const char* zone_name) {
  std::vector<std::string> out;
  for (auto t : ts) out.push_back(format_time(t, zone(zone_name)));
  return out;
}

Series weekly(const char* tz, LocalMs start, std::string rule) {
  return Series{start, 60 * kMinute, std::move(rule), zone(tz), {}};
}

int64_t event_rows(AppFixture& f) {
  return f.store.read([](sql::Database& db) { return db.execAndGet("SELECT count(*) FROM calendar_events").getInt64(); });
}

}  // namespace

TEST_CASE("rrule: COUNT, UNTIL, BYDAY and exceptions", "[calendar][unit]") {
  const char* tz = "Europe/Berlin";
  auto start = wall(2026, 1, 5, 10, 0);  // a Monday
  auto t0 = to_utc(start, zone(tz));
  SECTION("COUNT stops after n occurrences, however wide the window") {
    auto s = weekly(tz, start, "FREQ=WEEKLY;COUNT=3");
    CHECK(shown(expand(s, t0, t0 + 400 * kDay), tz) ==
          std::vector<std::string>{"2026-01-05T10:00:00+01:00", "2026-01-12T10:00:00+01:00", "2026-01-19T10:00:00+01:00"});
    CHECK(series_end(s) == to_utc(wall(2026, 1, 19, 11, 0), zone(tz)));
  }
  SECTION("UNTIL in UTC is inclusive") {
    auto s = weekly(tz, start, "FREQ=DAILY;UNTIL=20260108T090000Z");  // 10:00 Berlin on the 8th
    CHECK(expand(s, t0, t0 + 30 * kDay).size() == 4);
  }
  SECTION("BYDAY picks weekdays; a window in the middle of an endless series") {
    auto s = weekly(tz, start, "FREQ=WEEKLY;BYDAY=MO,WE,FR");
    auto from = to_utc(wall(2026, 6, 1, 0, 0), zone(tz));
    CHECK(shown(expand(s, from, from + 7 * kDay), tz) ==
          std::vector<std::string>{"2026-06-01T10:00:00+02:00", "2026-06-03T10:00:00+02:00", "2026-06-05T10:00:00+02:00"});
    CHECK_FALSE(series_end(s).has_value());
  }
  SECTION("exceptions remove occurrences") {
    auto s = weekly(tz, start, "FREQ=DAILY;COUNT=5");
    s.exdates = {to_utc(wall(2026, 1, 6, 10, 0), zone(tz)), to_utc(wall(2026, 1, 8, 10, 0), zone(tz))};
    CHECK(shown(expand(s, t0, t0 + 10 * kDay), tz) ==
          std::vector<std::string>{"2026-01-05T10:00:00+01:00", "2026-01-07T10:00:00+01:00", "2026-01-09T10:00:00+01:00"});
  }
  SECTION("monthly on the last Friday, yearly") {
    auto s = weekly(tz, wall(2026, 1, 30, 9, 0), "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3");
    CHECK(shown(expand(s, t0, t0 + 100 * kDay), tz) ==
          std::vector<std::string>{"2026-01-30T09:00:00+01:00", "2026-02-27T09:00:00+01:00", "2026-03-27T09:00:00+01:00"});
  }
  SECTION("bad rules are refused naming the field") {
    CHECK_THROWS_WITH(normalize_rrule("every monday"), Catch::StartsWith("recurrence:"));
    CHECK_THROWS_WITH(normalize_rrule("FREQ=SOMETIMES"), Catch::StartsWith("recurrence:"));
    CHECK_THROWS_WITH(normalize_rrule("FREQ=MINUTELY"), Catch::Contains("hourly"));
    CHECK(normalize_rrule("rrule:freq=weekly;byday=mo") == "FREQ=WEEKLY;BYDAY=MO");
  }
  SECTION("splitting: the old part ends before the occurrence, the new part keeps the remaining count") {
    auto occ = to_utc(wall(2026, 1, 19, 10, 0), zone(tz));
    auto old_part = weekly(tz, start, rule_until("FREQ=WEEKLY;COUNT=5", occ));
    CHECK(expand(old_part, t0, t0 + 100 * kDay).size() == 2);
    CHECK(rule_after("FREQ=WEEKLY;COUNT=5", 2) == "FREQ=WEEKLY;COUNT=3");
  }
}

TEST_CASE("DST: weekly events keep their wall-clock time, events across the change", "[calendar][unit][dst]") {
  SECTION("Europe/Berlin, clocks go back on 2026-10-25") {
    auto s = weekly("Europe/Berlin", wall(2026, 10, 12, 9, 0), "FREQ=WEEKLY");
    auto from = to_utc(wall(2026, 10, 12, 0, 0), zone("Europe/Berlin"));
    CHECK(shown(expand(s, from, from + 21 * kDay), "Europe/Berlin") ==
          std::vector<std::string>{"2026-10-12T09:00:00+02:00", "2026-10-19T09:00:00+02:00", "2026-10-26T09:00:00+01:00"});
  }
  SECTION("America/New_York, clocks go back on 2026-11-01, forward on 2027-03-14") {
    auto s = weekly("America/New_York", wall(2026, 10, 25, 9, 0), "FREQ=WEEKLY");
    auto from = to_utc(wall(2026, 10, 25, 0, 0), zone("America/New_York"));
    auto got = expand(s, from, from + 14 * kDay);
    REQUIRE(got.size() == 2);
    CHECK(got[1] - got[0] == 7 * kDay + kHour);  // the wall clock stays 09:00, so a week and an hour pass
    CHECK(shown(got, "America/New_York") == std::vector<std::string>{"2026-10-25T09:00:00-04:00", "2026-11-01T09:00:00-05:00"});
    auto spring = expand(s, to_utc(wall(2027, 3, 7, 0, 0), zone("America/New_York")), to_utc(wall(2027, 3, 15, 0, 0), zone("America/New_York")));
    CHECK(shown(spring, "America/New_York") == std::vector<std::string>{"2027-03-07T09:00:00-05:00", "2027-03-14T09:00:00-04:00"});
  }
  SECTION("a wall-clock time the spring change skips moves forward by the jump; a repeated one takes the first") {
    CHECK(format_time(to_utc(wall(2026, 3, 29, 2, 30), zone("Europe/Berlin")), zone("Europe/Berlin")) == "2026-03-29T03:30:00+02:00");
    CHECK(format_time(to_utc(wall(2026, 10, 25, 2, 30), zone("Europe/Berlin")), zone("Europe/Berlin")) == "2026-10-25T02:30:00+02:00");
  }
  SECTION("an event across the autumn change lasts an hour longer than the wall clock says") {
    AppFixture f;
    Client c(*f.server);
    c.initialize("2025-11-25");
    Json r = call(c, 1, "calendar_create_event",
                  {{"summary", "Night shift"}, {"start", "2026-10-25T01:30:00"}, {"end", "2026-10-25T04:00:00"}, {"time_zone", "Europe/Berlin"}});
    REQUIRE_FALSE(r["result"].value("isError", false));
    auto ev = r["result"]["structuredContent"]["event"];
    CHECK(ev["start"] == "2026-10-25T01:30:00+02:00");
    CHECK(ev["end"] == "2026-10-25T04:00:00+01:00");
    auto e = f.providers.local_calendar->event(f.store.user_id("local"), ev["id"]);
    CHECK(e.end - e.start == 3 * kHour + 30 * kMinute);
    // New York falls back on 2026-11-01: 00:30-03:00 on the wall clock is 3.5 hours.
    Json ny = call(c, 2, "calendar_create_event",
                   {{"summary", "Late show"}, {"start", "2026-11-01T00:30:00"}, {"end", "2026-11-01T03:00:00"}, {"time_zone", "America/New_York"}});
    REQUIRE_FALSE(ny["result"].value("isError", false));
    auto nev = ny["result"]["structuredContent"]["event"];
    CHECK(nev["start"] == "2026-11-01T00:30:00-04:00");
    CHECK(nev["end"] == "2026-11-01T03:00:00-05:00");
    auto n = f.providers.local_calendar->event(f.store.user_id("local"), nev["id"]);
    CHECK(n.end - n.start == 3 * kHour + 30 * kMinute);
    // Listed in another zone, the same instants carry that zone's offsets.
    Json listed = call(c, 3, "calendar_list_events", {{"start", "2026-11-01T00:00:00Z"}, {"end", "2026-11-02T00:00:00Z"}, {"time_zone", "Europe/Berlin"}});
    CHECK(listed["result"]["structuredContent"]["events"][0]["start"] == "2026-11-01T05:30:00+01:00");
  }
}

TEST_CASE("calendar provider: this occurrence, this and following, all", "[calendar]") {
  AppFixture f;
  auto& cal = *f.providers.local_calendar;
  int64_t u = f.store.user_id("local");
  auto tz = zone("Europe/Berlin");
  NewEvent ne{.summary = "Stand-up", .start = to_utc(wall(2026, 11, 2, 9, 30), tz), .end = to_utc(wall(2026, 11, 2, 9, 45), tz),
              .time_zone = "Europe/Berlin", .recurrence = "FREQ=DAILY;COUNT=10"};
  auto series = cal.create(u, ne);
  auto week = [&](int from_day) {
    EventQuery q{.from = to_utc(wall(2026, 11, from_day, 0, 0), tz), .to = to_utc(wall(2026, 11, from_day + 20, 0, 0), tz), .max_results = 100};
    return cal.events(u, q).events;
  };
  REQUIRE(week(1).size() == 10);
  std::string third = series.id + "_" + stamp(to_utc(wall(2026, 11, 4, 9, 30), tz));
  CHECK(cal.event(u, third).start == to_utc(wall(2026, 11, 4, 9, 30), tz));
  CHECK_THROWS_AS(cal.event(u, series.id + "_20261104T093100Z"), NotFound);  // no occurrence at that instant

  SECTION("one occurrence moves; the others stay") {
    auto moved = cal.update(u, third, {.summary = "Stand-up (late)", .start = to_utc(wall(2026, 11, 4, 11, 0), tz),
                                       .end = to_utc(wall(2026, 11, 4, 11, 15), tz)}, Scope::This);
    CHECK(moved.series_id == series.id);
    auto all = week(1);
    REQUIRE(all.size() == 10);
    int late = 0;
    for (auto& e : all) late += e.summary == "Stand-up (late)";
    CHECK(late == 1);
    CHECK(all[2].start == to_utc(wall(2026, 11, 4, 11, 0), tz));
    CHECK(cal.event(u, series.id).recurrence == "FREQ=DAILY;COUNT=10");
    SECTION("and deleting the moved one removes just it") {
      cal.remove(u, moved.id, Scope::This);
      CHECK(week(1).size() == 9);
    }
  }
  SECTION("this and following splits the series, keeping the count") {
    auto next = cal.update(u, third, {.location = "Room 2"}, Scope::Following);
    CHECK(next.id != series.id);
    auto all = week(1);
    REQUIRE(all.size() == 10);
    CHECK(all[1].location.empty());
    CHECK(all[2].location == "Room 2");
    CHECK(all[9].location == "Room 2");
  }
  SECTION("all: moving one occurrence by an hour moves every one") {
    cal.update(u, third, {.start = to_utc(wall(2026, 11, 4, 10, 30), tz)}, Scope::All);
    for (auto& e : week(1)) CHECK(to_local(e.start, tz) - date::floor<date::days>(to_local(e.start, tz)) == hours(10) + minutes(30));
  }
  SECTION("deleting this and following ends the series before it") {
    cal.remove(u, third, Scope::Following);
    CHECK(week(1).size() == 2);
  }
  SECTION("deleting one occurrence leaves a gap") {
    cal.remove(u, third, Scope::This);
    CHECK(week(1).size() == 9);
    CHECK_THROWS_AS(cal.event(u, third), NotFound);
  }
}

TEST_CASE("calendar tools: create, list, free time, conflicts, duplicates", "[calendar]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  REQUIRE_FALSE(call(c, 1, "preferences_update", {{"time_zone", "Europe/Berlin"}})["result"].value("isError", false));
  Json r = call(c, 2, "calendar_create_event", {{"summary", "Budget review"}, {"start", "2026-12-01T10:00:00"}, {"duration_minutes", 60},
                                                {"attendees", Json::array({"ravi@example.com", {{"email", "sam@example.com"}, {"name", "Sam"}}})}});
  REQUIRE_FALSE(r["result"].value("isError", false));
  CHECK(r["result"]["structuredContent"]["event"]["start"] == "2026-12-01T10:00:00+01:00");
  CHECK(r["result"]["structuredContent"]["event"]["end"] == "2026-12-01T11:00:00+01:00");
  CHECK(r["result"]["structuredContent"]["event"]["attendees"].size() == 2);

  Json list = call(c, 3, "calendar_list_events", {{"start", "2026-12-01"}, {"end", "2026-12-02"}});
  REQUIRE(list["result"]["structuredContent"]["events"].size() == 1);
  CHECK(list["result"]["structuredContent"]["events"][0]["summary"] == "Budget review");

  Json free = call(c, 4, "calendar_find_free_time", {{"start", "2026-12-01"}, {"end", "2026-12-02"}, {"duration_minutes", 30}});
  auto slots = free["result"]["structuredContent"]["free"];
  REQUIRE(slots.size() == 2);  // working hours 09:00-17:00 around the meeting
  CHECK(slots[0]["start"] == "2026-12-01T09:00:00+01:00");
  CHECK(slots[0]["end"] == "2026-12-01T10:00:00+01:00");
  CHECK(slots[1]["start"] == "2026-12-01T11:00:00+01:00");
  CHECK(slots[1]["end"] == "2026-12-01T17:00:00+01:00");

  Json overlap = call(c, 5, "calendar_create_event", {{"summary", "Call with bank"}, {"start", "2026-12-01T10:30:00+01:00"}});
  REQUIRE_FALSE(overlap["result"].value("isError", false));
  CHECK(overlap["result"]["structuredContent"]["conflicts"][0]["summary"] == "Budget review");

  Json dup = call(c, 6, "calendar_create_event", {{"summary", "budget review "}, {"start", "2026-12-01T10:15:00"}});
  CHECK(dup["result"]["isError"] == true);
  CHECK_THAT(text_of(dup), Catch::StartsWith("summary:") && Catch::Contains("allow_duplicate"));
  Json again = call(c, 7, "calendar_create_event", {{"summary", "Budget review"}, {"start", "2026-12-01T10:15:00"}, {"allow_duplicate", true}});
  CHECK_FALSE(again["result"].value("isError", false));

  Json allday = call(c, 8, "calendar_create_event", {{"summary", "Holiday"}, {"start", "2026-12-24"}, {"end", "2026-12-27"}});
  CHECK(allday["result"]["structuredContent"]["event"]["all_day"] == true);
  CHECK(allday["result"]["structuredContent"]["event"]["end"] == "2026-12-27");
  // All-day events are free time.
  Json xmas = call(c, 9, "calendar_find_free_time", {{"start", "2026-12-24T00:00:00"}, {"end", "2026-12-25T00:00:00"}, {"within_working_hours", false}});
  CHECK(xmas["result"]["structuredContent"]["free"].size() == 1);
}

TEST_CASE("calendar tools: bad input is a tool error naming the field, and nothing is written", "[calendar]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  const std::pair<Json, std::string> cases[] = {
      {{{"summary", "x"}, {"start", "2026-12-01T10:00:00Z"}, {"end", "2026-12-01T09:00:00Z"}}, "end:"},
      {{{"summary", "x"}, {"start", "2026-12-01T10:00:00"}, {"time_zone", "Mars/Olympus"}}, "time_zone:"},
      {{{"summary", "x"}, {"start", "2026-12-01T10:00:00Z"}, {"recurrence", "FREQ=FORTNIGHTLY"}}, "recurrence:"},
      {{{"summary", "x"}, {"start", "2026-12-01T10:00:00Z"}, {"attendees", {"not-an-address"}}}, "attendees[0]:"},
      {{{"summary", "x"}, {"start", "2026-13-01T10:00:00Z"}}, "start:"},
      {{{"summary", "x"}, {"start", "tomorrow"}}, "start"},
      {{{"summary", "x"}, {"start", "2026-12-01T10:00:00Z"}, {"calendar_id", "nope"}}, "calendar_id:"},
      {{{"summary", "x"}, {"start", "2026-12-01T10:00:00Z"}, {"account", "google"}}, "account:"},
  };
  int id = 1;
  for (auto& [args, field] : cases) {
    INFO(args.dump());
    Json r = call(c, id++, "calendar_create_event", args);
    CHECK(r["result"]["isError"] == true);
    CHECK_THAT(text_of(r), Catch::Contains(field));
  }
  Json unknown = call(c, id++, "calendar_update_event", {{"event_id", "nope"}, {"summary", "y"}});
  CHECK_THAT(text_of(unknown), Catch::StartsWith("event_id:"));
  Json del = call(c, id++, "calendar_delete_event", {{"event_id", "nope_20261201T100000Z"}});
  CHECK_THAT(text_of(del), Catch::StartsWith("event_id:"));
  CHECK(event_rows(f) == 0);
}

TEST_CASE("daily_briefing embeds that day's agenda", "[calendar][prompts]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  call(c, 1, "preferences_update", {{"time_zone", "America/New_York"}});
  call(c, 2, "calendar_create_event", {{"summary", "Board meeting"}, {"start", "2026-12-01T15:00:00"}, {"location", "HQ"}});
  call(c, 3, "calendar_create_event", {{"summary", "Next day"}, {"start", "2026-12-02T09:00:00"}});
  Json r = c.request(4, "prompts/get", {{"name", "daily_briefing"}, {"arguments", {{"date", "2026-12-01"}}}});
  REQUIRE(r.contains("result"));
  Json agenda;
  for (auto& m : r["result"]["messages"])
    if (m["content"]["type"] == "resource" && m["content"]["resource"]["uri"] == "concierge://calendar/agenda/2026-12-01")
      agenda = Json::parse(m["content"]["resource"]["text"].get<std::string>());
  REQUIRE(agenda.is_object());
  REQUIRE(agenda["events"].size() == 1);
  CHECK(agenda["events"][0]["summary"] == "Board meeting");
  CHECK(agenda["events"][0]["start"] == "2026-12-01T15:00:00-05:00");
  // The same document is a resource of its own.
  Json read = c.request(5, "resources/read", {{"uri", "concierge://calendar/agenda/2026-12-01"}});
  REQUIRE(read.contains("result"));
  CHECK(Json::parse(read["result"]["contents"][0]["text"].get<std::string>())["events"] == agenda["events"]);
  CHECK(c.request(6, "resources/read", {{"uri", "concierge://calendar/agenda/2026-02-30"}})["error"]["code"] == -32602);
}
