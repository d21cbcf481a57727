#include "providers/music/spotify.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <thread>

#include "providers/error.hpp"
#include "common/json_parse.hpp"

namespace concierge::providers::music {

http::Policy spotify_policy() {
  http::Policy p;
  p.service = "spotify";
  p.base_url = "https://api.spotify.com/v1";
  p.connect_timeout = http::Ms(5000);
  p.timeout = http::Ms(10000);
  p.max_attempts = 3;
  // Spotify publishes no number: its limit counts calls in a rolling 30 s window and is lower for
  // apps in development mode (https://developer.spotify.com/documentation/web-api/concepts/rate-limits).
  // 3 calls/s (90 per window) with bursts of 15 stays well below it; a tool call costs 1 to 3.
  p.rate_per_second = 3;
  p.burst = 15;
  // Its Retry-After is seconds normally; after abuse it can ask for hours: that is reported.
  p.max_retry_after = http::Ms(15000);
  p.cache_ttl = http::Ms(60000);  // only search is marked cacheable: the catalog changes slowly
  return p;
}

auth::OAuthConfig spotify_oauth(bool read_only) {
  auth::OAuthConfig c;
  c.service = "spotify";
  c.authorize_url = "https://accounts.spotify.com/authorize";
  c.token_url = "https://accounts.spotify.com/api/token";
  // Search needs no scope; the player and playlists need these and no more (no library, no
  // profile e-mail, no listening history).
  c.scopes = {"user-read-playback-state", "user-read-currently-playing", "playlist-read-private", "playlist-read-collaborative"};
  if (!read_only)
    for (const char* s : {"user-modify-playback-state", "playlist-modify-private", "playlist-modify-public"}) c.scopes.push_back(s);
  return c;
}

namespace {

// ---- reading Spotify's JSON tolerantly: fields can be null or missing (local files, episodes,
// restricted devices, removed catalogue items) ----

int num(const Json& j, const char* key, int fallback = 0) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int>() : fallback;
}
bool flag(const Json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
const Json& obj(const Json& j, const char* key) {
  static const Json none;
  if (!j.is_object()) return none;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : none;
}
const Json& arr(const Json& j, const char* key) {
  static const Json none = Json::array();
  if (!j.is_object()) return none;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : none;
}

std::string artists_of(const Json& j) {
  std::string out;
  for (auto& a : arr(j, "artists")) {
    std::string n = json_string(a, "name");
    if (!n.empty()) out += (out.empty() ? "" : ", ") + n;
  }
  return out;
}

// Spotify sends descriptions HTML-escaped ("Rock &amp; roll").
std::string unescape(std::string s) {
  static const std::pair<const char*, const char*> entities[] = {{"&amp;", "&"}, {"&quot;", "\""}, {"&#x27;", "'"}, {"&#39;", "'"},
                                                                 {"&#x2F;", "/"}, {"&lt;", "<"},  {"&gt;", ">"}};
  for (auto& [from, to] : entities)
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + std::string(to).size()))
      s.replace(at, std::string(from).size(), to);
  return s;
}

Track track_from(const Json& t) {
  Track out;
  out.uri = json_string(t, "uri");
  out.title = json_string(t, "name");
  out.duration_ms = num(t, "duration_ms");
  if (json_string(t, "type") == "episode") {  // a podcast episode in a playlist or the queue
    const Json& show = obj(t, "show");
    out.artist = json_string(show, "publisher");
    out.album = json_string(show, "name");
    out.album_uri = json_string(show, "uri");
    return out;
  }
  out.artist = artists_of(t);
  const Json& album = obj(t, "album");
  out.album = json_string(album, "name");
  out.album_uri = json_string(album, "uri");
  out.track_number = num(t, "track_number");
  return out;
}

Album album_from(const Json& a) {
  std::string date = json_string(a, "release_date");  // "2019-05-03", "2019-05" or "2019"
  int year = date.size() >= 4 && std::all_of(date.begin(), date.begin() + 4, [](unsigned char c) { return std::isdigit(c); }) ? std::stoi(date.substr(0, 4)) : 0;
  return {json_string(a, "uri"), json_string(a, "name"), artists_of(a), year, num(a, "total_tracks")};
}

