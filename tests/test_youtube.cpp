// The YouTube adapter against a stateful in-process fake of the YouTube Data API v3: search.list
// with the documented parameters and response shape, videos.list (ISO 8601 durations, counts as
// strings), playlists and playlistItems with pagination and YouTube's error bodies, and the
// project's daily quota (403 quotaExceeded). The video scenario goes through the tools.
#include <catch2/catch.hpp>
#include <set>

#include "providers/auth/tokens.hpp"
#include "providers/error.hpp"
#include "providers/video/youtube.hpp"
#include "support/app_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::video;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct FakeVideo {
  std::string id, title, channel_id, channel, description, published, duration;
  int64_t views, likes;
  std::vector<std::string> tags;
};
struct FakeList {
  std::string id, title, description, privacy;
  std::vector<std::pair<std::string, std::string>> items;  // playlistItem id, video id
};

struct FakeYouTube {
  FakeUpstream up;
  std::mutex m;
  std::vector<FakeVideo> videos;
  std::vector<FakeList> lists;
  // The project's day (developers.google.com/youtube/data/determine_quota_cost): search.list has
  // its own bucket of 100 calls; every other method spends units from a pool of 10,000.
  int units = 0, daily = 10'000, next = 1;
  int searches_made = 0, search_daily = 100;
  std::map<std::string, int> calls;
  std::vector<std::map<std::string, std::string>> searches;  // the parameters of each search.list

  static void error(httplib::Response& res, int code, const std::string& domain, const std::string& reason, const std::string& message) {
    res.status = code;
    res.set_content(Json{{"error", {{"code", code}, {"message", message}, {"errors", {{{"message", message}, {"domain", domain}, {"reason", reason}}}}}}}.dump(),
                    "application/json");
  }
  static void json(httplib::Response& res, const Json& j) { res.set_content(j.dump(), "application/json"); }
  // Every request costs its units, even a refused one; past the day's quota all are refused.
  bool charge(httplib::Response& res, int cost) {
    if (units + cost > daily) {
      error(res, 403, "youtube.quota", "quotaExceeded",
            "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.");
      return false;
    }
    units += cost;
    return true;
  }
  bool charge_search(httplib::Response& res) {
    if (searches_made + 1 > search_daily) {
      error(res, 403, "youtube.quota", "quotaExceeded",
            "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.");
      return false;
    }
    ++searches_made;
    return true;
  }
  // `part`: required, each a part the resource has (400 otherwise); only those come back.
  static std::optional<std::set<std::string>> parts(const httplib::Request& req, httplib::Response& res, std::set<std::string> known) {
    std::string list = req.get_param_value("part");
    if (list.empty()) return error(res, 400, "youtube.parameter", "missingRequiredParameter", "No value specified for required parameter: part"), std::nullopt;
    std::set<std::string> out;
    for (size_t at = 0; at <= list.size();) {
      size_t comma = list.find(',', at);
      if (comma == std::string::npos) comma = list.size();
      std::string p = list.substr(at, comma - at);
      if (!known.count(p)) return error(res, 400, "youtube.part", "unknownPart", "'" + p + "'"), std::nullopt;
      out.insert(p);
      at = comma + 1;
    }
    return out;
  }
  // A resource with only the asked parts (kind, etag and id always come).
  static Json only(Json full, const std::set<std::string>& asked) {
    for (auto it = full.begin(); it != full.end();) {
      const std::string k = it.key();
      if (k == "kind" || k == "etag" || k == "id" || asked.count(k)) ++it;
      else it = full.erase(it);
    }
    return full;
  }
  FakeList* list(const std::string& id) {
    for (auto& l : lists)
      if (l.id == id) return &l;
    return nullptr;
  }
  const FakeVideo* video(const std::string& id) {
    for (auto& v : videos)
      if (v.id == id) return &v;
    return nullptr;
  }
  Json snippet(const FakeVideo& v) {
    return {{"publishedAt", v.published}, {"channelId", v.channel_id}, {"title", v.title}, {"description", v.description},
            {"thumbnails", {{"default", {{"url", "https://i.ytimg.com/vi/" + v.id + "/default.jpg"}, {"width", 120}, {"height", 90}}}}},
            {"channelTitle", v.channel}, {"liveBroadcastContent", "none"}};
  }
  Json playlist_json(const FakeList& l) {
    return {{"kind", "youtube#playlist"}, {"etag", "e"}, {"id", l.id},
            {"snippet", {{"publishedAt", "2026-01-01T00:00:00Z"}, {"channelId", "UCme0000000000000000000a"}, {"title", l.title}, {"description", l.description}}},
            {"status", {{"privacyStatus", l.privacy}}}, {"contentDetails", {{"itemCount", l.items.size()}}}};
  }
  // maxResults (default 5, at most 50) and opaque page tokens, as the API pages every list.
  static std::pair<size_t, size_t> page(const httplib::Request& req) {
    size_t max = req.has_param("maxResults") ? std::min<size_t>(50, std::stoul(req.get_param_value("maxResults"))) : 5;
    size_t at = req.has_param("pageToken") ? std::stoul(req.get_param_value("pageToken").substr(2)) : 0;
    return {at, max};
  }

