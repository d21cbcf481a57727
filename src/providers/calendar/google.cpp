#include "providers/calendar/google.hpp"
#include "providers/calendar/busy.hpp"

#include <algorithm>
#include <set>

#include "providers/calendar/recurrence.hpp"
#include "providers/error.hpp"
#include "providers/ids.hpp"
#include "common/base64.hpp"
#include "common/json_parse.hpp"

namespace concierge::providers::calendar {

using http::Request;
using http::Unavailable;

http::Policy google_calendar_policy() {
  http::Policy p;
  p.service = "google";  // the name `concierge auth login google` and the token store use
  p.base_url = "https://www.googleapis.com";
  p.connect_timeout = http::Ms(5000);
  p.timeout = http::Ms(15000);
  // Calendar API usage limits (developers.google.com/workspace/calendar/api/guides/quota):
  // 600 requests per minute per user per project, 10,000 per minute per project.
  p.rate_per_second = 10;
  p.burst = 20;
  return p;
}

std::vector<std::string> google_calendar_scopes(bool read_only) {
  if (read_only) return {"https://www.googleapis.com/auth/calendar.readonly"};
  return {"https://www.googleapis.com/auth/calendar.events", "https://www.googleapis.com/auth/calendar.readonly"};
}

void google_decode(const http::Response& r, const Request&) {
  Json j = parse_json(r.body);
  std::string message, reason;
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const Json& e = j["error"];
    if (e.contains("message") && e["message"].is_string()) message = e["message"];
    if (e.contains("errors") && e["errors"].is_array() && !e["errors"].empty() && e["errors"][0].is_object())
      reason = e["errors"][0].value("reason", "");
  }
  if (message.size() > 300) message = message.substr(0, 300) + "...";
  std::string said = "Google Calendar: " + (message.empty() ? "HTTP " + std::to_string(r.status) : message) +
                     " (HTTP " + std::to_string(r.status) + (reason.empty() ? "" : " " + reason) + ")";
  // Google reports its per-user and per-project rate limits as 403 or 429 with these reasons:
  // both mean "slow down", not "you may not".
  static const std::set<std::string> rate{"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded",
                                          "usageLimits"};
  if ((r.status == 403 || r.status == 429) && rate.count(reason))
    throw Unavailable(said + "; over Google's rate limit, try again in a minute");
  if (r.status == 404 || r.status == 410) throw NotFound("", said);  // 410: "deleted"
  if (r.status == 412 || r.status == 409) throw Conflict("", said + "; it changed meanwhile, read it again");
  if (r.status == 400) throw Error("", said);
  // The account may only read (or only see free/busy of) that calendar: no sign-in cures that.
  if (r.status == 403 && reason == "requiredAccessLevel") throw Error("calendar_id", said + "; the account may not change this calendar");
  // Other statuses: ServiceApi's generic wording (403 -> a permission to sign in for, 5xx...).
}

