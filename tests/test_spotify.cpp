// The Spotify adapter against a stateful in-process Spotify: the Web API's documented shapes
// (February 2026: /playlists/{id}/items with `item` entries, POST /me/playlists, search limit 10,
// 204 from player commands and from GET /me/player when nothing plays, error bodies with
// `reason`), a player with devices, an active device, a context, a queue and a position. The
// music scenario runs through the tools; then faults, secrets and bad input.
#include <catch2/catch.hpp>
#include <deque>
#include <map>

#include "providers/auth/credentials.hpp"
#include "providers/music/spotify.hpp"
#include "support/app_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace std::chrono_literals;

namespace {

// Time for the HTTP client that moves only when it sleeps or is told to.
struct FakeClock : http::Clock {
  std::chrono::steady_clock::time_point base = std::chrono::steady_clock::now();
  std::atomic<int64_t> ms{0};
  std::chrono::steady_clock::time_point now() override { return base + std::chrono::milliseconds(ms.load()); }
  void sleep_for(http::Ms d) override { ms += d.count(); }
};

// Spotify ids: 22 base62 characters.
std::string sid(const std::string& seed) {
  static const char* digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : seed) h = (h ^ c) * 1099511628211ull;
  std::string out;
  while (out.size() < 22) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    out += digits[(h >> 33) % 62];
  }
  return out;
}

const std::string kApi = "https://api.spotify.com/v1";

struct FakeSpotify {
  std::mutex m;

  struct TrackRow {
    std::string id, name, album_id;
    int number, duration;
  };
  struct AlbumRow {
    std::string id, name, artist_id, date;
    std::vector<std::string> tracks;
  };
  struct ArtistRow {
    std::string id, name;
  };
  struct ShowRow {
    std::string id, name, publisher;
    std::vector<std::string> episodes;
  };
  struct EpisodeRow {
    std::string id, name, show_id;
    int duration;
  };
  struct PlaylistRow {
    std::string id, name, description, owner;
    bool is_public = false;
    std::vector<std::string> items;  // uris
    int snapshot = 1;
    bool collaborative = false;
  };
  struct DeviceRow {
    std::string id, name, type;
    int volume;
    bool supports_volume;
  };
  std::map<std::string, TrackRow> tracks;
  std::map<std::string, AlbumRow> albums;
  std::map<std::string, ArtistRow> artists;
  std::map<std::string, ShowRow> shows;
  std::map<std::string, EpisodeRow> episodes;
  std::vector<std::string> playlist_order;
  std::map<std::string, PlaylistRow> playlists;
  std::vector<DeviceRow> devices{{"9d3a1c0e5b7f4a2d8c6e1f0a3b5d7c9e1f2a4b6c", "Ada's laptop", "Computer", 64, true},
                                 {"5e7c9a1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f1e3a", "Kitchen speaker", "Speaker", 40, false}};
  std::string me = "ada";

  // The player.
  bool premium = true;
  std::string active;  // device id; empty: none (GET /me/player answers 204)
  std::string context;
  std::vector<std::string> order;  // track ids of the context
  int index = -1;
  std::string current;
  std::deque<std::string> user_queue;
  bool playing = false, shuffle = false;
  int position = 0;
  std::string repeat = "off";
  std::atomic<int> old_endpoint_calls{0};
  std::vector<std::string> paths;  // every API call, "METHOD /path"
  std::vector<std::string> requests;  // ...and with its parameters, "METHOD /path k=v&k=v"
  // Spotify applies player commands after answering 204: with `lag`, that many reads after a
  // command still show the player as it was.
  int lag = 0, stale_left = 0;
  Json stale;
  // An account signed in read-only: every change is refused for its scope.
  bool read_only_grant = false;
  // Last, so it goes first: the server stops (and a request still stalling finishes) while the
  // state its handlers touch is still there.
  FakeUpstream up;

  static std::string uri(const char* kind, const std::string& id) { return std::string("spotify:") + kind + ":" + id; }

  FakeSpotify() {
    add_album("Midnight Tram", "Nora Vale", "2021-03-12", {{"Last Stop", 241000}, {"Neon Rain", 198000}, {"Quiet Carriage", 222000}, {"Night Shift", 260000}});
    add_album("Harbour Lights", "The Lanterns", "2019", {{"Low Tide", 214000}, {"Harbour Lights", 251000}, {"Paper Boats", 198000}});
    // A playlist the user follows but does not own.
    PlaylistRow other{sid("pl-other"), "Night Drive", "Synths &amp; city lights", "someone-else", true, {}};
    ShowRow show{sid("show-tram"), "Tram Talk", "Nora Vale", {}};
    for (auto& [title, ms] : std::vector<std::pair<std::string, int>>{{"Episode one: the depot", 1800000}, {"Episode two: the night line", 2100000}}) {
      std::string id = sid("episode-" + title);
      episodes[id] = {id, title, show.id, ms};
      show.episodes.push_back(id);
    }
    shows[show.id] = show;
    for (int round = 0; round < 18; ++round)  // 126 entries: more than one page
      for (auto& [id, t] : tracks) other.items.push_back(uri("track", id));
    playlists[other.id] = other;
    playlist_order.push_back(other.id);
    routes();
  }

  void add_album(const std::string& name, const std::string& artist, const std::string& date,
                 std::vector<std::pair<std::string, int>> list) {
    std::string artist_id = sid("artist-" + artist);
    artists[artist_id] = {artist_id, artist};
    AlbumRow a{sid("album-" + name), name, artist_id, date, {}};
    int n = 0;
    for (auto& [title, ms] : list) {
      std::string id = sid("track-" + name + "-" + title);
      tracks[id] = {id, title, a.id, ++n, ms};
      a.tracks.push_back(id);
    }
    albums[a.id] = a;
  }
  std::string track_id(const std::string& title) {
    for (auto& [id, t] : tracks)
      if (t.name == title) return id;
    FAIL("no track " << title);
    return "";
  }

