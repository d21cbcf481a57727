// The Google Calendar adapter against a stateful in-process fake of Calendar API v3: the
// documented resource shapes (calendar#calendarListEntry, calendar#event, calendar#events with
// nextPageToken, calendar#freeBusy), recurring events expanded into instances for
// singleEvents=true (by the same libical code as the local provider), instance ids
// "<series>_<UTC start>", exceptions, Google's error bodies. The domain scenario runs through the
// tools; then the faults, the secrets and bad input.
#include <catch2/catch.hpp>
#include <sstream>

#include "providers/calendar/google.hpp"
#include "providers/calendar/recurrence.hpp"
#include "providers/error.hpp"
#include "providers/google_oauth.hpp"
#include "support/app_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::calendar;
using namespace std::chrono_literals;

namespace {

// Google's error body: {"error": {"errors": [{"domain", "reason", "message"}], "code", "message"}}.
Json gerror(int code, const std::string& reason, const std::string& message) {
  return {{"error", {{"errors", Json::array({{{"domain", "global"}, {"reason", reason}, {"message", message}}})},
                     {"code", code},
                     {"message", message}}}};
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct FakeGoogleCalendar {
  std::mutex m;
  struct Cal {
    std::string id, summary, tz, color, role;
    bool primary = false;
  };
  std::vector<Cal> cals{{"ada@example.com", "Ada Lovelace", "Europe/Berlin", "#9fe1e7", "owner", true},
                        {"team-42@group.calendar.google.com", "Team", "Europe/Berlin", "#f83a22", "writer", false},
                        {"holidays#de@group.v.calendar.google.com", "Holidays", "Europe/Berlin", "#16a765", "freeBusyReader", false}};
  std::map<std::string, Json> events;        // id -> event resource, plus "_cal"
  std::map<std::string, std::string> gone;   // deleted id -> calendar (410 "deleted")
  int next_id = 0;
  std::atomic<int> rate_limited{0};          // the next calls answer 403 userRateLimitExceeded
  std::vector<std::string> log;              // "METHOD path" of each API call
  // Each write's sendUpdates ("" when not sent: Google's default, no notifications) and to whom
  // Google would mail: the attendees, when it is "all".
  std::vector<std::string> updates;
  std::vector<std::string> mailed;
  // Last, so it goes first: its server stops (finishing a stalled request) before the state
  // its handlers use is gone.
  FakeUpstream up;

  static void reply(httplib::Response& res, int status, const Json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json; charset=UTF-8");
  }
  const Cal* cal(const std::string& id) {
    for (auto& c : cals)
      if (c.id == id || (id == "primary" && c.primary)) return &c;
    return nullptr;
  }
  std::string tz_of(const Json& e) {
    std::string tz = e["start"].value("timeZone", "");
    return tz.empty() ? cal(e["_cal"])->tz : tz;
  }
  static Millis at(const Json& t, const std::string& tz) {
    if (t.contains("dateTime")) return parse_time(t["dateTime"], zone(tz), "dateTime");
    return to_utc(LocalMs{parse_date(t["date"], "date")}, zone(tz));
  }
  static Json time_json(Millis t, bool all_day, const std::string& tz, bool with_zone) {
    Json j = all_day ? Json{{"date", format_date(date::floor<date::days>(to_local(t, zone(tz))))}}
                     : Json{{"dateTime", format_time(t, zone(tz))}};
    if (with_zone) j["timeZone"] = tz;
    return j;
  }
  static std::string now_rfc3339() { return format_time(now_ms(), date::locate_zone("UTC")); }
  static std::string rrule(const Json& e) {
    for (auto& l : e.value("recurrence", Json::array()))
      if (l.get<std::string>().rfind("RRULE:", 0) == 0) return l.get<std::string>().substr(6);
    return "";
  }
  bool is_series(const Json& e) { return !rrule(e).empty() && !e.contains("recurringEventId"); }
  Millis start_of(const Json& e) { return at(e["start"], tz_of(e)); }
  Millis end_of(const Json& e) { return at(e["end"], tz_of(e)); }

  // The generated instances of a series overlapping [from, to); exceptions (stored with
  // recurringEventId) take their occurrence's place.
  std::vector<Json> instances(const Json& s, Millis from, Millis to) {
    std::string tz = tz_of(s);
    bool all_day = s["start"].contains("date");
    Millis s0 = start_of(s), e0 = end_of(s);
    Series series{to_local(s0, zone(tz)), e0 - s0, rrule(s), zone(tz), {}};
    for (auto& [id, e] : events)
      if (e.value("recurringEventId", "") == s["id"]) series.exdates.push_back(at(e["originalStartTime"], tz));
    std::vector<Json> out;
    for (Millis occ : expand(series, from, to)) {
      Json i = s;
      i.erase("recurrence");
      std::string day = format_date(date::floor<date::days>(to_local(occ, zone(tz))));
      day.erase(std::remove(day.begin(), day.end(), '-'), day.end());
      i["id"] = s["id"].get<std::string>() + "_" + (all_day ? day : stamp(occ));
      i["recurringEventId"] = s["id"];
      i["originalStartTime"] = time_json(occ, all_day, tz, true);
      i["start"] = time_json(occ, all_day, tz, true);
      i["end"] = time_json(occ + (e0 - s0), all_day, tz, true);
      out.push_back(std::move(i));
    }
    return out;
  }
  // A generated instance by id ("<series>_20261123T090000Z" or "<series>_20261123"), if the
  // series has an occurrence there.
  std::optional<Json> instance(const std::string& cal_id, const std::string& id) {
    auto us = id.rfind('_');
    if (us == std::string::npos) return std::nullopt;
    auto it = events.find(id.substr(0, us));
    if (it == events.end() || it->second["_cal"] != cal_id || !is_series(it->second)) return std::nullopt;
    std::string when = id.substr(us + 1);
    std::optional<Millis> t = parse_stamp(when);
    try {
      if (!t && when.size() == 8)
        t = to_utc(LocalMs{parse_date(when.substr(0, 4) + "-" + when.substr(4, 2) + "-" + when.substr(6, 2), "id")}, zone(tz_of(it->second)));
    } catch (const Error&) {
    }
    if (!t) return std::nullopt;
    for (auto& i : instances(it->second, *t, *t + 1))
      if (i["id"] == id) return i;
    return std::nullopt;
  }
  // Every occurrence on a calendar in [from, to), as singleEvents=true lists them.
  std::vector<Json> occurrences(const std::string& cal_id, Millis from, Millis to) {
    std::vector<Json> out;
    for (auto& [id, e] : events) {
      if (e["_cal"] != cal_id || e.value("status", "") == "cancelled") continue;
      if (is_series(e)) {
        for (auto& i : instances(e, from, to)) out.push_back(std::move(i));
      } else if (start_of(e) < to && end_of(e) > from) {
        out.push_back(e);
      }
    }
    std::stable_sort(out.begin(), out.end(), [&](const Json& a, const Json& b) { return start_of(a) < start_of(b); });
    return out;
  }
  static Json out(Json e) {
    e.erase("_cal");
    return e;
  }
  // 400 unless start/end/recurrence are as Google wants them.
  std::optional<Json> invalid(const Json& e) {
    if (!e.contains("start") || !e.contains("end")) return gerror(400, "required", "Missing end time.");
    if (!rrule(e).empty()) {
      if (e["start"].contains("dateTime") && !e["start"].contains("timeZone"))
        return gerror(400, "required", "Missing time zone definition for start time.");
      try {
        normalize_rrule(rrule(e));
      } catch (const Error&) {
        return gerror(400, "invalid", "Invalid recurrence rule.");
      }
    }
    if (end_of(e) <= start_of(e)) return gerror(400, "timeRangeEmpty", "The specified time range is empty.");
    return std::nullopt;
  }

  FakeGoogleCalendar() {
    auto& s = up.server;
    // Before the routes (but after FakeUpstream's faults and bearer check): our own fault, the log.
    s.Get(R"(/calendar/v3/users/me/calendarList)", [this](const httplib::Request& req, httplib::Response& res) {
      if (limited(res)) return;
      std::lock_guard l(m);
      log.push_back("GET calendarList");
      size_t max = req.has_param("maxResults") ? std::stoul(req.get_param_value("maxResults")) : 100;
      size_t from = req.has_param("pageToken") ? std::stoul(req.get_param_value("pageToken").substr(4)) : 0;
      Json items = Json::array();
      for (size_t i = from; i < cals.size() && items.size() < max; ++i) {
        auto& c = cals[i];
        Json j{{"kind", "calendar#calendarListEntry"}, {"etag", "\"16" + std::to_string(i) + "\""}, {"id", c.id},
               {"summary", c.summary}, {"timeZone", c.tz}, {"colorId", "14"}, {"backgroundColor", c.color},
               {"foregroundColor", "#000000"}, {"selected", true}, {"accessRole", c.role},
               {"defaultReminders", Json::array({{{"method", "popup"}, {"minutes", 10}}})}};
        if (c.primary) j["primary"] = true;
        items.push_back(j);
      }
      Json body{{"kind", "calendar#calendarList"}, {"etag", "\"p33\""}, {"items", items}};
      if (from + items.size() < cals.size()) body["nextPageToken"] = "cal-" + std::to_string(from + items.size());
      reply(res, 200, body);
    });
    s.Get(R"(/calendar/v3/calendars/([^/]+)/events)", [this](const httplib::Request& req, httplib::Response& res) {
      if (limited(res)) return;
      std::lock_guard l(m);
      log.push_back("GET events");
      auto* c = cal(req.matches[1]);
      if (!c || c->role == "freeBusyReader") return reply(res, 404, gerror(404, "notFound", "Not Found"));
      if (req.get_param_value("orderBy") == "startTime" && req.get_param_value("singleEvents") != "true")
        return reply(res, 400, gerror(400, "invalid", "The requested ordering is not available for the particular query."));
      Millis from = req.has_param("timeMin") ? parse_time(req.get_param_value("timeMin"), nullptr, "timeMin") : 0;
      Millis to = req.has_param("timeMax") ? parse_time(req.get_param_value("timeMax"), nullptr, "timeMax") : from + 400 * kDay;
      std::string q = lower(req.get_param_value("q"));
      std::vector<Json> all;
      for (auto& e : occurrences(c->id, from, to)) {
        std::string hay = lower(e.value("summary", "") + "\n" + e.value("description", "") + "\n" + e.value("location", ""));
        if (q.empty() || hay.find(q) != std::string::npos) all.push_back(out(e));
      }
      size_t max = std::min<size_t>(2500, req.has_param("maxResults") ? std::stoul(req.get_param_value("maxResults")) : 250);
      size_t offset = 0;
      if (req.has_param("pageToken")) {
        auto t = req.get_param_value("pageToken");
        if (t.rfind("CiAKGjBp", 0) != 0) return reply(res, 400, gerror(400, "invalid", "Invalid page token value."));
        offset = std::stoul(t.substr(8));
      }
      Json items = Json::array();
      for (size_t i = offset; i < all.size() && items.size() < max; ++i) items.push_back(all[i]);
      Json body{{"kind", "calendar#events"}, {"etag", "\"p32\""}, {"summary", c->summary}, {"updated", now_rfc3339()},
                {"timeZone", c->tz}, {"accessRole", c->role}, {"defaultReminders", Json::array()}, {"items", items}};
      if (offset + items.size() < all.size()) body["nextPageToken"] = "CiAKGjBp" + std::to_string(offset + items.size());
      else body["nextSyncToken"] = "CPDAlvWDx70CEPDAlvWDx70CGAU=";
      reply(res, 200, body);
    });
    s.Get(R"(/calendar/v3/calendars/([^/]+)/events/([^/]+)/instances)", [this](const httplib::Request& req, httplib::Response& res) {
      if (limited(res)) return;
      std::lock_guard l(m);
      log.push_back("GET instances");
      auto* c = cal(req.matches[1]);
      auto it = events.find(req.matches[2]);
      if (!c || it == events.end() || it->second["_cal"] != c->id) return reply(res, 404, gerror(404, "notFound", "Not Found"));
      Millis from = req.has_param("timeMin") ? parse_time(req.get_param_value("timeMin"), nullptr, "timeMin") : start_of(it->second);
      Millis to = req.has_param("timeMax") ? parse_time(req.get_param_value("timeMax"), nullptr, "timeMax") : from + 800 * kDay;
      bool deleted = req.get_param_value("showDeleted") == "true";
      std::vector<Json> all = instances(it->second, from, to);
      for (auto& [id, e] : events)
        if (e.value("recurringEventId", "") == it->first && start_of(e) < to && end_of(e) > from &&
            (deleted || e.value("status", "") != "cancelled"))
          all.push_back(e);
      std::string tz = tz_of(it->second);
      std::stable_sort(all.begin(), all.end(), [&](const Json& a, const Json& b) { return at(a["originalStartTime"], tz) < at(b["originalStartTime"], tz); });
      Json items = Json::array();
      for (auto& e : all) items.push_back(out(e));
      reply(res, 200, Json{{"kind", "calendar#events"}, {"summary", c->summary}, {"timeZone", c->tz}, {"items", items}});
    });
    s.Get(R"(/calendar/v3/calendars/([^/]+)/events/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (limited(res)) return;
      std::lock_guard l(m);
      log.push_back("GET event");
      auto* c = cal(req.matches[1]);
      std::string id = req.matches[2];
      if (!c || c->role == "freeBusyReader") return reply(res, 404, gerror(404, "notFound", "Not Found"));
      if (auto it = events.find(id); it != events.end() && it->second["_cal"] == c->id) return reply(res, 200, out(it->second));
      if (auto g = gone.find(id); g != gone.end() && g->second == c->id) return reply(res, 410, gerror(410, "deleted", "Resource has been deleted"));
      if (auto i = instance(c->id, id)) return reply(res, 200, out(*i));
      reply(res, 404, gerror(404, "notFound", "Not Found"));
    });
    s.Post(R"(/calendar/v3/calendars/([^/]+)/events)", [this](const httplib::Request& req, httplib::Response& res) {
      if (limited(res)) return;
      std::lock_guard l(m);
      log.push_back("POST events");
      auto* c = cal(req.matches[1]);
      if (!c) return reply(res, 404, gerror(404, "notFound", "Not Found"));
      if (c->role != "owner" && c->role != "writer")
        return reply(res, 403, gerror(403, "requiredAccessLevel", "You need to have writer access to this calendar."));
      Json e = Json::parse(req.body, nullptr, false);
      if (!e.is_object()) return reply(res, 400, gerror(400, "parseError", "Parse Error"));
      e["_cal"] = c->id;
      if (auto bad = invalid(e)) return reply(res, 400, *bad);
      if (!notify(req, res, e.value("attendees", Json::array()))) return;
      std::string id = "gq" + std::to_string(1000 + ++next_id) + "v7";  // base32hex, as Google's are
      e["kind"] = "calendar#event";
      e["etag"] = "\"3181161784712000\"";
      e["id"] = id;
      e["status"] = "confirmed";
      e["htmlLink"] = "https://www.google.com/calendar/event?eid=" + id;
      e["created"] = e["updated"] = now_rfc3339();
      e["creator"] = e["organizer"] = Json{{"email", c->id}, {"self", true}};
      e["iCalUID"] = id + "@google.com";
      e["sequence"] = 0;
      if (!e.contains("reminders")) e["reminders"] = {{"useDefault", true}};
      if (!e["start"].contains("timeZone")) e["start"]["timeZone"] = c->tz;
      if (!e["end"].contains("timeZone")) e["end"]["timeZone"] = c->tz;
      events[id] = e;
      reply(res, 200, out(e));
    });
    s.Patch(R"(/calendar/v3/calendars/([^/]+)/events/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (limited(res)) return;
      std::lock_guard l(m);
      log.push_back("PATCH event");
      auto* c = cal(req.matches[1]);
      std::string id = req.matches[2];
      if (!c) return reply(res, 404, gerror(404, "notFound", "Not Found"));
      Json base;
      if (auto it = events.find(id); it != events.end() && it->second["_cal"] == c->id) base = it->second;
      else if (auto i = instance(c->id, id)) base = *i;  // the first change makes an exception
      else if (gone.count(id)) return reply(res, 410, gerror(410, "deleted", "Resource has been deleted"));
      else return reply(res, 404, gerror(404, "notFound", "Not Found"));
      Json p = Json::parse(req.body, nullptr, false);
      if (!p.is_object()) return reply(res, 400, gerror(400, "parseError", "Parse Error"));
      if (base.contains("recurringEventId") && p.contains("recurrence"))
        return reply(res, 400, gerror(400, "invalid", "Invalid recurrence rule."));
      Json before = base.value("attendees", Json::array());
      for (auto& [k, v] : p.items()) base[k] = v;  // patch semantics: the given fields replace theirs
      base["_cal"] = c->id;
      if (auto bad = invalid(base)) return reply(res, 400, *bad);
      // Those removed hear of it too.
      Json told = base.value("attendees", Json::array());
      for (auto& a : before)
        if (std::find(told.begin(), told.end(), a) == told.end()) told.push_back(a);
      if (!notify(req, res, told)) return;
      base["updated"] = now_rfc3339();
      base["sequence"] = base.value("sequence", 0) + 1;
      events[id] = base;
      // A new rule drops the exceptions whose occurrence it no longer has (they would be orphans).
      if (is_series(base) && p.contains("recurrence")) {
        std::string tz = tz_of(base);
        Series rule{to_local(start_of(base), zone(tz)), end_of(base) - start_of(base), rrule(base), zone(tz), {}};
        for (auto x = events.begin(); x != events.end();) {
          bool orphan = false;
          if (x->second.value("recurringEventId", "") == id) {
            Millis t = at(x->second["originalStartTime"], tz);
            auto hit = expand(rule, t, t + 1, 1);
            orphan = hit.empty() || hit.front() != t;
          }
          x = orphan ? events.erase(x) : std::next(x);
        }
      }
      reply(res, 200, out(base));
    });
    s.Delete(R"(/calendar/v3/calendars/([^/]+)/events/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (limited(res)) return;
      std::lock_guard l(m);
      log.push_back("DELETE event");
      auto* c = cal(req.matches[1]);
      std::string id = req.matches[2];
      if (!c) return reply(res, 404, gerror(404, "notFound", "Not Found"));
      auto it = events.find(id);
      {
        std::optional<Json> e;
        if (it != events.end() && it->second["_cal"] == c->id) e = it->second;
        else e = instance(c->id, id);
        if (e && !notify(req, res, e->value("attendees", Json::array()))) return;
      }
      if (it != events.end() && it->second["_cal"] == c->id) {
        if (it->second.value("status", "") == "cancelled") return reply(res, 410, gerror(410, "deleted", "Resource has been deleted"));
        if (it->second.contains("recurringEventId")) {
          it->second["status"] = "cancelled";  // a cancelled exception hides its occurrence
        } else {
          for (auto x = events.begin(); x != events.end();)
            x = x->second.value("recurringEventId", "") == id ? events.erase(x) : std::next(x);
          events.erase(id);
          gone[id] = c->id;
        }
      } else if (auto i = instance(c->id, id)) {
        (*i)["status"] = "cancelled";
        (*i)["_cal"] = c->id;
        events[id] = *i;
      } else if (gone.count(id)) {
        return reply(res, 410, gerror(410, "deleted", "Resource has been deleted"));
      } else {
        return reply(res, 404, gerror(404, "notFound", "Not Found"));
      }
      res.status = 204;
    });
    s.Post(R"(/calendar/v3/freeBusy)", [this](const httplib::Request& req, httplib::Response& res) {
      if (limited(res)) return;
      std::lock_guard l(m);
      log.push_back("POST freeBusy");
      Json q = Json::parse(req.body, nullptr, false);
      if (!q.is_object() || !q.contains("timeMin") || !q.contains("timeMax"))
        return reply(res, 400, gerror(400, "required", "Missing timeMin parameter."));
      Millis from = parse_time(q["timeMin"], nullptr, "timeMin"), to = parse_time(q["timeMax"], nullptr, "timeMax");
      Json cals_out = Json::object();
      for (auto& item : q.value("items", Json::array())) {
        std::string id = item["id"];
        auto* c = cal(id);
        if (!c) {
          cals_out[id] = {{"errors", Json::array({{{"domain", "global"}, {"reason", "notFound"}}})}, {"busy", Json::array()}};
          continue;
        }
        std::vector<std::pair<Millis, Millis>> spans;
        for (auto& e : occurrences(c->id, from, to))
          if (e.value("transparency", "opaque") != "transparent") spans.push_back({std::max(start_of(e), from), std::min(end_of(e), to)});
        std::sort(spans.begin(), spans.end());
        std::vector<std::pair<Millis, Millis>> merged;
        for (auto& sp : spans)
          if (!merged.empty() && sp.first <= merged.back().second) merged.back().second = std::max(merged.back().second, sp.second);
          else merged.push_back(sp);
        Json busy = Json::array();
        for (auto& [a, b] : merged)
          busy.push_back({{"start", format_time(a, date::locate_zone("UTC"))}, {"end", format_time(b, date::locate_zone("UTC"))}});
        cals_out[id] = {{"busy", busy}};
      }
      reply(res, 200, Json{{"kind", "calendar#freeBusy"}, {"timeMin", q["timeMin"]}, {"timeMax", q["timeMax"]}, {"calendars", cals_out}});
    });
  }
  // sendUpdates on insert, patch, update, delete and move: all, externalOnly or none
  // (developers.google.com/workspace/calendar/api/v3/reference/events/insert).
  bool notify(const httplib::Request& req, httplib::Response& res, const Json& attendees) {
    std::string v = req.get_param_value("sendUpdates");
    if (req.has_param("sendUpdates") && v != "all" && v != "externalOnly" && v != "none") {
      reply(res, 400, gerror(400, "invalidParameter", "Invalid value for: sendUpdates"));
      return false;
    }
    updates.push_back(v);
    if (v == "all" && attendees.is_array())
      for (auto& a : attendees) mailed.push_back(a.value("email", ""));
    return true;
  }
  bool limited(httplib::Response& res) {
    if (rate_limited <= 0) return false;
    --rate_limited;
    reply(res, 403, gerror(403, "userRateLimitExceeded", "Rate Limit Exceeded"));
    return true;
  }
  size_t count(const std::string& what) {
    std::lock_guard l(m);
    return size_t(std::count(log.begin(), log.end(), what));
  }
};

