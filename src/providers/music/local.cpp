#include "providers/music/local.hpp"

#include <algorithm>
#include <random>

#include "providers/error.hpp"
#include "providers/ids.hpp"
#include "common/json.hpp"

namespace concierge::providers::music {

namespace {

const std::vector<std::string> kMigrations{
    R"sql(
      CREATE TABLE music_albums (
        id TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        title TEXT NOT NULL,
        artist TEXT NOT NULL,
        year INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, id)
      );
      CREATE TABLE music_tracks (
        id TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        title TEXT NOT NULL,
        artist TEXT NOT NULL,
        album_id TEXT NOT NULL,
        track_number INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, id)
      );
      CREATE INDEX music_tracks_album ON music_tracks (user_id, album_id, track_number);
      CREATE TABLE music_playlists (
        id TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, id)
      );
      CREATE TABLE music_playlist_items (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        playlist_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        track_id TEXT NOT NULL,
        PRIMARY KEY (user_id, playlist_id, position)
      );
      -- One row per user: the player, as JSON (device, order, index, position, queue, modes).
      CREATE TABLE music_player (
        user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        state TEXT NOT NULL
      );
    )sql",
};

const std::vector<Device> kDevices{{"this-computer", "This computer", "computer"},
                                   {"living-room", "Living room speaker", "speaker"},
                                   {"phone", "Phone", "smartphone"}};

struct Uri {
  std::string kind, id;
};
Uri parse_uri(const std::string& uri, const std::string& field) {
  static const std::string prefix = "concierge:";
  auto colon = uri.find(':', prefix.size());
  if (uri.rfind(prefix, 0) != 0 || colon == std::string::npos || colon + 1 >= uri.size())
    throw Error(field, "'" + uri + "' is not a music URI (concierge:track:<id>, concierge:album:<id>, concierge:playlist:<id>, "
                       "concierge:artist:<id>); music_search finds them");
  Uri u{uri.substr(prefix.size(), colon - prefix.size()), uri.substr(colon + 1)};
  if (u.kind != "track" && u.kind != "album" && u.kind != "playlist" && u.kind != "artist")
    throw Error(field, "'" + uri + "' names no track, album, playlist or artist");
  return u;
}

std::string slug(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c)) out += char(std::tolower(c));
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

const char* kTrackCols =
    "SELECT t.id, t.title, t.artist, a.title, a.id, t.track_number, t.duration_ms FROM music_tracks t "
    "JOIN music_albums a ON a.user_id = t.user_id AND a.id = t.album_id ";

Track read_track(sql::Statement& q) {
  return Track{"concierge:track:" + q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
               q.getColumn(3).getString(), "concierge:album:" + q.getColumn(4).getString(), q.getColumn(5).getInt(),
               q.getColumn(6).getInt()};
}

std::optional<Track> find_track(sql::Database& db, const Call& call, const std::string& id) {
  sql::Statement q(db, std::string(kTrackCols) + "WHERE t.user_id = ? AND t.id = ?");
  q.bind(1, call.user);
  q.bind(2, id);
  if (!q.executeStep()) return std::nullopt;
  return read_track(q);
}

std::vector<Track> tracks_where(sql::Database& db, const Call& call, const std::string& where, const std::string& value,
                                const std::string& order = "a.year, a.title, t.track_number") {
  sql::Statement q(db, std::string(kTrackCols) + "WHERE t.user_id = ? AND " + where + " ORDER BY " + order);
  q.bind(1, call.user);
  q.bind(2, value);
  std::vector<Track> out;
  while (q.executeStep()) out.push_back(read_track(q));
  return out;
}

std::vector<Track> playlist_tracks(sql::Database& db, const Call& call, const std::string& id) {
  sql::Statement q(db, std::string(kTrackCols) + "JOIN music_playlist_items i ON i.user_id = t.user_id AND i.track_id = t.id "
                                                    "WHERE t.user_id = ? AND i.playlist_id = ? ORDER BY i.position");
  q.bind(1, call.user);
  q.bind(2, id);
  std::vector<Track> out;
  while (q.executeStep()) out.push_back(read_track(q));
  return out;
}