// The playlist's item count: `items.total` since February 2026, `tracks.total` before (and for
// apps in extended quota mode, which kept the old shape).
int item_total(const Json& p) {
  const Json& items = obj(p, "items");
  return items.is_object() ? num(items, "total") : num(obj(p, "tracks"), "total");
}

Playlist playlist_from(const Json& p) { return {json_string(p, "uri"), json_string(p, "name"), unescape(json_string(p, "description")), item_total(p)}; }

PlayerState state_from(const Json& j) {
  PlayerState s;
  if (!j.is_object()) return s;  // 204: nothing playing and no active device
  const Json& item = obj(j, "item");
  if (item.is_object()) s.track = track_from(item);
  s.playing = flag(j, "is_playing");
  s.position_ms = num(j, "progress_ms");
  s.context_uri = json_string(obj(j, "context"), "uri");
  const Json& device = obj(j, "device");
  s.device_id = json_string(device, "id");
  s.volume_percent = num(device, "volume_percent", s.volume_percent);
  s.shuffle = flag(j, "shuffle_state");
  std::string repeat = json_string(j, "repeat_state");
  if (!repeat.empty()) s.repeat = repeat;
  return s;
}

// ---- URIs and ids ----

struct Ref {
  std::string kind, id;
  std::string uri() const { return "spotify:" + kind + ":" + id; }
};

bool base62(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c); });
}

// "spotify:track:ID", "spotify:user:NAME:playlist:ID" (the old form) or an open.spotify.com link
// ("https://open.spotify.com/intl-de/track/ID?si=...").
std::optional<Ref> parse_ref(const std::string& s) {
  std::vector<std::string> parts;
  if (s.rfind("spotify:", 0) == 0) {
    size_t start = 0;
    for (size_t at; (at = s.find(':', start)) != std::string::npos; start = at + 1) parts.push_back(s.substr(start, at - start));
    parts.push_back(s.substr(start));
  } else {
    for (const char* host : {"https://open.spotify.com/", "http://open.spotify.com/", "open.spotify.com/"})
      if (s.rfind(host, 0) == 0) {
        std::string rest = s.substr(std::string(host).size());
        rest = rest.substr(0, rest.find_first_of("?#"));
        size_t start = 0;
        for (size_t at; (at = rest.find('/', start)) != std::string::npos; start = at + 1) parts.push_back(rest.substr(start, at - start));
        parts.push_back(rest.substr(start));
        if (!parts.empty() && parts[0].rfind("intl-", 0) == 0) parts.erase(parts.begin());
        parts.insert(parts.begin(), "spotify");
        break;
      }
  }
  if (parts.size() < 3) return std::nullopt;
  Ref r{parts[parts.size() - 2], parts.back()};
  if (!base62(r.id)) return std::nullopt;
  return r;
}

const char* kUriHelp = "spotify:track:<id>, spotify:album:<id>, spotify:playlist:<id>, spotify:artist:<id> or an open.spotify.com link";

Ref ref(const std::string& s, const std::string& field, std::initializer_list<const char*> kinds) {
  auto r = parse_ref(s);
  if (!r) throw Error(field, "'" + s + "' is not a Spotify URI (" + kUriHelp + "); music_search finds them");
  if (std::none_of(kinds.begin(), kinds.end(), [&](const char* k) { return r->kind == k; })) {
    std::string want;
    for (const char* k : kinds) want += (want.empty() ? "" : ", ") + std::string(k);
    throw Error(field, "'" + s + "' is a Spotify " + r->kind + "; this takes a " + want);
  }
  return *r;
}

std::string playlist_id(const std::string& s) {
  if (base62(s)) return s;  // the bare id
  return ref(s, "playlist_id", {"playlist"}).id;
}

// ---- errors ----

// Spotify's error body: {"error": {"status": 404, "message": "...", "reason": "NO_ACTIVE_DEVICE"}}.
struct SpotifyError {
  std::string message, reason;
};
SpotifyError parse_error(const http::Response& r) {
  Json j = parse_json(r.body);
  const Json& e = obj(j, "error");
  SpotifyError out{json_string(e, "message"), json_string(e, "reason")};
  if (out.message.size() > 200) out.message = out.message.substr(0, 200) + "...";
  return out;
}

