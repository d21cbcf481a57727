#pragma once
// The music domain on the Spotify Web API (https://api.spotify.com/v1), as its February 2026
// shape has it for apps in development mode
// (developer.spotify.com/documentation/web-api/references/changes/february-2026): playlist items
// under /playlists/{id}/items (each entry's object in `item`), readable only for playlists the
// user owns or collaborates on (of a followed one Spotify gives the metadata, and /items answers
// 403: said as such), playlists created with POST /me/playlists, search limited to 10 per type. Items are named by Spotify's own URIs ("spotify:track:<base62 id>"); open.spotify.com
// links are accepted too. Playback control needs Premium and an active device; Spotify's own
// reasons (NO_ACTIVE_DEVICE, PREMIUM_REQUIRED...) become tool errors that say what to do.
#include <functional>
#include <memory>

#include "providers/auth/credentials.hpp"
#include "providers/auth/oauth.hpp"
#include "providers/http/client.hpp"
#include "providers/http/service.hpp"
#include "providers/music/provider.hpp"

namespace concierge::providers::music {

// The real service: base URL, timeouts, and a conservative call budget (Spotify publishes no
// number, only that the limit is counted over a rolling 30 s window and is lower in development
// mode).
http::Policy spotify_policy();
// Authorization code with PKCE on accounts.spotify.com; the least scopes the tools need (no
// modify scopes when read_only). client_id is filled in by the integrator.
auth::OAuthConfig spotify_oauth(bool read_only);

class SpotifyMusic : public MusicProvider {
 public:
  SpotifyMusic(std::shared_ptr<http::Client> client, std::shared_ptr<auth::Credentials> credentials);

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

 private:
  Json call(int64_t user, http::Request request);
  // A player command (204), then the player as Spotify reports it; `settled` says whether the
  // report already shows the change (Spotify applies commands asynchronously), else it is read
  // again a few times.
  PlayerState command(int64_t user, http::Request request, const std::function<bool(const PlayerState&)>& settled = nullptr);
  PlayerState toggle(int64_t user, const std::string& path, bool playing);
  Json read_playlist(int64_t user, const std::string& id);
  Playlist playlist_meta(int64_t user, const std::string& id);
  http::ServiceApi api_;
};

}  // namespace concierge::providers::music