  // ---- the API's objects ----
  Json artist_json(const std::string& id) {
    auto& a = artists.at(id);
    return {{"external_urls", {{"spotify", "https://open.spotify.com/artist/" + id}}}, {"href", kApi + "/artists/" + id}, {"id", id},
            {"name", a.name}, {"type", "artist"}, {"uri", uri("artist", id)}};
  }
  Json album_json(const std::string& id) {
    auto& a = albums.at(id);
    return {{"album_type", "album"}, {"total_tracks", a.tracks.size()}, {"external_urls", {{"spotify", "https://open.spotify.com/album/" + id}}},
            {"href", kApi + "/albums/" + id}, {"id", id}, {"images", Json::array()}, {"name", a.name}, {"release_date", a.date},
            {"release_date_precision", a.date.size() == 4 ? "year" : "day"}, {"type", "album"}, {"uri", uri("album", id)},
            {"artists", {artist_json(a.artist_id)}}};
  }
  Json track_json(const std::string& id) {
    auto& t = tracks.at(id);
    auto& a = albums.at(t.album_id);
    return {{"album", album_json(a.id)}, {"artists", {artist_json(a.artist_id)}}, {"disc_number", 1}, {"duration_ms", t.duration},
            {"explicit", false}, {"external_urls", {{"spotify", "https://open.spotify.com/track/" + id}}}, {"href", kApi + "/tracks/" + id},
            {"id", id}, {"is_local", false}, {"is_playable", true}, {"name", t.name}, {"track_number", t.number}, {"type", "track"},
            {"uri", uri("track", id)}};
  }
  Json episode_json(const std::string& id) {
    auto& e = episodes.at(id);
    auto& sh = shows.at(e.show_id);
    return {{"duration_ms", e.duration}, {"href", kApi + "/episodes/" + id}, {"id", id}, {"name", e.name}, {"type", "episode"},
            {"uri", uri("episode", id)},
            {"show", {{"id", sh.id}, {"name", sh.name}, {"publisher", sh.publisher}, {"type", "show"}, {"uri", uri("show", sh.id)}}}};
  }
  // A track or an episode by its id.
  Json item_json(const std::string& id) { return episodes.count(id) ? episode_json(id) : track_json(id); }
  static std::string id_of(const std::string& u) { return u.substr(u.rfind(':') + 1); }
  Json owner_json(const std::string& id) {
    return {{"external_urls", {{"spotify", "https://open.spotify.com/user/" + id}}}, {"href", kApi + "/users/" + id}, {"id", id},
            {"type", "user"}, {"uri", uri("user", id)}, {"display_name", id}};
  }
  Json page(const std::string& href, Json items, int limit, int offset, int total) {
    auto link = [&](int at) { return Json(href + (href.find('?') == std::string::npos ? "?" : "&") + "offset=" + std::to_string(at) + "&limit=" + std::to_string(limit)); };
    return {{"href", href}, {"limit", limit}, {"offset", offset}, {"total", total}, {"items", std::move(items)},
            {"next", offset + limit < total ? link(offset + limit) : Json()}, {"previous", offset > 0 ? link(std::max(0, offset - limit)) : Json()}};
  }
  // Episodes only for a client that says it takes them (additional_types); else null here.
  Json entries(const PlaylistRow& p, int offset, int limit, bool episodes_too) {
    Json out = Json::array();
    for (int i = offset; i < std::min<int>(p.items.size(), offset + limit); ++i) {
      std::string id = id_of(p.items[i]);
      bool episode = episodes.count(id) > 0;
      out.push_back({{"added_at", "2026-03-01T10:00:00Z"}, {"added_by", owner_json(p.owner)}, {"is_local", false},
                     {"item", episode && !episodes_too ? Json() : item_json(id)}});
    }
    return out;
  }
  static bool takes_episodes(const httplib::Request& req) {
    return req.get_param_value("additional_types").find("episode") != std::string::npos;
  }
  // Since February 2026 a development-mode app reads the items of the user's own playlists (and
  // those they collaborate on) only; of others it gets the metadata
  // (developer.spotify.com/documentation/web-api/references/changes/february-2026).
  bool readable(const PlaylistRow& p) { return p.owner == me || p.collaborative; }
  Json playlist_json(const PlaylistRow& p, bool full, bool episodes_too = false) {
    Json j{{"collaborative", p.collaborative}, {"description", p.description}, {"external_urls", {{"spotify", "https://open.spotify.com/playlist/" + p.id}}},
           {"href", kApi + "/playlists/" + p.id}, {"id", p.id}, {"images", Json::array()}, {"name", p.name}, {"owner", owner_json(p.owner)},
           {"public", p.is_public}, {"snapshot_id", "snap-" + std::to_string(p.snapshot)}, {"type", "playlist"}, {"uri", uri("playlist", p.id)}};
    std::string href = kApi + "/playlists/" + p.id + "/items";
    if (full && !readable(p)) j["items"] = page(href, Json::array(), 100, 0, 0);
    else j["items"] = full ? page(href, entries(p, 0, 100, episodes_too), 100, 0, int(p.items.size())) : Json{{"href", href}, {"total", p.items.size()}};
    return j;
  }
  Json device_json(const DeviceRow& d) {
    return {{"id", d.id}, {"is_active", d.id == active}, {"is_private_session", false}, {"is_restricted", false}, {"name", d.name},
            {"type", d.type}, {"volume_percent", d.volume}, {"supports_volume", d.supports_volume}};
  }
  DeviceRow* device(const std::string& id) {
    for (auto& d : devices)
      if (d.id == id) return &d;
    return nullptr;
  }