// Time for the client that moves only when told: Retry-After and breaker cool-downs without waiting.
struct FakeClock : http::Clock {
  std::mutex m;
  std::chrono::steady_clock::time_point t = std::chrono::steady_clock::now();
  std::vector<http::Ms> slept;
  std::chrono::steady_clock::time_point now() override {
    std::lock_guard l(m);
    return t;
  }
  void sleep_for(http::Ms d) override {
    std::lock_guard l(m);
    slept.push_back(d);
    t += d;
  }
  void advance(http::Ms d) {
    std::lock_guard l(m);
    t += d;
  }
};

// The server as the binary builds it, with the adapter as the calendar domain's only account.
struct Rig : ToolCalls {
  FakeGoogleCalendar g;
  AppFixture f;
  auth::TokenStore tokens{f.store, auth::Sealer(std::string(32, 'K'))};
  FakeClock clock;
  std::shared_ptr<http::Client> client;
  std::shared_ptr<GoogleCalendar> adapter;
  Client c{*f.server};
  int64_t user = 0;

  explicit Rig(std::function<void(http::Policy&)> tweak = {}) : ToolCalls(c) {
    user = f.store.user_id("local");
    g.up.sign_in(tokens, user, "google", "work");
    auto p = g.up.policy("google");
    if (tweak) tweak(p);
    client = std::make_shared<http::Client>(p, clock);
    auto oauth = std::make_shared<auth::OAuthClient>(g.up.oauth("google"), tokens, g.up.policy("google"));
    adapter = std::make_shared<GoogleCalendar>(client, std::make_shared<auth::OAuthCredentials>(oauth, "google", "work"));
    f.providers.calendar = {};
    f.providers.calendar.add("work", adapter);
    c.initialize("2025-11-25");
    REQUIRE_FALSE(call("preferences_update", {{"time_zone", "Europe/Berlin"}})["result"].value("isError", false));
  }
};

