// Music and video on the local providers: playback through a context and the queue, seek and
// volume bounds, playlists; video search order and dates, details, Watch later.
#include <catch2/catch.hpp>

#include "providers/error.hpp"
#include "providers/music/local.hpp"
#include "providers/video/local.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;

namespace {

struct Seeded : AppFixture, ToolCalls {
  Client c{*server};
  int64_t u = store.user_id("local");
  Seeded() : ToolCalls(c) {
    c.initialize("2025-11-25");
    DemoContext ctx{u, zone("Europe/Berlin"), now_ms(), date::floor<date::days>(to_local(now_ms(), zone("Europe/Berlin")))};
    REQUIRE(providers.local_music->seed_demo(ctx));
    REQUIRE(providers.local_video->seed_demo(ctx));
  }
  int64_t count(const char* table) {
    return store.read([&](sql::Database& db) { return db.execAndGet(std::string("SELECT count(*) FROM ") + table).getInt64(); });
  }
};

}  // namespace

TEST_CASE("music: play an album, skip, previous, queue ahead of the context", "[music]") {
  Seeded f;
  Json found = f.ok("music_search", {{"query", "Midnight Tram"}, {"types", {"album"}}});
  REQUIRE(found["albums"].size() == 1);
  std::string album = found["albums"][0]["uri"];
  Json p = f.ok("music_playback", {{"action", "play"}, {"context_uri", album}});
  CHECK(p["player"]["track"]["track_number"] == 1);
  CHECK(p["player"]["playing"] == true);
  CHECK(f.ok("music_playback", {{"action", "next"}})["player"]["track"]["title"] == "Neon Rain");
  CHECK(f.ok("music_now_playing", Json::object())["player"]["track"]["track_number"] == 2);
  CHECK(f.ok("music_playback", {{"action", "previous"}})["player"]["track"]["track_number"] == 1);

  Json q = f.ok("music_queue", {{"action", "add"}, {"uri", "concierge:track:blue-hour-3"}});
  CHECK(q["queue"][0]["title"] == "Smoke Rings");   // the queue first...
  CHECK(q["queue"][1]["title"] == "Neon Rain");     // ...then the rest of the album
  CHECK(f.ok("music_playback", {{"action", "next"}})["player"]["track"]["title"] == "Smoke Rings");
  CHECK(f.ok("music_playback", {{"action", "next"}})["player"]["track"]["title"] == "Neon Rain");  // back to the album
  CHECK(f.ok("music_playback", {{"action", "pause"}})["player"]["playing"] == false);
  Json seeked = f.ok("music_playback", {{"action", "seek"}, {"position_ms", 60000}});
  CHECK(seeked["player"]["position_ms"] == 60000);
  CHECK(f.ok("music_playback", {{"action", "play"}, {"uri", "concierge:track:midnight-tram-5"}, {"context_uri", album}})["player"]["track"]["title"] == "Quiet Carriage");
}

