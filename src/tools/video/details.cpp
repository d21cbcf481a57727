#include "store/preferences.hpp"
#include "store/store.hpp"
#include "tools/video/tools.hpp"

namespace concierge::tools::video {

ToolDefinition details(App& app) {
  return define("video_details",
                {.title = "Video details",
                 .description = "Title, channel, description, publication time, duration, views, likes and tags of up to 50 videos by id.",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto& provider = app.providers.video.get(args.value("account", ""));
                  auto tz = providers::zone(app.preferences.time_zone(ctx.user()));
                  auto found = provider.details(provider_call(app, args, ctx), args.at("ids").get<std::vector<std::string>>());
                  Json out = Json::array();
                  for (auto& v : found) out.push_back(video_json(v, tz));
                  std::string text = found.size() == 1 ? found[0].title + " by " + found[0].channel + ", " +
                                                             std::to_string(found[0].duration_seconds / 60) + " minutes."
                                                       : std::to_string(found.size()) + " videos.";
                  return ToolResult::text(text, Json{{"videos", out}});
                });
}

const ToolRegistrar registered{"video", details};

}  // namespace concierge::tools::video