// The tracks a context plays, in order. Error naming `field` when it names nothing.
std::vector<Track> context_tracks(sql::Database& db, const Call& call, const std::string& uri, const std::string& field) {
  auto u = parse_uri(uri, field);
  std::vector<Track> out;
  if (u.kind == "album") out = tracks_where(db, call.user, "t.album_id = ?", u.id, "t.track_number");
  else if (u.kind == "artist") out = tracks_where(db, call.user, "lower(t.artist) = lower(?)", u.id);
  else if (u.kind == "playlist") out = playlist_tracks(db, call.user, u.id);
  else throw Error(field, "'" + uri + "' is a track; pass it as uri, or an album, playlist or artist as context_uri");
  if (out.empty() && u.kind == "artist") {  // an artist is named by the slug of their name
    sql::Statement q(db, "SELECT DISTINCT artist FROM music_tracks WHERE user_id = ?");
    q.bind(1, call.user);
    while (q.executeStep())
      if (slug(q.getColumn(0).getString()) == u.id) out = tracks_where(db, call.user, "t.artist = ?", q.getColumn(0).getString());
  }
  if (out.empty()) {
    if (u.kind == "playlist") {
      sql::Statement q(db, "SELECT 1 FROM music_playlists WHERE user_id = ? AND id = ?");
      q.bind(1, call.user);
      q.bind(2, u.id);
      if (q.executeStep()) throw Error(field, "the playlist is empty");
    }
    throw NotFound(field, "nothing in the library is '" + uri + "'");
  }
  return out;
}

// The player, persisted as JSON. `started_ms` is when position `position_ms` was current while
// playing; the position at any moment follows from the clock.
struct Player {
  std::string device = "this-computer";
  bool playing = false;
  std::vector<std::string> order;  // track ids of the context (or the one track)
  int index = -1;                  // in order; -1: nothing loaded
  std::string current;             // track id playing (from the queue or order[index])
  std::string context_uri;
  int64_t position_ms = 0, started_ms = 0;
  int volume = 50;
  bool shuffle = false;
  std::string repeat = "off";
  std::vector<std::string> queue;
};

Player load(sql::Database& db, const Call& call) {
  sql::Statement q(db, "SELECT state FROM music_player WHERE user_id = ?");
  q.bind(1, call.user);
  Player p;
  if (!q.executeStep()) return p;
  Json j = Json::parse(q.getColumn(0).getString());
  p.device = j.value("device", p.device);
  p.playing = j.value("playing", false);
  p.order = j.value("order", std::vector<std::string>{});
  p.index = j.value("index", -1);
  p.current = j.value("current", "");
  p.context_uri = j.value("context_uri", "");
  p.position_ms = j.value("position_ms", int64_t(0));
  p.started_ms = j.value("started_ms", int64_t(0));
  p.volume = j.value("volume", 50);
  p.shuffle = j.value("shuffle", false);
  p.repeat = j.value("repeat", "off");
  p.queue = j.value("queue", std::vector<std::string>{});
  return p;
}

void save(sql::Database& db, const Call& call, const Player& p) {
  Json j{{"device", p.device},     {"playing", p.playing},         {"order", p.order},   {"index", p.index},
         {"current", p.current},   {"context_uri", p.context_uri}, {"position_ms", p.position_ms},
         {"started_ms", p.started_ms}, {"volume", p.volume},       {"shuffle", p.shuffle}, {"repeat", p.repeat},
         {"queue", p.queue}};
  sql::Statement up(db, "INSERT INTO music_player (user_id, state) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET state = excluded.state");
  up.bind(1, call.user);
  up.bind(2, j.dump());
  up.exec();
}

int duration_of(sql::Database& db, const Call& call, const std::string& id) {
  auto t = find_track(db, call.user, id);
  return t ? t->duration_ms : 0;
}

void start(Player& p, const std::string& track, int64_t now) {
  p.current = track;
  p.position_ms = 0;
  p.started_ms = now;
}

