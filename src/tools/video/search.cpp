#include "providers/error.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"
#include "tools/video/tools.hpp"

namespace concierge::tools::video {

ToolDefinition search(App& app) {
  return define("video_search",
                {.title = "Search videos",
                 .description = "Finds videos by words (title, description, channel, tags), ordered by relevance (default), "
                                "date, viewCount or rating; optionally published after/before a date and from one channel.",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto& provider = app.providers.video.get(args.value("account", ""));
                  auto tz = providers::zone(app.preferences.time_zone(ctx.user()));
                  vd::VideoQuery q;
                  q.text = args.value("query", "");
                  q.order = args.value("order", "relevance");
                  q.channel = args.value("channel", "");
                  q.max_results = args.value("max_results", 10);
                  auto bound = [&](const char* field) {
                    std::string t = args.at(field);
                    return providers::looks_like_date(t) ? providers::to_utc(providers::LocalMs{providers::parse_date(t, field)}, tz)
                                                         : providers::parse_time(t, tz, field);
                  };
                  if (args.contains("published_after")) q.published_after = bound("published_after");
                  if (args.contains("published_before")) q.published_before = bound("published_before");
                  if (q.published_after && q.published_before && *q.published_before <= *q.published_after)
                    throw providers::Error("published_before", "must be after published_after");
                  auto found = provider.search(provider_call(app, args, ctx), q);
                  Json out = Json::array();
                  std::string text;
                  for (auto& v : found) {
                    out.push_back(video_json(v, tz));
                    if (out.size() <= 3) text += (text.empty() ? "" : "; ") + v.title + " (" + v.channel + ")";
                  }
                  return ToolResult::text(found.empty() ? "No videos found." : std::to_string(found.size()) + " videos: " + text + (found.size() > 3 ? "; …" : "."),
                                          Json{{"videos", out}});
                });
}

const ToolRegistrar registered{"video", search};

}  // namespace concierge::tools::video
