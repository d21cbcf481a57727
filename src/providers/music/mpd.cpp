#include "providers/music/mpd.hpp"
#include "common/text.hpp"

#include <mpd/client.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <condition_variable>
#include <sys/socket.h>
#include <thread>
#include <tuple>

#include "providers/error.hpp"

namespace concierge::providers::music {

namespace {

// The connection itself failed (closed, timed out, unreachable, garbled): it is dropped. Only
// inside the adapter; it leaves as a providers::Error.
struct Lost {
  mpd_error code;
  std::string message;
};

// The server keeps no stored playlists (no playlist_directory). `why` without the field, for a
// search's note.
struct PlaylistsDisabled : Error {
  PlaylistsDisabled(const std::string& field, const std::string& why_) : Error(field, why_), why(why_) {}
  std::string why;
};

// Percent-escapes all but unreserved characters, '/' and the sub-delimiters, so a name with ':'
// or '%' survives inside a URI and decodes back exactly.
std::string escape(const std::string& s) {
  static const std::string keep = "-._~/!$&'()*+,;=@";
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) && c < 0x80) out += char(c);
    else if (keep.find(char(c)) != std::string::npos) out += char(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string unescape(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && val(s[i + 1]) >= 0 && val(s[i + 2]) >= 0) {
      out += char(val(s[i + 1]) * 16 + val(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Uri {
  std::string kind, name;  // name unescaped
};

Uri parse_uri(const std::string& uri, const std::string& field) {
  static const std::string prefix = "mpd:";
  auto colon = uri.find(':', prefix.size());
  if (uri.rfind(prefix, 0) != 0 || colon == std::string::npos || colon + 1 >= uri.size())
    throw Error(field, "'" + uri + "' is not an MPD URI (mpd:track:<file>, mpd:album:<name>, mpd:artist:<name>, "
                       "mpd:playlist:<name>); music_search finds them");
  Uri u{uri.substr(prefix.size(), colon - prefix.size()), unescape(uri.substr(colon + 1))};
  if (u.kind != "track" && u.kind != "album" && u.kind != "playlist" && u.kind != "artist")
    throw Error(field, "'" + uri + "' names no track, album, playlist or artist");
  return u;
}

std::string playlist_name(const std::string& uri_or_name) {
  if (uri_or_name.rfind("mpd:", 0) == 0) {
    auto u = parse_uri(uri_or_name, "playlist_id");
    if (u.kind != "playlist") throw Error("playlist_id", "'" + uri_or_name + "' is not a playlist");
    return u.name;
  }
  if (uri_or_name.empty()) throw Error("playlist_id", "is empty; music_playlists with action list shows the playlists");
  return uri_or_name;
}

// A song with what sorting needs beside the Track.
struct Song {
  Track track;
  std::string file, album_artist;
  int disc = 0, year = 0;
};

int leading_int(const char* v) { return v ? int(std::strtol(v, nullptr, 10)) : 0; }

Song to_song(const mpd_song* s) {
  auto tag = [&](mpd_tag_type t) {
    const char* v = mpd_song_get_tag(s, t, 0);
    return std::string(v ? v : "");
  };
  Song out;
  out.file = mpd_song_get_uri(s);
  Track& t = out.track;
  t.uri = "mpd:track:" + escape(out.file);
  t.title = tag(MPD_TAG_TITLE);
  if (t.title.empty()) {  // untagged: the file's name without its extension
    auto slash = out.file.rfind('/');
    t.title = out.file.substr(slash == std::string::npos ? 0 : slash + 1);
    if (auto dot = t.title.rfind('.'); dot != std::string::npos && dot > 0) t.title.resize(dot);
  }
  out.album_artist = tag(MPD_TAG_ALBUM_ARTIST);
  t.artist = tag(MPD_TAG_ARTIST);
  if (t.artist.empty()) t.artist = out.album_artist;
  t.album = tag(MPD_TAG_ALBUM);
  if (!t.album.empty()) t.album_uri = "mpd:album:" + escape(t.album);
  t.track_number = leading_int(mpd_song_get_tag(s, MPD_TAG_TRACK, 0));  // "3" or "3/10"
  t.duration_ms = int(mpd_song_get_duration_ms(s));
  out.disc = leading_int(mpd_song_get_tag(s, MPD_TAG_DISC, 0));
  out.year = leading_int(mpd_song_get_tag(s, MPD_TAG_DATE, 0));  // "2021" or "2021-03-01"
  return out;
}

void sort_album_order(std::vector<Song>& songs) {
  std::stable_sort(songs.begin(), songs.end(), [](const Song& a, const Song& b) {
    return std::tie(a.disc, a.track.track_number, a.file) < std::tie(b.disc, b.track.track_number, b.file);
  });
}

void sort_artist_order(std::vector<Song>& songs) {
  std::stable_sort(songs.begin(), songs.end(), [](const Song& a, const Song& b) {
    return std::tie(a.year, a.track.album, a.disc, a.track.track_number, a.file) <
           std::tie(b.year, b.track.album, b.disc, b.track.track_number, b.file);
  });
}

std::string where(const MpdOptions& o) {
  if (o.host.empty()) return "MPD";
  if (o.host[0] == '/' || o.host[0] == '@') return "MPD at " + o.host;
  return "MPD at " + o.host + ":" + std::to_string(o.port);
}

}  // namespace

MpdOptions mpd_options_from_url(const std::string& url) {
  MpdOptions o;
  std::string rest = url;
  if (rest.rfind("mpd://", 0) == 0) rest = rest.substr(6);
  if (rest.empty()) throw std::invalid_argument("an MPD address is empty");
  if (rest[0] == '/' || rest[0] == '@') {
    o.host = rest;
    return o;
  }
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    o.password = unescape(rest.substr(0, at));
    rest = rest.substr(at + 1);
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (auto colon = rest.rfind(':'); colon != std::string::npos && rest.find(']') == std::string::npos) {
    std::string port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char ch) { return std::isdigit(ch) != 0; }) || std::stoi(port) > 65535 || std::stoi(port) == 0)
      throw std::invalid_argument("'" + url + "' has no valid port");
    o.port = unsigned(std::stoi(port));
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) throw std::invalid_argument("'" + url + "' names no host");
  o.host = rest;
  return o;
}

// One call's use of the connection: every libmpdclient step is checked, a server ACK becomes a
// providers::Error naming `field`, anything else a Lost.
class MpdMusic::Session {
 public:
  Session(mpd_connection* c, const MpdOptions& o) : c_(c), o_(o) {}
  mpd_connection* c() { return c_; }