namespace {

// A path segment: calendar ids carry '@' and '#' ("en.usa#holiday@group.v.calendar.google.com").
std::string enc(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += char(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string events_path(const std::string& cal) { return "/calendar/v3/calendars/" + enc(cal) + "/events"; }
std::string event_path(const std::string& cal, const std::string& id) { return events_path(cal) + "/" + enc(id); }

std::string utc(Millis t) { return format_time(t, date::locate_zone("UTC")); }

// Google's zone names are IANA; one tzdata doesn't know yet shows as UTC rather than failing.
const date::time_zone* zone_or_utc(const std::string& name) {
  try {
    return zone(name);
  } catch (const std::exception&) {
    return date::locate_zone("UTC");
  }
}

// {"dateTime": "2026-11-23T09:00:00+01:00", "timeZone": ...} or {"date": "2026-11-23"} (all-day).
Json time_json(Millis t, bool all_day, const std::string& tz) {
  auto z = zone(tz);
  if (all_day) return {{"date", format_date(date::floor<date::days>(to_local(t, z)))}, {"timeZone", tz}};
  return {{"dateTime", format_time(t, z)}, {"timeZone", tz}};
}

Millis time_of(const Json& t, const std::string& tz) {
  if (t.contains("dateTime")) return parse_time(t["dateTime"].get<std::string>(), zone_or_utc(tz), "dateTime");
  return to_utc(LocalMs{parse_date(t.at("date").get<std::string>(), "date")}, zone_or_utc(tz));
}

std::string rrule_of(const Json& item) {
  for (auto& line : item.value("recurrence", Json::array())) {
    std::string s = line.get<std::string>();
    if (s.rfind("RRULE:", 0) == 0) return s.substr(6);
  }
  return "";
}

// The series' recurrence lines with its RRULE replaced (EXDATE/RDATE lines kept).
Json with_rrule(const Json& item, const std::string& rrule) {
  Json out = Json::array({"RRULE:" + rrule});
  for (auto& line : item.value("recurrence", Json::array()))
    if (line.get<std::string>().rfind("RRULE:", 0) != 0) out.push_back(line);
  return out;
}

Json attendees_json(const std::vector<Attendee>& as) {
  Json out = Json::array();
  for (auto& a : as) {
    Json j{{"email", a.email}};
    if (!a.name.empty()) j["displayName"] = a.name;
    if (!a.response.empty()) j["responseStatus"] = a.response;
    out.push_back(std::move(j));
  }
  return out;
}

Json reminders_json(const std::vector<int>& minutes) {
  Json overrides = Json::array();
  for (int m : minutes) overrides.push_back({{"method", "popup"}, {"minutes", m}});
  return {{"useDefault", false}, {"overrides", overrides}};
}

// sendUpdates for a write: what the call asked, else everyone when there is anyone to tell.
std::pair<std::string, std::string> send_updates(std::optional<bool> notify, bool attendees) {
  return {"sendUpdates", notify.value_or(attendees) ? "all" : "none"};
}

template <class F>
auto naming(const std::string& field, F&& f) {
  try {
    return f();
  } catch (const NotFound& e) {
    if (!e.field.empty()) throw;
    throw NotFound(field, e.what());
  }
}

}  // namespace

GoogleCalendar::GoogleCalendar(std::shared_ptr<http::Client> client, std::shared_ptr<auth::Credentials> credentials)
    : api_(std::move(client), std::move(credentials), "Google Calendar", google_decode) {}

Json GoogleCalendar::upstream(const Call& call, Request r) {
  Json j = api_.call(call, std::move(r));
  if (!j.is_null() && !j.is_object()) throw Unavailable("Google Calendar sent a reply Concierge cannot read (not a JSON object)");
  return j;
}

std::vector<GoogleCalendar::Entry> GoogleCalendar::calendar_list(const Call& call, bool fresh) {
  if (!fresh) {
    std::lock_guard l(m_);
    if (auto it = calendars_.find(call.user); it != calendars_.end()) return it->second;
  }
  std::vector<Entry> out;
  std::string token;
  try {
    do {
      Request r{.path = "/calendar/v3/users/me/calendarList", .query = {{"maxResults", "250"}}};
      if (!token.empty()) r.query.emplace_back("pageToken", token);
      Json page = upstream(call, r);
      for (auto& c : page.value("items", Json::array())) {
        if (c.value("deleted", false)) continue;
        Entry e;
        e.calendar.id = c.at("id").get<std::string>();
        e.calendar.name = c.value("summaryOverride", c.value("summary", e.calendar.id));
        e.calendar.time_zone = c.value("timeZone", "UTC");
        e.calendar.color = c.value("backgroundColor", "");
        e.calendar.primary = c.value("primary", false);
        e.role = c.value("accessRole", "reader");
        out.push_back(std::move(e));
      }
      token = page.value("nextPageToken", "");
    } while (!token.empty());
  } catch (const Json::exception& e) {
    throw Unavailable(std::string("Google Calendar sent a calendar list Concierge cannot read (") + e.what() + ")");
  }
  std::stable_sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    if (a.calendar.primary != b.calendar.primary) return a.calendar.primary;
    return a.calendar.name < b.calendar.name;
  });
  std::lock_guard l(m_);
  calendars_[call.user] = out;
  return out;
}