  static void error(httplib::Response& res, int status, const std::string& message, const std::string& reason = "") {
    Json e{{"status", status}, {"message", message}};
    if (!reason.empty()) e["reason"] = reason;
    res.status = status;
    res.set_content(Json{{"error", e}}.dump(), "application/json");
  }
  static void send(httplib::Response& res, const Json& j, int status = 200) {
    res.status = status;
    res.set_content(j.dump(), "application/json");
  }
  // Player commands: Premium, then the device (device_id, else the active one).
  bool player_ready(const httplib::Request& req, httplib::Response& res) {
    if (!premium) return error(res, 403, "Player command failed: Premium required", "PREMIUM_REQUIRED"), false;
    if (req.has_param("device_id")) {
      if (!device(req.get_param_value("device_id"))) return error(res, 404, "Device not found"), false;
      active = req.get_param_value("device_id");
    }
    if (active.empty()) return error(res, 404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE"), false;
    return true;
  }
  void start(const std::string& id) {
    current = id;
    position = 0;
    playing = true;
  }
  bool advance() {
    if (!user_queue.empty()) {
      start(user_queue.front());
      user_queue.pop_front();
    } else if (index + 1 < int(order.size())) {
      start(order[++index]);
    } else if (repeat == "context" && !order.empty()) {
      start(order[index = 0]);
    } else {
      return false;
    }
    return true;
  }
  std::optional<std::vector<std::string>> context_tracks(const std::string& ctx) {
    auto colon = ctx.rfind(':');
    std::string kind = ctx.substr(8, colon - 8), id = ctx.substr(colon + 1);
    if (kind == "album" && albums.count(id)) return albums[id].tracks;
    if (kind == "playlist" && playlists.count(id)) {
      std::vector<std::string> out;
      for (auto& u : playlists[id].items) out.push_back(id_of(u));
      return out;
    }
    if (kind == "show" && shows.count(id)) return shows[id].episodes;
    if (kind == "artist" && artists.count(id)) {
      std::vector<std::string> out;
      for (auto& [aid, a] : albums)
        if (a.artist_id == id) out.insert(out.end(), a.tracks.begin(), a.tracks.end());
      return out;
    }
    return std::nullopt;
  }
  std::string track_of(const std::string& u) {
    if (u.rfind("spotify:track:", 0) == 0 && tracks.count(id_of(u))) return id_of(u);
    if (u.rfind("spotify:episode:", 0) == 0 && episodes.count(id_of(u))) return id_of(u);
    return "";
  }

  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  // GET /me/player; null for 204 (no active device).
  Json player_json() {
    if (active.empty()) return nullptr;
    Json ctx;
    if (!context.empty())
      ctx = {{"type", context.substr(8, context.rfind(':') - 8)}, {"uri", context}, {"href", kApi}, {"external_urls", Json::object()}};
    return {{"device", device_json(*device(active))}, {"repeat_state", repeat}, {"shuffle_state", shuffle}, {"context", ctx},
            {"timestamp", 1772000000000}, {"progress_ms", current.empty() ? Json() : Json(position)}, {"is_playing", playing},
            {"item", current.empty() ? Json() : item_json(current)},
            {"currently_playing_type", current.empty() ? "unknown" : episodes.count(current) ? "episode" : "track"},
            {"actions", {{"disallows", {{"resuming", playing}}}}}};
  }

  Handler locked(Handler h) {
    return [this, h](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      paths.push_back(req.method + " " + req.path);
      std::string params;
      for (auto& [k, v] : req.params) params += (params.empty() ? "" : "&") + k + "=" + v;
      requests.push_back(req.method + " " + req.path + " " + params);
      if (read_only_grant && req.method != "GET") return error(res, 403, "Insufficient client scope");
      if (lag > 0 && req.method != "GET" && req.path.rfind("/v1/me/player", 0) == 0) {
        stale = player_json();
        stale_left = lag;
      }
      h(req, res);
    };
  }

  void routes() {
    auto& s = up.server;
    s.Get("/v1/search", locked([this](auto& req, auto& res) {
      std::string q = req.get_param_value("q"), type = req.get_param_value("type");
      if (q.empty()) return error(res, 400, "No search query");
      if (type.empty()) return error(res, 400, "Missing parameter type");
      int limit = req.has_param("limit") ? std::stoi(req.get_param_value("limit")) : 5;
      if (limit < 1 || limit > 10) return error(res, 400, "Invalid limit");
      auto lower = [](std::string x) {
        for (auto& c : x) c = char(std::tolower(static_cast<unsigned char>(c)));
        return x;
      };
      auto has = [&](const std::string& text) { return lower(text).find(lower(q)) != std::string::npos; };
      Json out;
      std::string href = kApi + "/search?q=" + q + "&type=" + type;
      for (size_t at = 0, end; at <= type.size(); at = end + 1) {
        end = type.find(',', at);
        if (end == std::string::npos) end = type.size();
        std::string t = type.substr(at, end - at);
        Json items = Json::array();
        if (t == "track") {
          for (auto& [id, tr] : tracks)
            if (has(tr.name) || has(albums[tr.album_id].name) || has(artists[albums[tr.album_id].artist_id].name)) items.push_back(track_json(id));
        } else if (t == "album") {
          for (auto& [id, a] : albums)
            if (has(a.name) || has(artists[a.artist_id].name)) items.push_back(album_json(id));
        } else if (t == "artist") {
          for (auto& [id, a] : artists)
            if (has(a.name)) items.push_back(artist_json(id));
        } else if (t == "playlist") {
          items.push_back(nullptr);  // Spotify's playlist results hold nulls for what it hides
          for (auto& id : playlist_order)
            if (has(playlists[id].name)) items.push_back(playlist_json(playlists[id], false));
        } else {
          return error(res, 400, "Bad search type field " + t);
        }
        int total = int(items.size());
        if (int(items.size()) > limit) items.erase(items.begin() + limit, items.end());
        out[t + "s"] = page(href, items, limit, 0, total);
      }
      send(res, out);
    }));

    s.Get("/v1/me/player", locked([this](auto&, auto& res) {
      Json j = stale_left > 0 ? (--stale_left, stale) : player_json();
      if (j.is_null()) return void(res.status = 204);
      send(res, j);
    }));
    s.Get("/v1/me/player/devices", locked([this](auto&, auto& res) {
      Json list = Json::array();
      for (auto& d : devices) list.push_back(device_json(d));
      send(res, {{"devices", list}});
    }));
    s.Put("/v1/me/player/play", locked([this](auto& req, auto& res) {
      if (!player_ready(req, res)) return;
      Json body = req.body.empty() ? Json::object() : Json::parse(req.body, nullptr, false);
      if (body.is_discarded()) return error(res, 400, "Malformed json");
      if (body.contains("context_uri")) {
        std::string ctx = body["context_uri"];
        std::string kind = ctx.substr(8, ctx.rfind(':') - 8);
        // offset is for albums and playlists only (Start/Resume Playback's reference).
        if (body.contains("offset") && kind != "album" && kind != "playlist") {
          for (auto& c : kind) c = char(std::toupper(static_cast<unsigned char>(c)));
          return error(res, 400, "Can't have offset for context type: " + kind);
        }
        auto list = context_tracks(body["context_uri"]);
        if (!list || list->empty()) return error(res, 404, "Not found.");
        int at = 0;
        if (body.contains("offset") && body["offset"].contains("uri")) {
          auto it = std::find(list->begin(), list->end(), body["offset"]["uri"].get<std::string>().substr(14));
          if (it == list->end()) return error(res, 404, "Not found.");
          at = int(it - list->begin());
        } else if (body.contains("offset")) {
          at = body["offset"].value("position", 0);
          if (at < 0 || at >= int(list->size())) return error(res, 400, "Invalid offset position");
        }
        order = *list;
        index = at;
        context = body["context_uri"];
        start(order[at]);
      } else if (body.contains("uris")) {
        order.clear();
        for (auto& u : body["uris"]) {
          std::string id = track_of(u);
          if (id.empty()) return error(res, 400, "Invalid track uri: " + u.get<std::string>());
          order.push_back(id);
        }
        index = 0;
        context.clear();
        start(order[0]);
      } else {
        // Nothing to resume, or already playing: Spotify refuses without a specific reason.
        if (current.empty() || playing) return error(res, 403, "Player command failed: Restriction violated", "UNKNOWN");
        playing = true;
      }
      if (body.contains("position_ms")) position = body["position_ms"];
      res.status = 204;
    }));
    s.Put("/v1/me/player/pause", locked([this](auto& req, auto& res) {
      if (!player_ready(req, res)) return;
      if (!playing) return error(res, 403, "Player command failed: Restriction violated", "UNKNOWN");
      playing = false;
      res.status = 204;
    }));
    s.Post("/v1/me/player/next", locked([this](auto& req, auto& res) {
      if (!player_ready(req, res)) return;
      if (!advance()) return error(res, 403, "Player command failed: No next track", "NO_NEXT_TRACK");
      res.status = 204;
    }));
    s.Post("/v1/me/player/previous", locked([this](auto& req, auto& res) {
      if (!player_ready(req, res)) return;
      if (position < 3000 && index > 0 && current == order[index]) --index;
      if (index >= 0) start(order[index]);
      res.status = 204;
    }));
    s.Put("/v1/me/player/seek", locked([this](auto& req, auto& res) {
      if (!player_ready(req, res)) return;
      if (!req.has_param("position_ms")) return error(res, 400, "Missing required parameter: position_ms");
      position = std::stoi(req.get_param_value("position_ms"));
      res.status = 204;
    }));
    s.Put("/v1/me/player/volume", locked([this](auto& req, auto& res) {
      if (!player_ready(req, res)) return;
      int v = std::stoi(req.get_param_value("volume_percent"));
      if (v < 0 || v > 100) return error(res, 400, "Invalid volume_percent");
      if (!device(active)->supports_volume) return error(res, 403, "Player command failed: Cannot control device volume", "VOLUME_CONTROL_DISALLOW");
      device(active)->volume = v;
      res.status = 204;
    }));
    s.Put("/v1/me/player/shuffle", locked([this](auto& req, auto& res) {
      if (!player_ready(req, res)) return;
      shuffle = req.get_param_value("state") == "true";
      res.status = 204;
    }));
    s.Put("/v1/me/player/repeat", locked([this](auto& req, auto& res) {
      if (!player_ready(req, res)) return;
      std::string st = req.get_param_value("state");
      if (st != "off" && st != "track" && st != "context") return error(res, 400, "Invalid state");
      repeat = st;
      res.status = 204;
    }));
    s.Put("/v1/me/player", locked([this](auto& req, auto& res) {
      if (!premium) return error(res, 403, "Player command failed: Premium required", "PREMIUM_REQUIRED");
      Json body = Json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("device_ids") || body["device_ids"].size() != 1)
        return error(res, 400, "Exactly one device id must be given");
      if (!device(body["device_ids"][0])) return error(res, 404, "Device not found");
      active = body["device_ids"][0];
      if (body.value("play", false)) playing = true;
      res.status = 204;
    }));
    s.Get("/v1/me/player/queue", locked([this](auto&, auto& res) {
      Json q = Json::array();
      for (auto& id : user_queue) q.push_back(track_json(id));
      for (int i = index + 1; i < int(order.size()) && q.size() < 20; ++i) q.push_back(item_json(order[i]));
      send(res, {{"currently_playing", current.empty() ? Json() : item_json(current)}, {"queue", q}});
    }));
    s.Post("/v1/me/player/queue", locked([this](auto& req, auto& res) {
      if (!player_ready(req, res)) return;
      std::string id = track_of(req.get_param_value("uri"));
      if (id.empty()) return error(res, 400, "Invalid base62 id");
      user_queue.push_back(id);
      res.status = 204;
    }));

    s.Get("/v1/me/playlists", locked([this](auto& req, auto& res) {
      int limit = req.has_param("limit") ? std::stoi(req.get_param_value("limit")) : 20;
      int offset = req.has_param("offset") ? std::stoi(req.get_param_value("offset")) : 0;
      if (limit < 1 || limit > 50) return error(res, 400, "Invalid limit");
      Json items = Json::array();
      for (int i = offset; i < std::min<int>(playlist_order.size(), offset + limit); ++i) items.push_back(playlist_json(playlists[playlist_order[i]], false));
      send(res, page(kApi + "/me/playlists", items, limit, offset, int(playlist_order.size())));
    }));
    s.Post("/v1/me/playlists", locked([this](auto& req, auto& res) {
      Json body = Json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) return error(res, 400, "Missing required field: name");
      PlaylistRow p{sid("pl-" + std::to_string(playlists.size()) + body["name"].get<std::string>()), body["name"], body.value("description", ""),
                    me, body.value("public", true), {}};
      playlists[p.id] = p;
      playlist_order.insert(playlist_order.begin(), p.id);
      send(res, playlist_json(p, true), 201);
    }));
    // Gone for development-mode apps since March 2026: a test catches an adapter still using them.
    auto gone = [this](const httplib::Request&, httplib::Response& res) {
      ++old_endpoint_calls;
      error(res, 403, "Forbidden");
    };
    s.Get(R"(/v1/playlists/([^/]+)/tracks)", gone);
    s.Post(R"(/v1/playlists/([^/]+)/tracks)", gone);
    s.Delete(R"(/v1/playlists/([^/]+)/tracks)", gone);
    s.Post(R"(/v1/users/([^/]+)/playlists)", gone);