  // After a libmpdclient call that returned `ok`: throws when the connection holds an error.
  void ok(bool ok, const std::string& field = "") {
    if (!ok || mpd_connection_get_error(c_) != MPD_ERROR_SUCCESS) fail(field);
  }
  void check(const std::string& field = "") {
    if (mpd_connection_get_error(c_) != MPD_ERROR_SUCCESS) fail(field);
  }
  void finish(const std::string& field = "") { ok(mpd_response_finish(c_), field); }

  [[noreturn]] void fail(const std::string& field) {
    mpd_error e = mpd_connection_get_error(c_);
    std::string msg = mpd_connection_get_error_message(c_) ? mpd_connection_get_error_message(c_) : "unknown error";
    if (e != MPD_ERROR_SERVER) throw Lost{e == MPD_ERROR_SUCCESS ? MPD_ERROR_STATE : e, msg};
    mpd_server_error code = mpd_connection_get_server_error(c_);
    mpd_connection_clear_error(c_);
    std::string who = where(o_);
    // Without a playlist_directory every stored-playlist command answers "Stored playlists are
    // disabled" (MPD's PlaylistResult::DISABLED).
    if (lower(msg).find("stored playlists are disabled") != std::string::npos)
      throw PlaylistsDisabled(field.empty() ? "action" : field, "stored playlists are disabled on this MPD server (" + who +
                                                                    " has no playlist_directory in its mpd.conf)");
    switch (code) {
      case MPD_SERVER_ERROR_PASSWORD:
        throw Error("account", who + " refused the password of account '" + o_.account + "' (" + msg +
                                   "); set the password that a `password` line in its mpd.conf gives");
      case MPD_SERVER_ERROR_PERMISSION:
        throw Error("account", who + " does not allow this without a password (" + msg + "); configure the MPD password for account '" +
                                   o_.account + "' (a `password` line in its mpd.conf)");
      case MPD_SERVER_ERROR_NO_EXIST: throw NotFound(field, who + " has no such item (" + msg + ")");
      case MPD_SERVER_ERROR_EXIST: throw Conflict(field, who + " already has it (" + msg + ")");
      case MPD_SERVER_ERROR_PLAYER_SYNC: throw Error(field.empty() ? "action" : field, who + ": " + msg);
      default: throw Error(field, who + " refused it (" + msg + ")");
    }
  }

  std::vector<Song> recv_songs(const std::string& field = "") {
    std::vector<Song> out;
    while (mpd_song* s = mpd_recv_song(c_)) {
      out.push_back(to_song(s));
      mpd_song_free(s);
    }
    check(field);
    finish(field);
    return out;
  }

