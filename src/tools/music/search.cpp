#include "store/store.hpp"
#include "tools/music/tools.hpp"

namespace concierge::tools::music {

ToolDefinition search(App& app) {
  return define("music_search",
                {.title = "Search music",
                 .description = "Finds tracks, albums, artists and playlists in the library by words in their names. Returns URIs "
                                "to play (music_playback) or queue (music_queue).",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto& provider = app.providers.music.get(args.value("account", ""));
                  auto r = provider.search(provider_call(app, args, ctx), args.at("query"),
                                           args.value("types", std::vector<std::string>{}), args.value("limit", 10));
                  Json tracks = Json::array(), albums = Json::array(), artists = Json::array(), playlists = Json::array();
                  for (auto& t : r.tracks) tracks.push_back(track_json(t));
                  for (auto& a : r.albums)
                    albums.push_back({{"uri", a.uri}, {"title", a.title}, {"artist", a.artist}, {"year", a.year}, {"track_count", a.track_count}});
                  for (auto& a : r.artists) artists.push_back({{"uri", a.uri}, {"name", a.name}, {"album_count", a.album_count}});
                  for (auto& p : r.playlists)
                    playlists.push_back({{"uri", p.uri}, {"name", p.name}, {"description", p.description}, {"track_count", p.track_count}});
                  std::string text = std::to_string(tracks.size()) + " tracks, " + std::to_string(albums.size()) + " albums, " +
                                     std::to_string(artists.size()) + " artists, " + std::to_string(playlists.size()) + " playlists";
                  if (!r.albums.empty()) text += "; top album: " + r.albums[0].title + " by " + r.albums[0].artist;
                  else if (!r.tracks.empty()) text += "; top track: " + r.tracks[0].title + " by " + r.tracks[0].artist;
                  Json out{{"tracks", tracks}, {"albums", albums}, {"artists", artists}, {"playlists", playlists}};
                  if (!r.notes.empty()) out["notes"] = r.notes;
                  for (auto& n : r.notes) text += ". Not searched: " + n;
                  return ToolResult::text(text + ".", out);
                });
}

const ToolRegistrar registered{"music", search};

}  // namespace concierge::tools::music
