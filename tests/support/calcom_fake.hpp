#pragma once
// Cal.com as far as the booking adapter goes, in-process on 127.0.0.1 (port 0): API v2 under
// /v2 (event types, slots, bookings) with the documented envelopes ({"status": "success",
// "data": ...}, {"status": "error", "error": {...}}), the `cal-api-version` header selecting the
// controller (a missing or wrong one answers the older way, as Cal.com does), and its OAuth:
//  - POST /v2/auth/oauth2/token, the documented endpoint for both grants
//    (https://github.com/calcom/cal.com/blob/main/docs/api-reference/v2/oauth.mdx): JSON or
//    form bodies (any other Content-Type reaches it as no body: "client_id is required"),
//    unknown fields refused (the token input pipe's forbidNonWhitelisted), the flat
//    {access_token, refresh_token, token_type: "bearer", expires_in, scope} reply, invalid_grant
//    for a used or unknown code or refresh token, invalid_client for a wrong client;
//  - POST /api/auth/oauth/token on the web app, the old endpoint: authorization_code only,
//    400 invalid_request for a refresh.
// Access tokens expire after `lifetime_s` (1800, as documented) by the fake's clock (`advance`),
// and act as the Cal.com user who granted them: each user sees only their own bookings. API
// keys ("cal_live_...") are accepted too. Faults as in fake_upstream.hpp.
#include <arpa/inet.h>
#include <atomic>
#include <catch2/catch.hpp>
#include <curl/curl.h>
#include <deque>
#include <httplib.h>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "common/base64.hpp"
#include "providers/auth/oauth.hpp"
#include "providers/auth/tokens.hpp"
#include "providers/http/client.hpp"
#include "providers/time.hpp"
#include "common/json.hpp"
#include "support/fake_upstream.hpp"  // Fault

namespace concierge::test {

// A loopback port nothing listens on (a sign-in's listener takes it right after).
inline int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A query parameter of `url`, decoded.
inline std::string query_param(const std::string& url, const std::string& key) {
  auto at = url.find("&" + key + "=");
  if (at == std::string::npos) at = url.find("?" + key + "=");
  if (at == std::string::npos) return "";
  auto from = at + key.size() + 2, to = url.find('&', from);
  std::string v = url.substr(from, to == std::string::npos ? std::string::npos : to - from);
  int n = 0;
  char* d = curl_easy_unescape(nullptr, v.c_str(), int(v.size()), &n);
  std::string out(d, size_t(n));
  curl_free(d);
  return out;
}

inline std::string calcom_iso(providers::Millis t) {
  return date::format("%FT%TZ", date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(t)));
}
inline providers::Millis calcom_day_start(providers::Millis t) { return t - t % providers::kDay; }

// The OAuth and API-key side: who a bearer token is, and the token endpoints.
struct CalcomUpstream : LoopbackFake {
  struct Access {
    std::string user;
    providers::Millis expires;
  };
  struct Refresh {
    std::string user;
  };
  struct Code {
    std::string user, redirect_uri, challenge;
  };
  std::map<std::string, Access> live_access;
  std::map<std::string, Refresh> live_refresh;
  std::map<std::string, Code> codes;
  std::map<std::string, std::string> api_keys;  // key -> user
  std::string client_id = "test-client";
  std::atomic<int> issued{0}, refreshes{0}, old_endpoint_refreshes{0}, api_calls{0};
  std::atomic<bool> revoked{false};
  std::atomic<int64_t> lifetime_s{1800};
  std::atomic<providers::Millis> offset{0};  // the fake's clock runs this far ahead
  std::vector<std::string> seen_tokens;       // every token issued (to grep logs and history for)
  std::vector<Json> token_requests;           // the parsed bodies the token endpoints received
  std::vector<std::string> token_content_types;

  providers::Millis now() const { return providers::now_ms() + offset.load(); }
  void advance(std::chrono::seconds s) { offset += providers::Millis(s.count()) * 1000; }