// A player already where the command would take it (pause while paused): not a failure.
struct AlreadyThere : Error {
  using Error::Error;
};
// A player command refused without a specific reason (403 "Restriction violated", reason
// UNKNOWN): what Spotify answers a redundant pause or resume, among others; the state says which.
struct Restricted : Error {
  using Error::Error;
};
// GET /playlists/{id}/items of a playlist the user follows but neither owns nor collaborates on:
// 403 since February 2026 (developer.spotify.com/documentation/web-api/references/changes/february-2026).
struct NotOwned : Error {
  using Error::Error;
};

std::string query_value(const http::Request& r, const std::string& key) {
  for (auto& [k, v] : r.query)
    if (k == key) return v;
  return "";
}

std::string quoted(const SpotifyError& e) { return e.message.empty() ? "" : " (Spotify: " + e.message + ")"; }

// What Spotify's refusals mean for the tool's arguments. Returns when the generic message fits.
void decode(const http::Response& r, const http::Request& req, const std::string& account) {
  SpotifyError e = parse_error(r);
  const std::string& p = req.path;
  const bool player = p.rfind("/me/player", 0) == 0;
  const std::string& why = e.reason;
  if (why == "NO_ACTIVE_DEVICE") throw Error("device_id", "Spotify has no active device: open Spotify on a device or pass device_id");
  if (why == "PREMIUM_REQUIRED") throw Error("account", "Spotify playback control needs a Premium account");
  if (why == "ALREADY_PAUSED" || why == "NOT_PAUSED" || why == "ALREADY_PLAYING") throw AlreadyThere("action", "already so");
  if (player && r.status == 403 && (why == "UNKNOWN" || lower(e.message).find("restriction violated") != std::string::npos))
    throw Restricted("action", "Spotify refused this now" + quoted(e));
  if (why == "NO_NEXT_TRACK") throw Error("action", "nothing comes next in the queue or what is playing");
  if (why == "NO_PREV_TRACK") throw Error("action", "nothing came before this track");
  if (why == "VOLUME_CONTROL_DISALLOW") throw Error("volume_percent", "this device does not let Spotify set its volume");
  if (why == "DEVICE_NOT_CONTROLLABLE" || why == "REMOTE_CONTROL_DISALLOW")
    throw Error("device_id", "this device cannot be controlled remotely; pick another one (music_now_playing lists them)");
  if (why == "CONTEXT_DISALLOW" || why == "ENDLESS_CONTEXT" || why == "NOT_PLAYING_CONTEXT" || why == "NOT_PLAYING_TRACK" ||
      why == "NO_SPECIFIC_TRACK")
    throw Error("action", "Spotify does not allow this for what is playing" + quoted(e));
  if (r.status == 403 && lower(e.message).find("scope") != std::string::npos)
    throw Error("account", "the Spotify account was signed in without the permission this needs" + quoted(e) +
                               "; run `concierge auth login spotify --account " + account + "` (not read-only)");
  if (player) {
    const bool names_device = lower(e.message).find("device") != std::string::npos;
    std::string device = query_value(req, "device_id");
    if (p == "/me/player" && req.method == "PUT" && req.json && req.json->contains("device_ids") && !req.json->at("device_ids").empty())
      device = req.json->at("device_ids").at(0).get<std::string>();
    if ((r.status == 404 || r.status == 400) && !device.empty() && (names_device || p == "/me/player"))
      throw NotFound("device_id", "Spotify has no device '" + device + "'; music_now_playing lists the devices");
    if (p == "/me/player/play" && (r.status == 400 || r.status == 404)) {
      std::string field = "uri";
      if (lower(e.message).find("offset") != std::string::npos) field = "offset";
      else if (req.json && req.json->contains("context_uri")) field = "context_uri";
      throw NotFound(field, "Spotify cannot play that" + quoted(e) + "; music_search finds what there is");
    }
    if (p == "/me/player/queue" && (r.status == 400 || r.status == 404))
      throw NotFound("uri", "Spotify cannot queue that" + quoted(e) + "; music_search finds what there is");
  }
  if (p.rfind("/playlists/", 0) == 0) {
    std::string id = p.substr(11, p.find('/', 11) - 11);
    const bool change = req.method != "GET";
    if (r.status == 404 || (r.status == 400 && !change))
      throw NotFound("playlist_id", "Spotify has no playlist '" + id + "'" + quoted(e) + "; music_playlists with action list shows them");
    if (r.status == 403 && change)
      throw Error("playlist_id", "only the playlist's owner or a collaborator can change it" + quoted(e));
    if (r.status == 403 && p.size() > 6 && p.compare(p.size() - 6, 6, "/items") == 0)
      throw NotOwned("playlist_id", "this playlist is followed, not owned: Spotify lets apps read only the items of playlists you own or "
                                    "collaborate on");
    if (r.status == 400 && change) throw Error("uris", "Spotify refused the items" + quoted(e) + "; music_search finds tracks");
  }
  if (p == "/search" && r.status == 400) throw Error("query", "Spotify refused the search" + quoted(e));
}

