// Spotify serves the music domain: CONCIERGE_MUSIC_PROVIDER=spotify.
#include "providers/music/spotify.hpp"
#include "providers/registry.hpp"

namespace concierge::providers::music {
namespace {
const bool registered = register_adapter<MusicProvider>(
    {.domain = "music",
     .provider = "spotify",
     .sign_in = "spotify",
     .oauth = [](bool read_only, const ServiceConfig&) { return spotify_oauth(read_only); }},
    [](AdapterContext& ctx) {
      auto client = ctx.http_client("spotify", spotify_policy(), "spotify");
      return Connected<MusicProvider>{std::make_shared<SpotifyMusic>(client, ctx.credentials), client};
    });
}  // namespace
}  // namespace concierge::providers::music