  static void envelope_error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
    res.status = status;
    res.set_content(Json{{"status", "error"}, {"timestamp", "2026-01-01T00:00:00.000Z"}, {"error", {{"code", code}, {"message", message}}}}.dump(),
                    "application/json");
  }
  static void oauth_error(httplib::Response& res, int status, const std::string& error, const std::string& description) {
    res.status = status;
    res.set_content(Json{{"error", error}, {"error_description", description}}.dump(), "application/json");
  }

  // The body as Nest's parsers leave it: JSON and urlencoded are read, anything else is empty.
  static Json token_body(const httplib::Request& req) {
    std::string type = req.get_header_value("Content-Type");
    type = type.substr(0, type.find(';'));
    if (type == "application/json") {
      Json j = Json::parse(req.body, nullptr, false);
      return j.is_object() ? j : Json::object();
    }
    Json out = Json::object();
    if (type == "application/x-www-form-urlencoded")
      for (auto& [k, v] : req.params) out[k] = v;
    return out;
  }

  CalcomUpstream() {
    server.Post("/v2/auth/oauth2/token", [this](const httplib::Request& req, httplib::Response& res) {
      Json b = token_body(req);
      std::lock_guard l(m);
      token_requests.push_back(b);
      token_content_types.push_back(req.get_header_value("Content-Type"));
      auto str = [&](const char* k) { return b.contains(k) && b[k].is_string() ? b[k].get<std::string>() : std::string(); };
      if (str("client_id").empty()) return oauth_error(res, 400, "invalid_request", "client_id is required");
      const std::string grant = str("grant_type");
      std::set<std::string> allowed;
      if (grant == "authorization_code") allowed = {"client_id", "client_secret", "grant_type", "code", "redirect_uri", "code_verifier"};
      else if (grant == "refresh_token") allowed = {"client_id", "client_secret", "grant_type", "refresh_token"};
      else return oauth_error(res, 400, "invalid_request", "grant_type must be 'authorization_code' or 'refresh_token'");
      for (auto& [k, v] : b.items())
        if (!allowed.count(k)) return oauth_error(res, 400, "invalid_request", k + " property is wrong,property " + k + " should not exist");
      if (str("client_id") != client_id) return oauth_error(res, 401, "invalid_client", "client_not_found");
      std::string user;
      if (grant == "authorization_code") {
        if (str("code").empty() || str("redirect_uri").empty() || (!b.contains("client_secret") && str("code_verifier").empty()))
          return oauth_error(res, 400, "invalid_request", "code, redirect_uri and code_verifier are required");
        auto it = codes.find(str("code"));
        if (it == codes.end() || it->second.redirect_uri != str("redirect_uri") ||
            it->second.challenge != base64url_encode(providers::auth::sha256(str("code_verifier"))))
          return oauth_error(res, 400, "invalid_grant", "code_invalid_or_expired");
        user = it->second.user;
        codes.erase(it);
      } else {
        ++refreshes;
        auto it = live_refresh.find(str("refresh_token"));
        if (revoked || it == live_refresh.end()) return oauth_error(res, 400, "invalid_grant", "invalid_refresh_token");
        user = it->second.user;
        live_refresh.erase(it);  // rotated
      }
      auto [access, refresh] = issue_locked(user, now() + lifetime_s * 1000);
      res.set_header("Cache-Control", "no-store");
      res.set_content(Json{{"access_token", access}, {"refresh_token", refresh}, {"token_type", "bearer"}, {"expires_in", lifetime_s.load()},
                           {"scope", "EVENT_TYPE_READ BOOKING_READ BOOKING_WRITE"}}
                          .dump(),
                      "application/json");
    });
    // The old web-app endpoint: it exchanges codes and nothing else.
    server.Post("/api/auth/oauth/token", [this](const httplib::Request& req, httplib::Response& res) {
      Json b = token_body(req);
      std::lock_guard l(m);
      if (b.value("grant_type", "") != "authorization_code") {
        ++old_endpoint_refreshes;
        return oauth_error(res, 400, "invalid_request", "grant_type must be authorization_code");
      }
      auto it = codes.find(b.value("code", ""));
      if (it == codes.end()) return oauth_error(res, 400, "invalid_grant", "code_invalid_or_expired");
      std::string user = it->second.user;
      codes.erase(it);
      auto [access, refresh] = issue_locked(user, now() + lifetime_s * 1000);
      res.set_content(Json{{"access_token", access}, {"refresh_token", refresh}, {"token_type", "bearer"}, {"expires_in", lifetime_s.load()}}.dump(),
                      "application/json");
    });
    // Every API route passes here first: faults, then who the bearer is.
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.path == "/v2/auth/oauth2/token" || req.path == "/api/auth/oauth/token") return httplib::Server::HandlerResponse::Unhandled;
      ++api_calls;
      auto f = next_fault();
      if (f && answer_fault(*f, res, [](httplib::Response& r, int status) {
            if (status == 429) envelope_error(r, 429, "TooManyRequestsException", "Too many requests");
            else envelope_error(r, 500, "InternalServerErrorException", "Internal server error");
          }, "{\"status\": \"success\", \"data\": ["))
        return httplib::Server::HandlerResponse::Handled;
      if (f && f->kind == Fault::Expired) {
        std::lock_guard l(m);
        live_access.clear();  // every access token dies before its expiry
        api_keys.clear();
      }
      if (user_of(req).empty()) {
        envelope_error(res, 401, "UnauthorizedException", "ApiAuthStrategy - Invalid access token");
        return httplib::Server::HandlerResponse::Handled;
      }
      // Nest reads JSON bodies only by their Content-Type; without it a body is empty and fails
      // validation. (Accept is not looked at: every answer is JSON.)
      if (req.method == "POST" && req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
        envelope_error(res, 400, "BadRequestException", "the body must be application/json");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    start();
  }
  ~CalcomUpstream() { stop(); }
  // The Cal.com user a request acts as; "" when its bearer is unknown or expired.
  std::string user_of(const httplib::Request& req) {
    auto h = req.get_header_value("Authorization");
    if (h.rfind("Bearer ", 0) != 0) return "";
    std::string t = h.substr(7);
    std::lock_guard l(m);
    if (auto k = api_keys.find(t); k != api_keys.end()) return k->second;
    auto it = live_access.find(t);
    return it != live_access.end() && it->second.expires > now() ? it->second.user : "";
  }
  // An API key for `user` (what the settings page shows once).
  std::string api_key(const std::string& user = "host") {
    std::lock_guard l(m);
    std::string key = "cal_live_" + std::to_string(++issued) + "k3";
    api_keys[key] = user;
    seen_tokens.push_back(key);
    return key;
  }
  // The user approved in the browser: a code for `redirect_uri` and this PKCE challenge.
  std::string approve(const std::string& user, const std::string& redirect_uri, const std::string& challenge) {
    std::lock_guard l(m);
    std::string code = "code-" + std::to_string(++issued) + "-c5";
    codes[code] = {user, redirect_uri, challenge};
    return code;
  }
  // Seeds `tokens` as `concierge auth login calcom` leaves them, for Cal.com user `user`;
  // `expired`: the access token's lifetime has passed (here and in the store).
  void sign_in(providers::auth::TokenStore& tokens, int64_t store_user, const std::string& account, const std::string& user = "host",
               bool expired = false) {
    std::lock_guard l(m);
    providers::Millis exp = expired ? now() - 1000 : now() + lifetime_s * 1000;
    auto [access, refresh] = issue_locked(user, exp);
    providers::auth::Token t;
    t.access_token = access;
    t.refresh_token = refresh;
    t.expires_at = exp - offset.load();  // the store's clock is the real one
    t.scopes = {"EVENT_TYPE_READ", "BOOKING_READ", "BOOKING_WRITE"};
    tokens.save(store_user, "calcom", account, t);
  }
  providers::http::Policy policy() const { return fast_policy("calcom", url("/v2")); }

 private:
  std::pair<std::string, std::string> issue_locked(const std::string& user, providers::Millis expires) {
    int n = ++issued;
    std::string access = "cal-access-" + std::to_string(n) + "-x9", refresh = "cal-refresh-" + std::to_string(n) + "-y7";
    live_access[access] = {user, expires};
    live_refresh[refresh] = {user};
    seen_tokens.push_back(access);
    seen_tokens.push_back(refresh);
    return {access, refresh};
  }
};

