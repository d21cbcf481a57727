// Inputs the fuzz harnesses (fuzz/) found to crash, hang or exhaust memory, each kept as the
// regression test of its fix. Found through a server's answer (untrusted input): what can't be
// read must throw the std::exception the adapter reports as the server's fault.
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "providers/calendar/caldav_read.hpp"
#include "providers/calendar/recurrence.hpp"
#include "providers/mail/imap_wire.hpp"
#include "providers/time.hpp"

using namespace concierge::providers::mail;

TEST_CASE("fuzz: an IMAP UID set of four billion UIDs is refused, not expanded", "[fuzz][imap_wire]") {
  // fuzz/imap_responses: a COPYUID code with "0:4294967295" took all memory (and looped forever
  // at the top of the range).
  auto rs = imap::parse_responses("* OK [COPYUID 7 1:3 0:4294967295] moved\r\nA5 OK MOVE completed\r\n");
  REQUIRE(rs.size() == 2);
  auto code = imap::response_code(rs[0].text, "COPYUID");
  REQUIRE(code.size() == 3);
  CHECK(imap::expand_set(code[1]) == std::vector<uint32_t>{1, 2, 3});
  CHECK_THROWS_AS(imap::expand_set(code[2]), std::runtime_error);
  CHECK_THROWS_AS(imap::expand_set("4294967295:4294967295,42949672950"), std::out_of_range);
  CHECK(imap::expand_set("4294967295") == std::vector<uint32_t>{4294967295u});
  CHECK(imap::expand_set("9:7,12") == std::vector<uint32_t>{7, 8, 9, 12});
}

TEST_CASE("fuzz: IMAP lists nested a million deep are refused, not recursed into", "[fuzz][imap_wire]") {
  std::string deep = "* 1 FETCH (UID 1 BODYSTRUCTURE " + std::string(1'000'000, '(') + "\r\n";
  CHECK_THROWS_AS(imap::parse_responses(deep), std::runtime_error);
  // A real multipart nests a few levels: still read.
  auto rs = imap::parse_responses("* 1 FETCH (UID 1 BODYSTRUCTURE (((\"text\" \"plain\") \"alternative\")(\"image\" \"png\") \"mixed\"))\r\n");
  auto items = imap::fetch_items(rs);
  REQUIRE(items.count(1));
  CHECK(imap::has_attachment(items[1]["BODYSTRUCTURE"]));
}

TEST_CASE("fuzz: an IMAP literal of negative length is refused, not read backwards forever", "[fuzz][imap_wire]") {
  // fuzz/imap_responses: "{-6}" became 2^64 - 6 bytes, the position wrapped around to before the
  // literal and the parser went round in circles until memory ran out.
  CHECK_THROWS_AS(imap::parse_responses("* LIST () \"/\" {-6}\r\nWork\r\n"), std::runtime_error);
  CHECK_THROWS_AS(imap::parse_responses("* LIST () \"/\" {99}\r\nWork\r\n"), std::runtime_error);
  auto rs = imap::parse_responses("* LIST () \"/\" {5}\r\nWork!\r\nA1 OK done\r\n");
  REQUIRE(rs.size() == 2);
  REQUIRE(rs[0].items.size() == 4);
  CHECK(rs[0].items[3].text == "Work!");
}

TEST_CASE("fuzz: a recurrence COUNT in the millions is refused from clients and not walked from servers", "[fuzz][recurrence]") {
  namespace cal = concierge::providers::calendar;
  // fuzz/rrule: FREQ=HOURLY;INTERVAL=5;COUNT=52910026 walked 53 million occurrences to find the
  // series' end (over 5 s under the sanitizers), holding the request's thread.
  CHECK_THROWS_WITH(cal::normalize_rrule("FREQ=HOURLY;INTERVAL=5;COUNT=52910026", "recurrence"),
                    Catch::StartsWith("recurrence: COUNT must be at most 10000"));
  CHECK(cal::normalize_rrule("FREQ=DAILY;COUNT=10000") == "FREQ=DAILY;COUNT=10000");

  const date::time_zone* tz = date::locate_zone("Europe/Berlin");
  auto start = date::local_days{date::year{2026} / 1 / 5} + std::chrono::hours(9);
  const concierge::providers::Millis hour = 3'600'000;
  // A server may still send one (its COUNT is not ours to refuse): past 100,000 occurrences the
  // series counts as open-ended instead of being walked to its end.
  cal::Series huge{start, hour, "FREQ=HOURLY;INTERVAL=5;COUNT=52910026", tz, {}};
  CHECK_FALSE(cal::series_end(huge).has_value());
  // Within the limit the end is exact: 10 daily occurrences, the last on 14 January 09:00 CET.
  cal::Series ten{start, hour, "FREQ=DAILY;COUNT=10", tz, {}};
  auto end = cal::series_end(ten);
  REQUIRE(end);
  CHECK(*end == concierge::providers::to_utc(date::local_days{date::year{2026} / 1 / 14} + std::chrono::hours(10), tz));
}

TEST_CASE("fuzz: a CalDAV series counted from the year 1013 is read without walking it to the window", "[fuzz][recurrence]") {
  // fuzz/icalendar: a DTSTART in 1013 with COUNT=2261201 made each expansion walk up to the step
  // limit from the start. Now the walk stops at 100,000 occurrences (274 years of days), long
  // before 2026, and the resource reads as an event with nothing in the window.
  const std::string ics =
      "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:f1\r\nDTSTART:10130600T120000\r\nRRULE:FREQ=DAILY;COUNT=2261201\r\n"
      "SUMMARY:old\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
  const concierge::providers::Millis from = 1'795'000'000'000, to = from + 61LL * 86'400'000;
  std::vector<concierge::providers::calendar::caldav::Listed> got;
  REQUIRE_NOTHROW(got = concierge::providers::calendar::caldav::resource_events(ics, "/dav/alice/work/e1.ics", "work",
                                                                                date::locate_zone("UTC"), from, to));
  CHECK(got.empty());
  // The same series starting in 2026 is listed in the window: the limit is not what empties it.
  std::string recent = ics;
  recent.replace(recent.find("10130600T120000"), 15, "20261201T120000");
  REQUIRE_NOTHROW(got = concierge::providers::calendar::caldav::resource_events(recent, "/dav/alice/work/e1.ics", "work",
                                                                                date::locate_zone("UTC"), from, to));
  CHECK(got.size() == 48);  // daily at noon from 1 December until the window ends on 18 January, 11:06 UTC
}