  // The values of `name` pairs in the answer (list, listplaylist).
  std::vector<std::string> recv_values(const char* name, const std::string& field = "") {
    std::vector<std::string> out;
    while (mpd_pair* p = mpd_recv_pair_named(c_, name)) {
      out.emplace_back(p->value);
      mpd_return_pair(c_, p);
    }
    check(field);
    finish(field);
    return out;
  }

  // Songs whose tag equals value exactly (find).
  std::vector<Song> find(mpd_tag_type tag, const std::string& value, const std::string& field = "") {
    ok(mpd_search_db_songs(c_, true), field);
    ok(mpd_search_add_tag_constraint(c_, MPD_OPERATOR_DEFAULT, tag, value.c_str()), field);
    ok(mpd_search_commit(c_), field);
    return recv_songs(field);
  }

  std::optional<Song> find_file(const std::string& file, const std::string& field) {
    ok(mpd_search_db_songs(c_, true), field);
    ok(mpd_search_add_uri_constraint(c_, MPD_OPERATOR_DEFAULT, file.c_str()), field);
    ok(mpd_search_commit(c_), field);
    auto songs = recv_songs(field);
    for (auto& s : songs)
      if (s.file == file) return s;
    return std::nullopt;
  }

  // A stored playlist's files; NotFound naming `field` when there is none by that name.
  std::vector<std::string> playlist_files(const std::string& name, const std::string& field) {
    ok(mpd_send_list_playlist(c_, name.c_str()), field);
    try {
      return recv_values("file", field);
    } catch (const NotFound&) {
      throw NotFound(field, "no playlist '" + name + "' on " + where(o_) + "; music_playlists with action list shows them");
    }
  }

  std::vector<std::string> playlist_names() {
    ok(mpd_send_list_playlists(c_));
    std::vector<std::string> out;
    while (mpd_playlist* p = mpd_recv_playlist(c_)) {
      out.emplace_back(mpd_playlist_get_path(p));
      mpd_playlist_free(p);
    }
    check();
    finish();
    std::sort(out.begin(), out.end());
    return out;
  }

  Playlist playlist_info(const std::string& name, const std::string& field = "playlist_id") {
    auto files = playlist_files(name, field);
    return Playlist{"mpd:playlist:" + escape(name), name, "", int(files.size())};
  }

  struct Status {
    mpd_state state = MPD_STATE_UNKNOWN;
    int song_pos = -1, queue_length = 0, volume = -1;
    unsigned queue_version = 0, elapsed_ms = 0;
    bool repeat = false, single = false, random = false;
  };
  Status status() {
    mpd_status* st = mpd_run_status(c_);
    if (!st) fail("");
    Status s;
    s.state = mpd_status_get_state(st);
    s.song_pos = mpd_status_get_song_pos(st);
    s.queue_length = int(mpd_status_get_queue_length(st));
    s.volume = mpd_status_get_volume(st);
    s.queue_version = mpd_status_get_queue_version(st);
    s.elapsed_ms = mpd_status_get_elapsed_ms(st);
    s.repeat = mpd_status_get_repeat(st);
    s.single = mpd_status_get_single_state(st) == MPD_SINGLE_ON;
    s.random = mpd_status_get_random(st);
    mpd_status_free(st);
    return s;
  }

  std::optional<Song> current() {
    mpd_song* s = mpd_run_current_song(c_);
    if (!s) {
      check();  // no song and no error: nothing is current
      return std::nullopt;
    }
    Song out = to_song(s);
    mpd_song_free(s);
    return out;
  }

  struct Output {
    unsigned id;
    std::string name, plugin;
    bool enabled;
  };
  std::vector<Output> outputs() {
    ok(mpd_send_outputs(c_));
    std::vector<Output> out;
    while (mpd_output* o = mpd_recv_output(c_)) {
      const char* plugin = mpd_output_get_plugin(o);
      out.push_back({mpd_output_get_id(o), mpd_output_get_name(o), plugin ? plugin : "", mpd_output_get_enabled(o)});
      mpd_output_free(o);
    }
    check();
    finish();
    return out;
  }

  const MpdOptions& options() const { return o_; }

