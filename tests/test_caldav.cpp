// The CalDAV adapter against a real Radicale on loopback: discovery from the server root or the
// calendar home, the calendar scenario through the tools (create, list, free time, a weekly
// series edited one occurrence at a time, this-and-following, all), what lands on the server
// (libical-built iCalendar with TZID and RECURRENCE-ID), wrong credentials, a stopped server.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "providers/calendar/caldav.hpp"
#include "providers/calendar/recurrence.hpp"
#include "providers/error.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/radicale_server.hpp"
#include "support/served_binary.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::calendar;

namespace {

const std::string kUser = "alice", kPassword = "wonderland-7f3a";

// Raw WebDAV calls for the test's own setup and checks (not through the adapter).
struct Dav {
  std::string base;
  http::Client client;
  explicit Dav(const std::string& url) : base(url), client([&] {
    http::Policy p;
    p.service = "radicale";
    p.base_url = url;
    p.max_attempts = 1;
    return p;
  }()) {}
  http::Response send(const std::string& method, const std::string& path, const std::string& body = "",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request r{.method = method, .path = path, .headers = std::move(headers), .body = body,
                    .content_type = body.empty() ? "" : "application/xml; charset=utf-8"};
    r.headers.emplace_back("Authorization", BasicCredentials("test", kUser, kPassword).authorization(0));
    return client.send(r);
  }
  // MKCALENDAR (RFC 4791 5.3.1) with a name, a color and a zone as a VTIMEZONE.
  void mkcalendar(const std::string& id, const std::string& name, const std::string& color, const std::string& tz) {
    std::string body = R"(<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" )"
                       R"(xmlns:a="http://apple.com/ns/ical/"><d:set><d:prop><d:displayname>)" + name +
                       "</d:displayname><a:calendar-color>" + color + "FF</a:calendar-color><c:calendar-timezone>"
                       "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTIMEZONE\r\nTZID:" + tz +
                       "\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
                       "END:VTIMEZONE\r\nEND:VCALENDAR\r\n</c:calendar-timezone>"
                       R"(<c:supported-calendar-component-set><c:comp name="VEVENT"/></c:supported-calendar-component-set>)"
                       "</d:prop></d:set></c:mkcalendar>";
    auto r = send("MKCALENDAR", "/" + kUser + "/" + id + "/", body);
    REQUIRE(r.status == 201);
  }
};

struct Setup {
  RadicaleServer radicale{kUser + ":" + kPassword + "\n"};
  Dav dav{radicale.url()};
  Setup() {
    // The principal's collection appears on first authenticated access.
    REQUIRE(dav.send("PROPFIND", "/" + kUser + "/", "", {{"Depth", "0"}}).status == 207);
    dav.mkcalendar("personal", "Personal", "#4f7cff", "Europe/Berlin");
    dav.mkcalendar("work", "Work", "#2fa36b", "Europe/Berlin");
    // A task list is no calendar for events.
    auto r = dav.send("MKCALENDAR", "/" + kUser + "/tasks/",
                      R"(<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>)"
                      R"(<c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set>)"
                      "</d:prop></d:set></c:mkcalendar>");
    REQUIRE(r.status == 201);
  }
  CaldavOptions options(std::string path = "/", std::string password = kPassword) {
    return CaldavOptions{.url = radicale.url() + path, .account = "home", .username = kUser, .password = std::move(password),
                         .timeout = std::chrono::milliseconds(3000)};
  }
};

}  // namespace

TEST_CASE("caldav: discovery from the server root or the home, calendars with name, zone, color", "[caldav]") {
  Setup s;
  for (std::string path : {"/", "/alice/"}) {
    INFO(path);
    CaldavCalendar cal(s.options(path));
    auto list = cal.calendars(1);
    REQUIRE(list.size() == 2);  // the task list is left out
    CHECK(list[0].id == "personal");
    CHECK(list[0].primary);
    CHECK(list[0].name == "Personal");
    CHECK(list[0].time_zone == "Europe/Berlin");
    CHECK(list[0].color == "#4f7cff");
    CHECK(list[1].id == "work");
    CHECK_FALSE(list[1].primary);
  }
  CaldavCalendar cal(s.options());
  CHECK_THROWS_WITH(cal.event(1, "nope"), Catch::StartsWith("event_id:"));
  CHECK_THROWS_WITH(cal.event(1, "work/nope"), Catch::StartsWith("event_id:"));
  CHECK_THROWS_WITH(cal.event(1, "elsewhere/nope_20270104T083000Z", "series"), Catch::StartsWith("series:"));
  CHECK_THROWS_AS(cal.create(1, {.calendar_id = "holidays", .summary = "x", .start = 0, .end = kHour, .time_zone = "UTC"}), NotFound);
  CHECK_THROWS_WITH(cal.events(1, {.from = 0, .to = kDay, .calendars = {"holidays"}}), Catch::StartsWith("calendars:"));
}