  FakeYouTube() {
    auto& s = up.server;
    s.Get("/youtube/v3/search", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["search.list"];
      if (!charge_search(res)) return;
      std::map<std::string, std::string> p;
      for (auto& [k, v] : req.params) p[k] = v;
      searches.push_back(p);
      auto asked = parts(req, res, {"id", "snippet"});
      if (!asked) return;
      if (p.count("order") && !std::set<std::string>{"date", "rating", "relevance", "title", "videoCount", "viewCount"}.count(p["order"]))
        return error(res, 400, "youtube.parameter", "invalidSearchFilter", "Invalid order");
      std::vector<const FakeVideo*> hits;
      std::vector<std::string> words;
      for (size_t at = 0; p.count("q") && at < p["q"].size();) {
        auto sp = p["q"].find(' ', at);
        auto w = p["q"].substr(at, sp == std::string::npos ? std::string::npos : sp - at);
        if (!w.empty()) words.push_back(lower(w));
        at = sp == std::string::npos ? p["q"].size() : sp + 1;
      }
      for (auto& v : videos) {
        std::string hay = lower(v.title + " " + v.description + " " + v.channel);
        for (auto& t : v.tags) hay += " " + lower(t);
        bool all = true;
        for (auto& w : words) all = all && hay.find(w) != std::string::npos;
        if (!all) continue;
        if (p.count("channelId") && v.channel_id != p["channelId"]) continue;
        if (p.count("publishedAfter") && v.published < p["publishedAfter"]) continue;  // RFC 3339 UTC compares as text
        if (p.count("publishedBefore") && v.published >= p["publishedBefore"]) continue;
        hits.push_back(&v);
      }
      if (p["order"] == "date") std::sort(hits.begin(), hits.end(), [](auto* a, auto* b) { return a->published > b->published; });
      if (p["order"] == "viewCount") std::sort(hits.begin(), hits.end(), [](auto* a, auto* b) { return a->views > b->views; });
      auto [at, max] = page(req);
      Json items = Json::array();
      for (size_t i = at; i < hits.size() && i < at + max; ++i)
        items.push_back(only({{"kind", "youtube#searchResult"}, {"etag", "e"}, {"id", {{"kind", "youtube#video"}, {"videoId", hits[i]->id}}}, {"snippet", snippet(*hits[i])}}, *asked));
      Json out{{"kind", "youtube#searchListResponse"}, {"etag", "e"}, {"regionCode", "DE"},
               {"pageInfo", {{"totalResults", hits.size()}, {"resultsPerPage", max}}}, {"items", items}};
      if (at + max < hits.size()) out["nextPageToken"] = "CA" + std::to_string(at + max);
      json(res, out);
    });
    s.Get("/youtube/v3/videos", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["videos.list"];
      if (!charge(res, 1)) return;
      auto asked = parts(req, res, {"contentDetails", "fileDetails", "id", "liveStreamingDetails", "localizations", "player", "processingDetails",
                                    "recordingDetails", "snippet", "statistics", "status", "suggestions", "topicDetails"});
      if (!asked) return;
      // maxResults goes with myRating, not with id (videos.list reference).
      if (req.has_param("id") && req.has_param("maxResults"))
        return error(res, 400, "youtube.parameter", "incompatibleParameters", "The request specifies maxResults together with id, which it does not support.");
      Json items = Json::array();
      std::string ids = req.get_param_value("id") + ",";
      for (size_t at = 0, comma; (comma = ids.find(',', at)) != std::string::npos; at = comma + 1)
        if (auto* v = video(ids.substr(at, comma - at))) {
          Json sn = snippet(*v);
          sn["tags"] = v->tags;
          items.push_back(only({{"kind", "youtube#video"}, {"etag", "e"}, {"id", v->id}, {"snippet", sn},
                                {"contentDetails", {{"duration", v->duration}, {"dimension", "2d"}, {"definition", "hd"}, {"caption", "false"}}},
                                {"status", {{"privacyStatus", "public"}, {"embeddable", true}}},
                                {"statistics", {{"viewCount", std::to_string(v->views)}, {"likeCount", std::to_string(v->likes)}, {"favoriteCount", "0"}, {"commentCount", "12"}}}},
                               *asked));
        }
      json(res, {{"kind", "youtube#videoListResponse"}, {"etag", "e"}, {"items", items}, {"pageInfo", {{"totalResults", items.size()}, {"resultsPerPage", items.size()}}}});
    });
    s.Get("/youtube/v3/playlists", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["playlists.list"];
      if (!charge(res, 1)) return;
      auto asked = parts(req, res, {"contentDetails", "id", "localizations", "player", "snippet", "status"});
      if (!asked) return;
      if (req.get_param_value("mine") != "true") return error(res, 400, "youtube.parameter", "missingRequiredParameter", "No filter selected.");
      auto [at, max] = page(req);
      Json items = Json::array();
      for (size_t i = at; i < lists.size() && i < at + max; ++i) items.push_back(only(playlist_json(lists[i]), *asked));
      Json out{{"kind", "youtube#playlistListResponse"}, {"etag", "e"}, {"pageInfo", {{"totalResults", lists.size()}, {"resultsPerPage", max}}}, {"items", items}};
      if (at + max < lists.size()) out["nextPageToken"] = "CA" + std::to_string(at + max);
      json(res, out);
    });
    s.Post("/youtube/v3/playlists", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["playlists.insert"];
      if (!charge(res, 50)) return;
      auto asked = parts(req, res, {"contentDetails", "id", "localizations", "player", "snippet", "status"});
      if (!asked) return;
      Json b = Json::parse(req.body);
      std::string title = b["snippet"].value("title", "");
      if (title.empty()) return error(res, 400, "youtube.playlist", "playlistTitleRequired", "The request must specify a playlist title.");
      lists.push_back({"PLfake" + std::to_string(next++), title, b["snippet"].value("description", ""),
                       b.value("status", Json::object()).value("privacyStatus", "public"), {}});
      json(res, only(playlist_json(lists.back()), *asked));
    });
    s.Get("/youtube/v3/playlistItems", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["playlistItems.list"];
      if (!charge(res, 1)) return;
      auto asked = parts(req, res, {"contentDetails", "id", "snippet", "status"});
      if (!asked) return;
      std::string id = req.get_param_value("playlistId");
      FakeList empty{"WL", "Watch later", "", "private", {}};  // closed since 2016: always empty
      FakeList* pl = id == "WL" ? &empty : list(id);
      if (!pl)
        return error(res, 404, "youtube.playlistItem", "playlistNotFound",
                     "The playlist identified with the request's <code>playlistId</code> parameter cannot be found.");
      auto [at, max] = page(req);
      Json items = Json::array();
      for (size_t i = at; i < pl->items.size() && i < at + max; ++i)
        items.push_back(only({{"kind", "youtube#playlistItem"}, {"etag", "e"}, {"id", pl->items[i].first},
                              {"snippet", {{"playlistId", pl->id}, {"position", i}, {"resourceId", {{"kind", "youtube#video"}, {"videoId", pl->items[i].second}}}}},
                              {"contentDetails", {{"videoId", pl->items[i].second}}}},
                             *asked));
      Json out{{"kind", "youtube#playlistItemListResponse"}, {"etag", "e"}, {"pageInfo", {{"totalResults", pl->items.size()}, {"resultsPerPage", max}}}, {"items", items}};
      if (at + max < pl->items.size()) out["nextPageToken"] = "CA" + std::to_string(at + max);
      json(res, out);
    });
    s.Post("/youtube/v3/playlistItems", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["playlistItems.insert"];
      if (!charge(res, 50)) return;
      auto asked = parts(req, res, {"contentDetails", "id", "snippet", "status"});
      if (!asked) return;
      Json b = Json::parse(req.body);
      std::string pid = b["snippet"].value("playlistId", ""), vid = b["snippet"]["resourceId"].value("videoId", "");
      if (pid == "WL") return error(res, 403, "youtube.playlistItem", "playlistOperationUnsupported", "The playlist does not support this operation.");
      auto* pl = list(pid);
      if (!pl) return error(res, 404, "youtube.playlistItem", "playlistNotFound", "Playlist not found.");
      if (!video(vid)) return error(res, 404, "youtube.playlistItem", "videoNotFound", "Video not found.");
      pl->items.emplace_back("UExpt" + std::to_string(next++), vid);
      json(res, only({{"kind", "youtube#playlistItem"}, {"id", pl->items.back().first}, {"snippet", b["snippet"]}}, *asked));
    });
    s.Delete("/youtube/v3/playlistItems", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["playlistItems.delete"];
      if (!charge(res, 50)) return;
      std::string id = req.get_param_value("id");
      for (auto& pl : lists)
        for (auto it = pl.items.begin(); it != pl.items.end(); ++it)
          if (it->first == id) {
            pl.items.erase(it);
            res.status = 204;
            return;
          }
      error(res, 404, "youtube.playlistItem", "playlistItemNotFound", "Playlist item not found.");
    });
  }
  int count(const std::string& what) {
    std::lock_guard l(m);
    return calls[what];
  }
};