std::vector<Calendar> GoogleCalendar::calendars(const Call& call) {
  std::vector<Calendar> out;
  for (auto& e : calendar_list(call, true)) out.push_back(e.calendar);
  return out;
}

std::string GoogleCalendar::primary_id(const Call& call) {
  for (auto& e : calendar_list(call))
    if (e.calendar.primary) return e.calendar.id;
  return "primary";  // Google's alias for the signed-in user's own calendar
}

std::string GoogleCalendar::calendar_zone(const Call& call, const std::string& cal) {
  for (auto& e : calendar_list(call))
    if (e.calendar.id == cal) return e.calendar.time_zone;
  return "UTC";
}

void GoogleCalendar::remember(const Call& call, const std::string& id, const std::string& cal) {
  std::lock_guard l(m_);
  if (where_.size() > 20000) where_.clear();  // a cache: losing it costs look-ups, not answers
  where_[{call.user, id}] = cal;
}

Event GoogleCalendar::to_event(const Call& call, const std::string& cal, const Json& item, const std::string& list_zone) {
  try {
    Event e;
    e.id = item.at("id").get<std::string>();
    e.series_id = item.value("recurringEventId", "");
    e.calendar_id = cal;
    e.summary = item.value("summary", "");
    e.description = item.value("description", "");
    e.location = item.value("location", "");
    const Json& start = item.at("start");
    e.time_zone = start.value("timeZone", "");
    if (e.time_zone.empty()) e.time_zone = list_zone.empty() ? calendar_zone(call, cal) : list_zone;
    e.time_zone = std::string(zone_or_utc(e.time_zone)->name());
    e.all_day = start.contains("date");
    e.start = time_of(start, e.time_zone);
    e.end = time_of(item.at("end"), e.time_zone);
    e.recurrence = rrule_of(item);
    for (auto& a : item.value("attendees", Json::array()))
      e.attendees.push_back({a.value("email", ""), a.value("displayName", ""), a.value("responseStatus", "needsAction")});
    // useDefault: the calendar's default reminders apply; we list only the event's own.
    if (item.contains("reminders") && !item["reminders"].value("useDefault", true))
      for (auto& o : item["reminders"].value("overrides", Json::array())) e.reminder_minutes.push_back(o.value("minutes", 0));
    if (item.contains("created")) e.created = parse_time(item["created"].get<std::string>(), nullptr, "created");
    if (item.contains("updated")) e.updated = parse_time(item["updated"].get<std::string>(), nullptr, "updated");
    return e;
  } catch (const Json::exception& x) {
    throw Unavailable(std::string("Google Calendar sent an event Concierge cannot read (") + x.what() + ")");
  } catch (const Error& x) {
    if (x.field == "dateTime" || x.field == "date" || x.field == "created" || x.field == "updated")
      throw Unavailable(std::string("Google Calendar sent an event time Concierge cannot read (") + x.what() + ")");
    throw;
  }
}

GoogleCalendar::Found GoogleCalendar::find(const Call& call, const std::string& id, const std::string& field) {
  if (id.empty()) throw Error(field, "must not be empty");
  // Where to look: where we saw it (or its series), the primary calendar, then the others that
  // can show event details (a free/busy-only calendar can't).
  std::vector<std::string> where;
  {
    std::lock_guard l(m_);
    auto us = id.rfind('_');
    for (auto& key : {id, us == std::string::npos ? id : id.substr(0, us)})
      if (auto it = where_.find({call.user, key}); it != where_.end()) where.push_back(it->second);
  }
  where.push_back(primary_id(call));
  for (auto& e : calendar_list(call))
    if (e.role != "freeBusyReader") where.push_back(e.calendar.id);
  std::set<std::string> tried;
  for (auto& cal : where) {
    if (!tried.insert(cal).second) continue;
    try {
      Json item = upstream(call, {.path = event_path(cal, id)});
      if (item.value("status", "") == "cancelled") continue;  // a deleted occurrence or event
      remember(call, id, cal);
      return {cal, item};
    } catch (const NotFound&) {
    }
  }
  throw NotFound(field, "no event '" + id + "'");
}

