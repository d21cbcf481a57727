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

  SearchResult search(const Call& call, const std::string& query, const std::vector<std::string>& types, int limit) override;
  std::vector<Device> devices(const Call& call) override;
  PlayerState state(const Call& call) override;
  PlayerState play(const Call& call, const std::string& uri, const std::string& context_uri, int offset, const std::string& device_id) override;
  PlayerState pause(const Call& call) override;
  PlayerState resume(const Call& call) override;
  PlayerState next(const Call& call) override;
  PlayerState previous(const Call& call) override;
  PlayerState seek(const Call& call, int position_ms) override;
  PlayerState set_volume(const Call& call, int percent) override;
  PlayerState set_shuffle(const Call& call, bool on) override;
  PlayerState set_repeat(const Call& call, const std::string& mode) override;
  PlayerState transfer(const Call& call, const std::string& device_id) override;
  std::vector<Track> queue(const Call& call) override;
  void add_to_queue(const Call& call, const std::string& uri) override;
  std::vector<Playlist> playlists(const Call& call) override;
  std::pair<Playlist, std::vector<Track>> playlist(const Call& call, const std::string& uri) override;
  Playlist create_playlist(const Call& call, const std::string& name, const std::string& description) override;
  Playlist add_items(const Call& call, const std::string& playlist_uri, const std::vector<std::string>& uris) override;
  Playlist remove_items(const Call& call, const std::string& playlist_uri, const std::vector<std::string>& uris) override;

  const MpdOptions& options() const { return options_; }

  class Session;  // one checked-out connection (mpd.cpp)

 private:
  // Runs `fn` on the connection under the lock: connects (and sends the password) when there is
  // none, and when a kept connection turns out dead (MPD closes idle ones), reconnects once.
  // A cancelled call stops waiting on MPD within ~50 ms (its connection is closed).
  template <class F>
  auto with(const Call& call, F&& fn);

  MpdOptions options_;
  std::mutex mu_;                    // libmpdclient connections are not thread-safe
  mpd_connection* conn_ = nullptr;   // kept between calls; null when none or dropped
  std::string context_uri_;          // what play() loaded ...
  unsigned context_version_ = 0;     // ... while MPD's queue has this version
};

}  // namespace concierge::providers::music