TEST_CASE("caldav: the calendar scenario through the tools on Radicale", "[caldav]") {
  Setup s;
  AppFixture f;
  auto adapter = std::make_shared<CaldavCalendar>(s.options());
  f.providers.calendar = {};
  f.providers.calendar.add("home", adapter);
  Client c(*f.server);
  c.initialize("2025-11-25");
  structured(call(c, 1, "preferences_update", {{"time_zone", "Europe/Berlin"}}));

  auto cals = structured(call(c, 2, "calendar_list_calendars", Json::object()));
  INFO(cals.dump());
  REQUIRE(cals["calendars"].size() == 2);
  CHECK(cals["calendars"][0]["id"] == "personal");

  // A created event is in the listing and not in free time.
  auto created = structured(call(c, 3, "calendar_create_event",
                         {{"summary", "Tax advisor"}, {"start", "2027-01-05T10:30:00"}, {"end", "2027-01-05T11:15:00"},
                          {"location", "Marktplatz 1"}, {"attendees", {{{"email", "advisor@example.com"}, {"name", "Ada Advisor"}}}},
                          {"reminder_minutes", {15}}}))["event"];
  CHECK(created["start"] == "2027-01-05T10:30:00+01:00");
  CHECK(created["calendar_id"] == "personal");
  std::string id = created["id"];
  CHECK(id.rfind("personal/", 0) == 0);
  auto listed = structured(call(c, 4, "calendar_list_events", {{"start", "2027-01-05"}, {"end", "2027-01-06"}}))["events"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == id);
  CHECK(listed[0]["location"] == "Marktplatz 1");
  CHECK(listed[0]["attendees"][0]["name"] == "Ada Advisor");
  CHECK(listed[0]["reminder_minutes"] == Json::array({15}));
  auto found = structured(call(c, 5, "calendar_list_events", {{"start", "2027-01-05"}, {"end", "2027-01-06"}, {"query", "TAX adv"}}))["events"];
  CHECK(found.size() == 1);
  auto free = structured(call(c, 6, "calendar_find_free_time", {{"start", "2027-01-05"}, {"end", "2027-01-06"}, {"duration_minutes", 30}}))["free"];
  REQUIRE(free.size() == 2);  // working hours 09:00-17:00 around it
  CHECK(free[0]["end"] == "2027-01-05T10:30:00+01:00");
  CHECK(free[1]["start"] == "2027-01-05T11:15:00+01:00");

  // On the server: an iCalendar object libical wrote, in the event's zone, with its VTIMEZONE.
  auto raw = s.dav.send("GET", "/alice/" + id + ".ics");
  REQUIRE(raw.status == 200);
  CHECK_THAT(raw.body, Catch::Contains("DTSTART;TZID=Europe/Berlin:20270105T103000") && Catch::Contains("BEGIN:VTIMEZONE") &&
                           Catch::Contains("mailto:advisor@example.com") && Catch::Contains("TRIGGER:-PT15M"));

  // A near-duplicate is refused naming summary.
  Json dup = call(c, 7, "calendar_create_event", {{"summary", "tax advisor"}, {"start", "2027-01-05T10:40:00"}});
  CHECK(dup["result"]["isError"] == true);
  CHECK_THAT(text_of(dup), Catch::StartsWith("summary:"));

  // A weekly series on the work calendar; one occurrence changes, the series lists the rest.
  auto series = structured(call(c, 8, "calendar_create_event",
                        {{"summary", "Stand-up"}, {"calendar_id", "work"}, {"start", "2027-01-04T09:30:00"}, {"duration_minutes", 15},
                         {"recurrence", "FREQ=WEEKLY;BYDAY=MO"}}))["event"];
  std::string sid = series["id"];
  CHECK(series["recurrence"] == "FREQ=WEEKLY;BYDAY=MO");
  Json window{{"start", "2027-01-01"}, {"end", "2027-02-01"}, {"query", "stand-up"}, {"max_results", 100}};
  auto before = structured(call(c, 9, "calendar_list_events", window))["events"];
  REQUIRE(before.size() == 4);  // 4, 11, 18, 25 January
  CHECK(before[0]["series_id"] == sid);
  CHECK(before[2]["id"] == sid + "_20270118T083000Z");
  auto got = structured(call(c, 10, "calendar_get_event", {{"event_id", sid}}))["event"];
  CHECK(got["recurrence"] == "FREQ=WEEKLY;BYDAY=MO");

  auto moved = structured(call(c, 11, "calendar_update_event",
                       {{"event_id", before[2]["id"]}, {"scope", "this"}, {"summary", "Stand-up (moved)"}, {"start", "2027-01-18T11:00:00"}}))["event"];
  CHECK(moved["series_id"] == sid);
  CHECK(moved["start"] == "2027-01-18T11:00:00+01:00");
  CHECK(moved["end"] == "2027-01-18T11:15:00+01:00");
  auto after = structured(call(c, 12, "calendar_list_events", window))["events"];
  REQUIRE(after.size() == 4);
  int moved_count = 0;
  for (auto& e : after) {
    if (e["summary"] == "Stand-up (moved)") {
      ++moved_count;
      CHECK(e["id"] == moved["id"]);
    } else {
      CHECK(std::string(e["start"]).substr(11, 5) == "09:30");
    }
  }
  CHECK(moved_count == 1);
  raw = s.dav.send("GET", "/alice/" + sid + ".ics");
  CHECK_THAT(raw.body, Catch::Contains("RECURRENCE-ID;TZID=Europe/Berlin:20270118T093000"));
  // Moved into the busy time of its day.
  auto busy = structured(call(c, 13, "calendar_find_free_time",
                      {{"start", "2027-01-18T09:00:00"}, {"end", "2027-01-18T12:00:00"}, {"duration_minutes", 15}}))["free"];
  REQUIRE(busy.size() == 2);
  CHECK(busy[0]["end"] == "2027-01-18T11:00:00+01:00");

  // Deleting one occurrence leaves a gap; the moved one can go on its own too.
  structured(call(c, 14, "calendar_delete_event", {{"event_id", before[1]["id"]}, {"scope", "this"}}));
  auto gap = structured(call(c, 15, "calendar_list_events", window))["events"];
  REQUIRE(gap.size() == 3);
  for (auto& e : gap) CHECK(e["id"] != before[1]["id"]);
  Json gone = call(c, 16, "calendar_get_event", {{"event_id", before[1]["id"]}});
  CHECK_THAT(text_of(gone), Catch::StartsWith("event_id:"));
  structured(call(c, 17, "calendar_delete_event", {{"event_id", moved["id"]}}));
  CHECK(structured(call(c, 18, "calendar_list_events", window))["events"].size() == 2);

  SECTION("this and following: a new series from that occurrence on") {
    auto next = structured(call(c, 19, "calendar_update_event", {{"event_id", before[3]["id"]}, {"scope", "following"}, {"location", "Room 2"}}))["event"];
    CHECK(next["id"] != sid);
    CHECK(next["location"] == "Room 2");
    Json longer{{"start", "2027-01-01"}, {"end", "2027-02-15"}, {"query", "stand-up"}, {"max_results", 100}};
    auto all = structured(call(c, 20, "calendar_list_events", longer))["events"];
    REQUIRE(all.size() == 4);  // 4 Jan; 25 Jan, 1 and 8 Feb in the new series
    CHECK_FALSE(all[0].contains("location"));
    CHECK(all[1]["location"] == "Room 2");
    CHECK(all[3]["location"] == "Room 2");
    CHECK(all[3]["series_id"] == next["id"]);
    // And deleting that and following ends the new series before it.
    structured(call(c, 21, "calendar_delete_event", {{"event_id", all[2]["id"]}, {"scope", "following"}}));
    CHECK(structured(call(c, 22, "calendar_list_events", longer))["events"].size() == 2);
  }
  SECTION("all: moving one occurrence by an hour moves every one") {
    structured(call(c, 23, "calendar_update_event", {{"event_id", before[0]["id"]}, {"scope", "all"}, {"start", "2027-01-04T10:30:00"}}));
    auto all = structured(call(c, 24, "calendar_list_events", window))["events"];
    REQUIRE(all.size() == 2);  // the gap stays a gap
    for (auto& e : all) CHECK(std::string(e["start"]).substr(11, 5) == "10:30");
    structured(call(c, 25, "calendar_delete_event", {{"event_id", sid}, {"scope", "all"}}));
    CHECK(structured(call(c, 26, "calendar_list_events", window))["events"].empty());
  }
  SECTION("all-day events: dates in their zone, free time") {
    auto hol = structured(call(c, 27, "calendar_create_event", {{"summary", "Holiday"}, {"start", "2027-01-06"}, {"end", "2027-01-08"}}))["event"];
    CHECK(hol["all_day"] == true);
    CHECK(hol["end"] == "2027-01-08");
    auto day = structured(call(c, 28, "calendar_list_events", {{"start", "2027-01-07"}, {"end", "2027-01-08"}}))["events"];
    REQUIRE(day.size() == 1);
    CHECK(day[0]["start"] == "2027-01-06");
    auto free_day = structured(call(c, 29, "calendar_find_free_time", {{"start", "2027-01-07T00:00:00"}, {"end", "2027-01-08T00:00:00"},
                                                                {"within_working_hours", false}}))["free"];
    CHECK(free_day.size() == 1);
  }
  SECTION("a single event: update and delete") {
    auto up = structured(call(c, 30, "calendar_update_event", {{"event_id", id}, {"summary", "Tax advisor (call)"}, {"start", "2027-01-05T14:00:00"}}))["event"];
    CHECK(up["id"] == id);
    CHECK(up["end"] == "2027-01-05T14:45:00+01:00");
    structured(call(c, 31, "calendar_delete_event", {{"event_id", id}}));
    CHECK(structured(call(c, 32, "calendar_list_events", {{"start", "2027-01-05"}, {"end", "2027-01-06"}}))["events"].empty());
    Json again = call(c, 33, "calendar_delete_event", {{"event_id", id}});
    CHECK_THAT(text_of(again), Catch::StartsWith("event_id:"));
  }
}

