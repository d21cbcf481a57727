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

 private:
  Json upstream(const Call& call, http::Request request);
  // A player command (204), then the player as Spotify reports it; `settled` says whether the
  // report already shows the change (Spotify applies commands asynchronously), else it is read
  // again a few times.
  PlayerState command(const Call& call, http::Request request, const std::function<bool(const PlayerState&)>& settled = nullptr);
  PlayerState toggle(const Call& call, const std::string& path, bool playing);
  Json read_playlist(const Call& call, const std::string& id);
  Playlist playlist_meta(const Call& call, const std::string& id);
  http::ServiceApi api_;
};

}  // namespace concierge::providers::music