// Skips to what plays next: the queue first, then the context; at the end, repeat or stop.
void advance(Player& p, int64_t now) {
  if (!p.queue.empty()) {
    std::string t = p.queue.front();
    p.queue.erase(p.queue.begin());
    start(p, t, now);
  } else if (p.index + 1 < int(p.order.size())) {
    start(p, p.order[++p.index], now);
  } else if (p.repeat == "context" && !p.order.empty()) {
    p.index = 0;
    start(p, p.order[0], now);
  } else {  // the end: stopped at the start of the last track
    p.playing = false;
    p.position_ms = 0;
  }
}

// Brings the player to `now`: while playing, tracks that have ended give way to the next.
void settle(sql::Database& db, const Call& call, Player& p, int64_t now) {
  if (!p.playing || p.current.empty()) return;
  for (int guard = 0; guard < 10000 && p.playing; ++guard) {
    int64_t pos = p.position_ms + (now - p.started_ms);
    int dur = duration_of(db, call.user, p.current);
    if (dur <= 0 || pos < dur) {
      p.position_ms = pos;
      p.started_ms = now;
      return;
    }
    int64_t ended_at = now - (pos - dur);
    if (p.repeat == "track") start(p, p.current, ended_at);
    else advance(p, ended_at);
  }
}

PlayerState view(sql::Database& db, const Call& call, const Player& p) {
  PlayerState s;
  if (!p.current.empty()) s.track = find_track(db, call.user, p.current);
  s.playing = p.playing;
  s.position_ms = int(p.position_ms);
  s.context_uri = p.context_uri;
  s.device_id = p.device;
  s.volume_percent = p.volume;
  s.shuffle = p.shuffle;
  s.repeat = p.repeat;
  return s;
}

std::string playlist_id(const std::string& uri_or_id) {
  if (uri_or_id.rfind("concierge:", 0) == 0) {
    auto u = parse_uri(uri_or_id, "playlist_id");
    if (u.kind != "playlist") throw Error("playlist_id", "'" + uri_or_id + "' is not a playlist");
    return u.id;
  }
  return uri_or_id;
}

Playlist load_playlist(sql::Database& db, const Call& call, const std::string& id) {
  sql::Statement q(db, "SELECT p.id, p.name, p.description, (SELECT count(*) FROM music_playlist_items i WHERE i.user_id = p.user_id "
                          "AND i.playlist_id = p.id) FROM music_playlists p WHERE p.user_id = ? AND p.id = ?");
  q.bind(1, call.user);
  q.bind(2, id);
  if (!q.executeStep()) throw NotFound("playlist_id", "no playlist '" + id + "'; music_playlists with action list shows them");
  return {"concierge:playlist:" + q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(), q.getColumn(3).getInt()};
}

}  // namespace

LocalMusic::LocalMusic(store::Store& store) : store_(store) { store_.migrate("music", kMigrations); }

SearchResult LocalMusic::search(const Call& call, const std::string& query, const std::vector<std::string>& types, int limit) {
  auto wants = [&](const char* t) { return types.empty() || std::find(types.begin(), types.end(), t) != types.end(); };
  limit = std::clamp(limit, 1, 50);
  std::string like = "%" + query + "%";
  return store_.read([&](sql::Database& db) {
    SearchResult r;
    // SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE does what it does.
    const std::string L = std::string(" ") + sql::like_nocase(db) + " ";
    if (wants("track")) {
      sql::Statement q(db, std::string(kTrackCols) + "WHERE t.user_id = ? AND (t.title" + L + "?2 OR t.artist" + L + "?2 OR a.title" + L + "?2) "
                                                        "ORDER BY (t.title" + L + "?2) DESC, a.title, t.track_number LIMIT ?3");
      q.bind(1, call.user);
      q.bind(2, like);
      q.bind(3, limit);
      while (q.executeStep()) r.tracks.push_back(read_track(q));
    }
    if (wants("album")) {
      sql::Statement q(db, "SELECT a.id, a.title, a.artist, a.year, (SELECT count(*) FROM music_tracks t WHERE t.user_id = a.user_id "
                              "AND t.album_id = a.id) FROM music_albums a WHERE a.user_id = ? AND (a.title" + L + "?2 OR a.artist" + L + "?2) "
                              "ORDER BY (a.title" + L + "?2) DESC, a.year LIMIT ?3");
      q.bind(1, call.user);
      q.bind(2, like);
      q.bind(3, limit);
      while (q.executeStep())
        r.albums.push_back({"concierge:album:" + q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                            q.getColumn(3).getInt(), q.getColumn(4).getInt()});
    }
    if (wants("artist")) {
      sql::Statement q(db, "SELECT artist, count(*) FROM music_albums WHERE user_id = ? AND artist" + L + "?2 GROUP BY artist "
                              "ORDER BY artist LIMIT ?3");
      q.bind(1, call.user);
      q.bind(2, like);
      q.bind(3, limit);
      while (q.executeStep())
        r.artists.push_back({"concierge:artist:" + slug(q.getColumn(0).getString()), q.getColumn(0).getString(), q.getColumn(1).getInt()});
    }
    if (wants("playlist")) {
      sql::Statement q(db, "SELECT id FROM music_playlists WHERE user_id = ? AND (name" + L + "?2 OR description" + L + "?2) "
                              "ORDER BY name LIMIT ?3");
      q.bind(1, call.user);
      q.bind(2, like);
      q.bind(3, limit);
      std::vector<std::string> ids;
      while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
      for (auto& id : ids) r.playlists.push_back(load_playlist(db, call.user, id));
    }
    return r;
  });
}