// Basic credentials that let the test act between two of the adapter's requests: `race` runs
// just before the request `countdown` calls from now is sent.
struct RacingCredentials : auth::Credentials {
  BasicCredentials basic{"home", kUser, kPassword};
  int countdown = -1;
  std::function<void()> race;
  std::string authorization(int64_t u) override {
    if (countdown > 0 && --countdown == 0) race();
    return basic.authorization(u);
  }
  std::string refresh(int64_t u, const std::string& r) override { return basic.refresh(u, r); }
  std::string account() const override { return "home"; }
};

TEST_CASE("caldav: a change made meanwhile by another client is refused, not overwritten", "[caldav]") {
  Setup s;
  auto creds = std::make_shared<RacingCredentials>();
  auto options = s.options();
  options.credentials = creds;
  CaldavCalendar cal(options);
  auto tz = zone("Europe/Berlin");
  Millis t = to_utc(LocalMs{date::local_days{date::year{2027} / 2 / 1}} + std::chrono::hours(9), tz);
  auto e = cal.create(1, {.summary = "Review", .start = t, .end = t + kHour, .time_zone = "Europe/Berlin"});
  std::string path = "/alice/" + e.id + ".ics";
  // Another client rewrites the event after the adapter read it (PROPFIND, GET) and before it
  // writes (PUT with If-Match).
  creds->countdown = 3;
  creds->race = [&] {
    auto theirs = s.dav.send("GET", path);
    std::string body = theirs.body;
    auto at = body.find("SUMMARY:Review");
    REQUIRE(at != std::string::npos);
    body.replace(at, 14, "SUMMARY:Review (theirs)");
    http::Request put{.method = "PUT", .path = path, .body = body, .content_type = "text/calendar"};
    put.headers.emplace_back("Authorization", creds->basic.authorization(0));
    REQUIRE(s.dav.client.send(put).status / 100 == 2);
  };
  CHECK_THROWS_MATCHES(cal.update(1, e.id, {.summary = "Review (ours)"}, Scope::All), Conflict,
                       Catch::Matchers::Message("event_id: the event changed meanwhile on the CalDAV server (another client "
                                                "edited it); get it again and retry"));
  CHECK(cal.event(1, e.id).summary == "Review (theirs)");  // theirs stays
  // The same on delete.
  creds->countdown = 3;
  CHECK_THROWS_AS(cal.remove(1, e.id, Scope::All), Conflict);
  CHECK(cal.event(1, e.id).summary == "Review (theirs) (theirs)");  // still there, with their second change
  cal.remove(1, e.id, Scope::All);
  CHECK_THROWS_AS(cal.event(1, e.id), NotFound);
}

