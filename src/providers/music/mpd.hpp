#pragma once
// The music domain on a Music Player Daemon (MPD) through libmpdclient. One MPD is one player:
// its queue, outputs and stored playlists are shared by everyone who talks to it, so the `user`
// argument selects nothing here (an MPD account is a server, not a person).
//
// URIs are MPD's own names, percent-escaped (so a ':' or '%' in a name stays unambiguous):
//   mpd:track:<file path in the music directory>   mpd:album:<album name>
//   mpd:artist:<artist name>                       mpd:playlist:<stored playlist name>
//
// Where MPD and the interface differ:
//   - the queue is MPD's queue; "what plays next" is the part after the current song, and
//     add_to_queue appends to its end (after the rest of the album), as `mpc add` does.
//   - the context (album/playlist being played) is remembered by this adapter for as long as
//     MPD's queue is the one it loaded (queue version); someone else editing the queue ends it.
//   - devices are MPD's audio outputs; transfer enables one and disables the others.
//   - stored playlists have no description (create ignores it); albums are named by title only,
//     so two albums with the same title by different artists play as one.
//   - volume needs a mixer: without one (status volume -1) the volume reads 0 and setting it is
//     refused with what to change in mpd.conf (e.g. mixer_type "software").
#include <memory>
#include <mutex>
#include <string>

#include "providers/music/provider.hpp"

struct mpd_connection;

namespace concierge::providers::music {

struct MpdOptions {
  std::string host = "localhost";  // a host name, or a unix socket path ("/run/mpd/socket", "@abstract")
  unsigned port = 6600;            // ignored for a socket
  std::string password;            // empty: none sent
  unsigned timeout_ms = 5000;      // per answer
  std::string account = "default"; // how error messages name the account
};

// "mpd://[password@]host[:port]", "host[:port]", or a socket path ("/run/mpd/socket") -> options
// (timeout and account left at their defaults). Throws std::invalid_argument for a malformed one.
MpdOptions mpd_options_from_url(const std::string& url);

class MpdMusic : public MusicProvider {
 public:
  explicit MpdMusic(MpdOptions options);
  ~MpdMusic() override;
  MpdMusic(const MpdMusic&) = delete;
  MpdMusic& operator=(const MpdMusic&) = delete;

  SearchResult search(int64_t user, const std::string& query, const std::vector<std::string>& types, int limit) override;
  std::vector<Device> devices(int64_t user) override;
  PlayerState state(int64_t user) override;
  PlayerState play(int64_t user, const std::string& uri, const std::string& context_uri, int offset, const std::string& device_id) override;
  PlayerState pause(int64_t user) override;
  PlayerState resume(int64_t user) override;
  PlayerState next(int64_t user) override;
  PlayerState previous(int64_t user) override;
  PlayerState seek(int64_t user, int position_ms) override;
  PlayerState set_volume(int64_t user, int percent) override;
  PlayerState set_shuffle(int64_t user, bool on) override;
  PlayerState set_repeat(int64_t user, const std::string& mode) override;
  PlayerState transfer(int64_t user, const std::string& device_id) override;
  std::vector<Track> queue(int64_t user) override;
  void add_to_queue(int64_t user, const std::string& uri) override;
  std::vector<Playlist> playlists(int64_t user) override;
  std::pair<Playlist, std::vector<Track>> playlist(int64_t user, const std::string& uri) override;
  Playlist create_playlist(int64_t user, const std::string& name, const std::string& description) override;
  Playlist add_items(int64_t user, const std::string& playlist_uri, const std::vector<std::string>& uris) override;
  Playlist remove_items(int64_t user, const std::string& playlist_uri, const std::vector<std::string>& uris) override;

  const MpdOptions& options() const { return options_; }

  class Session;  // one checked-out connection (mpd.cpp)

 private:
  // Runs `fn` on the connection under the lock: connects (and sends the password) when there is
  // none, and when a kept connection turns out dead (MPD closes idle ones), reconnects once.
  template <class F>
  auto with(F&& fn);

  MpdOptions options_;
  std::mutex mu_;                    // libmpdclient connections are not thread-safe
  mpd_connection* conn_ = nullptr;   // kept between calls; null when none or dropped
  std::string context_uri_;          // what play() loaded ...
  unsigned context_version_ = 0;     // ... while MPD's queue has this version
};

}  // namespace concierge::providers::music
