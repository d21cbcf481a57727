#include "providers/error.hpp"
#include "store/store.hpp"
#include "tools/music/tools.hpp"

namespace concierge::tools::music {

ToolDefinition queue(App& app) {
  return define("music_queue",
                {.title = "Play queue",
                 .description = "action get (default): what plays now and next (the queue, then the rest of the album or "
                                "playlist). action add: puts a track (uri) at the end of the queue, ahead of the context.",
                 .hints = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto& p = app.providers.music.get(args.value("account", ""));
                  auto call = provider_call(app, args, ctx);
                  std::string action = args.value("action", "get");
                  std::string said;
                  if (action == "add") {
                    if (!args.contains("uri")) throw providers::Error("uri", "is required for action 'add'");
                    p.add_to_queue(call, args["uri"]);
                    said = "Queued. ";
                  }
                  auto s = p.state(call);
                  Json next = Json::array();
                  for (auto& t : p.queue(call)) next.push_back(track_json(t));
                  said += next.empty() ? "Nothing is up next." : "Up next: " + next[0]["title"].get<std::string>() + " by " + next[0]["artist"].get<std::string>() + ".";
                  return ToolResult::text(said, Json{{"action", action}, {"now_playing", s.track ? track_json(*s.track) : Json()}, {"queue", next}});
                });
}

const ToolRegistrar registered{"music", queue};

}  // namespace concierge::tools::music