// An instance's series lives on the instance's calendar.
GoogleCalendar::Found GoogleCalendar::series_of(const Call& call, const Found& instance, const std::string& series_id) {
  Json item = naming("event_id", [&] { return upstream(call, {.path = event_path(instance.calendar, series_id)}); });
  return {instance.calendar, item};
}

Event GoogleCalendar::event(const Call& call, const std::string& id, const std::string& field) {
  auto f = find(call, id, field);
  return to_event(call, f.calendar, f.item);
}

EventPage GoogleCalendar::events(const Call& call, const EventQuery& query) {
  if (query.to <= query.from) throw Error("end", "the window must end after it starts");
  const size_t max = size_t(std::clamp(query.max_results, 1, 250));
  struct Stream {
    std::string cal, zone, page;  // page: Google's token of the page in `items` ("" for the first)
    std::vector<Event> items;
    size_t pos = 0;
    std::string next;
  };
  std::vector<Stream> streams;
  auto entries = calendar_list(call);
  auto known = [&](const std::string& id) {
    return std::any_of(entries.begin(), entries.end(), [&](const Entry& e) { return e.calendar.id == id; });
  };
  std::vector<std::pair<std::string, size_t>> skip;  // where each stream starts
  if (!query.page_token.empty()) {
    std::string state;
    {
      std::lock_guard l(m_);
      auto it = pages_.find(query.page_token);
      if (it != pages_.end() && it->second.first == call.user) state = it->second.second;
    }
    if (state.empty())
      throw Error("page_token", "not a page token from a recent listing (they last while the server runs); list again without it");
    Json t = parse_json(base64url_decode(state).value_or(""));
    if (!t.is_array()) throw Error("page_token", "not a page token from a previous listing");
    for (auto& s : t) {
      if (!s.is_array() || s.size() != 3 || !s[0].is_string() || !s[1].is_string() || !s[2].is_number_unsigned())
        throw Error("page_token", "not a page token from a previous listing");
      streams.push_back({.cal = s[0], .page = s[1]});
      skip.emplace_back(s[1], s[2].get<size_t>());
    }
  } else {
    std::vector<std::string> ids = query.calendars;
    if (ids.empty())
      for (auto& e : entries)
        if (e.role != "freeBusyReader") ids.push_back(e.calendar.id);
    for (auto& id : ids) {
      if (!known(id)) throw NotFound("calendars", "no calendar '" + id + "'; calendar_list_calendars shows the ones there are");
      streams.push_back({.cal = id});
      skip.emplace_back("", 0);
    }
  }
  // One page of one calendar's occurrences, ordered by start (Google expands the series).
  int pages = 0;  // progress, for a client that asked: one step per page read
  auto load = [&](Stream& s, std::string token, size_t offset) {
    for (;;) {
      Request r{.path = events_path(s.cal),
                .query = {{"timeMin", utc(query.from)}, {"timeMax", utc(query.to)}, {"singleEvents", "true"},
                          {"orderBy", "startTime"}, {"maxResults", std::to_string(max)}}};
      if (!query.text.empty()) r.query.emplace_back("q", query.text);
      if (!token.empty()) r.query.emplace_back("pageToken", token);
      Json page = naming("calendars", [&] { return upstream(call, r); });
      s.zone = page.value("timeZone", "");
      s.items.clear();
      for (auto& item : page.value("items", Json::array())) {
        if (item.value("status", "") == "cancelled") continue;
        s.items.push_back(to_event(call, s.cal, item, s.zone));
        remember(call, s.items.back().id, s.cal);
      }
      s.page = token;
      s.next = page.value("nextPageToken", "");
      call.report(++pages, std::nullopt, "read a page of calendar " + s.cal);
      if (offset < s.items.size() || s.next.empty()) {
        s.pos = std::min(offset, s.items.size());
        return;
      }
      offset -= s.items.size();
      token = s.next;
    }
  };
  for (size_t i = 0; i < streams.size(); ++i) load(streams[i], skip[i].first, skip[i].second);
  EventPage out;
  while (out.events.size() < max) {
    Stream* best = nullptr;
    for (auto& s : streams) {
      if (s.pos == s.items.size() && !s.next.empty()) load(s, s.next, 0);
      if (s.pos < s.items.size() && (!best || s.items[s.pos].start < best->items[best->pos].start)) best = &s;
    }
    if (!best) break;
    out.events.push_back(best->items[best->pos++]);
  }
  Json token = Json::array();
  for (auto& s : streams) {
    if (s.pos < s.items.size()) token.push_back({s.cal, s.page, s.pos});
    else if (!s.next.empty()) token.push_back({s.cal, s.next, 0});
  }
  if (!token.empty()) {
    // Google's page tokens are long and the tool takes short ones: a handle to ours (a cache;
    // the oldest go first).
    std::string handle = "p" + random_id(16);
    std::lock_guard l(m_);
    // Where each calendar's listing goes on (Google's page token and how many of that page were
    // already shown), base64url of JSON so it stays one opaque string.
    pages_[handle] = {call.user, base64url_encode(token.dump())};
    page_order_.push_back(handle);
    while (page_order_.size() > 2000) {
      pages_.erase(page_order_.front());
      page_order_.pop_front();
    }
    out.next_page_token = handle;
  }
  return out;
}