template <class F>
auto shaped(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const nlohmann::json::exception& e) {  // a 2xx in a shape we don't know: their side
    throw http::Unavailable(std::string("Spotify answered in an unexpected shape (") + e.what() + "); try again later");
  }
}

}  // namespace

SpotifyMusic::SpotifyMusic(std::shared_ptr<http::Client> client, std::shared_ptr<auth::Credentials> credentials)
    : api_(client, credentials, "Spotify", [account = credentials->account()](const http::Response& r, const http::Request& q) {
        decode(r, q, account);
      }) {}

Json SpotifyMusic::upstream(const Call& call, http::Request request) {
  // Spotify answers 411 to a POST or PUT without a length (next, pause, seek... carry no body).
  if ((request.method == "POST" || request.method == "PUT") && !request.json && request.body.empty())
    request.headers.emplace_back("Content-Length", "0");
  return api_.call(call, std::move(request));
}

SearchResult SpotifyMusic::search(const Call& call, const std::string& query, const std::vector<std::string>& types, int limit) {
  std::string q = query;
  q.erase(0, q.find_first_not_of(" \t\n"));
  if (q.empty()) throw Error("query", "Spotify needs words to search for");
  std::string type;
  for (auto& t : types.empty() ? std::vector<std::string>{"track", "album", "artist", "playlist"} : types) {
    if (t != "track" && t != "album" && t != "artist" && t != "playlist")
      throw Error("types", "'" + t + "' is not one of track, album, artist, playlist");
    type += (type.empty() ? "" : ",") + t;
  }
  // Development-mode apps get at most 10 per type since February 2026.
  limit = std::clamp(limit, 1, 10);
  return shaped([&] {
    Json j = upstream(call, {.method = "GET", .path = "/search", .query = {{"q", q}, {"type", type}, {"limit", std::to_string(limit)}},
                         .cacheable = true});
    SearchResult r;
    // Result pages can hold nulls (items Spotify no longer shows): skipped.
    for (auto& t : arr(obj(j, "tracks"), "items"))
      if (t.is_object()) r.tracks.push_back(track_from(t));
    for (auto& a : arr(obj(j, "albums"), "items"))
      if (a.is_object()) r.albums.push_back(album_from(a));
    for (auto& a : arr(obj(j, "artists"), "items"))
      if (a.is_object()) r.artists.push_back({json_string(a, "uri"), json_string(a, "name"), 0});  // Spotify gives no album count here
    for (auto& p : arr(obj(j, "playlists"), "items"))
      if (p.is_object()) r.playlists.push_back(playlist_from(p));
    return r;
  });
}

std::vector<Device> SpotifyMusic::devices(const Call& call) {
  return shaped([&] {
    Json j = upstream(call, {.method = "GET", .path = "/me/player/devices"});
    std::vector<Device> out;
    for (auto& d : arr(j, "devices"))
      out.push_back({json_string(d, "id"), json_string(d, "name"), lower(json_string(d, "type")), flag(d, "is_active")});
    return out;
  });
}

PlayerState SpotifyMusic::state(const Call& call) {
  return shaped([&] { return state_from(upstream(call, {.method = "GET", .path = "/me/player", .query = {{"additional_types", "track,episode"}}})); });
}

PlayerState SpotifyMusic::command(const Call& call, http::Request request, const std::function<bool(const PlayerState&)>& settled) {
  upstream(call, std::move(request));
  // Spotify answers 204 before the device has acted; a report that does not show the change yet
  // is read again, briefly.
  PlayerState s = state(call);
  for (int i = 0; i < 3 && settled && !settled(s); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    s = state(call);
  }
  return s;
}