 private:
  mpd_connection* c_;
  const MpdOptions& o_;
};

namespace {

using Session = MpdMusic::Session;

[[noreturn]] void unreachable(const MpdOptions& o, const Lost& e) {
  std::string who = where(o);
  if (e.code == MPD_ERROR_TIMEOUT)
    throw Error("", who + " did not answer within " + std::to_string(o.timeout_ms) + " ms; is it running and reachable?");
  throw Error("", who + " is not reachable (" + e.message + "); is mpd running, and is the address right?");
}

// The songs a context plays, in order; errors name `field`.
std::vector<Song> context_songs(Session& s, const std::string& uri, const std::string& field) {
  auto u = parse_uri(uri, field);
  std::vector<Song> songs;
  if (u.kind == "album") {
    songs = s.find(MPD_TAG_ALBUM, u.name, field);
    sort_album_order(songs);
  } else if (u.kind == "artist") {
    songs = s.find(MPD_TAG_ARTIST, u.name, field);
    if (songs.empty()) songs = s.find(MPD_TAG_ALBUM_ARTIST, u.name, field);
    sort_artist_order(songs);
  } else if (u.kind == "playlist") {
    s.ok(mpd_send_list_playlist_meta(s.c(), u.name.c_str()), field);
    try {
      songs = s.recv_songs(field);
    } catch (const NotFound&) {
      throw NotFound(field, "no playlist '" + u.name + "' on " + where(s.options()) + "; music_playlists with action list shows them");
    }
    if (songs.empty()) throw Error(field, "the playlist is empty");
  } else {
    throw Error(field, "'" + uri + "' is a track; pass it as uri, or an album, playlist or artist as context_uri");
  }
  if (songs.empty()) throw NotFound(field, "nothing in the library of " + where(s.options()) + " is '" + uri + "'");
  return songs;
}

// Replaces MPD's queue with `files` and plays position `at`, in one command list.
void load_and_play(Session& s, const std::vector<std::string>& files, int at, const std::string& field) {
  auto* c = s.c();
  s.ok(mpd_command_list_begin(c, false), field);
  s.ok(mpd_send_clear(c), field);
  for (auto& f : files) s.ok(mpd_send_add(c, f.c_str()), field);
  s.ok(mpd_send_play_pos(c, unsigned(at)), field);
  s.ok(mpd_command_list_end(c), field);
  s.finish(field);
}

void require_loaded(const Session::Status& st) {
  if (st.song_pos < 0) throw Error("action", "nothing is loaded; play a track, album or playlist first");
}

std::optional<Session::Output> find_output(Session& s, const std::string& device_id) {
  for (auto& o : s.outputs())
    if (std::to_string(o.id) == device_id || o.name == device_id) return o;
  return std::nullopt;
}

// Makes `target` the one enabled output.
void switch_output(Session& s, const Session::Output& target) {
  auto outs = s.outputs();
  auto* c = s.c();
  s.ok(mpd_command_list_begin(c, false), "device_id");
  s.ok(mpd_send_enable_output(c, target.id), "device_id");
  for (auto& o : outs)
    if (o.id != target.id && o.enabled) s.ok(mpd_send_disable_output(c, o.id), "device_id");
  s.ok(mpd_command_list_end(c), "device_id");
  s.finish("device_id");
}

}  // namespace

namespace {

// A new connection, the password sent; providers::Error when MPD is unreachable or refuses it.
mpd_connection* connect(const MpdOptions& o) {
  mpd_connection* c = mpd_connection_new(o.host.empty() ? nullptr : o.host.c_str(), o.port, o.timeout_ms);
  if (!c) throw Error("", "out of memory connecting to MPD");
  try {
    Session s(c, o);
    s.check();
    if (!o.password.empty()) s.ok(mpd_run_password(c, o.password.c_str()), "account");
    return c;
  } catch (const Lost& e) {
    mpd_connection_free(c);
    unreachable(o, e);
  } catch (...) {
    mpd_connection_free(c);
    throw;
  }
}

}  // namespace

MpdMusic::MpdMusic(MpdOptions options) : options_(std::move(options)) {}

MpdMusic::~MpdMusic() {
  if (conn_) mpd_connection_free(conn_);
}

namespace {

// While a call uses the connection: shuts its socket down within kWatchMs of a cancellation.
class Watch {
 public:
  static constexpr auto kWatchMs = std::chrono::milliseconds(50);
  Watch(const CancelToken& cancel, int fd) : thread_([this, cancel, fd] {
    std::unique_lock l(m_);
    while (!cv_.wait_for(l, kWatchMs, [&] { return done_; }))
      if (cancel.cancelled()) {
        ::shutdown(fd, SHUT_RDWR);
        return;
      }
  }) {}
  ~Watch() {
    {
      std::lock_guard l(m_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace

template <class F>
auto MpdMusic::with(const Call& call, F&& fn) {
  std::lock_guard l(mu_);
  for (int attempt = 0;; ++attempt) {
    call.throw_if_cancelled();
    bool fresh = conn_ == nullptr;
    if (fresh) conn_ = connect(options_);
    try {
      Session s(conn_, options_);
      // libmpdclient blocks in recv: a cancellation shuts the socket down, which ends the wait.
      Watch watch(call.cancel, mpd_connection_get_fd(conn_));
      return fn(s);
    } catch (const Lost& e) {
      mpd_connection_free(conn_);
      conn_ = nullptr;
      if (call.cancelled()) throw Cancelled();
      // A kept connection MPD closed while idle (connection_timeout) fails on first use: one retry
      // on a fresh one. A fresh one failing means MPD is gone; a timeout means it hangs, and
      // waiting twice would not help.
      if (fresh || attempt > 0 || e.code == MPD_ERROR_TIMEOUT) unreachable(options_, e);
    } catch (...) {
      // A refusal may leave an answer half-read; a new connection costs little and is certain.
      mpd_connection_free(conn_);
      conn_ = nullptr;
      if (call.cancelled()) throw Cancelled();
      throw;
    }
  }
}

namespace {

PlayerState read_state(Session& s, const std::string& context_uri, unsigned context_version) {
  auto st = s.status();
  auto song = s.current();
  PlayerState p;
  if (song) p.track = song->track;
  p.playing = st.state == MPD_STATE_PLAY;
  p.position_ms = song ? int(st.elapsed_ms) : 0;
  if (st.queue_version == context_version) p.context_uri = context_uri;
  for (auto& o : s.outputs())
    if (o.enabled) {
      p.device_id = std::to_string(o.id);
      break;
    }
  p.volume_percent = std::max(st.volume, 0);
  p.shuffle = st.random;
  p.repeat = st.repeat ? (st.single ? "track" : "context") : "off";
  return p;
}

}  // namespace

SearchResult MpdMusic::search(const Call& call, const std::string& query, const std::vector<std::string>& types, int limit) {
  auto wants = [&](const char* t) { return types.empty() || std::find(types.begin(), types.end(), t) != types.end(); };
  limit = std::clamp(limit, 1, 50);
  std::string q = lower(query);
  auto has = [&](const std::string& v) { return lower(v).find(q) != std::string::npos; };
  return with(call, [&](Session& s) {
    SearchResult r;
    auto* c = s.c();
    if (wants("track")) {
      // MPD's search: case-insensitive substring over every tag. Title matches rank first, as
      // in the local library; the rest keep MPD's (path) order.
      s.ok(mpd_search_db_songs(c, false), "query");
      s.ok(mpd_search_add_any_tag_constraint(c, MPD_OPERATOR_DEFAULT, query.c_str()), "query");
      s.ok(mpd_search_add_window(c, 0, 1000), "query");
      s.ok(mpd_search_commit(c), "query");
      auto songs = s.recv_songs("query");
      std::stable_sort(songs.begin(), songs.end(), [&](const Song& a, const Song& b) { return has(a.track.title) > has(b.track.title); });
      for (auto& song : songs) {
        if (int(r.tracks.size()) >= limit) break;
        r.tracks.push_back(song.track);
      }
    }
    if (wants("album")) {
      // list album group albumartist: "AlbumArtist: x" precedes its "Album: y" lines (MPD
      // falls back to Artist where AlbumArtist is missing).
      s.ok(mpd_search_db_tags(c, MPD_TAG_ALBUM), "query");
      s.ok(mpd_search_add_group_tag(c, MPD_TAG_ALBUM_ARTIST), "query");
      s.ok(mpd_search_commit(c), "query");
      std::vector<std::pair<std::string, std::string>> found;  // album, artist
      std::set<std::string> seen;
      std::string artist;
      while (mpd_pair* p = mpd_recv_pair(c)) {
        std::string name = p->name, value = p->value;
        mpd_return_pair(c, p);
        if (name == "AlbumArtist") artist = value;
        else if (name == "Album" && !value.empty() && (has(value) || has(artist)) && seen.insert(value).second) found.emplace_back(value, artist);
      }
      s.check("query");
      s.finish("query");
      std::stable_sort(found.begin(), found.end(), [&](auto& a, auto& b) { return has(a.first) > has(b.first); });
      if (int(found.size()) > limit) found.resize(size_t(limit));
      for (auto& [title, by] : found) {
        auto songs = s.find(MPD_TAG_ALBUM, title, "query");
        Album a{"mpd:album:" + escape(title), title, by, 0, int(songs.size())};
        if (!songs.empty()) {
          a.year = songs.front().year;
          if (a.artist.empty()) a.artist = songs.front().track.artist;
        }
        r.albums.push_back(a);
      }
    }
    if (wants("artist")) {
      s.ok(mpd_search_db_tags(c, MPD_TAG_ARTIST), "query");
      s.ok(mpd_search_commit(c), "query");
      std::vector<std::string> names;
      for (auto& n : s.recv_values("Artist", "query"))
        if (!n.empty() && has(n)) names.push_back(n);
      std::sort(names.begin(), names.end());
      if (int(names.size()) > limit) names.resize(size_t(limit));
      for (auto& n : names) {
        s.ok(mpd_search_db_tags(c, MPD_TAG_ALBUM), "query");
        s.ok(mpd_search_add_tag_constraint(c, MPD_OPERATOR_DEFAULT, MPD_TAG_ARTIST, n.c_str()), "query");
        s.ok(mpd_search_commit(c), "query");
        int albums = int(s.recv_values("Album", "query").size());
        r.artists.push_back({"mpd:artist:" + escape(n), n, albums});
      }
    }
    if (wants("playlist")) {
      // A server without stored playlists still serves the other kinds: the search says what it skipped.
      try {
        for (auto& n : s.playlist_names()) {
          if (int(r.playlists.size()) >= limit) break;
          if (has(n)) r.playlists.push_back(s.playlist_info(n, "query"));
        }
      } catch (const PlaylistsDisabled& e) {
        r.notes.push_back("playlists: " + e.why);
      }
    }
    return r;
  });
}

std::vector<Device> MpdMusic::devices(const Call& call) {
  return with(call, [&](Session& s) {
    std::vector<Device> out;
    for (auto& o : s.outputs()) out.push_back({std::to_string(o.id), o.name, o.plugin, o.enabled});
    return out;
  });
}

PlayerState MpdMusic::state(const Call& call) {
  return with(call, [&](Session& s) { return read_state(s, context_uri_, context_version_); });
}

PlayerState MpdMusic::play(const Call& call, const std::string& uri, const std::string& context_uri, int offset, const std::string& device_id) {
  return with(call, [&](Session& s) {
    std::optional<Session::Output> output;
    if (!device_id.empty() && !(output = find_output(s, device_id)))
      throw NotFound("device_id", "no output '" + device_id + "' on " + where(options_) + "; music_now_playing lists the devices");
    std::string ctx = context_uri, track = uri;
    if (!track.empty() && parse_uri(track, "uri").kind != "track") std::swap(ctx, track);  // an album passed as uri
    if (ctx.empty() && track.empty()) {  // play with nothing: resume
      require_loaded(s.status());
      if (output) switch_output(s, *output);
      s.ok(mpd_run_play(s.c()));
      return read_state(s, context_uri_, context_version_);
    }
    std::vector<std::string> files;
    int at = offset;
    if (!ctx.empty()) {
      std::string field = ctx == context_uri ? "context_uri" : "uri";
      auto songs = context_songs(s, ctx, field);
      if (!track.empty()) {
        auto it = std::find_if(songs.begin(), songs.end(), [&](auto& so) { return so.track.uri == track || "mpd:track:" + so.file == track; });
        if (it == songs.end()) throw Error("uri", "'" + track + "' is not in " + ctx);
        at = int(it - songs.begin());
      }
      if (at < 0 || at >= int(songs.size()))
        throw Error("offset", "must be between 0 and " + std::to_string(songs.size() - 1) + " for " + ctx);
      for (auto& so : songs) files.push_back(so.file);
    } else {
      auto file = parse_uri(track, "uri").name;
      if (!s.find_file(file, "uri")) throw NotFound("uri", "no track '" + track + "' in the library of " + where(options_));
      files = {file};
      at = 0;
    }
    if (output) switch_output(s, *output);
    load_and_play(s, files, at, ctx.empty() ? "uri" : (ctx == context_uri ? "context_uri" : "uri"));
    context_uri_ = ctx;
    context_version_ = s.status().queue_version;
    return read_state(s, context_uri_, context_version_);
  });
}

PlayerState MpdMusic::pause(const Call& call) {
  return with(call, [&](Session& s) {
    require_loaded(s.status());
    s.ok(mpd_run_pause(s.c(), true));
    return read_state(s, context_uri_, context_version_);
  });
}

PlayerState MpdMusic::resume(const Call& call) {
  return with(call, [&](Session& s) {
    auto st = s.status();
    require_loaded(st);
    if (st.state == MPD_STATE_PAUSE) s.ok(mpd_run_pause(s.c(), false));
    else if (st.state != MPD_STATE_PLAY) s.ok(mpd_run_play(s.c()));
    return read_state(s, context_uri_, context_version_);
  });
}

PlayerState MpdMusic::next(const Call& call) {
  return with(call, [&](Session& s) {
    auto st = s.status();
    require_loaded(st);
    if (st.state == MPD_STATE_STOP) {
      // MPD refuses "next" when stopped; skipping starts playback, as players do.
      if (st.song_pos + 1 < st.queue_length) s.ok(mpd_run_play_pos(s.c(), unsigned(st.song_pos + 1)));
      else if (st.repeat) s.ok(mpd_run_play_pos(s.c(), 0));
    } else {
      s.ok(mpd_run_next(s.c()));
      if (st.state == MPD_STATE_PAUSE) s.ok(mpd_run_pause(s.c(), false));
    }
    return read_state(s, context_uri_, context_version_);
  });
}

PlayerState MpdMusic::previous(const Call& call) {
  return with(call, [&](Session& s) {
    auto st = s.status();
    require_loaded(st);
    // Early in a track, previous goes back one; later it restarts the track (as the local player).
    int target = st.elapsed_ms < 3000 && st.song_pos > 0 ? st.song_pos - 1 : st.song_pos;
    s.ok(mpd_run_play_pos(s.c(), unsigned(target)));
    return read_state(s, context_uri_, context_version_);
  });
}

PlayerState MpdMusic::seek(const Call& call, int position_ms) {
  return with(call, [&](Session& s) {
    auto st = s.status();
    require_loaded(st);
    auto song = s.current();
    int dur = song ? song->track.duration_ms : 0;
    if (position_ms < 0 || position_ms >= dur)
      throw Error("position_ms", "must be between 0 and " + std::to_string(std::max(dur - 1, 0)) + " (the track is " + std::to_string(dur / 1000) + " s long)");
    s.ok(mpd_run_seek_current(s.c(), float(position_ms) / 1000.0f, false), "position_ms");
    return read_state(s, context_uri_, context_version_);
  });
}

PlayerState MpdMusic::set_volume(const Call& call, int percent) {
  if (percent < 0 || percent > 100) throw Error("volume_percent", "must be between 0 and 100");
  return with(call, [&](Session& s) {
    if (s.status().volume < 0)
      throw Error("volume_percent", where(options_) + " has no mixer, so its volume cannot be set; give its audio_output a mixer "
                                                      "(mixer_type \"software\") in mpd.conf");
    s.ok(mpd_run_set_volume(s.c(), unsigned(percent)), "volume_percent");
    return read_state(s, context_uri_, context_version_);
  });
}

PlayerState MpdMusic::set_shuffle(const Call& call, bool on) {
  return with(call, [&](Session& s) {
    s.ok(mpd_run_random(s.c(), on), "state");
    return read_state(s, context_uri_, context_version_);
  });
}

PlayerState MpdMusic::set_repeat(const Call& call, const std::string& mode) {
  if (mode != "off" && mode != "track" && mode != "context") throw Error("state", "repeat is off, track or context");
  return with(call, [&](Session& s) {
    // track: repeat + single (the current song over and over); context: repeat the queue.
    auto* c = s.c();
    s.ok(mpd_command_list_begin(c, false), "state");
    s.ok(mpd_send_repeat(c, mode != "off"), "state");
    s.ok(mpd_send_single(c, mode == "track"), "state");
    s.ok(mpd_command_list_end(c), "state");
    s.finish("state");
    return read_state(s, context_uri_, context_version_);
  });
}

PlayerState MpdMusic::transfer(const Call& call, const std::string& device_id) {
  return with(call, [&](Session& s) {
    auto output = find_output(s, device_id);
    if (!output) throw NotFound("device_id", "no output '" + device_id + "' on " + where(options_) + "; music_now_playing lists the devices");
    switch_output(s, *output);
    return read_state(s, context_uri_, context_version_);
  });
}

std::vector<Track> MpdMusic::queue(const Call& call) {
  return with(call, [&](Session& s) {
    auto st = s.status();
    std::vector<Track> out;
    int from = st.song_pos < 0 ? 0 : st.song_pos + 1;
    if (from >= st.queue_length) return out;
    int to = std::min(st.queue_length, from + 100);
    s.ok(mpd_send_list_queue_range_meta(s.c(), unsigned(from), unsigned(to)));
    for (auto& song : s.recv_songs()) out.push_back(song.track);
    return out;
  });
}

void MpdMusic::add_to_queue(const Call& call, const std::string& uri) {
  auto u = parse_uri(uri, "uri");
  if (u.kind != "track") throw Error("uri", "only tracks can be queued; play an album or playlist with context_uri");
  with(call, [&](Session& s) {
    // find first: `add` of a directory would queue all of it.
    if (!s.find_file(u.name, "uri")) throw NotFound("uri", "no track '" + uri + "' in the library of " + where(options_));
    bool ours = s.status().queue_version == context_version_;
    s.ok(mpd_run_add(s.c(), u.name.c_str()), "uri");
    if (ours) context_version_ = s.status().queue_version;  // still the context we loaded, one track longer
  });
}

std::vector<Playlist> MpdMusic::playlists(const Call& call) {
  return with(call, [&](Session& s) {
    std::vector<Playlist> out;
    for (auto& n : s.playlist_names()) out.push_back(s.playlist_info(n));
    return out;
  });
}

std::pair<Playlist, std::vector<Track>> MpdMusic::playlist(const Call& call, const std::string& uri) {
  auto name = playlist_name(uri);
  return with(call, [&](Session& s) {
    s.ok(mpd_send_list_playlist_meta(s.c(), name.c_str()), "playlist_id");
    std::vector<Song> songs;
    try {
      songs = s.recv_songs("playlist_id");
    } catch (const NotFound&) {
      throw NotFound("playlist_id", "no playlist '" + name + "' on " + where(options_) + "; music_playlists with action list shows them");
    }
    std::vector<Track> tracks;
    for (auto& so : songs) tracks.push_back(so.track);
    return std::make_pair(Playlist{"mpd:playlist:" + escape(name), name, "", int(tracks.size())}, tracks);
  });
}

Playlist MpdMusic::create_playlist(const Call& call, const std::string& name, const std::string&) {
  if (name.empty()) throw Error("name", "is empty");
  return with(call, [&](Session& s) {
    auto names = s.playlist_names();
    if (std::find(names.begin(), names.end(), name) != names.end())
      throw Conflict("name", "a playlist '" + name + "' exists on " + where(options_) + "; pick another name or add to it");
    // MPD (before 0.24) has no command that makes an empty stored playlist: add any song and
    // delete it again, in one command list.
    auto* c = s.c();
    s.ok(mpd_search_db_songs(c, false), "name");
    s.ok(mpd_search_add_uri_constraint(c, MPD_OPERATOR_DEFAULT, ""), "name");
    s.ok(mpd_search_add_window(c, 0, 1), "name");
    s.ok(mpd_search_commit(c), "name");
    auto any = s.recv_songs("name");
    if (any.empty()) throw Error("name", where(options_) + " stores no empty playlist and its library is empty");
    s.ok(mpd_command_list_begin(c, false), "name");
    s.ok(mpd_send_playlist_add(c, name.c_str(), any[0].file.c_str()), "name");
    s.ok(mpd_send_playlist_delete(c, name.c_str(), 0), "name");
    s.ok(mpd_command_list_end(c), "name");
    s.finish("name");
    return s.playlist_info(name, "name");
  });
}

Playlist MpdMusic::add_items(const Call& call, const std::string& playlist_uri, const std::vector<std::string>& uris) {
  auto name = playlist_name(playlist_uri);
  return with(call, [&](Session& s) {
    s.playlist_files(name, "playlist_id");
    // Every uri checked before anything is added: all or nothing.
    std::vector<std::string> files;
    for (size_t i = 0; i < uris.size(); ++i) {
      std::string field = "uris[" + std::to_string(i) + "]";
      auto u = parse_uri(uris[i], field);
      if (u.kind != "track") throw Error(field, "only tracks go into a playlist");
      if (!s.find_file(u.name, field)) throw NotFound(field, "no track '" + uris[i] + "' in the library of " + where(options_));
      files.push_back(u.name);
    }
    if (!files.empty()) {
      auto* c = s.c();
      s.ok(mpd_command_list_begin(c, false), "uris");
      for (auto& f : files) s.ok(mpd_send_playlist_add(c, name.c_str(), f.c_str()), "uris");
      s.ok(mpd_command_list_end(c), "uris");
      s.finish("uris");
    }
    return s.playlist_info(name);
  });
}

Playlist MpdMusic::remove_items(const Call& call, const std::string& playlist_uri, const std::vector<std::string>& uris) {
  auto name = playlist_name(playlist_uri);
  std::set<std::string> drop;
  for (size_t i = 0; i < uris.size(); ++i) drop.insert(parse_uri(uris[i], "uris[" + std::to_string(i) + "]").name);
  return with(call, [&](Session& s) {
    auto files = s.playlist_files(name, "playlist_id");
    std::vector<unsigned> positions;
    for (size_t i = files.size(); i-- > 0;)  // from the end, so earlier positions stay valid
      if (drop.count(files[i])) positions.push_back(unsigned(i));
    if (!positions.empty()) {
      auto* c = s.c();
      s.ok(mpd_command_list_begin(c, false), "uris");
      for (unsigned p : positions) s.ok(mpd_send_playlist_delete(c, name.c_str(), p), "uris");
      s.ok(mpd_command_list_end(c), "uris");
      s.finish("uris");
    }
    return s.playlist_info(name);
  });
}

}  // namespace concierge::providers::music
