#pragma once
// The music domain (a Spotify-like player and library): search, playback, queue, playlists.
// Items are named by URIs, "concierge:track:<id>", "concierge:album:<id>", "concierge:playlist:<id>",
// "concierge:artist:<id>" here; the Spotify and MPD adapters use their own. Tools in
// src/tools/music/ use only this.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "providers/call.hpp"
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
  virtual SearchResult search(const Call& call, const std::string& query, const std::vector<std::string>& types, int limit) = 0;
  virtual std::vector<Device> devices(const Call& call) = 0;
  virtual PlayerState state(const Call& call) = 0;
  // A track uri, or a context (album, playlist, artist) from offset (0-based); empty device: the
  // active one. Errors name the field (uri, context_uri, offset, device_id).
  virtual PlayerState play(const Call& call, const std::string& uri, const std::string& context_uri, int offset,
                           const std::string& device_id) = 0;
  virtual PlayerState pause(const Call& call) = 0;
  virtual PlayerState resume(const Call& call) = 0;
  virtual PlayerState next(const Call& call) = 0;
  virtual PlayerState previous(const Call& call) = 0;
  virtual PlayerState seek(const Call& call, int position_ms) = 0;
  virtual PlayerState set_volume(const Call& call, int percent) = 0;
  virtual PlayerState set_shuffle(const Call& call, bool on) = 0;
  virtual PlayerState set_repeat(const Call& call, const std::string& mode) = 0;
  virtual PlayerState transfer(const Call& call, const std::string& device_id) = 0;
  // What plays next: the user's queue first, then the rest of the context.
  virtual std::vector<Track> queue(const Call& call) = 0;
  virtual void add_to_queue(const Call& call, const std::string& uri) = 0;
  virtual std::vector<Playlist> playlists(const Call& call) = 0;
  virtual std::pair<Playlist, std::vector<Track>> playlist(const Call& call, const std::string& uri) = 0;
  virtual Playlist create_playlist(const Call& call, const std::string& name, const std::string& description) = 0;
  virtual Playlist add_items(const Call& call, const std::string& playlist_uri, const std::vector<std::string>& uris) = 0;
  virtual Playlist remove_items(const Call& call, const std::string& playlist_uri, const std::vector<std::string>& uris) = 0;
};

}  // namespace concierge::providers::music
