// MPD serves the music domain: CONCIERGE_MUSIC_PROVIDER=mpd, with CONCIERGE_MPD_BASE_URL
// ([mpd://]host[:port] or a socket path; default 127.0.0.1:6600) and _PASSWORD.
#include <stdexcept>

#include "providers/music/mpd.hpp"
#include "providers/registry.hpp"

namespace concierge::providers::music {
namespace {
const bool registered = register_adapter<MusicProvider>(
    {.domain = "music", .provider = "mpd", .services = {{.name = "mpd"}}}, [](AdapterContext& ctx) {
      auto& sc = ctx.service("mpd");
      MpdOptions o;
      try {
        if (!sc.base_url.empty()) o = mpd_options_from_url(sc.base_url);
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(std::string("CONCIERGE_MPD_BASE_URL: ") + e.what());
      }
      if (!sc.password.empty()) o.password = sc.password;
      return Connected<MusicProvider>{std::make_shared<MpdMusic>(o)};
    });
}  // namespace
}  // namespace concierge::providers::music