    auto find = [this](const httplib::Request& req, httplib::Response& res) -> PlaylistRow* {
      std::string id = req.matches[1];
      if (id.size() != 22) return error(res, 400, "Invalid base62 id"), nullptr;
      auto it = playlists.find(id);
      if (it == playlists.end()) return error(res, 404, "Resource not found"), nullptr;
      return &it->second;
    };
    s.Get(R"(/v1/playlists/([^/]+))", locked([this, find](auto& req, auto& res) {
      if (auto* p = find(req, res)) send(res, playlist_json(*p, true, takes_episodes(req)));
    }));
    s.Get(R"(/v1/playlists/([^/]+)/items)", locked([this, find](auto& req, auto& res) {
      auto* p = find(req, res);
      if (!p) return;
      if (!readable(*p)) return error(res, 403, "Forbidden");
      int limit = req.has_param("limit") ? std::stoi(req.get_param_value("limit")) : 20;
      int offset = req.has_param("offset") ? std::stoi(req.get_param_value("offset")) : 0;
      if (limit < 1 || limit > 50) return error(res, 400, "Invalid limit");
      send(res, page(kApi + "/playlists/" + p->id + "/items", entries(*p, offset, limit, takes_episodes(req)), limit, offset, int(p->items.size())));
    }));
    s.Post(R"(/v1/playlists/([^/]+)/items)", locked([this, find](auto& req, auto& res) {
      auto* p = find(req, res);
      if (!p) return;
      if (p->owner != me) return error(res, 403, "You cannot add tracks to a playlist you don't own.");
      Json body = Json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("uris")) return error(res, 400, "No uris provided");
      if (body["uris"].size() > 100) return error(res, 400, "Too many ids requested");
      for (auto& u : body["uris"])
        if (track_of(u).empty()) return error(res, 400, "Payload contains a non-existing ID");
      for (auto& u : body["uris"]) p->items.push_back(u);
      ++p->snapshot;
      send(res, {{"snapshot_id", "snap-" + std::to_string(p->snapshot)}}, 201);
    }));
    s.Delete(R"(/v1/playlists/([^/]+)/items)", locked([this, find](auto& req, auto& res) {
      auto* p = find(req, res);
      if (!p) return;
      if (p->owner != me) return error(res, 403, "You cannot remove tracks from a playlist you don't own.");
      Json body = Json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("items") || !body["items"].is_array()) return error(res, 400, "Missing items");
      for (auto& e : body["items"]) std::erase(p->items, e.value("uri", ""));
      ++p->snapshot;
      send(res, {{"snapshot_id", "snap-" + std::to_string(p->snapshot)}});
    }));
  }
};

