#pragma once
// The music domain (a Spotify-like player and library): search, playback, queue, playlists.
// Items are named by URIs, "concierge:track:<id>", "concierge:album:<id>", "concierge:playlist:<id>",
// "concierge:artist:<id>" here; the Spotify and MPD adapters use their own. Tools in
// src/tools/music/ use only this.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "providers/time.hpp"

namespace concierge::providers::music {

struct Track {
  std::string uri, title, artist, album, album_uri;
  int track_number = 0;
  int duration_ms = 0;
};
struct Album {
  std::string uri, title, artist;
  int year = 0, track_count = 0;
};
struct Artist {
  std::string uri, name;
  int album_count = 0;
};
struct Playlist {
  std::string uri, name, description;
  int track_count = 0;
};
struct SearchResult {
  std::vector<Track> tracks;
  std::vector<Album> albums;
  std::vector<Artist> artists;
  std::vector<Playlist> playlists;
  // A kind the provider could not search and why ("playlists: ..."), the rest being served.
  std::vector<std::string> notes;
};

struct Device {
  std::string id, name, type;
  bool active = false;
};

struct PlayerState {
  std::optional<Track> track;  // nothing loaded yet: empty
  bool playing = false;
  int position_ms = 0;
  std::string context_uri;  // the album or playlist playing, if any
  std::string device_id;
  int volume_percent = 50;
  bool shuffle = false;
  std::string repeat = "off";  // off, track, context
};

enum class Repeat { Off, Track, Context };

class MusicProvider {
 public:
  virtual ~MusicProvider() = default;
  // types: any of "track", "album", "artist", "playlist" (empty: all).
  virtual SearchResult search(int64_t user, const std::string& query, const std::vector<std::string>& types, int limit) = 0;
  virtual std::vector<Device> devices(int64_t user) = 0;
  virtual PlayerState state(int64_t user) = 0;
  // A track uri, or a context (album, playlist, artist) from offset (0-based); empty device: the
  // active one. Errors name the field (uri, context_uri, offset, device_id).
  virtual PlayerState play(int64_t user, const std::string& uri, const std::string& context_uri, int offset,
                           const std::string& device_id) = 0;
  virtual PlayerState pause(int64_t user) = 0;
  virtual PlayerState resume(int64_t user) = 0;
  virtual PlayerState next(int64_t user) = 0;
  virtual PlayerState previous(int64_t user) = 0;
  virtual PlayerState seek(int64_t user, int position_ms) = 0;
  virtual PlayerState set_volume(int64_t user, int percent) = 0;
  virtual PlayerState set_shuffle(int64_t user, bool on) = 0;
  virtual PlayerState set_repeat(int64_t user, const std::string& mode) = 0;
  virtual PlayerState transfer(int64_t user, const std::string& device_id) = 0;
  // What plays next: the user's queue first, then the rest of the context.
  virtual std::vector<Track> queue(int64_t user) = 0;
  virtual void add_to_queue(int64_t user, const std::string& uri) = 0;
  virtual std::vector<Playlist> playlists(int64_t user) = 0;
  virtual std::pair<Playlist, std::vector<Track>> playlist(int64_t user, const std::string& uri) = 0;
  virtual Playlist create_playlist(int64_t user, const std::string& name, const std::string& description) = 0;
  virtual Playlist add_items(int64_t user, const std::string& playlist_uri, const std::vector<std::string>& uris) = 0;
  virtual Playlist remove_items(int64_t user, const std::string& playlist_uri, const std::vector<std::string>& uris) = 0;
};

}  // namespace concierge::providers::music