void seed(FakeYouTube& y) {
  y.videos = {
      {"dQw4w9WgXcQ", "Morning yoga for beginners (20 min)", "UCstillwater00000000000a", "Stillwater Yoga", "A gentle flow.", "2026-05-03T07:00:00Z", "PT20M15S", 73000, 5100, {"yoga", "morning"}},
      {"yoga2AAAAAA", "Yoga for back pain relief", "UCstillwater00000000000a", "Stillwater Yoga", "Easy stretches.", "2026-02-01T07:00:00Z", "PT25M30S", 640000, 30400, {"yoga"}},
      {"yoga3AAAAAA", "10-minute evening wind-down yoga", "UCstillwater00000000000a", "Stillwater Yoga", "Before sleep.", "2025-11-20T20:00:00Z", "PT10M40S", 210000, 12800, {"sleep"}},
      {"black1AAAAA", "How black holes evaporate", "UCorbitlab0000000000000a", "Orbit Lab", "Hawking radiation.", "2026-04-28T15:00:00Z", "PT18M17S", 1530000, 98000, {"physics"}},
      {"jwst1AAAAAA", "The James Webb telescope's best images, and yoga for astronomers", "UCorbitlab0000000000000a", "Orbit Lab", "What we see.", "2026-04-01T15:00:00Z", "PT1H2M3S", 2100000, 121000, {"space"}},
      {"ramen1AAAAA", "Weeknight ramen in 30 minutes", "UCcrumb00000000000000000", "Crumb & Crust", "A quick broth.", "2026-03-10T12:00:00Z", "PT4M13S", 156000, 8700, {"cooking"}},
  };
  y.lists = {{"PLcooking01", "Weekend cooking", "Recipes to try", "private", {{"UExpt900", "ramen1AAAAA"}}}};
}