Event GoogleCalendar::create(const Call& call, const NewEvent& e) {
  zone(e.time_zone);
  if (e.end <= e.start) throw Error("end", "must be after start");
  std::string rrule = e.recurrence.empty() ? "" : normalize_rrule(e.recurrence);
  std::string cal = e.calendar_id.empty() ? primary_id(call) : e.calendar_id;
  if (!e.calendar_id.empty()) {
    auto entries = calendar_list(call);
    if (std::none_of(entries.begin(), entries.end(), [&](const Entry& x) { return x.calendar.id == cal; }))
      throw NotFound("calendar_id", "no calendar '" + cal + "'; calendar_list_calendars shows the ones there are");
  }
  Json body{{"summary", e.summary}, {"start", time_json(e.start, e.all_day, e.time_zone)}, {"end", time_json(e.end, e.all_day, e.time_zone)}};
  if (!e.description.empty()) body["description"] = e.description;
  if (!e.location.empty()) body["location"] = e.location;
  if (!rrule.empty()) body["recurrence"] = Json::array({"RRULE:" + rrule});
  if (!e.attendees.empty()) body["attendees"] = attendees_json(e.attendees);
  if (!e.reminder_minutes.empty()) body["reminders"] = reminders_json(e.reminder_minutes);
  // All-day events are free time (as Google's own UI creates them, and as the local provider
  // counts them); the API's default would be opaque.
  if (e.all_day) body["transparency"] = "transparent";
  Json item = naming("calendar_id", [&] {
    return upstream(call, {.method = "POST", .path = events_path(cal), .query = {send_updates(e.notify_attendees, !e.attendees.empty())}, .json = body});
  });
  Event out = to_event(call, cal, item);
  remember(call, out.id, cal);
  return out;
}

namespace {
// The PATCH body for `patch` on `cur`; start and end go together (with their zone) when either
// or the zone changes.
Json patch_body(const Event& cur, const EventPatch& p, bool allow_recurrence) {
  Json b = Json::object();
  if (p.summary) b["summary"] = *p.summary;
  if (p.description) b["description"] = *p.description;
  if (p.location) b["location"] = *p.location;
  if (p.start || p.end || p.time_zone) {
    std::string tz = p.time_zone.value_or(cur.time_zone);
    zone(tz);
    Millis s = p.start.value_or(cur.start);
    Millis e = p.end ? *p.end : s + (cur.end - cur.start);
    if (e <= s) throw Error("end", "must be after start");
    b["start"] = time_json(s, cur.all_day, tz);
    b["end"] = time_json(e, cur.all_day, tz);
  }
  if (p.attendees) b["attendees"] = attendees_json(*p.attendees);
  if (p.reminder_minutes) b["reminders"] = reminders_json(*p.reminder_minutes);
  if (p.recurrence && allow_recurrence)
    b["recurrence"] = p.recurrence->empty() ? Json::array() : Json::array({"RRULE:" + normalize_rrule(*p.recurrence)});
  return b;
}
}  // namespace