struct Fixture : AppFixture, ToolCalls {
  FakeSpotify spot;
  FakeClock clock;
  auth::TokenStore tokens{store, auth::Sealer(std::string(32, 'K'))};
  std::shared_ptr<auth::OAuthClient> oauth;
  std::shared_ptr<http::Client> client;
  std::shared_ptr<music::SpotifyMusic> adapter;
  test::Client c{*server};
  int64_t u = store.user_id("local");

  explicit Fixture(std::function<void(http::Policy&)> tune = nullptr) : ToolCalls(c) {
    http::Policy p = spot.up.policy("spotify");
    p.base_url = spot.up.url("/v1");
    if (tune) tune(p);
    client = std::make_shared<http::Client>(p, clock);
    oauth = std::make_shared<auth::OAuthClient>(spot.up.oauth("spotify"), tokens, spot.up.policy("spotify"));
    spot.up.sign_in(tokens, u, "spotify", "personal");
    adapter = std::make_shared<music::SpotifyMusic>(client, std::make_shared<auth::OAuthCredentials>(oauth, "spotify", "personal"));
    providers.music = {};
    providers.music.add("default", adapter);
    c.initialize("2025-11-25");
  }
  // The HTTP clients go before the fake: their kept-alive connections would hold its shutdown
  // for httplib's keep-alive timeout.
  ~Fixture() {
    providers.music = {};
    adapter.reset();
    client.reset();
    oauth.reset();
  }
  std::string laptop() { return spot.devices[0].id; }
  std::string speaker() { return spot.devices[1].id; }
  // No token the fake issued anywhere a person or a model could read it.
  void check_no_secrets() {
    for (int i = 0; i < 200 && history.count("local") < size_t(calls()); ++i) std::this_thread::sleep_for(10ms);
    store::History::Query q;
    q.user = "local";
    q.limit = 1000;
    std::string stored = history.query(q).rows.dump();
    std::string logs;
    for (const auto& l : captured_logs()) logs += l + "\n";
    REQUIRE_FALSE(spot.up.seen_tokens.empty());
    for (const auto& secret : spot.up.seen_tokens) {
      INFO(secret);
      CHECK(stored.find(secret) == std::string::npos);
      CHECK(logs.find(secret) == std::string::npos);
      for (auto& e : errors) CHECK(e.find(secret) == std::string::npos);
    }
  }
};

}  // namespace

TEST_CASE("spotify: policy and OAuth scopes", "[spotify]") {
  auto p = music::spotify_policy();
  CHECK(p.base_url == "https://api.spotify.com/v1");
  CHECK(p.service == "spotify");
  CHECK(p.rate_per_second <= 5);
  auto rw = music::spotify_oauth(false), ro = music::spotify_oauth(true);
  CHECK(rw.authorize_url == "https://accounts.spotify.com/authorize");
  CHECK(rw.token_url == "https://accounts.spotify.com/api/token");
  auto has = [](const auth::OAuthConfig& c, const std::string& s) { return std::find(c.scopes.begin(), c.scopes.end(), s) != c.scopes.end(); };
  for (auto s : {"user-read-playback-state", "user-read-currently-playing", "playlist-read-private"}) {
    CHECK(has(rw, s));
    CHECK(has(ro, s));
  }
  for (auto s : {"user-modify-playback-state", "playlist-modify-private", "playlist-modify-public"}) {
    CHECK(has(rw, s));
    CHECK_FALSE(has(ro, s));
  }
  CHECK_FALSE(has(rw, "user-read-email"));
  CHECK_FALSE(has(rw, "user-library-modify"));
}