struct YouTubeFixture : ToolCalls {
  FakeYouTube yt;
  AppFixture f;
  int64_t user = f.store.user_id("local");
  auth::TokenStore tokens{f.store, auth::Sealer(std::string(32, 'K'))};
  std::shared_ptr<auth::OAuthClient> oauth;
  std::shared_ptr<http::Client> client;
  std::shared_ptr<YouTubeVideo> adapter;
  Client c{*f.server};
  int id = 1;
  YouTubeFixture() : ToolCalls(c) {
    yt.up.sign_in(tokens, user, "google", "work");
    oauth = std::make_shared<auth::OAuthClient>(yt.up.oauth("google"), tokens, yt.up.policy("google"));
    client = std::make_shared<http::Client>(yt.up.policy("google"));
    adapter = std::make_shared<YouTubeVideo>(client, std::make_shared<auth::OAuthCredentials>(oauth, "google", "work"));
    f.providers.video = {};
    f.providers.video.add("work", adapter);
    c.initialize("2025-11-25");
    seed(yt);
  }
};

std::vector<std::string> ids_of(const Json& videos) {
  std::vector<std::string> out;
  for (auto& v : videos) out.push_back(v["id"]);
  return out;
}

}  // namespace

TEST_CASE("youtube: ISO 8601 durations, scopes, policy", "[youtube][unit]") {
  CHECK(iso8601_seconds("PT4M13S") == 253);
  CHECK(iso8601_seconds("PT1H2M3S") == 3723);
  CHECK(iso8601_seconds("PT45S") == 45);
  CHECK(iso8601_seconds("PT2H") == 7200);
  CHECK(iso8601_seconds("P1DT1S") == 86401);
  CHECK(iso8601_seconds("P0D") == 0);  // a live stream
  CHECK(iso8601_seconds("") == 0);
  CHECK(iso8601_seconds("4 minutes") == 0);
  CHECK(youtube_scopes(true) == std::vector<std::string>{"https://www.googleapis.com/auth/youtube.readonly"});
  CHECK(youtube_scopes(false) == std::vector<std::string>{"https://www.googleapis.com/auth/youtube"});
  CHECK(youtube_policy().base_url == "https://www.googleapis.com");
  QuotaMeter meter(250);
  meter.take(100, "search");
  meter.take(100, "search");
  CHECK(meter.spent() == 200);
  CHECK_THROWS_WITH(meter.take(100, "search"), Catch::Contains("only 50 of today's 250"));
  meter.exhausted();
  CHECK_THROWS_WITH(meter.take(1, "videos"), Catch::Contains("daily quota") && Catch::Contains("midnight Pacific"));
}

