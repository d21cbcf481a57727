#include "providers/error.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"
#include "tools/args.hpp"
#include "tools/video/tools.hpp"

namespace concierge::tools::video {

namespace {
Json playlist_json(const vd::Playlist& p) {
  return Json{{"id", p.id}, {"name", p.name}, {"description", p.description}, {"item_count", p.item_count}};
}
}  // namespace

ToolDefinition playlists(App& app) {
  return define(
      "video_playlists",
      {.title = "Video playlists",
       .description = "The user's video playlists, including Watch later (id watch_later). action: list (default), items "
                      "(playlist_id), create (name, description), add or remove (playlist_id, video_ids). Adding a video "
                      "already in the playlist changes nothing.",
       .hints = {.read_only = false, .destructive = true, .idempotent = false, .open_world = false}},
      [&app](const Json& args, RequestContext& ctx) {
        auto& provider = app.providers.video.get(args.value("account", ""));
        auto tz = providers::zone(app.preferences.time_zone(ctx.user()));
        auto call = provider_call(app, args, ctx);
        std::string action = args.value("action", "list");
        if (action == "list") {
          Json out = Json::array();
          std::string names;
          for (auto& p : provider.playlists(call)) {
            out.push_back(playlist_json(p));
            names += (names.empty() ? "" : ", ") + p.name + " (" + std::to_string(p.item_count) + ")";
          }
          return ToolResult::text("Playlists: " + names + ".", Json{{"action", action}, {"playlists", out}});
        }
        if (action == "create") {
          auto p = provider.create_playlist(call, required_for(args, "name", action), args.value("description", ""));
          return ToolResult::text("Created the playlist " + p.name + ".", Json{{"action", action}, {"playlist", playlist_json(p)}});
        }
        std::string id = required_for(args, "playlist_id", action);
        if (action == "items") {
          Json out = Json::array();
          for (auto& v : provider.items(call, id)) out.push_back(video_json(v, tz));
          return ToolResult::text(std::to_string(out.size()) + " videos in the playlist.", Json{{"action", action}, {"playlist_id", id}, {"videos", out}});
        }
        auto ids = required_for<std::vector<std::string>>(args, "video_ids", action);
        int n = action == "add" ? provider.add(call, id, ids) : provider.remove(call, id, ids);
        std::string verb = action == "add" ? "Added" : "Removed";
        return ToolResult::text(verb + " " + std::to_string(n) + " of " + std::to_string(ids.size()) + " videos.",
                                Json{{"action", action}, {"playlist_id", id}, {"changed", n}});
      });
}

const ToolRegistrar registered{"video", playlists};

}  // namespace concierge::tools::video