Event GoogleCalendar::update(const Call& call, const std::string& id, const EventPatch& patch, Scope scope) {
  auto f = find(call, id, "event_id");
  Event cur = to_event(call, f.calendar, f.item);
  const auto notify = send_updates(patch.notify_attendees, !cur.attendees.empty() || (patch.attendees && !patch.attendees->empty()));
  auto patch_item = [&](const std::string& target, const Json& body) {
    Json item = naming("event_id", [&] {
      return upstream(call, {.method = "PATCH", .path = event_path(f.calendar, target), .query = {notify}, .json = body});
    });
    return to_event(call, f.calendar, item);
  };
  // A single event, a series by its own id, or just this occurrence (Google keeps the changed
  // instance as an exception of the series, under the same id).
  if (cur.series_id.empty() || scope == Scope::This) return patch_item(id, patch_body(cur, patch, cur.series_id.empty()));

  auto s = series_of(call, f, cur.series_id);
  Event series = to_event(call, s.calendar, s.item);
  Millis occ = time_of(f.item.value("originalStartTime", f.item.at("start")), cur.time_zone);
  Millis length = series.end - series.start;
  if (scope == Scope::All || occ <= series.start) {
    // The whole series: every occurrence moves as far as this one does.
    EventPatch whole = patch;
    Millis delta = patch.start ? *patch.start - occ : 0;
    Millis new_length = patch.end ? *patch.end - (patch.start ? *patch.start : occ) : length;
    if (patch.start || patch.end) {
      whole.start = series.start + delta;
      whole.end = *whole.start + new_length;
    }
    return patch_item(series.id, patch_body(series, whole, true));
  }
  // This and following: the series ends before this occurrence; a new one starts here.
  const std::string rrule = series.recurrence;
  int before = 0;
  if (rrule.find("COUNT=") != std::string::npos) {
    // COUNT counts every occurrence, removed ones too: Google's own instances (showDeleted) say how many came before.
    std::string token;
    do {
      Request r{.path = event_path(s.calendar, series.id) + "/instances",
                .query = {{"timeMin", utc(series.start)}, {"timeMax", utc(occ)}, {"showDeleted", "true"}, {"maxResults", "2500"}}};
      if (!token.empty()) r.query.emplace_back("pageToken", token);
      Json page = upstream(call, r);
      before += int(page.value("items", Json::array()).size());
      token = page.value("nextPageToken", "");
    } while (!token.empty());
  }
  std::string old_rule = rule_until(rrule, occ);
  if (series.all_day) {  // UNTIL is a date when the series starts on a date (RFC 5545)
    auto day = date::floor<date::days>(to_local(occ, zone(series.time_zone))) - date::days(1);
    std::string d = format_date(day);
    d.erase(std::remove(d.begin(), d.end(), '-'), d.end());
    old_rule = old_rule.substr(0, old_rule.rfind("UNTIL=")) + "UNTIL=" + d;
  }
  Json next = Json::object();
  for (const char* k : {"summary", "description", "location", "attendees", "reminders", "transparency", "visibility", "colorId"})
    if (s.item.contains(k)) next[k] = s.item[k];
  EventPatch tail = patch;
  if (!tail.start) tail.start = occ;
  if (!tail.end) tail.end = *tail.start + length;
  if (!tail.recurrence) tail.recurrence = rule_after(rrule, before);
  Event from_here = series;
  from_here.start = occ;
  from_here.end = occ + length;
  next.update(patch_body(from_here, tail, true));
  // The new part first: should the second call fail, occurrences show twice rather than vanish.
  Json item = upstream(call, {.method = "POST", .path = events_path(s.calendar), .query = {notify}, .json = next});
  naming("event_id", [&] {
    return upstream(call, {.method = "PATCH", .path = event_path(s.calendar, series.id), .query = {notify},
                       .json = Json{{"recurrence", with_rrule(s.item, old_rule)}}});
  });
  Event out = to_event(call, s.calendar, item);
  remember(call, out.id, s.calendar);
  return out;
}

