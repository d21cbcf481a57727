#include "providers/booking/calcom.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "providers/error.hpp"

namespace concierge::providers::booking {

namespace {

const char* kName = "Cal.com";

http::Policy policy_defaults() {
  http::Policy p;
  p.service = "calcom";  // also the `concierge auth login calcom` service id
  p.base_url = kCalcomApi;
  // Cal.com: 120 requests per 60 s per API key, a fixed window (X-RateLimit-*-Default headers).
  // A burst of 10 and 1.8/s refill spend at most 10 + 108 = 118 in any minute.
  p.rate_per_second = 1.8;
  p.burst = 10;
  // No response cache: the client's cache key has no credentials in it, and bookings change.
  p.cache_ttl = http::Ms{0};
  return p;
}

std::string text(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
int64_t integer(const Json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

[[noreturn]] void unexpected(const std::string& what, const std::string& version) {
  // The usual cause is a cal-api-version Cal.com does not serve any more (or a wrong one): it
  // then answers from an older controller, in another shape.
  throw http::Unavailable(std::string(kName) + " answered " + what + " in an unexpected shape (sent cal-api-version " + version +
                          "); the adapter's API versions may need updating");
}

Millis instant(const Json& j, const char* key, const std::string& version) {
  std::string t = text(j, key);
  try {
    return parse_time(t, nullptr, key);
  } catch (const Error&) {
    unexpected(std::string("a time '") + key + "' of '" + t + "'", version);
  }
}

std::string iso_utc(Millis t) {
  using namespace std::chrono;
  return date::format("%FT%TZ", date::floor<seconds>(date::sys_time<milliseconds>(milliseconds(t))));
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}
// Booking uids go into paths: only what Cal.com issues (letters, digits, - and _).
bool uid_like(const std::string& s) {
  return !s.empty() && s.size() <= 100 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
}

std::string location_of(const Json& t) {
  auto it = t.find("locations");
  if (it == t.end() || !it->is_array() || it->empty()) return "";
  const Json& l = it->front();
  for (const char* k : {"address", "link", "phone", "integration"})
    if (auto v = text(l, k); !v.empty()) return v;
  return text(l, "type");
}

EventType to_type(const Json& t, const std::string& version) {
  if (!t.is_object() || text(t, "slug").empty() || integer(t, "id") == 0) unexpected("an event type", version);
  EventType e;
  e.id = text(t, "slug");
  e.title = text(t, "title");
  e.description = text(t, "description");
  e.location = location_of(t);
  e.length_minutes = static_cast<int>(integer(t, "lengthInMinutes"));
  e.buffer_before_minutes = static_cast<int>(integer(t, "beforeEventBuffer"));
  e.buffer_after_minutes = static_cast<int>(integer(t, "afterEventBuffer"));
  e.minimum_notice_minutes = static_cast<int>(integer(t, "minimumBookingNotice"));
  e.slot_interval_minutes = static_cast<int>(integer(t, "slotInterval"));  // null: the length
  return e;
}

Booking to_booking(const Json& d, const std::string& version) {
  if (!d.is_object() || text(d, "uid").empty()) unexpected("a booking", version);
  Booking b;
  b.id = text(d, "uid");
  const Json& et = d.contains("eventType") ? d["eventType"] : Json();
  b.event_type_id = text(et, "slug");
  if (b.event_type_id.empty()) {
    int64_t id = integer(et, "id") ? integer(et, "id") : integer(d, "eventTypeId");
    if (id) b.event_type_id = std::to_string(id);
  }
  b.title = text(d, "title");
  b.start = instant(d, "start", version);
  b.end = instant(d, "end", version);
  if (auto it = d.find("attendees"); it != d.end() && it->is_array() && !it->empty())
    b.attendee = {text(it->front(), "name"), text(it->front(), "email"), text(it->front(), "timeZone")};
  b.notes = text(d.value("bookingFieldsResponses", Json::object()), "notes");
  b.status = text(d, "status");
  b.cancel_reason = text(d, "cancellationReason");
  if (!text(d, "createdAt").empty()) b.created = instant(d, "createdAt", version);
  if (!text(d, "updatedAt").empty()) b.updated = instant(d, "updatedAt", version);
  return b;
}

// Cal.com v2 errors: {"status": "error", "error": {"code": "BadRequestException", "message": ...}}.
// A slot someone else took answers 400 "User either already has booking at this time or is not
// available" (no_available_users_found_error on some paths), sometimes 409.
bool slot_taken(long status, const std::string& message) {
  auto has = [&](const char* s) { return message.find(s) != std::string::npos; };
  return status == 409 || has("already has booking") || has("no_available_users_found") || has("is not available");
}

void decode(const http::Response& r, const http::Request& req) {
  if (r.status == 401 || r.status == 403 || r.status == 429 || r.status >= 500) return;  // ServiceApi says these
  std::string said = http::error_message(r);
  if (said.size() > 300) said = said.substr(0, 300) + "...";
  const std::string& p = req.path;
  const bool booking_path = p.rfind("/bookings/", 0) == 0;
  const bool writes_slot = req.method == "POST" && (p == "/bookings" || p.find("/reschedule") != std::string::npos);
  if (r.status == 404) {
    if (booking_path) throw NotFound("booking_id", "Cal.com has no such booking (" + said + ")");
    if (p.rfind("/event-types", 0) == 0 || p == "/slots") throw NotFound("event_type", "Cal.com has no such event type (" + said + ")");
    return;
  }
  if (writes_slot && slot_taken(r.status, said))
    throw Conflict("start", "that time is no longer free; booking_find_slots lists the open ones (Cal.com: " + said + ")");
  if (r.status == 400) {
    std::string field = "start";
    if (p.find("/cancel") != std::string::npos) field = "booking_id";
    else if (said.find("email") != std::string::npos) field = "attendee.email";
    else if (said.find("timeZone") != std::string::npos) field = "attendee.time_zone";
    else if (p == "/slots") field = "start";
    else if (booking_path && said.find("cancel") != std::string::npos) field = "booking_id";
    throw Error(field, "Cal.com refused it: " + (said.empty() ? "HTTP 400" : said));
  }
}

}  // namespace

http::Policy calcom_policy() { return policy_defaults(); }

auth::OAuthConfig calcom_oauth(bool read_only, const std::string& api_base) {
  auth::OAuthConfig c;
  c.service = "calcom";
  c.authorize_url = "https://app.cal.com/auth/oauth2/authorize";
  // One endpoint for both grants (oauth.mdx, "Exchange Token" and "Refresh Token").
  c.token_url = api_base + "/auth/oauth2/token";
  c.scopes = {"EVENT_TYPE_READ", "BOOKING_READ"};
  if (!read_only) c.scopes.push_back("BOOKING_WRITE");
  c.loopback_port = kCalcomLoopbackPort;
  c.register_redirect_at = "Cal.com settings, Developer, OAuth: https://app.cal.com/settings/developer/oauth";
  return c;
}

CalcomVersions calcom_versions(const std::map<std::string, std::string>& overrides) {
  CalcomVersions v;
  const std::map<std::string, std::string CalcomVersions::*> fields{
      {"bookings", &CalcomVersions::bookings}, {"slots", &CalcomVersions::slots}, {"event_types", &CalcomVersions::event_types}};
  for (auto& [family, version] : overrides) {
    auto f = fields.find(family);
    if (f == fields.end()) throw std::invalid_argument(family + ": no such Cal.com endpoint family (bookings, slots, event_types)");
    v.*(f->second) = version;
  }
  return v;
}

CalcomBooking::CalcomBooking(std::shared_ptr<http::Client> client, std::shared_ptr<auth::Credentials> credentials, CalcomVersions versions)
    : api_(std::move(client), std::move(credentials), kName, decode), versions_(std::move(versions)) {}

Json CalcomBooking::data(const Call& call, http::Request r, const std::string& version) {
  if (!version.empty()) r.headers.emplace_back("cal-api-version", version);  // empty: Cal.com's oldest
  const std::string what = r.method + " " + r.path;
  Json j = api_.call(call, std::move(r));
  if (!j.is_object() || text(j, "status") != "success" || !j.contains("data")) unexpected(what, version);
  return j["data"];
}

CalcomBooking::Type CalcomBooking::find_type(const Call& call, const std::string& id) {
  const std::string& v = versions_.event_types;
  if (all_digits(id)) {
    Json t = data(call, {.method = "GET", .path = "/event-types/" + id}, v);
    return {integer(t, "id"), to_type(t, v)};
  }
  if (!id.empty() && uid_like(id)) {
    Json all = data(call, {.method = "GET", .path = "/event-types"}, v);
    if (!all.is_array()) unexpected("GET /event-types", v);
    for (auto& t : all)
      if (text(t, "slug") == id) return {integer(t, "id"), to_type(t, v)};
  }
  throw NotFound("event_type", "no event type '" + id + "'; booking_list_event_types shows them");
}

std::vector<EventType> CalcomBooking::event_types(const Call& call) {
  const std::string& v = versions_.event_types;
  Json all = data(call, {.method = "GET", .path = "/event-types"}, v);
  if (!all.is_array()) unexpected("GET /event-types", v);
  std::vector<EventType> out;
  for (auto& t : all) out.push_back(to_type(t, v));
  // As the local provider orders them.
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) {
    return a.length_minutes != b.length_minutes ? a.length_minutes < b.length_minutes : a.id < b.id;
  });
  return out;
}

EventType CalcomBooking::event_type(const Call& call, const std::string& id) { return find_type(call, id).type; }

std::vector<Slot> CalcomBooking::slots(const Call& call, const std::string& event_type_id, Millis from, Millis to) {
  if (to <= from) throw Error("end", "must be after start");
  if (to - from > 62 * kDay) throw Error("end", "the window can span at most 62 days");
  Type t = find_type(call, event_type_id);
  const std::string& v = versions_.slots;
  Json days = data(call,
                   {.method = "GET",
                    .path = "/slots",
                    .query = {{"eventTypeId", std::to_string(t.id)}, {"start", iso_utc(from)}, {"end", iso_utc(to)}, {"timeZone", "UTC"},
                              {"format", "range"}}},
                   v);
  // 2024-09-04: {"2050-09-05": [{"start": "...", "end": "..."}], ...}. Older versions nest
  // {"slots": {...}} with "time" entries, which this refuses rather than misreads.
  if (!days.is_object()) unexpected("GET /slots", v);
  std::vector<Slot> out;
  for (auto& [day, list] : days.items()) {
    if (!list.is_array()) unexpected("GET /slots", v);
    for (auto& s : list) {
      Slot slot;
      slot.start = instant(s, "start", v);
      slot.end = text(s, "end").empty() ? slot.start + t.type.length_minutes * kMinute : instant(s, "end", v);
      if (slot.start >= from && slot.start < to) out.push_back(slot);
    }
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.start < b.start; });
  return out;
}