// The API: event types 101 "intro-call" (15 min) and 102 "consultation" (30 min), open
// 09:00-12:00 UTC every day; a slot overlapping an accepted booking of that host is not offered.
struct FakeCalcom {
  using Millis = providers::Millis;
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
    std::string owner;  // the Cal.com user whose booking it is
  };
  std::map<std::string, Rec> bookings;
  int64_t next_id = 1;
  std::vector<std::pair<std::string, std::string>> versions_seen;  // "GET /slots" -> header
  std::atomic<int> posts{0}, fail_posts{0};
  // The versions each family's current controller answers (Cal.com's OpenAPI, cal-api-version).
  std::string bookings_version = "2026-02-25", slots_version = "2024-09-04", event_types_version = "2024-06-14";
  // Last, so it goes first: its server's threads (a stalled request still in a handler) end
  // before the state they use.
  CalcomUpstream up;

  static void error(httplib::Response& res, int status, const std::string& code, const std::string& message, const std::string& path) {
    res.status = status;
    res.set_content(Json{{"status", "error"}, {"timestamp", "2026-01-01T00:00:00.000Z"}, {"path", path},
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
           {"start", calcom_iso(b.start)}, {"end", calcom_iso(b.end)}, {"duration", t->length}, {"eventTypeId", t->id},
           {"eventType", {{"id", t->id}, {"slug", t->slug}}}, {"location", "+49301234567"}, {"absentHost", false},
           {"attendees", {{{"name", b.name}, {"email", b.email}, {"timeZone", b.tz}, {"language", "en"}, {"absent", false}}}},
           {"guests", Json::array()}, {"bookingFieldsResponses", {{"name", b.name}, {"email", b.email}, {"notes", b.notes}}},
           {"createdAt", calcom_iso(b.created)}, {"updatedAt", calcom_iso(b.created)}};
    if (!b.cancel_reason.empty()) j["cancellationReason"] = b.cancel_reason;
    if (!b.resched_reason.empty()) j["reschedulingReason"] = b.resched_reason;
    if (!b.from_uid.empty()) j["rescheduledFromUid"] = b.from_uid;
    if (!b.to_uid.empty()) {
      j["rescheduled"] = true;
      j["rescheduledToUid"] = b.to_uid;
    }
    return j;
  }
  bool busy(Millis s, Millis e, const std::string& except, const std::string& owner) {
    for (auto& [uid, b] : bookings)
      if (b.status == "accepted" && uid != except && b.owner == owner && b.start < e && b.end > s) return true;
    return false;
  }
  // Whether `s` is a start the type offers at all.
  bool offered(const Type& t, Millis s) {
    Millis into = s - calcom_day_start(s);
    return s > providers::now_ms() && into >= 9 * providers::kHour && into + t.length * providers::kMinute <= 12 * providers::kHour &&
           into % (t.length * providers::kMinute) == 0;
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
  Millis time_param(const std::string& s) { return providers::parse_time(s, nullptr, "start"); }
  // The caller's booking `uid`, or null (another user's bookings are not theirs to see).
  Rec* mine(const httplib::Request& req, const std::string& uid) {
    auto it = bookings.find(uid);
    return it != bookings.end() && it->second.owner == up.user_of(req) ? &it->second : nullptr;
  }

  FakeCalcom() {
    using providers::kDay, providers::kHour, providers::kMinute;
    auto& s = up.server;
    s.Get("/v2/event-types", [this](const httplib::Request& req, httplib::Response& res) {
      if (!version(req, "/event-types", event_types_version)) {
        // Before 2024-06-14 the list came grouped by profile.
        return ok(res, {{"eventTypeGroups", {{{"eventTypes", Json::array()}}}}});
      }
      std::lock_guard l(m);
      Json all = Json::array();
      for (auto& t : types) all.push_back(type_json(t));
      ok(res, all);
    });
    s.Get(R"(/v2/event-types/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (!version(req, "/event-types", event_types_version)) return ok(res, {{"eventType", Json::object()}});
      std::lock_guard l(m);
      const Type* t = type(std::stoll(req.matches[1]));
      if (!t) return error(res, 404, "NotFoundException", "Event type with id=" + std::string(req.matches[1]) + " not found", req.path);
      ok(res, type_json(*t));
    });
    s.Get("/v2/slots", [this](const httplib::Request& req, httplib::Response& res) {
      if (!version(req, "/slots", slots_version))
        // The older controller's shape: {"slots": {date: [{"time": ...}]}}.
        return ok(res, {{"slots", {{"2050-01-01", {{{"time", "2050-01-01T09:00:00.000Z"}}}}}}});
      std::string owner = up.user_of(req);
      std::lock_guard l(m);
      if (!req.has_param("eventTypeId") || !req.has_param("start") || !req.has_param("end"))
        return error(res, 400, "BadRequestException", "eventTypeId, start and end are required", req.path);
      const Type* t = type(std::stoll(req.get_param_value("eventTypeId")));
      if (!t) return error(res, 404, "NotFoundException", "Event type not found", req.path);
      Millis from = time_param(req.get_param_value("start")), to = time_param(req.get_param_value("end"));
      bool range = req.get_param_value("format") == "range";
      Json days = Json::object();
      for (Millis d = calcom_day_start(from); d < to; d += kDay)
        for (Millis st = d + 9 * kHour; st + t->length * kMinute <= d + 12 * kHour; st += t->length * kMinute) {
          Millis en = st + t->length * kMinute;
          if (st < from || st >= to || !offered(*t, st) || busy(st, en, "", owner)) continue;
          std::string start = calcom_iso(st);
          start.replace(start.size() - 1, 1, "+00:00");  // in the requested zone (UTC here), with its offset
          Json slot{{"start", start}};
          if (range) slot["end"] = calcom_iso(en);
          days[date::format("%F", date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(st)))].push_back(slot);
        }
      ok(res, days);
    });
    s.Post("/v2/bookings", [this](const httplib::Request& req, httplib::Response& res) {
      ++posts;
      if (fail_posts > 0) {
        --fail_posts;
        return error(res, 500, "InternalServerErrorException", "Internal server error", req.path);
      }
      // The 2024-04-15 controller wants end, responses{name,email}, timeZone, language...
      if (!version(req, "/bookings", bookings_version))
        return error(res, 400, "BadRequestException", "responses must be an object; end must be a valid ISO 8601 date string", req.path);
      Json b = Json::parse(req.body, nullptr, false);
      if (b.is_discarded() || !b.contains("start") || !b.contains("eventTypeId") || !b.contains("attendee"))
        return error(res, 400, "BadRequestException", "start, eventTypeId and attendee are required", req.path);
      const Json& a = b["attendee"];
      if (!a.contains("timeZone") || !a.contains("email") || !a.contains("name"))
        return error(res, 400, "BadRequestException", "attendee.timeZone, attendee.name and attendee.email are required", req.path);
      std::string owner = up.user_of(req);
      std::lock_guard l(m);
      const Type* t = type(b["eventTypeId"].get<int64_t>());
      if (!t) return error(res, 404, "NotFoundException", "Event type not found", req.path);
      Millis st = time_param(b["start"].get<std::string>());
      Millis en = st + t->length * kMinute;
      if (!offered(*t, st)) return error(res, 400, "BadRequestException", "booking_time_out_of_bounds_error", req.path);
      if (busy(st, en, "", owner))
        return error(res, 400, "BadRequestException", "User either already has booking at this time or is not available", req.path);
      Rec r{next_id, "uid" + std::to_string(next_id) + "x", t->id, st, en, a["name"].get<std::string>(), a["email"].get<std::string>(),
            a["timeZone"].get<std::string>()};
      ++next_id;
      if (b.contains("bookingFieldsResponses")) r.notes = b["bookingFieldsResponses"].value("notes", "");
      r.created = providers::now_ms();
      r.owner = owner;
      bookings[r.uid] = r;
      ok(res, booking_json(r), 201);
    });
    s.Get("/v2/bookings", [this](const httplib::Request& req, httplib::Response& res) {
      if (!version(req, "/bookings", bookings_version))
        return ok(res, {{"bookings", Json::array()}, {"recurringInfo", Json::array()}, {"nextCursor", nullptr}});
      std::string owner = up.user_of(req);
      std::lock_guard l(m);
      std::string status = req.get_param_value("status");
      size_t take = req.has_param("take") ? std::stoul(req.get_param_value("take")) : 100;
      std::vector<const Rec*> hits;
      for (auto& [uid, b] : bookings) {
        bool cancelled = b.status == "cancelled", past = b.end <= providers::now_ms();
        if (b.owner != owner || (status == "upcoming" && (cancelled || past)) || (status == "past" && (cancelled || !past)) ||
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
    s.Get(R"(/v2/bookings/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      // The older controller answered with startTime/endTime and no uid at the top.
      if (!version(req, "/bookings", bookings_version)) return ok(res, {{"startTime", "2050-01-01T09:00:00Z"}});
      std::lock_guard l(m);
      Rec* b = mine(req, req.matches[1]);
      if (!b) return error(res, 404, "NotFoundException", "Booking with uid=" + std::string(req.matches[1]) + " not found", req.path);
      ok(res, booking_json(*b));
    });
    s.Post(R"(/v2/bookings/([^/]+)/reschedule)", [this](const httplib::Request& req, httplib::Response& res) {
      ++posts;
      if (!version(req, "/bookings", bookings_version))
        return error(res, 400, "BadRequestException", "Cannot POST /v2/bookings/reschedule", req.path);
      Json b = Json::parse(req.body, nullptr, false);
      std::lock_guard l(m);
      Rec* found = mine(req, req.matches[1]);
      if (!found) return error(res, 404, "NotFoundException", "Booking with uid=" + std::string(req.matches[1]) + " not found", req.path);
      Rec& old = *found;
      if (old.status == "cancelled") return error(res, 400, "BadRequestException", "Can't reschedule a cancelled booking", req.path);
      const Type* t = type(old.type);
      Millis st = time_param(b.at("start").get<std::string>()), en = st + t->length * kMinute;
      if (!offered(*t, st)) return error(res, 400, "BadRequestException", "booking_time_out_of_bounds_error", req.path);
      if (busy(st, en, old.uid, old.owner))
        return error(res, 400, "BadRequestException", "User either already has booking at this time or is not available", req.path);
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
    s.Post(R"(/v2/bookings/([^/]+)/cancel)", [this](const httplib::Request& req, httplib::Response& res) {
      ++posts;
      if (!version(req, "/bookings", bookings_version)) return error(res, 400, "BadRequestException", "Cannot POST /v2/bookings/cancel", req.path);
      Json b = Json::parse(req.body, nullptr, false);
      std::lock_guard l(m);
      Rec* found = mine(req, req.matches[1]);
      if (!found) return error(res, 404, "NotFoundException", "Booking with uid=" + std::string(req.matches[1]) + " not found", req.path);
      if (found->status == "cancelled") return error(res, 400, "BadRequestException", "This booking has already been cancelled.", req.path);
      found->status = "cancelled";
      if (b.is_object()) found->cancel_reason = b.value("cancellationReason", "");
      ok(res, booking_json(*found));
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

}  // namespace concierge::test