std::vector<Device> LocalMusic::devices(const Call& call) {
  auto s = state(call.user);
  auto out = kDevices;
  for (auto& d : out) d.active = d.id == s.device_id;
  return out;
}

PlayerState LocalMusic::state(const Call& call) {
  return store_.read([&](sql::Database& db) {
    Player p = load(db, call.user);
    settle(db, call.user, p, now_ms());
    return view(db, call.user, p);
  });
}

namespace {
// Load, bring to now, change, save, show: one transaction per player command.
template <class F>
PlayerState command(store::Store& store, const Call& call, F&& change) {
  return store.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    Player p = load(db, call.user);
    int64_t now = now_ms();
    settle(db, call.user, p, now);
    change(db, p, now);
    save(db, call.user, p);
    tx.commit();
    return view(db, call.user, p);
  });
}

void require_loaded(const Player& p) {
  if (p.current.empty()) throw Error("action", "nothing is loaded; play a track, album or playlist first");
}
}  // namespace

PlayerState LocalMusic::play(const Call& call, const std::string& uri, const std::string& context_uri, int offset, const std::string& device_id) {
  if (!device_id.empty() && std::none_of(kDevices.begin(), kDevices.end(), [&](auto& d) { return d.id == device_id; }))
    throw NotFound("device_id", "no device '" + device_id + "'; music_now_playing lists the devices");
  return command(store_, call.user, [&](sql::Database& db, Player& p, int64_t now) {
    if (!device_id.empty()) p.device = device_id;
    std::string ctx = context_uri;
    std::string track = uri;
    if (!track.empty() && parse_uri(track, "uri").kind != "track") std::swap(ctx, track);  // an album passed as uri
    if (ctx.empty() && track.empty()) {  // play with nothing: resume
      require_loaded(p);
      p.playing = true;
      p.started_ms = now;
      return;
    }
    if (!ctx.empty()) {
      auto tracks = context_tracks(db, call.user, ctx, ctx == context_uri ? "context_uri" : "uri");
      int at = offset;
      if (!track.empty()) {
        auto it = std::find_if(tracks.begin(), tracks.end(), [&](auto& t) { return t.uri == track; });
        if (it == tracks.end()) throw Error("uri", "'" + track + "' is not in " + ctx);
        at = int(it - tracks.begin());
      }
      if (at < 0 || at >= int(tracks.size()))
        throw Error("offset", "must be between 0 and " + std::to_string(tracks.size() - 1) + " for " + ctx);
      p.order.clear();
      for (auto& t : tracks) p.order.push_back(parse_uri(t.uri, "uri").id);
      p.index = at;
      p.context_uri = ctx;
      if (p.shuffle) std::shuffle(p.order.begin() + at + 1, p.order.end(), std::mt19937{std::random_device{}()});
    } else {
      auto id = parse_uri(track, "uri").id;
      if (!find_track(db, call.user, id)) throw NotFound("uri", "no track '" + track + "' in the library");
      p.order = {id};
      p.index = 0;
      p.context_uri.clear();
    }
    p.playing = true;
    start(p, p.order[p.index], now);
  });
}