TEST_CASE("youtube: the video scenario through the tools", "[youtube]") {
  YouTubeFixture x;
  // Search: search.list for ids, then videos.list for durations and counts.
  Json yoga = x.ok("video_search", {{"query", "yoga"}, {"order", "date"}});
  CHECK(ids_of(yoga["videos"]) == std::vector<std::string>{"dQw4w9WgXcQ", "jwst1AAAAAA", "yoga2AAAAAA", "yoga3AAAAAA"});
  CHECK(yoga["videos"][0]["duration_seconds"] == 1215);
  CHECK(yoga["videos"][0]["duration"] == "PT20M15S");
  CHECK(yoga["videos"][0]["views"] == 73000);
  CHECK(yoga["videos"][0]["channel"] == "Stillwater Yoga");
  auto& p = x.yt.searches.back();
  CHECK(p.at("type") == "video");
  CHECK(p.at("part") == "snippet");
  CHECK(p.at("order") == "date");
  CHECK(p.at("q") == "yoga");
  CHECK(x.adapter->meter().searches() == 1);  // search.list: its own bucket
  CHECK(x.adapter->meter().spent() == 1);     // videos.list: 1 unit of the pool
  Json again = x.ok("video_search", {{"query", "yoga"}, {"order", "date"}});
  CHECK(again["videos"] == yoga["videos"]);
  CHECK(x.yt.count("search.list") == 1);  // the same search within minutes: 100 units saved
  Json channel = x.ok("video_search", {{"query", "yoga"}, {"channel", "orbit lab"}});
  CHECK(ids_of(channel["videos"]) == std::vector<std::string>{"jwst1AAAAAA"});  // a name: filtered on channelTitle
  Json by_id = x.ok("video_search", {{"channel", "UCstillwater00000000000a"}, {"order", "viewCount"}});
  CHECK(ids_of(by_id["videos"]) == std::vector<std::string>{"yoga2AAAAAA", "yoga3AAAAAA", "dQw4w9WgXcQ"});
  CHECK(x.yt.searches.back().at("channelId") == "UCstillwater00000000000a");
  Json recent = x.ok("video_search", {{"query", "yoga"}, {"published_after", "2026-03-01"}, {"published_before", "2026-05-01T00:00:00Z"}});
  CHECK(ids_of(recent["videos"]) == std::vector<std::string>{"jwst1AAAAAA"});
  CHECK(x.yt.searches.back().at("publishedBefore") == "2026-05-01T00:00:00Z");

  // Details of several ids, in the order asked; an unknown one names the field.
  Json d = x.ok("video_details", {{"ids", {"ramen1AAAAA", "jwst1AAAAAA", "black1AAAAA"}}});
  CHECK(ids_of(d["videos"]) == std::vector<std::string>{"ramen1AAAAA", "jwst1AAAAAA", "black1AAAAA"});
  CHECK(d["videos"][0]["duration_seconds"] == 253);
  CHECK(d["videos"][1]["duration"] == "PT1H2M3S");
  CHECK(d["videos"][0]["likes"] == 8700);
  CHECK(d["videos"][0]["tags"] == Json{"cooking"});
  CHECK(d["videos"][2]["published_at"].get<std::string>().substr(0, 10) == "2026-04-28");
  CHECK_THAT(x.error("video_details", {{"ids", {"ramen1AAAAA", "nope0000000"}}}), Catch::StartsWith("ids:"));
  CHECK_THAT(x.error("video_details", {{"ids", {"a,b"}}}), Catch::StartsWith("ids:"));

  // Watch later: listed from the start, a private playlist made on the first add.
  Json lists = x.ok("video_playlists", Json::object());
  REQUIRE(lists["playlists"].size() == 2);
  CHECK(lists["playlists"][0]["id"] == "watch_later");
  CHECK(lists["playlists"][0]["item_count"] == 0);
  CHECK(lists["playlists"][1]["name"] == "Weekend cooking");
  CHECK(x.yt.count("playlists.insert") == 0);  // listing wrote nothing
  CHECK(x.ok("video_playlists", {{"action", "items"}, {"playlist_id", "watch_later"}})["videos"].empty());
  CHECK(x.ok("video_playlists", {{"action", "add"}, {"playlist_id", "watch_later"}, {"video_ids", {"black1AAAAA"}}})["changed"] == 1);
  {
    std::lock_guard l(x.yt.m);
    REQUIRE(x.yt.lists.size() == 2);
    CHECK(x.yt.lists[1].title == "Watch later");
    CHECK(x.yt.lists[1].privacy == "private");
    CHECK(x.yt.lists[1].items.size() == 1);
  }
  CHECK(x.ok("video_playlists", {{"action", "add"}, {"playlist_id", "watch_later"}, {"video_ids", {"black1AAAAA"}}})["changed"] == 0);
  CHECK(x.yt.count("playlists.insert") == 1);
  Json wl = x.ok("video_playlists", {{"action", "items"}, {"playlist_id", "watch_later"}});
  CHECK(ids_of(wl["videos"]) == std::vector<std::string>{"black1AAAAA"});
  CHECK(wl["videos"][0]["duration_seconds"] == 1097);
  CHECK_THAT(x.error("video_playlists", {{"action", "add"}, {"playlist_id", "watch_later"}, {"video_ids", {"ramen1AAAAA", "nope0000000"}}}),
             Catch::StartsWith("ids:"));
  Json listed = x.ok("video_playlists", Json::object());
  CHECK(listed["playlists"].size() == 2);  // the private playlist is Watch later, not a third list
  CHECK(listed["playlists"][0]["item_count"] == 1);
  CHECK(x.ok("video_playlists", {{"action", "remove"}, {"playlist_id", "watch_later"}, {"video_ids", {"black1AAAAA"}}})["changed"] == 1);
  CHECK(x.ok("video_playlists", {{"action", "remove"}, {"playlist_id", "watch_later"}, {"video_ids", {"black1AAAAA"}}})["changed"] == 0);
  CHECK(x.ok("video_playlists", {{"action", "items"}, {"playlist_id", "watch_later"}})["videos"].empty());

  // A new playlist, private, then filled; a long playlist is read page by page.
  Json made = x.ok("video_playlists", {{"action", "create"}, {"name", "Road trip"}, {"description", "For the car"}});
  std::string road = made["playlist"]["id"];
  CHECK(made["playlist"]["name"] == "Road trip");
  std::vector<std::string> six{"dQw4w9WgXcQ", "yoga2AAAAAA", "yoga3AAAAAA", "black1AAAAA", "jwst1AAAAAA", "ramen1AAAAA"};
  CHECK(x.ok("video_playlists", {{"action", "add"}, {"playlist_id", road}, {"video_ids", six}})["changed"] == 6);
  CHECK(ids_of(x.ok("video_playlists", {{"action", "items"}, {"playlist_id", road}})["videos"]) == six);
  Json three = x.ok("video_playlists", Json::object());
  CHECK(three["playlists"].size() == 3);
  CHECK(three["playlists"][2]["item_count"] == 6);
  CHECK_THAT(x.error("video_playlists", {{"action", "items"}, {"playlist_id", "PLnope"}}), Catch::StartsWith("playlist_id:"));
  CHECK_THAT(x.error("video_playlists", {{"action", "add"}, {"playlist_id", "PLnope"}, {"video_ids", {"ramen1AAAAA"}}}), Catch::StartsWith("playlist_id:"));
  CHECK_THAT(x.error("video_playlists", {{"action", "add"}, {"playlist_id", "WL"}, {"video_ids", {"ramen1AAAAA"}}}),
             Catch::StartsWith("playlist_id:") && Catch::Contains("watch_later"));
}

