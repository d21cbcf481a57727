#include "store/store.hpp"
#include "tools/music/tools.hpp"

namespace concierge::tools::music {

ToolDefinition now_playing(App& app) {
  return define("music_now_playing",
                {.title = "Now playing",
                 .description = "What is playing: track, position, device, volume, shuffle and repeat, and the devices there are.",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto& p = app.providers.music.get(args.value("account", ""));
                  auto call = provider_call(app, args, ctx);
                  auto s = p.state(call);
                  Json devices = Json::array();
                  for (auto& d : p.devices(call)) devices.push_back({{"id", d.id}, {"name", d.name}, {"type", d.type}, {"active", d.active}});
                  std::string text = player_line(s);
                  if (s.track) text += " " + std::to_string(s.position_ms / 60000) + ":" + (s.position_ms / 1000 % 60 < 10 ? "0" : "") +
                                       std::to_string(s.position_ms / 1000 % 60) + " of " + std::to_string(s.track->duration_ms / 60000) + ":" +
                                       (s.track->duration_ms / 1000 % 60 < 10 ? "0" : "") + std::to_string(s.track->duration_ms / 1000 % 60) + ".";
                  return ToolResult::text(text, Json{{"player", player_json(s)}, {"devices", devices}});
                });
}

const ToolRegistrar registered{"music", now_playing};

}  // namespace concierge::tools::music