PlayerState LocalMusic::pause(const Call& call) {
  return command(store_, call.user, [&](sql::Database&, Player& p, int64_t) {
    require_loaded(p);
    p.playing = false;
  });
}

PlayerState LocalMusic::resume(const Call& call) {
  return command(store_, call.user, [&](sql::Database&, Player& p, int64_t now) {
    require_loaded(p);
    p.playing = true;
    p.started_ms = now;
  });
}

PlayerState LocalMusic::next(const Call& call) {
  return command(store_, call.user, [&](sql::Database&, Player& p, int64_t now) {
    require_loaded(p);
    p.playing = true;  // skipping starts playback, as players do
    advance(p, now);
  });
}

PlayerState LocalMusic::previous(const Call& call) {
  return command(store_, call.user, [&](sql::Database&, Player& p, int64_t now) {
    require_loaded(p);
    // Early in a track, previous goes back one; later it restarts the track. From a queued
    // track it returns to the context's track.
    if (p.position_ms < 3000 && p.index > 0 && p.current == p.order[p.index]) --p.index;
    start(p, p.order[std::max(p.index, 0)], now);
    p.playing = true;
  });
}

PlayerState LocalMusic::seek(const Call& call, int position_ms) {
  return command(store_, call.user, [&](sql::Database& db, Player& p, int64_t now) {
    require_loaded(p);
    int dur = duration_of(db, call.user, p.current);
    if (position_ms < 0 || position_ms >= dur)
      throw Error("position_ms", "must be between 0 and " + std::to_string(dur - 1) + " (the track is " + std::to_string(dur / 1000) + " s long)");
    p.position_ms = position_ms;
    p.started_ms = now;
  });
}

PlayerState LocalMusic::set_volume(const Call& call, int percent) {
  if (percent < 0 || percent > 100) throw Error("volume_percent", "must be between 0 and 100");
  return command(store_, call.user, [&](sql::Database&, Player& p, int64_t) { p.volume = percent; });
}

PlayerState LocalMusic::set_shuffle(const Call& call, bool on) {
  return command(store_, call.user, [&](sql::Database&, Player& p, int64_t) {
    if (on && !p.shuffle && p.index >= 0)
      std::shuffle(p.order.begin() + p.index + 1, p.order.end(), std::mt19937{std::random_device{}()});
    p.shuffle = on;
  });
}

PlayerState LocalMusic::set_repeat(const Call& call, const std::string& mode) {
  if (mode != "off" && mode != "track" && mode != "context") throw Error("state", "repeat is off, track or context");
  return command(store_, call.user, [&](sql::Database&, Player& p, int64_t) { p.repeat = mode; });
}

PlayerState LocalMusic::transfer(const Call& call, const std::string& device_id) {
  if (std::none_of(kDevices.begin(), kDevices.end(), [&](auto& d) { return d.id == device_id; }))
    throw NotFound("device_id", "no device '" + device_id + "'; music_now_playing lists the devices");
  return command(store_, call.user, [&](sql::Database&, Player& p, int64_t) { p.device = device_id; });
}

std::vector<Track> LocalMusic::queue(const Call& call) {
  return store_.read([&](sql::Database& db) {
    Player p = load(db, call.user);
    settle(db, call.user, p, now_ms());
    std::vector<Track> out;
    for (auto& id : p.queue)
      if (auto t = find_track(db, call.user, id)) out.push_back(*t);
    for (int i = p.index + 1; i < int(p.order.size()) && out.size() < 50; ++i)
      if (auto t = find_track(db, call.user, p.order[i])) out.push_back(*t);
    return out;
  });
}

void LocalMusic::add_to_queue(const Call& call, const std::string& uri) {
  auto u = parse_uri(uri, "uri");
  if (u.kind != "track") throw Error("uri", "only tracks can be queued; play an album or playlist with context_uri");
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    if (!find_track(db, call.user, u.id)) throw NotFound("uri", "no track '" + uri + "' in the library");
    Player p = load(db, call.user);
    settle(db, call.user, p, now_ms());
    if (p.queue.size() >= 100) throw Error("uri", "the queue holds at most 100 tracks");
    p.queue.push_back(u.id);
    save(db, call.user, p);
    tx.commit();
  });
}