PlayerState SpotifyMusic::play(const Call& call, const std::string& uri, const std::string& context_uri, int offset, const std::string& device_id) {
  std::string track = uri, ctx = context_uri;
  std::string ctx_field = "context_uri";
  if (!track.empty()) {
    Ref r = ref(track, "uri", {"track", "episode", "album", "playlist", "artist", "show"});
    if (r.kind != "track" && r.kind != "episode") {
      if (!ctx.empty()) throw Error("uri", "'" + uri + "' is a Spotify " + r.kind + "; pass it as context_uri, and a track as uri");
      std::swap(ctx, track);  // an album passed as uri plays as the context
      ctx_field = "uri";
    } else {
      track = r.uri();
    }
  }
  Ref context;
  if (!ctx.empty()) {
    auto r = parse_ref(ctx);
    if (r && (r->kind == "track" || r->kind == "episode"))
      throw Error(ctx_field, "'" + ctx + "' is a track; pass it as uri, or an album, playlist or artist as context_uri");
    context = ref(ctx, ctx_field, {"album", "playlist", "artist", "show"});
    ctx = context.uri();
  }
  if (offset < 0) throw Error("offset", "must be 0 or more");
  // Start/Resume Playback takes an offset for albums and playlists only
  // (developer.spotify.com/documentation/web-api/reference/start-a-users-playback).
  const bool positional = context.kind == "album" || context.kind == "playlist";
  if (!ctx.empty() && !positional && offset > 0)
    throw Error("offset", "Spotify plays a" + std::string(context.kind == "artist" ? "n " : " ") + context.kind +
                              " from where it chooses; offset works for albums and playlists");
  if (!ctx.empty() && !positional && !track.empty())
    throw Error("uri", "Spotify starts a" + std::string(context.kind == "artist" ? "n " : " ") + context.kind +
                           " where it chooses; play '" + uri + "' alone, or within its album or a playlist");

  http::Request req{.method = "PUT", .path = "/me/player/play"};
  if (!device_id.empty()) req.query.emplace_back("device_id", device_id);
  if (ctx.empty() && track.empty())  // nothing to start: resume where it was
    return shaped([&] { return command(call, req, [](const PlayerState& s) { return s.playing; }); });
  Json body;
  if (!ctx.empty()) {
    body["context_uri"] = ctx;
    if (!track.empty()) body["offset"] = {{"uri", track}};
    else if (positional) body["offset"] = {{"position", offset}};
  } else {
    body["uris"] = {track};
  }
  req.json = body;
  return shaped([&] {
    return command(call, req, [&](const PlayerState& s) {
      return s.track && s.playing && (ctx.empty() || s.context_uri == ctx) && (track.empty() || s.track->uri == track) &&
             (device_id.empty() || s.device_id == device_id);
    });
  });
}

// Pause while paused, resume while playing: Spotify refuses (ALREADY_PAUSED... or, as it does
// now, 403 "Restriction violated" with reason UNKNOWN); the player is where it was asked to be,
// so that is the answer. Refused otherwise, the refusal stands.
PlayerState SpotifyMusic::toggle(const Call& call, const std::string& path, bool playing) {
  return shaped([&] {
    try {
      return command(call, {.method = "PUT", .path = path}, [&](const PlayerState& s) { return s.playing == playing; });
    } catch (const AlreadyThere&) {
      return state(call);
    } catch (const Restricted&) {
      PlayerState now = state(call);
      if (now.playing == playing) return now;
      throw;
    }
  });
}

PlayerState SpotifyMusic::pause(const Call& call) { return toggle(call, "/me/player/pause", false); }

PlayerState SpotifyMusic::resume(const Call& call) { return toggle(call, "/me/player/play", true); }

PlayerState SpotifyMusic::next(const Call& call) {
  return shaped([&] { return command(call, {.method = "POST", .path = "/me/player/next"}); });
}

PlayerState SpotifyMusic::previous(const Call& call) {
  return shaped([&] { return command(call, {.method = "POST", .path = "/me/player/previous"}); });
}