TEST_CASE("spotify: no device, then an album, skip, now playing, queue, playlists through the tools", "[spotify]") {
  Fixture f;
  // Spotify open on two devices, neither active: nothing plays, and playing needs a device.
  Json idle = f.ok("music_now_playing", Json::object());
  CHECK(idle["player"]["track"].is_null());
  REQUIRE(idle["devices"].size() == 2);
  CHECK(idle["devices"][0]["type"] == "computer");
  CHECK(idle["devices"][0]["active"] == false);
  Json found = f.ok("music_search", {{"query", "Midnight Tram"}, {"types", {"album"}}});
  REQUIRE(found["albums"].size() == 1);
  CHECK(found["albums"][0]["year"] == 2021);
  CHECK(found["albums"][0]["track_count"] == 4);
  CHECK(found["albums"][0]["artist"] == "Nora Vale");
  std::string album = found["albums"][0]["uri"];
  CHECK(album.rfind("spotify:album:", 0) == 0);
  CHECK(f.error("music_playback", {{"action", "play"}, {"context_uri", album}}) ==
        "device_id: Spotify has no active device: open Spotify on a device or pass device_id");

  Json p = f.ok("music_playback", {{"action", "play"}, {"context_uri", album}, {"device_id", f.laptop()}});
  CHECK(p["player"]["track"]["title"] == "Last Stop");
  CHECK(p["player"]["track"]["track_number"] == 1);
  CHECK(p["player"]["playing"] == true);
  CHECK(p["player"]["context_uri"] == album);
  CHECK(p["player"]["device_id"] == f.laptop());
  CHECK(p["player"]["volume_percent"] == 64);
  CHECK(f.ok("music_playback", {{"action", "next"}})["player"]["track"]["title"] == "Neon Rain");
  Json now = f.ok("music_now_playing", Json::object());
  CHECK(now["player"]["track"]["track_number"] == 2);
  CHECK(now["player"]["track"]["album"] == "Midnight Tram");
  CHECK(now["devices"][0]["active"] == true);

  // A track from another album: queued ahead of the rest of the album.
  Json tracks = f.ok("music_search", {{"query", "paper boats"}, {"types", {"track"}}})["tracks"];
  REQUIRE(tracks.size() == 1);
  std::string boats = tracks[0]["uri"];
  Json q = f.ok("music_queue", {{"action", "add"}, {"uri", boats}});
  REQUIRE(q["queue"].size() == 3);
  CHECK(q["queue"][0]["title"] == "Paper Boats");
  CHECK(q["queue"][1]["title"] == "Quiet Carriage");
  CHECK(q["now_playing"]["title"] == "Neon Rain");
  CHECK(f.ok("music_queue", Json::object())["queue"][0]["uri"] == boats);
  CHECK(f.ok("music_playback", {{"action", "next"}})["player"]["track"]["title"] == "Paper Boats");
  CHECK(f.ok("music_playback", {{"action", "next"}})["player"]["track"]["title"] == "Quiet Carriage");

  // The rest of the controls.
  CHECK(f.ok("music_playback", {{"action", "pause"}})["player"]["playing"] == false);
  CHECK(f.ok("music_playback", {{"action", "pause"}})["player"]["playing"] == false);  // already paused: fine
  CHECK(f.ok("music_playback", {{"action", "seek"}, {"position_ms", 60000}})["player"]["position_ms"] == 60000);
  CHECK(f.ok("music_playback", {{"action", "resume"}})["player"]["playing"] == true);
  CHECK(f.ok("music_playback", {{"action", "volume"}, {"volume_percent", 30}})["player"]["volume_percent"] == 30);
  CHECK(f.ok("music_playback", {{"action", "shuffle"}, {"state", true}})["player"]["shuffle"] == true);
  CHECK(f.ok("music_playback", {{"action", "repeat"}, {"state", "context"}})["player"]["repeat"] == "context");
  CHECK(f.ok("music_playback", {{"action", "transfer"}, {"device_id", f.speaker()}})["player"]["device_id"] == f.speaker());
  CHECK_THAT(f.error("music_playback", {{"action", "volume"}, {"volume_percent", 50}}), Catch::StartsWith("volume_percent:"));
  // A track inside its album, by an open.spotify.com link.
  std::string night = "https://open.spotify.com/intl-de/track/" + f.spot.track_id("Night Shift") + "?si=abc";
  Json inside = f.ok("music_playback", {{"action", "play"}, {"uri", night}, {"context_uri", album}});
  CHECK(inside["player"]["track"]["title"] == "Night Shift");
  CHECK(inside["player"]["context_uri"] == album);
  CHECK(f.ok("music_playback", {{"action", "previous"}})["player"]["track"]["title"] == "Quiet Carriage");

  // Playlists: create (private), add, remove, get, list.
  Json pl = f.ok("music_playlists", {{"action", "create"}, {"name", "Road trip"}, {"description", "For the A7"}})["playlist"];
  std::string uri = pl["uri"];
  CHECK(uri.rfind("spotify:playlist:", 0) == 0);
  CHECK(pl["track_count"] == 0);
  CHECK(f.spot.playlists[uri.substr(17)].is_public == false);
  std::string low = "spotify:track:" + f.spot.track_id("Low Tide");
  Json added = f.ok("music_playlists", {{"action", "add"}, {"playlist_id", uri}, {"uris", {low, boats, low}}});
  CHECK(added["playlist"]["track_count"] == 3);
  Json removed = f.ok("music_playlists", {{"action", "remove"}, {"playlist_id", uri}, {"uris", {low}}});
  CHECK(removed["playlist"]["track_count"] == 1);  // every occurrence
  Json got = f.ok("music_playlists", {{"action", "get"}, {"playlist_id", uri.substr(17)}});
  REQUIRE(got["tracks"].size() == 1);
  CHECK(got["tracks"][0]["title"] == "Paper Boats");
  CHECK(got["tracks"][0]["artist"] == "The Lanterns");
  Json list = f.ok("music_playlists", Json::object())["playlists"];
  REQUIRE(list.size() == 2);
  CHECK(list[0]["name"] == "Road trip");
  CHECK(list[0]["description"] == "For the A7");
  CHECK(list[1]["description"] == "Synths & city lights");  // unescaped
  CHECK(list[1]["track_count"] == 126);
  // A playlist the user follows: Spotify gives its name, not its items.
  CHECK_THAT(f.error("music_playlists", {{"action", "get"}, {"playlist_id", list[1]["uri"]}}),
             Catch::StartsWith("playlist_id: 'Night Drive' is followed, not owned"));
  // Playing a playlist, and search finding it past Spotify's null entries.
  Json lists = f.ok("music_search", {{"query", "road"}, {"types", {"playlist"}}})["playlists"];
  REQUIRE(lists.size() == 1);
  CHECK(f.ok("music_playback", {{"action", "play"}, {"context_uri", uri}})["player"]["track"]["title"] == "Paper Boats");

  // A playlist by its open.spotify.com link; search asks for no more than Spotify's 10.
  CHECK(f.ok("music_playlists", {{"action", "get"}, {"playlist_id", "https://open.spotify.com/playlist/" + uri.substr(17) + "?si=x"}})["tracks"].size() == 1);
  CHECK(f.ok("music_search", {{"query", "a"}, {"types", {"track"}}, {"limit", 50}})["tracks"].size() == 7);

  CHECK(f.spot.old_endpoint_calls == 0);
  CHECK(std::count(f.spot.paths.begin(), f.spot.paths.end(), "POST /v1/me/playlists") == 1);
  f.check_no_secrets();
}