std::vector<Playlist> LocalMusic::playlists(const Call& call) {
  return store_.read([&](sql::Database& db) {
    sql::Statement q(db, "SELECT id FROM music_playlists WHERE user_id = ? ORDER BY created_ms, name");
    q.bind(1, call.user);
    std::vector<std::string> ids;
    while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
    std::vector<Playlist> out;
    for (auto& id : ids) out.push_back(load_playlist(db, call.user, id));
    return out;
  });
}

std::pair<Playlist, std::vector<Track>> LocalMusic::playlist(const Call& call, const std::string& uri) {
  auto id = playlist_id(uri);
  return store_.read([&](sql::Database& db) { return std::make_pair(load_playlist(db, call.user, id), playlist_tracks(db, call.user, id)); });
}

Playlist LocalMusic::create_playlist(const Call& call, const std::string& name, const std::string& description) {
  std::string id = random_id(16);
  return store_.write([&](sql::Database& db) {
    sql::Statement ins(db, "INSERT INTO music_playlists (id, user_id, name, description, created_ms) VALUES (?,?,?,?,?)");
    ins.bind(1, id);
    ins.bind(2, call.user);
    ins.bind(3, name);
    ins.bind(4, description);
    ins.bind(5, now_ms());
    ins.exec();
    return load_playlist(db, call.user, id);
  });
}

Playlist LocalMusic::add_items(const Call& call, const std::string& playlist_uri, const std::vector<std::string>& uris) {
  auto id = playlist_id(playlist_uri);
  return store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    load_playlist(db, call.user, id);
    std::vector<std::string> ids;
    for (size_t i = 0; i < uris.size(); ++i) {
      std::string field = "uris[" + std::to_string(i) + "]";
      auto u = parse_uri(uris[i], field);
      if (u.kind != "track") throw Error(field, "only tracks go into a playlist");
      if (!find_track(db, call.user, u.id)) throw NotFound(field, "no track '" + uris[i] + "' in the library");
      ids.push_back(u.id);
    }
    sql::Statement max(db, "SELECT coalesce(max(position), 0) FROM music_playlist_items WHERE user_id = ? AND playlist_id = ?");
    max.bind(1, call.user);
    max.bind(2, id);
    max.executeStep();
    int pos = max.getColumn(0).getInt();
    max.reset();
    for (auto& t : ids) {
      sql::Statement ins(db, "INSERT INTO music_playlist_items (user_id, playlist_id, position, track_id) VALUES (?,?,?,?)");
      ins.bind(1, call.user);
      ins.bind(2, id);
      ins.bind(3, ++pos);
      ins.bind(4, t);
      ins.exec();
    }
    tx.commit();
    return load_playlist(db, call.user, id);
  });
}

Playlist LocalMusic::remove_items(const Call& call, const std::string& playlist_uri, const std::vector<std::string>& uris) {
  auto id = playlist_id(playlist_uri);
  return store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    load_playlist(db, call.user, id);
    for (size_t i = 0; i < uris.size(); ++i) {
      auto u = parse_uri(uris[i], "uris[" + std::to_string(i) + "]");
      sql::Statement del(db, "DELETE FROM music_playlist_items WHERE user_id = ? AND playlist_id = ? AND track_id = ?");
      del.bind(1, call.user);
      del.bind(2, id);
      del.bind(3, u.id);
      del.exec();
    }
    tx.commit();
    return load_playlist(db, call.user, id);
  });
}