void GoogleCalendar::remove(const Call& call, const std::string& id, Scope scope) { remove(call, id, scope, std::nullopt); }

void GoogleCalendar::remove(const Call& call, const std::string& id, Scope scope, std::optional<bool> notify_attendees) {
  auto f = find(call, id, "event_id");
  Event cur = to_event(call, f.calendar, f.item);
  const auto notify = send_updates(notify_attendees, !cur.attendees.empty());
  auto del = [&](const std::string& target) {
    naming("event_id", [&] { return upstream(call, {.method = "DELETE", .path = event_path(f.calendar, target), .query = {notify}}); });
    std::lock_guard l(m_);
    where_.erase({call.user, target});
  };
  // Deleting an instance cancels just that occurrence; deleting a series, all of it.
  if (cur.series_id.empty() || scope == Scope::This) return del(id);
  auto s = series_of(call, f, cur.series_id);
  Millis occ = time_of(f.item.value("originalStartTime", f.item.at("start")), cur.time_zone);
  Event series = to_event(call, s.calendar, s.item);
  if (scope == Scope::All || occ <= series.start) return del(series.id);
  std::string rule = rule_until(series.recurrence, occ);
  if (series.all_day) {
    auto day = date::floor<date::days>(to_local(occ, zone(series.time_zone))) - date::days(1);
    std::string d = format_date(day);
    d.erase(std::remove(d.begin(), d.end(), '-'), d.end());
    rule = rule.substr(0, rule.rfind("UNTIL=")) + "UNTIL=" + d;
  }
  naming("event_id", [&] {
    return upstream(call, {.method = "PATCH", .path = event_path(s.calendar, series.id), .query = {notify},
                       .json = Json{{"recurrence", with_rrule(s.item, rule)}}});
  });
}

std::vector<Interval> GoogleCalendar::busy(const Call& call, const std::vector<std::string>& cals, Millis from, Millis to) {
  if (to <= from) throw Error("end", "must be after start");
  std::vector<std::string> ids = cals;
  if (ids.empty())
    for (auto& e : calendar_list(call)) ids.push_back(e.calendar.id);
  std::vector<Interval> spans;
  // freeBusy takes at most 50 calendars a request (calendarExpansionMax).
  for (size_t at = 0; at < ids.size(); at += 50) {
    Json items = Json::array();
    for (size_t i = at; i < std::min(ids.size(), at + 50); ++i) items.push_back({{"id", ids[i]}});
    Json r = upstream(call, {.method = "POST", .path = "/calendar/v3/freeBusy",
                         .json = Json{{"timeMin", utc(from)}, {"timeMax", utc(to)}, {"items", items}}});
    try {
      const Json& got = r.at("calendars");
      for (size_t i = at; i < std::min(ids.size(), at + 50); ++i) {
        auto it = got.find(ids[i]);
        if (it == got.end()) throw NotFound("calendars", "no calendar '" + ids[i] + "'");
        for (auto& err : it->value("errors", Json::array())) {
          std::string reason = err.value("reason", "");
          if (reason == "notFound")
            throw NotFound("calendars", "no calendar '" + ids[i] + "'; calendar_list_calendars shows the ones there are");
          throw Unavailable("Google Calendar could not say when '" + ids[i] + "' is busy (" + reason + ")");
        }
        for (auto& b : it->value("busy", Json::array())) {
          Millis s = parse_time(b.at("start").get<std::string>(), nullptr, "start");
          Millis e = parse_time(b.at("end").get<std::string>(), nullptr, "end");
          s = std::max(s, from);
          e = std::min(e, to);
          if (s < e) spans.push_back({s, e});
        }
      }
    } catch (const Json::exception& x) {
      throw Unavailable(std::string("Google Calendar sent free/busy times Concierge cannot read (") + x.what() + ")");
    }
  }
  return merge_busy(std::move(spans));
}

}  // namespace concierge::providers::calendar