TEST_CASE("spotify: bad input names the field", "[spotify]") {
  Fixture f;
  std::string album = "spotify:album:" + f.spot.albums.begin()->first;
  f.ok("music_playback", {{"action", "play"}, {"context_uri", album}, {"device_id", f.laptop()}});
  int calls = f.spot.up.api_calls;
  // Refused before any call.
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"uri", "concierge:track:1"}}), Catch::StartsWith("uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", "spotify:track:" + f.spot.track_id("Low Tide")}}),
             Catch::StartsWith("context_uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "repeat"}, {"state", "sometimes"}}), Catch::StartsWith("state:"));
  CHECK_THAT(f.error("music_queue", {{"action", "add"}, {"uri", album}}), Catch::StartsWith("uri:"));
  CHECK_THAT(f.error("music_playlists", {{"action", "get"}, {"playlist_id", "spotify:album:abc"}}), Catch::StartsWith("playlist_id:"));
  CHECK_THAT(f.error("music_playlists", {{"action", "create"}, {"name", " "}}), Catch::StartsWith("name:"));
  CHECK_THAT(f.error("music_search", {{"query", "  "}}), Catch::StartsWith("query:"));
  // What the tools' schemas already refuse, straight at the adapter.
  auto field_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.field;
    }
    return "(nothing thrown)";
  };
  CHECK(field_of([&] { f.adapter->search(f.u, "x", {"podcast"}, 5); }) == "types");
  CHECK(field_of([&] { f.adapter->play(f.u, "", album, -1, ""); }) == "offset");
  CHECK(field_of([&] { f.adapter->transfer(f.u, ""); }) == "device_id");
  CHECK(field_of([&] { f.adapter->seek(f.u, -5); }) == "position_ms");
  CHECK(field_of([&] { f.adapter->set_volume(f.u, 150); }) == "volume_percent");
  std::string pl = f.spot.playlist_order[0];
  CHECK_THAT(f.error("music_playlists", {{"action", "add"}, {"playlist_id", pl}, {"uris", {"spotify:track:" + f.spot.track_id("Low Tide"), "nope"}}}),
             Catch::StartsWith("uris[1]:"));
  CHECK(f.spot.up.api_calls == calls);
  // Refused by Spotify, said with the field.
  CHECK_THAT(f.error("music_playback", {{"action", "seek"}, {"position_ms", 10'000'000}}), Catch::StartsWith("position_ms:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", "spotify:album:" + sid("nope")}}), Catch::StartsWith("context_uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", album}, {"offset", 10}}), Catch::StartsWith("offset:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"uri", "spotify:track:" + sid("nope")}}), Catch::StartsWith("uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "transfer"}, {"device_id", "toaster"}}), Catch::StartsWith("device_id: Spotify has no device 'toaster'"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", album}, {"device_id", "toaster"}}), Catch::StartsWith("device_id:"));
  CHECK_THAT(f.error("music_queue", {{"action", "add"}, {"uri", "spotify:track:" + sid("nope")}}), Catch::StartsWith("uri:"));
  CHECK_THAT(f.error("music_playlists", {{"action", "get"}, {"playlist_id", sid("nope")}}), Catch::StartsWith("playlist_id: Spotify has no playlist"));
  CHECK_THAT(f.error("music_playlists", {{"action", "add"}, {"playlist_id", sid("nope")}, {"uris", {"spotify:track:" + f.spot.track_id("Low Tide")}}}),
             Catch::StartsWith("playlist_id:"));
  auto before = f.spot.playlists[pl].items;
  CHECK_THAT(f.error("music_playlists", {{"action", "add"}, {"playlist_id", pl}, {"uris", {"spotify:track:" + sid("nope")}}}),
             Catch::StartsWith("playlist_id:"));  // not the user's playlist
  Json mine = f.ok("music_playlists", {{"action", "create"}, {"name", "Mine"}})["playlist"];
  CHECK_THAT(f.error("music_playlists", {{"action", "add"}, {"playlist_id", mine["uri"]}, {"uris", {"spotify:track:" + f.spot.track_id("Low Tide"), "spotify:track:" + sid("nope")}}}),
             Catch::StartsWith("uris:"));
  CHECK(f.spot.playlists[mine["uri"].get<std::string>().substr(17)].items.empty());  // all or nothing
  CHECK(f.spot.playlists[pl].items == before);
  // The end of the album.
  f.ok("music_playback", {{"action", "play"}, {"context_uri", album}, {"offset", 3}});
  CHECK_THAT(f.error("music_playback", {{"action", "next"}}), Catch::StartsWith("action:"));
  // Signed in read-only.
  f.spot.read_only_grant = true;
  CHECK_THAT(f.error("music_playlists", {{"action", "create"}, {"name", "Later"}}),
             Catch::StartsWith("account:") && Catch::Contains("concierge auth login spotify --account personal"));
  f.spot.read_only_grant = false;
  // Without Premium.
  f.spot.premium = false;
  CHECK(f.error("music_playback", {{"action", "pause"}}) == "account: Spotify playback control needs a Premium account");
  f.check_no_secrets();
}

TEST_CASE("spotify: 429 with Retry-After, 500 on a read, a stall, malformed JSON", "[spotify]") {
  Fixture f;
  f.spot.up.inject({Fault::Status429, 2});
  auto t0 = f.clock.ms.load();
  CHECK(f.ok("music_search", {{"query", "lanterns"}, {"types", {"artist"}}})["artists"].size() == 1);
  CHECK(f.clock.ms.load() - t0 >= 2000);  // waited as told
  f.spot.up.inject({Fault::Status500});
  CHECK(f.ok("music_playlists", Json::object())["playlists"].size() == 1);
  // A command that timed out is not repeated (it may have happened): said plainly.
  f.ok("music_playback", {{"action", "play"}, {"context_uri", "spotify:album:" + f.spot.albums.begin()->first}, {"device_id", f.laptop()}});
  f.spot.up.inject({Fault::Stall});
  CHECK_THAT(f.error("music_playback", {{"action", "next"}}), Catch::Contains("spotify did not answer"));
  f.spot.up.inject({Fault::Malformed});
  CHECK_THAT(f.error("music_playlists", Json::object()), Catch::Contains("not JSON"));
  CHECK(f.ok("music_playlists", Json::object())["playlists"].size() == 1);
  f.check_no_secrets();
}

TEST_CASE("spotify: an expired token is refreshed once, a revoked grant asks to sign in again", "[spotify]") {
  Fixture f;
  f.spot.up.inject({Fault::Expired});
  CHECK(f.ok("music_now_playing", Json::object())["devices"].size() == 2);
  CHECK(f.spot.up.refreshes == 1);
  CHECK(f.ok("music_playlists", Json::object())["playlists"].size() == 1);
  CHECK(f.spot.up.refreshes == 1);  // the new token holds
  f.spot.up.revoked = true;
  f.spot.up.inject({Fault::Expired});
  CHECK_THAT(f.error("music_playlists", Json::object()),
             Catch::StartsWith("account:") && Catch::Contains("concierge auth login spotify --account personal"));
  CHECK(f.spot.up.refreshes == 2);
  f.check_no_secrets();
}