TEST_CASE("caldav: wrong password and a stopped server are tool errors that say what to do", "[caldav]") {
  Setup s;
  AppFixture f;
  f.providers.calendar = {};
  f.providers.calendar.add("home", std::make_shared<CaldavCalendar>(s.options("/", "not-the-password")));
  auto good = std::make_shared<CaldavCalendar>(s.options());
  f.providers.calendar.add("good", good);
  Client c(*f.server);
  c.initialize("2025-11-25");
  Json wrong = call(c, 1, "calendar_list_calendars", Json::object());
  CHECK(wrong["result"]["isError"] == true);
  CHECK_THAT(text_of(wrong), Catch::StartsWith("account:") && Catch::Contains("CalDAV account 'home'") &&
                                 Catch::Contains("user 'alice'") && Catch::Contains("password"));
  structured(call(c, 2, "calendar_create_event", {{"account", "good"}, {"summary", "Before the outage"}, {"start", "2027-03-01T10:00:00Z"}}));

  s.radicale.stop();
  Json down = call(c, 3, "calendar_list_events", {{"account", "good"}, {"start", "2027-03-01"}, {"end", "2027-03-02"}});
  CHECK(down["result"]["isError"] == true);
  CHECK_THAT(text_of(down), Catch::Contains("CalDAV could not be reached"));
  Json down2 = call(c, 4, "calendar_create_event", {{"account", "good"}, {"summary", "During"}, {"start", "2027-03-01T12:00:00Z"}});
  CHECK_THAT(text_of(down2), Catch::Contains("CalDAV"));

  // The password appears nowhere: not in tool errors, the history, or the logs.
  store::History::Query q;
  q.user = "local";
  std::string stored = f.history.query(q).rows.dump();
  std::string logs;
  for (const auto& l : captured_logs()) logs += l + "\n";
  std::string basic = BasicCredentials("x", kUser, kPassword).authorization(0).substr(6);
  for (const std::string& secret : {kPassword, std::string("not-the-password"), basic}) {
    INFO(secret);
    CHECK(stored.find(secret) == std::string::npos);
    CHECK(logs.find(secret) == std::string::npos);
    CHECK(text_of(wrong).find(secret) == std::string::npos);
    CHECK(text_of(down).find(secret) == std::string::npos);
  }
  CHECK(stored.find("Before the outage") != std::string::npos);  // the history is there to look in
}