TEST_CASE("youtube: a spent daily quota is a clear tool error, and no more calls are made", "[youtube][faults]") {
  YouTubeFixture x;
  {
    std::lock_guard l(x.yt.m);
    x.yt.daily = 2;  // the project has 2 units left today
  }
  x.ok("video_search", {{"query", "yoga"}});  // a search, and 1 unit
  x.ok("video_details", {{"ids", {"black1AAAAA"}}});  // the last unit
  std::string e = x.error("video_details", {{"ids", {"jwst1AAAAAA"}}});
  CHECK_THAT(e, Catch::Contains("daily quota") && Catch::Contains("spent") && Catch::Contains("midnight Pacific"));
  int calls = x.yt.up.api_calls;
  CHECK_THAT(x.error("video_details", {{"ids", {"ramen1AAAAA"}}}), Catch::Contains("daily quota"));
  CHECK(x.yt.up.api_calls == calls);  // refused here: the meter knows the day is spent

  // An expired token on a fresh adapter: one refresh, then the call; the tokens stay secret.
  YouTubeFixture y;
  y.yt.up.inject({Fault::Expired});
  CHECK(y.ok("video_details", {{"ids", {"ramen1AAAAA"}}})["videos"].size() == 1);
  CHECK(y.yt.up.refreshes == 1);
  std::string logs;
  for (auto& l : captured_logs()) logs += l + "\n";
  for (auto& t : y.yt.up.seen_tokens) CHECK(logs.find(t) == std::string::npos);
  CHECK(e.find("fake-access") == std::string::npos);
}