Booking CalcomBooking::create(const Call& call, const NewBooking& nb) {
  Type t = find_type(call, nb.event_type_id);
  Json attendee{{"name", nb.attendee.name},
                {"email", nb.attendee.email},
                // Cal.com requires one; without the attendee's own, UTC (only their emails show it).
                {"timeZone", nb.attendee.time_zone.empty() ? "UTC" : nb.attendee.time_zone}};
  Json body{{"start", iso_utc(nb.start)}, {"eventTypeId", t.id}, {"attendee", attendee}};
  if (!nb.notes.empty()) body["bookingFieldsResponses"] = {{"notes", nb.notes}};
  // POST is not retried by the client: a booking must not be made twice.
  Json d = data(call, {.method = "POST", .path = "/bookings", .json = body}, versions_.bookings);
  if (d.is_array() && !d.empty()) d = d.front();  // a recurring event type answers its occurrences
  return to_booking(d, versions_.bookings);
}

std::vector<Booking> CalcomBooking::list(const Call& call, const BookingQuery& q) {
  if (!q.status.empty() && q.status != "upcoming" && q.status != "past" && q.status != "cancelled")
    throw Error("status", "'" + q.status + "' is not one of upcoming, past, cancelled, all");
  http::Request r{.method = "GET", .path = "/bookings"};
  if (!q.status.empty()) r.query.emplace_back("status", q.status);
  r.query.emplace_back("sortStart", "asc");
  r.query.emplace_back("take", std::to_string(std::clamp(q.max_results, 1, 250)));
  const std::string& v = versions_.bookings;
  Json all = data(call, r, v);
  if (!all.is_array()) unexpected("GET /bookings", v);
  std::vector<Booking> out;
  for (auto& d : all) {
    // The booking a reschedule replaced is "cancelled" in Cal.com; it moved, it was not cancelled.
    auto moved = d.is_object() ? d.find("rescheduled") : d.end();
    if ((moved != d.end() && moved->is_boolean() && moved->get<bool>()) || !text(d, "rescheduledToUid").empty()) continue;
    out.push_back(to_booking(d, v));
  }
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.start < b.start; });
  return out;
}