namespace {

// A bare HTTP/1.1 server for what cpp-httplib cannot serve (PROPFIND): one request per
// connection, answered by `answer(method, path)` with a 207 multistatus body. It records every
// request line and Authorization header it sees.
class RawDav {
 public:
  explicit RawDav(std::function<std::string(const std::string& path)> answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawDav() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> seen() {
    std::lock_guard l(m_);
    return seen_;
  }

 private:
  bool readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }
  void serve() {
    while (readable(fd_)) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string in;
      char buf[4096];
      size_t end = std::string::npos;
      while ((end = in.find("\r\n\r\n")) == std::string::npos && readable(c)) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, size_t(n));
      }
      if (end != std::string::npos) {
        std::string line = in.substr(0, in.find("\r\n"));
        std::string auth;
        if (auto at = in.find("\r\nAuthorization: "); at != std::string::npos && at < end) auth = in.substr(at + 17, in.find("\r\n", at + 2) - at - 17);
        {
          std::lock_guard l(m_);
          seen_.push_back(line + " | " + auth);
        }
        auto sp = line.find(' ');
        std::string path = line.substr(sp + 1, line.rfind(' ') - sp - 1);
        std::string body = answer_(path);
        std::string reply = "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml; charset=utf-8\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }
  std::function<std::string(const std::string&)> answer_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex m_;
  std::vector<std::string> seen_;
};

std::string home_set(const std::string& href) {
  return R"(<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:response><d:href>/</d:href>)"
         R"(<d:propstat><d:prop><c:calendar-home-set><d:href>)" + href +
         R"(</d:href></c:calendar-home-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>)";
}

}  // namespace