TEST_CASE("youtube: faults: 429 and 500 retried, a stall, malformed JSON, the breaker opens and recovers", "[youtube][faults]") {
  YouTubeFixture x;
  // A client of its own: two attempts per call, a breaker that opens after three failures in a
  // row and tries again after 300 ms.
  auto p = x.yt.up.policy("google");
  p.max_attempts = 2;
  p.breaker_threshold = 3;
  p.breaker_cooldown = std::chrono::milliseconds(300);
  x.client = std::make_shared<http::Client>(p);
  x.adapter = std::make_shared<YouTubeVideo>(x.client, std::make_shared<auth::OAuthCredentials>(x.oauth, "google", "work"));
  x.f.providers.video = {};
  x.f.providers.video.add("work", x.adapter);
  const Json ramen{{"ids", {"ramen1AAAAA"}}};

  x.yt.up.inject({Fault::Status429, 1});
  CHECK(x.ok("video_details", ramen)["videos"].size() == 1);
  x.yt.up.inject({Fault::Status500});
  CHECK(x.ok("video_details", ramen)["videos"].size() == 1);
  CHECK(x.client->breaker() == http::BreakerState::Closed);

  x.yt.up.inject({Fault::Stall});
  x.yt.up.inject({Fault::Stall});
  CHECK_THAT(x.error("video_details", ramen), Catch::Contains("did not answer"));
  x.yt.up.inject({Fault::Malformed});  // a 200 whose body is broken: not retried, said
  CHECK_THAT(x.error("video_details", ramen), Catch::Contains("JSON"));
  CHECK(x.ok("video_details", ramen)["videos"].size() == 1);  // and then it works again

  for (int i = 0; i < 8; ++i) x.yt.up.inject({Fault::Status500});
  for (int i = 0; i < 3 && x.client->breaker() != http::BreakerState::Open; ++i) x.error("video_details", ramen);
  REQUIRE(x.client->breaker() == http::BreakerState::Open);
  int calls = x.yt.up.api_calls;
  CHECK_FALSE(x.error("video_details", ramen).empty());
  CHECK(x.yt.up.api_calls == calls);  // refused without calling YouTube
  {
    std::lock_guard l(x.yt.up.m);
    x.yt.up.faults.clear();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(350));  // the cool-down
  CHECK(x.ok("video_details", ramen)["videos"].size() == 1);
  CHECK(x.client->breaker() == http::BreakerState::Closed);
  std::string logs;
  for (auto& l : captured_logs()) logs += l + "\n";
  for (auto& t : x.yt.up.seen_tokens) CHECK(logs.find(t) == std::string::npos);
}

