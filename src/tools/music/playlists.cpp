#include "providers/error.hpp"
#include "store/store.hpp"
#include "tools/args.hpp"
#include "tools/music/tools.hpp"

namespace concierge::tools::music {

namespace {
Json playlist_json(const mu::Playlist& p) {
  return Json{{"uri", p.uri}, {"name", p.name}, {"description", p.description}, {"track_count", p.track_count}};
}
}  // namespace

ToolDefinition playlists(App& app) {
  return define(
      "music_playlists",
      {.title = "Music playlists",
       .description = "The user's playlists. action: list (default), get (playlist_id: its tracks), create (name, "
                      "description), add or remove (playlist_id, uris of tracks). playlist_id is the playlist's URI or id.",
       .hints = {.read_only = false, .destructive = true, .idempotent = false, .open_world = false}},
      [&app](const Json& args, RequestContext& ctx) {
        auto& p = app.providers.music.get(args.value("account", ""));
        auto call = provider_call(app, args, ctx);
        std::string action = args.value("action", "list");
        if (action == "list") {
          Json out = Json::array();
          std::string names;
          for (auto& pl : p.playlists(call)) {
            out.push_back(playlist_json(pl));
            names += (names.empty() ? "" : ", ") + pl.name;
          }
          return ToolResult::text(out.empty() ? "No playlists." : "Playlists: " + names + ".", Json{{"action", action}, {"playlists", out}});
        }
        if (action == "create") {
          auto pl = p.create_playlist(call, required_for(args, "name", action), args.value("description", ""));
          return ToolResult::text("Created the playlist " + pl.name + ".", Json{{"action", action}, {"playlist", playlist_json(pl)}});
        }
        std::string id = required_for(args, "playlist_id", action);
        if (action == "get") {
          auto [pl, tracks] = p.playlist(call, id);
          Json out = Json::array();
          for (auto& t : tracks) out.push_back(track_json(t));
          return ToolResult::text(pl.name + ": " + std::to_string(out.size()) + " tracks.",
                                  Json{{"action", action}, {"playlist", playlist_json(pl)}, {"tracks", out}});
        }
        auto uris = required_for<std::vector<std::string>>(args, "uris", action);
        auto pl = action == "add" ? p.add_items(call, id, uris) : p.remove_items(call, id, uris);
        return ToolResult::text(pl.name + " now has " + std::to_string(pl.track_count) + " tracks.",
                                Json{{"action", action}, {"playlist", playlist_json(pl)}});
      });
}

const ToolRegistrar registered{"music", playlists};

}  // namespace concierge::tools::music