bool LocalMusic::seed_demo(const DemoContext& ctx) {
  bool empty = store_.read([&](sql::Database& db) {
    sql::Statement q(db, "SELECT 1 FROM music_tracks WHERE user_id = ? LIMIT 1");
    q.bind(1, ctx.user);
    return !q.executeStep();
  });
  if (!empty) return false;
  struct Album {
    const char* id;
    const char* title;
    const char* artist;
    int year;
    std::vector<std::pair<const char*, int>> tracks;  // title, seconds
  };
  const Album albums[] = {
      {"harbour-lights", "Harbour Lights", "The Lanterns", 2019,
       {{"Low Tide", 214}, {"Harbour Lights", 251}, {"Paper Boats", 198}, {"Salt in the Air", 233}, {"Lighthouse Keeper", 276},
        {"Fog Horn", 187}, {"Northern Pier", 242}, {"Drift", 305}, {"Home by Morning", 228}, {"Last Ferry", 263}}},
      {"midnight-tram", "Midnight Tram", "Nora Vale", 2021,
       {{"Midnight Tram", 201}, {"Neon Rain", 223}, {"Terminal", 189}, {"Signal Box", 240}, {"Quiet Carriage", 256},
        {"Overhead Wires", 212}, {"Night Shift", 234}, {"Depot", 198}, {"First Light", 271}, {"End of the Line", 289}}},
      {"copper-fields", "Copper Fields", "Alder & Stone", 2017,
       {{"Copper Fields", 262}, {"Barn Dance", 174}, {"Old Roads", 228}, {"Wheat and Wire", 241}, {"Hollow Creek", 215},
        {"Harvest Moon", 297}, {"The Long Fence", 203}, {"Dust Storm", 186}, {"Rain on Tin", 249}, {"Going West", 268}}},
      {"glass-garden", "Glass Garden", "Mirela Sun", 2023,
       {{"Glass Garden", 236}, {"Orchid", 204}, {"Greenhouse Effect", 219}, {"Fern", 181}, {"Condensation", 257},
        {"Pollen Count", 193}, {"Solar", 245}, {"Terrarium", 226}, {"Bloom", 212}, {"Evergreen", 281}}},
      {"blue-hour", "Blue Hour", "Tomasz Reed Trio", 2015,
       {{"Blue Hour", 412}, {"Walking Bass", 356}, {"Smoke Rings", 389}, {"Late Set", 441}, {"Brushes", 298},
        {"Second Chorus", 367}, {"Modal Dreams", 502}, {"Last Call", 334}, {"Sidewalk", 312}, {"Coda", 276}}},
  };
  store_.write([&](sql::Database& db) {
    sql::Transaction tx(db);
    for (auto& a : albums) {
      sql::Statement ia(db, "INSERT INTO music_albums (id, user_id, title, artist, year) VALUES (?,?,?,?,?)");
      ia.bind(1, a.id);
      ia.bind(2, ctx.user);
      ia.bind(3, a.title);
      ia.bind(4, a.artist);
      ia.bind(5, a.year);
      ia.exec();
      int n = 0;
      for (auto& [title, seconds] : a.tracks) {
        sql::Statement it(db, "INSERT INTO music_tracks (id, user_id, title, artist, album_id, track_number, duration_ms) VALUES (?,?,?,?,?,?,?)");
        it.bind(1, std::string(a.id) + "-" + std::to_string(++n));
        it.bind(2, ctx.user);
        it.bind(3, title);
        it.bind(4, a.artist);
        it.bind(5, a.id);
        it.bind(6, n);
        it.bind(7, seconds * 1000);
        it.exec();
      }
    }
    tx.commit();
  });
  auto focus = create_playlist(ctx.user, "Focus", "Calm tracks for deep work");
  add_items(ctx.user, focus.uri, {"concierge:track:glass-garden-1", "concierge:track:blue-hour-1", "concierge:track:harbour-lights-8",
                                  "concierge:track:glass-garden-10", "concierge:track:blue-hour-7"});
  auto run = create_playlist(ctx.user, "Morning run", "Upbeat, steady tempo");
  add_items(ctx.user, run.uri, {"concierge:track:midnight-tram-2", "concierge:track:copper-fields-2", "concierge:track:midnight-tram-7",
                                "concierge:track:copper-fields-8", "concierge:track:glass-garden-7"});
  auto dinner = create_playlist(ctx.user, "Dinner party", "Warm and unobtrusive");
  add_items(ctx.user, dinner.uri, {"concierge:track:blue-hour-3", "concierge:track:blue-hour-5", "concierge:track:harbour-lights-2",
                                   "concierge:track:copper-fields-6"});
  return true;
}

}  // namespace concierge::providers::music