Booking CalcomBooking::get(const Call& call, const std::string& id) {
  if (!uid_like(id)) throw NotFound("booking_id", "no booking '" + id + "'");
  return to_booking(data(call, {.method = "GET", .path = "/bookings/" + id}, versions_.bookings), versions_.bookings);
}

Booking CalcomBooking::reschedule(const Call& call, const std::string& id, Millis start, const std::string& reason) {
  Booking b = get(call, id);
  if (b.status == "cancelled") throw Error("booking_id", "booking '" + id + "' is cancelled; book a new slot instead");
  Json body{{"start", iso_utc(start)}};
  if (!reason.empty()) body["reschedulingReason"] = reason;
  // Cal.com answers with a NEW booking (new uid, rescheduledFromUid = the old one).
  Json d = data(call, {.method = "POST", .path = "/bookings/" + id + "/reschedule", .json = body}, versions_.bookings);
  return to_booking(d, versions_.bookings);
}

Booking CalcomBooking::cancel(const Call& call, const std::string& id, const std::string& reason) {
  Booking b = get(call, id);
  if (b.status == "cancelled") throw Error("booking_id", "booking '" + id + "' is already cancelled");
  Json body = Json::object();
  if (!reason.empty()) body["cancellationReason"] = reason;
  Json d = data(call, {.method = "POST", .path = "/bookings/" + id + "/cancel", .json = body}, versions_.bookings);
  Booking out = to_booking(d, versions_.bookings);
  if (out.cancel_reason.empty()) out.cancel_reason = reason;
  return out;
}

}  // namespace concierge::providers::booking