PlayerState SpotifyMusic::seek(const Call& call, int position_ms) {
  if (position_ms < 0) throw Error("position_ms", "must be 0 or more");
  return shaped([&] {
    // Spotify skips to the next track when the position is past the end; the tool's contract
    // (as the local player has it) is an error naming the bound.
    PlayerState now = state(call);
    if (!now.track) throw Error("action", "nothing is loaded; play a track, album or playlist first");
    int dur = now.track->duration_ms;
    if (dur > 0 && position_ms >= dur)
      throw Error("position_ms", "must be between 0 and " + std::to_string(dur - 1) + " (the track is " + std::to_string(dur / 1000) + " s long)");
    return command(call, {.method = "PUT", .path = "/me/player/seek", .query = {{"position_ms", std::to_string(position_ms)}}},
                   [&](const PlayerState& s) { return s.position_ms >= position_ms && s.position_ms < position_ms + 5000; });
  });
}

PlayerState SpotifyMusic::set_volume(const Call& call, int percent) {
  if (percent < 0 || percent > 100) throw Error("volume_percent", "must be between 0 and 100");
  return shaped([&] {
    return command(call, {.method = "PUT", .path = "/me/player/volume", .query = {{"volume_percent", std::to_string(percent)}}},
                   [&](const PlayerState& s) { return s.volume_percent == percent; });
  });
}

PlayerState SpotifyMusic::set_shuffle(const Call& call, bool on) {
  return shaped([&] {
    return command(call, {.method = "PUT", .path = "/me/player/shuffle", .query = {{"state", on ? "true" : "false"}}},
                   [&](const PlayerState& s) { return s.shuffle == on; });
  });
}

PlayerState SpotifyMusic::set_repeat(const Call& call, const std::string& mode) {
  if (mode != "off" && mode != "track" && mode != "context") throw Error("state", "repeat is off, track or context");
  return shaped([&] {
    return command(call, {.method = "PUT", .path = "/me/player/repeat", .query = {{"state", mode}}},
                   [&](const PlayerState& s) { return s.repeat == mode; });
  });
}

PlayerState SpotifyMusic::transfer(const Call& call, const std::string& device_id) {
  if (device_id.empty()) throw Error("device_id", "is required; music_now_playing lists the devices");
  return shaped([&] {
    return command(call, {.method = "PUT", .path = "/me/player", .json = Json{{"device_ids", {device_id}}}},
                   [&](const PlayerState& s) { return s.device_id == device_id; });
  });
}

std::vector<Track> SpotifyMusic::queue(const Call& call) {
  return shaped([&] {
    // The user's queue, then what the context plays next, as Spotify reports it.
    Json j = upstream(call, {.method = "GET", .path = "/me/player/queue"});
    std::vector<Track> out;
    for (auto& t : arr(j, "queue"))
      if (t.is_object()) out.push_back(track_from(t));
    return out;
  });
}

void SpotifyMusic::add_to_queue(const Call& call, const std::string& uri) {
  auto r = parse_ref(uri);
  if (r && r->kind != "track" && r->kind != "episode")
    throw Error("uri", "only tracks can be queued; play an album or playlist with context_uri");
  Ref t = ref(uri, "uri", {"track", "episode"});
  shaped([&] { return upstream(call, {.method = "POST", .path = "/me/player/queue", .query = {{"uri", t.uri()}}}); });
}

std::vector<Playlist> SpotifyMusic::playlists(const Call& call) {
  return shaped([&] {
    std::vector<Playlist> out;
    // Pages of 50 (Spotify's most), up to 500 playlists: enough to choose from by name.
    for (int offset = 0; offset < 500; offset += 50) {
      Json j = upstream(call, {.method = "GET", .path = "/me/playlists", .query = {{"limit", "50"}, {"offset", std::to_string(offset)}}});
      for (auto& p : arr(j, "items"))
        if (p.is_object()) out.push_back(playlist_from(p));
      if (!j.is_object() || !j.contains("next") || j["next"].is_null() || arr(j, "items").empty()) break;
    }
    return out;
  });
}

// Every playlist read says the app takes episodes too (Get Playlist's additional_types): without
// it a podcast episode in a playlist does not come as itself.
Json SpotifyMusic::read_playlist(const Call& call, const std::string& id) {
  return upstream(call, {.method = "GET", .path = "/playlists/" + id, .query = {{"additional_types", "track,episode"}}});
}