std::vector<std::string> ids_of(const Json& events) {
  std::vector<std::string> out;
  for (auto& e : events) out.push_back(e["id"]);
  return out;
}

}  // namespace

TEST_CASE("google calendar: policy, scopes and the one Google sign-in", "[gcal]") {
  auto p = google_calendar_policy();
  CHECK(p.base_url == "https://www.googleapis.com");
  CHECK(p.service == "google");
  CHECK(p.rate_per_second * 60 <= 600);  // Calendar's per-user quota: 600 requests a minute
  CHECK(google_calendar_scopes(true) == std::vector<std::string>{"https://www.googleapis.com/auth/calendar.readonly"});
  CHECK(google_calendar_scopes(false) == std::vector<std::string>{"https://www.googleapis.com/auth/calendar.events",
                                                                  "https://www.googleapis.com/auth/calendar.readonly"});
  auto scopes = google_calendar_scopes(false);
  scopes.push_back("https://www.googleapis.com/auth/gmail.modify");
  scopes.push_back("https://www.googleapis.com/auth/calendar.readonly");  // another service asked for it too
  auto o = google_oauth(scopes);
  CHECK(o.service == "google");
  CHECK(o.authorize_url == "https://accounts.google.com/o/oauth2/v2/auth");
  CHECK(o.token_url == "https://oauth2.googleapis.com/token");
  CHECK(o.scopes.size() == 3);
  CHECK_THAT(auth::authorization_url(o, "http://127.0.0.1:1/callback", "st", auth::Pkce::make()),
             Catch::Contains("calendar.events") && Catch::Contains("access_type=offline"));
}