TEST_CASE("youtube: search.list spends its own bucket, and when it is spent only searches stop", "[youtube][quota]") {
  YouTubeFixture x;
  {
    std::lock_guard l(x.yt.m);
    x.yt.search_daily = 2;  // two searches left today; the 10,000-unit pool is untouched
  }
  x.ok("video_search", {{"query", "yoga"}});
  x.ok("video_search", {{"query", "ramen"}});
  CHECK(x.adapter->meter().searches() == 2);
  CHECK(x.adapter->meter().spent() == 2);  // the two videos.list calls, 1 unit each
  std::string e = x.error("video_search", {{"query", "black holes"}});
  CHECK_THAT(e, Catch::Contains("search") && Catch::Contains("100") && Catch::Contains("midnight Pacific"));
  // Everything else goes on: the pool is not spent.
  CHECK(x.ok("video_details", {{"ids", {"ramen1AAAAA"}}})["videos"].size() == 1);
  CHECK(x.ok("video_playlists", Json::object())["playlists"].size() == 2);
  // And the next search is refused here, without calling YouTube.
  int searches = x.yt.count("search.list");
  CHECK_THAT(x.error("video_search", {{"query", "telescope"}}), Catch::Contains("search"));
  CHECK(x.yt.count("search.list") == searches);

  // The meter counts the same way: 100 searches a day, apart from the units.
  QuotaMeter meter(10, 2);
  meter.take_search("search.list");
  meter.take_search("search.list");
  CHECK_THROWS_WITH(meter.take_search("search.list"), Catch::Contains("search"));
  meter.take(10, "videos.list");  // the pool is whole
  CHECK_THROWS_WITH(meter.take(1, "videos.list"), Catch::Contains("daily quota"));
}

TEST_CASE("youtube: videos.list by id sends no maxResults, and asks for the parts it reads", "[youtube][params]") {
  YouTubeFixture x;
  CHECK(x.ok("video_details", {{"ids", {"ramen1AAAAA", "jwst1AAAAAA"}}})["videos"].size() == 2);
  Json found = x.ok("video_search", {{"query", "yoga"}});
  CHECK(found["videos"][0]["duration_seconds"].get<int>() > 0);  // contentDetails asked for and read
  CHECK(found["videos"][0]["views"].get<int>() > 0);             // statistics too
}
