#pragma once
// The embedded music library and player on the SQLite store. The player is a simulation a real
// player would recognise: a device, a position that advances with the clock while playing, a
// context (album, playlist, artist) and the user's queue ahead of it, shuffle and repeat. Real
// audio comes with the MPD adapter behind the same interface.
#include "providers/demo.hpp"
#include "providers/music/provider.hpp"
#include "store/store.hpp"

namespace concierge::providers::music {

class LocalMusic : public MusicProvider {
 public:
  explicit LocalMusic(store::Store& store);

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

  bool seed_demo(const DemoContext& ctx);

 private:
  store::Store& store_;
};

}  // namespace concierge::providers::music