Playlist SpotifyMusic::playlist_meta(const Call& call, const std::string& id) { return playlist_from(read_playlist(call, id)); }

std::pair<Playlist, std::vector<Track>> SpotifyMusic::playlist(const Call& call, const std::string& uri) {
  std::string id = playlist_id(uri);
  return shaped([&] {
    Json j = read_playlist(call, id);
    Playlist pl = playlist_from(j);
    std::vector<Track> tracks;
    // Each entry holds its track in `item` (February 2026) or `track` (before); null when the
    // track is gone from the catalogue.
    auto take = [&](const Json& page) {
      for (auto& e : arr(page, "items")) {
        const Json& t = obj(e, "item").is_object() ? obj(e, "item") : obj(e, "track");
        if (t.is_object()) tracks.push_back(track_from(t));
      }
      return int(arr(page, "items").size());
    };
    const Json& first = obj(j, "items").is_object() ? obj(j, "items") : obj(j, "tracks");
    int seen = take(first);
    // The rest in pages of 50, up to 1000 entries. A first read with no entries may be a playlist
    // Spotify gives only the metadata of (one the user follows): /items says which.
    bool asked = false;
    while ((seen < pl.track_count || (seen == 0 && !asked)) && seen < 1000) {
      asked = true;
      Json page;
      try {
        page = upstream(call, {.method = "GET", .path = "/playlists/" + id + "/items",
                           .query = {{"limit", "50"}, {"offset", std::to_string(seen)}, {"additional_types", "track,episode"}}});
      } catch (const NotOwned& e) {
        if (seen > 0) throw;
        throw Error("playlist_id", "'" + pl.name + "' is followed, not owned: Spotify lets apps read only the items of playlists you own "
                                   "or collaborate on; it can still be played (music_playback with context_uri " + pl.uri + ")");
      }
      int n = take(page);
      if (n == 0) break;
      seen += n;
    }
    return std::make_pair(pl, tracks);
  });
}

Playlist SpotifyMusic::create_playlist(const Call& call, const std::string& name, const std::string& description) {
  if (name.find_first_not_of(" \t\n") == std::string::npos) throw Error("name", "a playlist needs a name");
  return shaped([&] {
    // Private: nothing the assistant makes is published on the user's profile unasked.
    Json j = upstream(call, {.method = "POST", .path = "/me/playlists",
                         .json = Json{{"name", name}, {"description", description}, {"public", false}}});
    return playlist_from(j);
  });
}

namespace {
std::vector<std::string> item_uris(const std::vector<std::string>& uris) {
  std::vector<std::string> out;
  for (size_t i = 0; i < uris.size(); ++i) out.push_back(ref(uris[i], "uris[" + std::to_string(i) + "]", {"track", "episode"}).uri());
  return out;
}
}  // namespace

Playlist SpotifyMusic::add_items(const Call& call, const std::string& playlist_uri, const std::vector<std::string>& uris) {
  std::string id = playlist_id(playlist_uri);
  auto items = item_uris(uris);
  return shaped([&] {
    // 100 per request is Spotify's most; each request is all or nothing.
    for (size_t at = 0; at < items.size(); at += 100) {
      std::vector<std::string> chunk(items.begin() + at, items.begin() + std::min(items.size(), at + 100));
      upstream(call, {.method = "POST", .path = "/playlists/" + id + "/items", .json = Json{{"uris", chunk}}});
    }
    return playlist_meta(call, id);
  });
}

Playlist SpotifyMusic::remove_items(const Call& call, const std::string& playlist_uri, const std::vector<std::string>& uris) {
  std::string id = playlist_id(playlist_uri);
  auto items = item_uris(uris);
  return shaped([&] {
    // By URI alone Spotify removes every occurrence, as the local library does.
    for (size_t at = 0; at < items.size(); at += 100) {
      Json list = Json::array();
      for (size_t i = at; i < std::min(items.size(), at + 100); ++i) list.push_back({{"uri", items[i]}});
      upstream(call, {.method = "DELETE", .path = "/playlists/" + id + "/items", .json = Json{{"items", list}}});
    }
    return playlist_meta(call, id);
  });
}

}  // namespace concierge::providers::music
