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

  bool seed_demo(const DemoContext& ctx);

 private:
  store::Store& store_;
};

}  // namespace concierge::providers::music