TEST_CASE("google calendar: the calendar scenario through the tools", "[gcal]") {
  Rig r;
  SECTION("calendars: the primary first, Google's ids") {
    auto cals = r.ok("calendar_list_calendars", Json::object())["calendars"];
    REQUIRE(cals.size() == 3);
    CHECK(cals[0]["id"] == "ada@example.com");
    CHECK(cals[0]["primary"] == true);
    CHECK(cals[0]["time_zone"] == "Europe/Berlin");
    CHECK(cals[2]["name"] == "Team");
  }

  SECTION("a created event is in the listing and missing from free time") {
    Json created = r.ok("calendar_create_event", {{"summary", "Budget review"}, {"start", "2026-12-01T10:00:00"}, {"duration_minutes", 60},
                                                  {"location", "Room 4"}, {"attendees", {"ravi@example.com"}}, {"reminder_minutes", {15}}});
    auto ev = created["event"];
    CHECK(ev["start"] == "2026-12-01T10:00:00+01:00");
    CHECK(ev["end"] == "2026-12-01T11:00:00+01:00");
    CHECK(ev["calendar_id"] == "ada@example.com");
    CHECK(ev["reminder_minutes"] == Json::array({15}));
    // What Google holds: dateTime with the offset and the zone, attendees, popup reminder.
    {
      std::lock_guard l(r.g.m);
      auto& stored = r.g.events.at(ev["id"].get<std::string>());
      CHECK(stored["start"] == Json{{"dateTime", "2026-12-01T10:00:00+01:00"}, {"timeZone", "Europe/Berlin"}});
      CHECK(stored["attendees"][0]["email"] == "ravi@example.com");
      CHECK(stored["reminders"] == Json{{"useDefault", false}, {"overrides", {{{"method", "popup"}, {"minutes", 15}}}}});
    }
    auto listed = r.ok("calendar_list_events", {{"start", "2026-12-01"}, {"end", "2026-12-02"}})["events"];
    CHECK(ids_of(listed) == std::vector<std::string>{ev["id"].get<std::string>()});
    CHECK(listed[0]["attendees"][0]["email"] == "ravi@example.com");
    CHECK(ids_of(r.ok("calendar_list_events", {{"start", "2026-12-01"}, {"end", "2026-12-02"}, {"query", "BUDGET"}})["events"]).size() == 1);
    CHECK(r.ok("calendar_list_events", {{"start", "2026-12-01"}, {"end", "2026-12-02"}, {"query", "dentist"}})["events"].empty());
    CHECK(r.ok("calendar_get_event", {{"event_id", ev["id"]}})["event"]["location"] == "Room 4");

    auto free = r.ok("calendar_find_free_time", {{"start", "2026-12-01"}, {"end", "2026-12-02"}, {"duration_minutes", 30}})["free"];
    REQUIRE(free.size() == 2);  // working hours 09:00-17:00 around the meeting
    CHECK(free[0]["end"] == "2026-12-01T10:00:00+01:00");
    CHECK(free[1]["start"] == "2026-12-01T11:00:00+01:00");
    CHECK(r.g.count("POST freeBusy") == 1);

    // All-day events are dates, transparent, so free time.
    auto day = r.ok("calendar_create_event", {{"summary", "Holiday"}, {"start", "2026-12-24"}, {"end", "2026-12-27"}})["event"];
    CHECK(day["all_day"] == true);
    CHECK(day["end"] == "2026-12-27");
    {
      std::lock_guard l(r.g.m);
      CHECK(r.g.events.at(day["id"].get<std::string>())["start"]["date"] == "2026-12-24");
      CHECK(r.g.events.at(day["id"].get<std::string>())["transparency"] == "transparent");
    }
    CHECK(r.ok("calendar_find_free_time", {{"start", "2026-12-24T00:00:00"}, {"end", "2026-12-25T00:00:00"}, {"within_working_hours", false}})["free"].size() == 1);
    // On the other calendar, and deleted again.
    auto team = r.ok("calendar_create_event", {{"summary", "Retro"}, {"start", "2026-12-01T15:00:00"}, {"calendar_id", "team-42@group.calendar.google.com"}})["event"];
    CHECK(team["calendar_id"] == "team-42@group.calendar.google.com");
    CHECK(r.ok("calendar_list_events", {{"start", "2026-12-01"}, {"end", "2026-12-02"}})["events"].size() == 2);
    r.ok("calendar_delete_event", {{"event_id", team["id"]}});
    CHECK(r.ok("calendar_list_events", {{"start", "2026-12-01"}, {"end", "2026-12-02"}})["events"].size() == 1);
    // Google answers 410 "deleted" for it now: still "no such event", naming the argument.
    CHECK_THAT(r.error("calendar_delete_event", {{"event_id", team["id"]}}), Catch::StartsWith("event_id:") && Catch::Contains("no event"));
    // A second adapter (a fresh process: no cache) still finds it on the primary calendar.
    GoogleCalendar fresh(r.client, std::make_shared<auth::OAuthCredentials>(
                                       std::make_shared<auth::OAuthClient>(r.g.up.oauth("google"), r.tokens, r.g.up.policy("google")), "google", "work"));
    CHECK(fresh.event(r.user, ev["id"]).summary == "Budget review");
  }

  SECTION("a weekly series: one occurrence changes, one is deleted, this and following splits") {
    auto series = r.ok("calendar_create_event", {{"summary", "Team stand-up"}, {"start", "2026-11-02T09:30:00"}, {"duration_minutes", 15},
                                                 {"recurrence", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=8"}})["event"];
    CHECK(series["recurrence"] == "FREQ=WEEKLY;BYDAY=MO;COUNT=8");
    Json window{{"start", "2026-11-01"}, {"end", "2027-01-31"}, {"max_results", 100}};
    auto before = r.ok("calendar_list_events", window)["events"];
    REQUIRE(before.size() == 8);
    std::string sid = series["id"];
    for (auto& e : before) CHECK(e["series_id"] == sid);
    // Google's instance ids are ours: "<series>_<UTC start>".
    CHECK(before[2]["id"] == sid + "_20261116T083000Z");
    CHECK(before[2]["start"] == "2026-11-16T09:30:00+01:00");
    CHECK(r.ok("calendar_get_event", {{"event_id", sid}})["event"]["recurrence"] == "FREQ=WEEKLY;BYDAY=MO;COUNT=8");

    auto moved = r.ok("calendar_update_event", {{"event_id", before[2]["id"]}, {"scope", "this"}, {"summary", "Team stand-up (moved)"},
                                                {"start", "2026-11-16T11:00:00"}})["event"];
    CHECK(moved["id"] == before[2]["id"]);
    CHECK(moved["series_id"] == sid);
    CHECK(moved["start"] == "2026-11-16T11:00:00+01:00");
    CHECK(moved["end"] == "2026-11-16T11:15:00+01:00");
    auto after = r.ok("calendar_list_events", window)["events"];
    REQUIRE(after.size() == 8);
    int changed = 0;
    for (auto& e : after) {
      if (e["id"] == moved["id"]) {
        ++changed;
        CHECK(e["summary"] == "Team stand-up (moved)");
      } else {
        CHECK(e["summary"] == "Team stand-up");
        CHECK(std::string(e["start"]).substr(11, 5) == "09:30");
      }
    }
    CHECK(changed == 1);

    r.ok("calendar_delete_event", {{"event_id", before[3]["id"]}, {"scope", "this"}});
    auto gap = r.ok("calendar_list_events", window)["events"];
    CHECK(gap.size() == 7);
    for (auto& e : gap) CHECK(e["id"] != before[3]["id"]);
    CHECK_THAT(r.error("calendar_get_event", {{"event_id", before[3]["id"]}}), Catch::StartsWith("event_id:"));

    // This and following from the 6th: the series ends before it, a new one takes the rest.
    auto tail = r.ok("calendar_update_event", {{"event_id", before[5]["id"]}, {"scope", "following"}, {"location", "Room 2"}})["event"];
    CHECK(tail["id"] != sid);
    CHECK(tail["recurrence"] == "FREQ=WEEKLY;BYDAY=MO;COUNT=3");
    CHECK(r.g.count("GET instances") == 1);
    auto split = r.ok("calendar_list_events", window)["events"];
    REQUIRE(split.size() == 7);
    for (size_t i = 0; i < split.size(); ++i) {
      INFO(split[i].dump());
      CHECK(split[i].value("location", "") == (i >= 4 ? "Room 2" : ""));
    }
    CHECK_THAT(std::string(r.ok("calendar_get_event", {{"event_id", sid}})["event"]["recurrence"]), Catch::Contains("UNTIL=20261207T082959Z"));

    // All: one occurrence moved by an hour moves every one of the (new) series.
    auto first_tail = split[4]["id"];
    r.ok("calendar_update_event", {{"event_id", first_tail}, {"scope", "all"}, {"start", "2026-12-07T10:30:00"}});
    auto all = r.ok("calendar_list_events", window)["events"];
    for (size_t i = 4; i < all.size(); ++i) CHECK(std::string(all[i]["start"]).substr(11, 5) == "10:30");

    // Deleting this and following ends the first series before that occurrence.
    r.ok("calendar_delete_event", {{"event_id", split[1]["id"]}, {"scope", "following"}});
    CHECK(r.ok("calendar_list_events", window)["events"].size() == 4);  // 1 of the first series, 3 of the tail
  }

  SECTION("pages across two calendars: every event once, in order") {
    for (int i = 0; i < 5; ++i) {
      r.ok("calendar_create_event", {{"summary", "Primary " + std::to_string(i)}, {"start", "2026-12-0" + std::to_string(i + 1) + "T10:00:00"}});
      r.ok("calendar_create_event", {{"summary", "Team " + std::to_string(i)}, {"start", "2026-12-0" + std::to_string(i + 1) + "T12:00:00"},
                                     {"calendar_id", "team-42@group.calendar.google.com"}});
    }
    Json q{{"start", "2026-12-01"}, {"end", "2026-12-08"}, {"max_results", 3}};
    std::vector<std::string> seen;
    std::string last_start;
    for (int page = 0; page < 10; ++page) {
      auto got = r.ok("calendar_list_events", q);
      for (auto& e : got["events"]) {
        CHECK(std::string(e["start"]) >= last_start);
        last_start = e["start"];
        seen.push_back(e["summary"]);
      }
      if (!got.contains("next_page_token")) break;
      q["page_token"] = got["next_page_token"];
    }
    CHECK(seen.size() == 10);
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 10);
    CHECK(seen[0] == "Primary 0");
    CHECK(seen[1] == "Team 0");
    CHECK(std::string(q["page_token"]).size() <= 20);  // what the tool's schema takes
    CHECK_THAT(r.error("calendar_list_events", {{"start", "2026-12-01"}, {"end", "2026-12-08"}, {"page_token", "garbage!"}}),
               Catch::StartsWith("page_token:"));
  }

  SECTION("bad input names the field") {
    CHECK_THAT(r.error("calendar_update_event", {{"event_id", "nope"}, {"summary", "y"}}), Catch::StartsWith("event_id:"));
    CHECK_THAT(r.error("calendar_delete_event", {{"event_id", "nope_20261201T100000Z"}}), Catch::StartsWith("event_id:"));
    CHECK_THAT(r.error("calendar_get_event", {{"event_id", "no-such-event"}}), Catch::StartsWith("event_id:"));
    CHECK_THAT(r.error("calendar_create_event", {{"summary", "x"}, {"start", "2026-12-01T10:00:00"}, {"calendar_id", "nope"}}),
               Catch::StartsWith("calendar_id:"));
    CHECK_THAT(r.error("calendar_create_event", {{"summary", "x"}, {"start", "2026-12-01T10:00:00"}, {"recurrence", "FREQ=OFTEN"}}),
               Catch::StartsWith("recurrence:"));
    CHECK_THAT(r.error("calendar_list_events", {{"start", "2026-12-01"}, {"end", "2026-12-02"}, {"calendars", {"nope"}}}),
               Catch::StartsWith("calendars:"));
    CHECK_THAT(r.error("calendar_find_free_time", {{"start", "2026-12-01"}, {"end", "2026-12-02"}, {"calendars", {"nope"}}}),
               Catch::StartsWith("calendars:"));
    // Writing where the account may only read: Google's own words.
    CHECK_THAT(r.error("calendar_create_event", {{"summary", "x"}, {"start", "2026-12-01T10:00:00"}, {"calendar_id", "holidays#de@group.v.calendar.google.com"}}),
               Catch::StartsWith("calendar_id:") && Catch::Contains("writer access"));
    std::lock_guard l(r.g.m);
    CHECK(r.g.events.empty());
  }
}

TEST_CASE("google calendar: Google's error bodies as tool errors", "[gcal]") {
  http::Request req{.method = "GET", .path = "/calendar/v3/calendars/primary/events/x"};
  auto resp = [](long status, const std::string& reason, const std::string& message) {
    http::Response r;
    r.status = status;
    r.body = gerror(int(status), reason, message).dump();
    return r;
  };
  CHECK_THROWS_AS(google_decode(resp(404, "notFound", "Not Found"), req), NotFound);
  CHECK_THROWS_AS(google_decode(resp(410, "deleted", "Resource has been deleted"), req), NotFound);
  CHECK_THROWS_AS(google_decode(resp(412, "conditionNotMet", "Precondition Failed"), req), Conflict);
  CHECK_THROWS_AS(google_decode(resp(403, "rateLimitExceeded", "Rate Limit Exceeded"), req), http::Unavailable);
  CHECK_THROWS_WITH(google_decode(resp(403, "userRateLimitExceeded", "Rate Limit Exceeded"), req), Catch::Contains("rate limit"));
  CHECK_THROWS_WITH(google_decode(resp(400, "invalid", "Invalid recurrence rule."), req), Catch::Contains("Invalid recurrence rule."));
  CHECK_NOTHROW(google_decode(resp(403, "forbidden", "Forbidden"), req));  // the generic "permission" wording follows
  http::Response junk;
  junk.status = 502;
  junk.body = "<html>Bad Gateway</html>";
  CHECK_NOTHROW(google_decode(junk, req));
}

TEST_CASE("google calendar: faults", "[gcal]") {
  SECTION("429 with Retry-After, then success: the wait is Google's") {
    Rig r;
    r.g.up.inject({Fault::Status429, 2});
    CHECK(r.ok("calendar_list_calendars", Json::object())["calendars"].size() == 3);
    CHECK(std::find(r.clock.slept.begin(), r.clock.slept.end(), http::Ms(2000)) != r.clock.slept.end());
  }
  SECTION("403 userRateLimitExceeded is a rate limit, not a permission") {
    Rig r;
    r.g.rate_limited = 1;
    auto text = r.error("calendar_list_calendars", Json::object());
    CHECK_THAT(text, Catch::Contains("rate limit") && !Catch::Contains("sign in"));
    CHECK(r.ok("calendar_list_calendars", Json::object())["calendars"].size() == 3);
  }
  SECTION("500 then success on a read") {
    Rig r;
    r.g.up.inject({Fault::Status500});
    CHECK(r.ok("calendar_list_calendars", Json::object())["calendars"].size() == 3);
    CHECK(r.g.up.api_calls == 2);
  }
  SECTION("a stall past the timeout: the service did not answer") {
    Rig r([](http::Policy& p) { p.max_attempts = 2; });
    r.g.up.inject({Fault::Stall});
    r.g.up.inject({Fault::Stall});
    CHECK_THAT(r.error("calendar_list_calendars", Json::object()), Catch::Contains("did not answer"));
  }
  SECTION("malformed JSON: a clear error") {
    Rig r;
    r.g.up.inject({Fault::Malformed});
    CHECK_THAT(r.error("calendar_list_calendars", Json::object()), Catch::Contains("not JSON"));
  }
  SECTION("an expired access token: exactly one refresh, then success") {
    Rig r;
    r.g.up.inject({Fault::Expired});
    CHECK(r.ok("calendar_list_calendars", Json::object())["calendars"].size() == 3);
    CHECK(r.g.up.refreshes == 1);
    CHECK(r.ok("calendar_list_events", {{"start", "2026-12-01"}, {"end", "2026-12-02"}})["events"].empty());
    CHECK(r.g.up.refreshes == 1);
  }
  SECTION("a revoked grant: sign in again, with the command") {
    Rig r;
    r.g.up.revoked = true;
    r.g.up.inject({Fault::Expired});
    auto text = r.error("calendar_list_calendars", Json::object());
    CHECK_THAT(text, Catch::StartsWith("account:") && Catch::Contains("concierge auth login google --account work"));
  }
  SECTION("the breaker opens after repeated failures and recovers after the cool-down") {
    Rig r([](http::Policy& p) {
      p.max_attempts = 1;
      p.breaker_threshold = 3;
      p.breaker_cooldown = 30s;
    });
    for (int i = 0; i < 3; ++i) r.g.up.inject({Fault::Status500});
    for (int i = 0; i < 3; ++i) CHECK_THAT(r.error("calendar_list_calendars", Json::object()), Catch::Contains("500"));
    CHECK(r.client->breaker() == http::BreakerState::Open);
    int calls = r.g.up.api_calls;
    CHECK_THAT(r.error("calendar_list_calendars", Json::object()), Catch::Contains("stops calling"));
    CHECK(r.g.up.api_calls == calls);  // refused without calling
    r.clock.advance(31s);
    CHECK(r.ok("calendar_list_calendars", Json::object())["calendars"].size() == 3);
    CHECK(r.client->breaker() == http::BreakerState::Closed);
  }
}

TEST_CASE("google calendar: tokens reach neither logs, history nor tool errors", "[gcal]") {
  Rig r;
  std::string errors;
  r.ok("calendar_create_event", {{"summary", "Secret check"}, {"start", "2026-12-01T10:00:00"}});
  r.g.up.inject({Fault::Expired});  // a refresh: a second access token and refresh token
  r.ok("calendar_list_events", {{"start", "2026-12-01"}, {"end", "2026-12-02"}});
  errors += r.error("calendar_get_event", {{"event_id", "nope"}});
  r.g.up.inject({Fault::Malformed});
  errors += r.error("calendar_list_calendars", Json::object());
  r.g.up.revoked = true;
  r.g.up.inject({Fault::Expired});
  errors += r.error("calendar_list_calendars", Json::object());
  REQUIRE(r.g.up.seen_tokens.size() >= 4);

  store::History::Query q;
  q.user = "local";
  q.limit = 500;
  std::string rows;
  for (int i = 0; i < 500; ++i) {
    rows = r.f.history.query(q).rows.dump();
    if (r.f.history.count("local") >= 6) break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK_THAT(rows, Catch::Contains("calendar_create_event"));
  std::string logs;
  for (auto& l : captured_logs()) logs += l + "\n";
  for (auto& t : r.g.up.seen_tokens) {
    INFO(t);
    CHECK(rows.find(t) == std::string::npos);
    CHECK(logs.find(t) == std::string::npos);
    CHECK(errors.find(t) == std::string::npos);
  }
}

TEST_CASE("google calendar: attendees hear of what changes (sendUpdates), unless notify_attendees is false", "[gcal][notify]") {
  Rig r;
  auto last = [&] {
    std::lock_guard l(r.g.m);
    return r.g.updates.empty() ? std::string("(no write)") : r.g.updates.back();
  };
  auto mailed = [&] {
    std::lock_guard l(r.g.m);
    auto out = r.g.mailed;
    r.g.mailed.clear();
    return out;
  };
  // Created with attendees: invited.
  Json ev = r.ok("calendar_create_event", {{"summary", "Design review"}, {"start", "2026-12-03T10:00:00"}, {"duration_minutes", 30},
                                           {"attendees", {"ravi@example.com", "mei@example.com"}}})["event"];
  std::string id = ev["id"];
  CHECK(last() == "all");
  CHECK(mailed() == std::vector<std::string>{"ravi@example.com", "mei@example.com"});
  // Moved: told; one more attendee added without telling anyone.
  r.ok("calendar_update_event", {{"event_id", id}, {"start", "2026-12-03T11:00:00"}});
  CHECK(last() == "all");
  CHECK(mailed().size() == 2);
  r.ok("calendar_update_event", {{"event_id", id}, {"attendees", {"ravi@example.com", "mei@example.com", "jo@example.com"}},
                                 {"notify_attendees", false}});
  CHECK(last() == "none");
  CHECK(mailed().empty());
  // Cancelled: told.
  r.ok("calendar_delete_event", {{"event_id", id}});
  CHECK(last() == "all");
  CHECK(mailed().size() == 3);
  // Without attendees there is nobody to tell; asked to stay quiet, it is quiet.
  Json solo = r.ok("calendar_create_event", {{"summary", "Focus"}, {"start", "2026-12-04T10:00:00"}, {"duration_minutes", 30}})["event"];
  CHECK(last() == "none");
  Json quiet = r.ok("calendar_create_event", {{"summary", "Dry run"}, {"start", "2026-12-05T10:00:00"}, {"duration_minutes", 30},
                                              {"attendees", {"ravi@example.com"}}, {"notify_attendees", false}})["event"];
  CHECK(last() == "none");
  r.ok("calendar_delete_event", {{"event_id", quiet["id"]}, {"notify_attendees", false}});
  CHECK(last() == "none");
  CHECK(mailed().empty());
  // Asked to tell them even for an event without attendees: harmless, and what was asked.
  r.ok("calendar_update_event", {{"event_id", solo["id"]}, {"summary", "Focus time"}, {"notify_attendees", true}});
  CHECK(last() == "all");
  CHECK_THAT(r.error("calendar_delete_event", {{"event_id", solo["id"]}, {"notify_attendees", "yes"}}), Catch::Contains("notify_attendees"));
}

TEST_CASE("google calendar: a token is its account's: another account's is refused", "[gcal][accounts]") {
  Rig r;
  {
    std::lock_guard l(r.g.up.m);
    r.g.up.accounts = {"work"};  // the calendars here are work's
  }
  r.ok("calendar_list_calendars", Json::object());
  CHECK(r.g.up.calls_by("work") >= 1);
  // A second account signed in on the same service: its calls carry its own token, which this
  // service (holding only work's calendars) refuses, and the error names that account.
  r.g.up.sign_in(r.tokens, r.user, "google", "home");
  auto oauth = std::make_shared<auth::OAuthClient>(r.g.up.oauth("google"), r.tokens, r.g.up.policy("google"));
  r.f.providers.calendar.add("home", std::make_shared<GoogleCalendar>(r.client, std::make_shared<auth::OAuthCredentials>(oauth, "google", "home")));
  CHECK_THAT(r.error("calendar_list_calendars", {{"account", "home"}}), Catch::Contains("--account home"));
  CHECK(r.g.up.calls_by("home") == 0);
  r.ok("calendar_list_calendars", {{"account", "work"}});
}