TEST_CASE("spotify: the breaker opens after repeated failures and recovers", "[spotify]") {
  Fixture f([](http::Policy& p) {
    p.max_attempts = 1;
    p.breaker_threshold = 3;
    p.breaker_cooldown = 30s;
  });
  for (int i = 0; i < 3; ++i) {
    f.spot.up.inject({Fault::Status500});
    CHECK_THAT(f.error("music_playlists", Json::object()), Catch::Contains("500"));
  }
  CHECK(f.client->breaker() == http::BreakerState::Open);
  int calls = f.spot.up.api_calls;
  CHECK_THAT(f.error("music_playlists", Json::object()), Catch::Contains("stops calling"));
  CHECK(f.spot.up.api_calls == calls);  // failed fast
  f.clock.ms += 31'000;
  CHECK(f.client->breaker() == http::BreakerState::HalfOpen);
  CHECK(f.ok("music_playlists", Json::object())["playlists"].size() == 1);
  CHECK(f.client->breaker() == http::BreakerState::Closed);
  f.check_no_secrets();
}

TEST_CASE("spotify: a command Spotify applies late is read again until it shows", "[spotify]") {
  Fixture f;
  auto first = f.spot.albums.begin(), second = std::next(first);
  f.ok("music_playback", {{"action", "play"}, {"context_uri", "spotify:album:" + first->first}, {"device_id", f.laptop()}});
  f.spot.lag = 1;  // the first read after each command still shows the old state
  auto reads = std::count(f.spot.paths.begin(), f.spot.paths.end(), "GET /v1/me/player");
  Json p = f.ok("music_playback", {{"action", "play"}, {"context_uri", "spotify:album:" + second->first}, {"offset", 1}});
  CHECK(p["player"]["track"]["title"] == f.spot.tracks[second->second.tracks[1]].name);
  CHECK(std::count(f.spot.paths.begin(), f.spot.paths.end(), "GET /v1/me/player") == reads + 2);
  CHECK(f.ok("music_playback", {{"action", "pause"}})["player"]["playing"] == false);
  CHECK(f.ok("music_playback", {{"action", "volume"}, {"volume_percent", 10}})["player"]["volume_percent"] == 10);
}

TEST_CASE("spotify: playlists: an owned one is read in pages with its episodes, a followed one says what Spotify allows", "[spotify][playlists]") {
  Fixture f;
  // The user's own long playlist, a podcast episode among its tracks.
  FakeSpotify::PlaylistRow mine{sid("pl-long"), "Everything", "", f.spot.me, false, {}};
  {
    std::lock_guard l(f.spot.m);
    for (int round = 0; round < 18; ++round)
      for (auto& [id, t] : f.spot.tracks) mine.items.push_back(FakeSpotify::uri("track", id));
    mine.items.insert(mine.items.begin() + 1, FakeSpotify::uri("episode", f.spot.shows.begin()->second.episodes[0]));
    f.spot.playlists[mine.id] = mine;
    f.spot.playlist_order.push_back(mine.id);
  }
  Json all = f.ok("music_playlists", {{"action", "get"}, {"playlist_id", mine.id}});
  REQUIRE(all["tracks"].size() == 127);
  CHECK(all["tracks"][1]["title"] == "Episode one: the depot");
  CHECK(all["tracks"][1]["album"] == "Tram Talk");  // the show
  CHECK(std::count(f.spot.paths.begin(), f.spot.paths.end(), "GET /v1/playlists/" + mine.id + "/items") == 1);

  // Followed, not owned: GET /playlists/{id} has no items for it and /items answers 403. Said
  // as it is, not as an empty playlist nor as a permission to sign in again for.
  std::string followed = "spotify:playlist:" + sid("pl-other");
  std::string e = f.error("music_playlists", {{"action", "get"}, {"playlist_id", followed}});
  CHECK_THAT(e, Catch::StartsWith("playlist_id: 'Night Drive' is followed, not owned: Spotify lets apps read only the items of "
                                  "playlists you own or collaborate on"));
  CHECK_THAT(e, Catch::Contains("music_playback"));
  CHECK_THAT(e, !Catch::Contains("sign in"));
  // It still plays as a context.
  Json p = f.ok("music_playback", {{"action", "play"}, {"context_uri", followed}, {"device_id", f.laptop()}});
  CHECK(p["player"]["context_uri"] == followed);
  // A collaborative one reads like the user's own.
  {
    std::lock_guard l(f.spot.m);
    f.spot.playlists[sid("pl-other")].collaborative = true;
  }
  CHECK(f.ok("music_playlists", {{"action", "get"}, {"playlist_id", followed}})["tracks"].size() == 126);
  // Every playlist read asks for episodes too.
  int reads = 0;
  for (auto& r : f.spot.requests)
    if (r.rfind("GET /v1/playlists/", 0) == 0) {
      ++reads;
      CHECK_THAT(r, Catch::Contains("additional_types=track,episode"));
    }
  CHECK(reads >= 4);
}

TEST_CASE("spotify: pause when paused and resume when playing are no failure, however Spotify refuses them", "[spotify][player]") {
  Fixture f;
  std::string album = "spotify:album:" + f.spot.albums.begin()->first;
  f.ok("music_playback", {{"action", "play"}, {"context_uri", album}, {"device_id", f.laptop()}});
  // Spotify answers a redundant command 403 "Restriction violated" (reason UNKNOWN).
  CHECK(f.ok("music_playback", {{"action", "resume"}})["player"]["playing"] == true);
  CHECK(f.ok("music_playback", {{"action", "pause"}})["player"]["playing"] == false);
  CHECK(f.ok("music_playback", {{"action", "pause"}})["player"]["playing"] == false);
  // The same refusal when the player is not where the command would take it stays an error,
  // and says what Spotify said rather than asking to sign in again.
  {
    std::lock_guard l(f.spot.m);
    f.spot.current.clear();
  }
  std::string e = f.error("music_playback", {{"action", "resume"}});
  CHECK_THAT(e, Catch::StartsWith("action:") && Catch::Contains("Restriction violated"));
  CHECK_THAT(e, !Catch::Contains("sign in"));
}

TEST_CASE("spotify: a show plays without an offset, and an offset goes with albums and playlists only", "[spotify][player]") {
  Fixture f;
  auto& show = f.spot.shows.begin()->second;
  Json p = f.ok("music_playback", {{"action", "play"}, {"context_uri", "spotify:show:" + show.id}, {"device_id", f.laptop()}});
  CHECK(p["player"]["track"]["title"] == "Episode one: the depot");
  CHECK(p["player"]["context_uri"] == "spotify:show:" + show.id);
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", "spotify:show:" + show.id}, {"offset", 1}}), Catch::StartsWith("offset:"));
  // An album still starts where asked.
  auto& album = f.spot.albums.begin()->second;
  Json a = f.ok("music_playback", {{"action", "play"}, {"context_uri", "spotify:album:" + album.id}, {"offset", 2}});
  CHECK(a["player"]["track"]["title"] == f.spot.tracks[album.tracks[2]].name);
}