TEST_CASE("caldav: an href to another origin is refused, our Authorization goes nowhere else", "[caldav][hostile]") {
  RawDav elsewhere([](const std::string&) { return std::string("<x/>"); });
  const std::string other = "127.0.0.1:" + std::to_string(elsewhere.port());
  const std::string empty = R"(<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"/>)";
  // "@host:port/x" is no URI reference at all (a ':' in a relative path's first segment), and
  // was once appended to the base URL, which made the host its user name.
  for (const std::string& href : {"@" + other + "/steal/", "http://" + other + "/steal/", "//" + other + "/steal/",
                                  std::string("https://127.0.0.1/steal/"), std::string("@localhost/steal/")}) {
    INFO(href);
    std::string hostile = href;
    RawDav server([&](const std::string& path) { return path == "/dav/" ? home_set(hostile) : empty; });
    CaldavCalendar cal(CaldavOptions{.url = server.url() + "/dav/", .username = kUser, .password = kPassword,
                                     .timeout = std::chrono::milliseconds(3000)});
    if (href == "@localhost/steal/") {
      // A relative reference (RFC 3986): a path on the same server, however it looks.
      CHECK(cal.calendars(1).empty());
      auto seen = server.seen();
      REQUIRE(seen.size() == 2);
      CHECK_THAT(seen[1], Catch::StartsWith("PROPFIND /dav/@localhost/steal/ HTTP/1.1 | Basic "));
    } else {
      CHECK_THROWS_WITH(cal.calendars(1), Catch::Contains("sent an href that leaves " + server.url()) && Catch::Contains(href) &&
                                              Catch::Contains("credentials go to no other server"));
      CHECK(server.seen().size() == 1);
    }
  }
  CHECK(elsewhere.seen().empty());
}

// As a user configures it: the binary, CONCIERGE_CALDAV_BASE_URL with a path (the calendar home,
// one calendar's collection) or the server root. The path is where discovery starts; requests go
// to the paths the server hands out, never to the configured path twice.
TEST_CASE("caldav: configured through the binary with a URL that has a path", "[caldav][process]") {
  Setup s;
  int n = 0;
  for (std::string path : {"/alice/", "/alice/work/", "/alice", "/"}) {
    INFO(path);
    std::string tag = "standup-" + std::to_string(++n);
    ServedBinary bin({"CONCIERGE_CALENDAR_PROVIDER=caldav", "CONCIERGE_CALDAV_BASE_URL=" + s.radicale.url() + path,
                      "CONCIERGE_CALDAV_USERNAME=" + kUser, "CONCIERGE_CALDAV_PASSWORD=" + kPassword});
    auto cals = bin.ok("calendar_list_calendars")["calendars"];
    INFO(cals.dump());
    REQUIRE(cals.size() == 2);
    CHECK(cals[0]["id"] == "personal");
    CHECK(cals[1]["id"] == "work");
    auto created = bin.ok("calendar_create_event", {{"calendar_id", "work"}, {"summary", tag},
                                                   {"start", "2027-02-01T09:00:00Z"}, {"end", "2027-02-01T09:15:00Z"}})["event"];
    std::string id = created["id"];
    CHECK(id.rfind("work/", 0) == 0);
    // On the server where the home says, not under a doubled path.
    CHECK(s.dav.send("GET", "/alice/" + id + ".ics").status == 200);
    auto listed = bin.ok("calendar_list_events", {{"start", "2027-02-01T00:00:00Z"}, {"end", "2027-02-02T00:00:00Z"}, {"query", tag}})["events"];
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["id"] == id);
  }
}