TEST_CASE("music: bad input names the field and changes nothing", "[music]") {
  Seeded f;
  f.ok("music_playback", {{"action", "play"}, {"context_uri", "concierge:album:blue-hour"}});
  std::string before = f.store.read([](sql::Database& db) { return db.execAndGet("SELECT state FROM music_player").getString(); });
  CHECK_THAT(f.error("music_playback", {{"action", "seek"}, {"position_ms", 10'000'000}}), Catch::StartsWith("position_ms:"));
  CHECK_THAT(f.error("music_playback", {{"action", "volume"}, {"volume_percent", 150}}), Catch::Contains("volume_percent"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", "concierge:album:nope"}}), Catch::StartsWith("context_uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"uri", "spotify:track:1"}}), Catch::StartsWith("uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", "concierge:album:blue-hour"}, {"offset", 10}}), Catch::StartsWith("offset:"));
  CHECK_THAT(f.error("music_playback", {{"action", "transfer"}, {"device_id", "toaster"}}), Catch::StartsWith("device_id:"));
  CHECK_THAT(f.error("music_queue", {{"action", "add"}, {"uri", "concierge:album:blue-hour"}}), Catch::StartsWith("uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "repeat"}, {"state", "sometimes"}}), Catch::StartsWith("state:"));
  std::string after = f.store.read([](sql::Database& db) { return db.execAndGet("SELECT state FROM music_player").getString(); });
  Json b = Json::parse(before), a = Json::parse(after);
  b.erase("position_ms"); b.erase("started_ms"); a.erase("position_ms"); a.erase("started_ms");
  CHECK(a == b);
}

TEST_CASE("music: the position follows the clock and the next track starts when one ends", "[music]") {
  Seeded f;
  f.ok("music_playback", {{"action", "play"}, {"context_uri", "concierge:album:copper-fields"}});
  // A track 2 s from its end (Copper Fields is 262 s): after it ends, Barn Dance plays.
  f.ok("music_playback", {{"action", "seek"}, {"position_ms", 262000 - 1}});
  Json now;
  for (int i = 0; i < 200; ++i) {  // bounded: the track has 1 ms left
    now = f.ok("music_now_playing", Json::object());
    if (now["player"]["track"]["title"] == "Barn Dance") break;
  }
  CHECK(now["player"]["track"]["title"] == "Barn Dance");
}

TEST_CASE("music: playlists create, add, remove", "[music]") {
  Seeded f;
  CHECK(f.ok("music_playlists", Json::object())["playlists"].size() == 3);
  Json pl = f.ok("music_playlists", {{"action", "create"}, {"name", "Road trip"}})["playlist"];
  std::string uri = pl["uri"];
  CHECK(f.ok("music_playlists", {{"action", "add"}, {"playlist_id", uri}, {"uris", {"concierge:track:harbour-lights-1", "concierge:track:blue-hour-2"}}})["playlist"]["track_count"] == 2);
  CHECK(f.ok("music_playlists", {{"action", "remove"}, {"playlist_id", uri}, {"uris", {"concierge:track:harbour-lights-1"}}})["playlist"]["track_count"] == 1);
  Json got = f.ok("music_playlists", {{"action", "get"}, {"playlist_id", uri}});
  REQUIRE(got["tracks"].size() == 1);
  CHECK(got["tracks"][0]["title"] == "Walking Bass");
  auto items = f.count("music_playlist_items");
  CHECK_THAT(f.error("music_playlists", {{"action", "add"}, {"playlist_id", uri}, {"uris", {"concierge:track:blue-hour-1", "concierge:track:nope"}}}), Catch::StartsWith("uris[1]:"));
  CHECK(f.count("music_playlist_items") == items);  // all or nothing
  CHECK_THAT(f.error("music_playlists", {{"action", "get"}, {"playlist_id", "nope"}}), Catch::StartsWith("playlist_id:"));
}

TEST_CASE("video: search order and dates, details, watch later", "[video]") {
  Seeded f;
  Json by_date = f.ok("video_search", {{"query", "yoga"}, {"order", "date"}});
  REQUIRE(by_date["videos"].size() == 3);
  CHECK(by_date["videos"][0]["published_at"].get<std::string>() > by_date["videos"][1]["published_at"].get<std::string>());
  Json by_views = f.ok("video_search", {{"order", "viewCount"}, {"max_results", 50}});
  REQUIRE(by_views["videos"].size() == 20);
  for (size_t i = 1; i < by_views["videos"].size(); ++i) CHECK(by_views["videos"][i - 1]["views"] >= by_views["videos"][i]["views"]);
  // Published within the last 10 days (the demo's dates are relative to now).
  std::string since = format_date(date::floor<date::days>(to_local(now_ms() - 10 * kDay, zone("Europe/Berlin"))));
  Json recent = f.ok("video_search", {{"published_after", since}, {"order", "date"}});
  CHECK(recent["videos"].size() >= 3);
  for (auto& v : recent["videos"]) CHECK(v["published_at"].get<std::string>().substr(0, 10) >= since);
  Json channel = f.ok("video_search", {{"channel", "orbit lab"}});
  CHECK(channel["videos"].size() == 3);

  Json d = f.ok("video_details", {{"ids", {"v1007", "v1000"}}});
  REQUIRE(d["videos"].size() == 2);
  CHECK(d["videos"][0]["id"] == "v1007");
  CHECK(d["videos"][0]["duration"] == "PT18M17S");
  CHECK_THAT(f.error("video_details", {{"ids", {"v1000", "nope"}}}), Catch::StartsWith("ids:"));

  auto items = f.count("video_playlist_items");
  CHECK(f.ok("video_playlists", {{"action", "add"}, {"playlist_id", "watch_later"}, {"video_ids", {"v1004"}}})["changed"] == 1);
  CHECK(f.ok("video_playlists", {{"action", "add"}, {"playlist_id", "watch_later"}, {"video_ids", {"v1004"}}})["changed"] == 0);
  Json wl = f.ok("video_playlists", {{"action", "items"}, {"playlist_id", "watch_later"}});
  REQUIRE(wl["videos"].size() == 1);
  CHECK(wl["videos"][0]["id"] == "v1004");
  CHECK_THAT(f.error("video_playlists", {{"action", "add"}, {"playlist_id", "watch_later"}, {"video_ids", {"v1005", "nope"}}}), Catch::StartsWith("ids:"));
  CHECK(f.count("video_playlist_items") == items + 1);
  CHECK_THAT(f.error("video_search", {{"published_after", "2026-05-01"}, {"published_before", "2026-04-01"}}), Catch::StartsWith("published_before:"));
  CHECK_THAT(f.error("video_playlists", {{"action", "items"}, {"playlist_id", "nope"}}), Catch::StartsWith("playlist_id:"));
}
