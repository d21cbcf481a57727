// YouTube serves the video domain: CONCIERGE_VIDEO_PROVIDER=google.
#include "providers/google_oauth.hpp"
#include "providers/registry.hpp"
#include "providers/video/youtube.hpp"

namespace concierge::providers::video {
namespace {
const bool registered = register_adapter<VideoProvider>(
    {.domain = "video",
     .provider = "google",
     .sign_in = "google",
     .oauth = [](bool read_only, const ServiceConfig&) { return google_oauth(youtube_scopes(read_only)); }},
    [](AdapterContext& ctx) {
      auto client = ctx.http_client("youtube", youtube_policy(), "google");
      // One Google project's daily quota, shared by every account.
      static auto meter = std::make_shared<QuotaMeter>();
      return Connected<VideoProvider>{std::make_shared<YouTubeVideo>(client, ctx.credentials, meter), client};
    });
}  // namespace
}  // namespace concierge::providers::video
