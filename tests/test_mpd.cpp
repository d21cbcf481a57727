// The MPD adapter against a real mpd (tests/support/mpd_server.hpp): the music scenario through
// the tools (search, play an album, skip, queue, seek, volume, modes, outputs, stored
// playlists), bad input naming the field, the server going away and coming back, passwords.
// The null output plays in real time: assertions are on track identity, positions only loosely.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "providers/music/mpd.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/mpd_server.hpp"
#include "support/served_binary.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::music;

namespace {

std::vector<MpdSong> library() {
  return {
      {"Nora Vale/Midnight Tram/01.flac", "Nora Vale", "Midnight Tram", "Midnight Tram", 1, 2021},
      {"Nora Vale/Midnight Tram/02.flac", "Nora Vale", "Midnight Tram", "Neon Rain", 2, 2021},
      {"Nora Vale/Midnight Tram/03.flac", "Nora Vale", "Midnight Tram", "Terminal", 3, 2021},
      {"Tomasz Reed Trio/Blue Hour/01.flac", "Tomasz Reed Trio", "Blue Hour", "Blue Hour", 1, 2015},
      // a ':' and a '%' in the path: the URI escapes them and gets them back
      {"Tomasz Reed Trio/Blue Hour/02 Smoke: Rings 100%.flac", "Tomasz Reed Trio", "Blue Hour", "Smoke: Rings", 2, 2015},
  };
}

const std::string kAlbum = "mpd:album:Midnight%20Tram";
const std::string kTrack1 = "mpd:track:Nora%20Vale/Midnight%20Tram/01.flac";
const std::string kSmoke = "mpd:track:Tomasz%20Reed%20Trio/Blue%20Hour/02%20Smoke%3A%20Rings%20100%25.flac";

struct MpdFixture : AppFixture, ToolCalls {
  MpdServer mpd;
  std::shared_ptr<MpdMusic> adapter;
  Client c{*server};

  explicit MpdFixture(MpdServer::Options server_options = {}, std::string password = "", unsigned timeout_ms = 3000)
      : ToolCalls(c),
        mpd(library(), server_options),
        adapter(std::make_shared<MpdMusic>(MpdOptions{mpd.socket(), 0, std::move(password), timeout_ms, "home"})) {
    c.initialize("2025-11-25");
    providers.music = {};
    providers.music.add("home", adapter);
  }
  Json player(const Json& args) { return ok("music_playback", args)["player"]; }
};

}  // namespace

TEST_CASE("mpd: options from a URL", "[mpd]") {
  auto o = mpd_options_from_url("mpd://s%40cret@music.lan:6601");
  CHECK(o.host == "music.lan");
  CHECK(o.port == 6601);
  CHECK(o.password == "s@cret");
  CHECK(mpd_options_from_url("/run/mpd/socket").host == "/run/mpd/socket");
  CHECK(mpd_options_from_url("localhost").port == 6600);
  CHECK_THROWS_AS(mpd_options_from_url("mpd://host:99999"), std::invalid_argument);
  CHECK_THROWS_AS(mpd_options_from_url(""), std::invalid_argument);
}

TEST_CASE("mpd: search, play an album, skip, queue, seek, volume, modes, outputs", "[mpd]") {
  MpdFixture f;

  Json found = f.ok("music_search", {{"query", "midnight"}, {"types", {"album"}}});
  REQUIRE(found["albums"].size() == 1);
  CHECK(found["albums"][0]["uri"] == kAlbum);
  CHECK(found["albums"][0]["artist"] == "Nora Vale");
  CHECK(found["albums"][0]["track_count"] == 3);
  CHECK(found["albums"][0]["year"] == 2021);
  Json by_artist = f.ok("music_search", {{"query", "reed"}});
  CHECK(by_artist["artists"].size() == 1);
  CHECK(by_artist["artists"][0]["uri"] == "mpd:artist:Tomasz%20Reed%20Trio");
  CHECK(by_artist["artists"][0]["album_count"] == 1);
  CHECK(by_artist["albums"][0]["title"] == "Blue Hour");
  Json rain = f.ok("music_search", {{"query", "RAIN"}, {"types", {"track"}}});
  REQUIRE(rain["tracks"].size() >= 1);
  CHECK(rain["tracks"][0]["title"] == "Neon Rain");
  CHECK(rain["tracks"][0]["album_uri"] == kAlbum);
  CHECK(rain["tracks"][0]["track_number"] == 2);
  CHECK(rain["tracks"][0]["duration_ms"].get<int>() == 60000);
  CHECK(f.ok("music_search", {{"query", "smoke"}})["tracks"][0]["uri"] == kSmoke);

  Json p = f.player({{"action", "play"}, {"context_uri", kAlbum}});
  CHECK(p["track"]["title"] == "Midnight Tram");
  CHECK(p["playing"] == true);
  CHECK(p["context_uri"] == kAlbum);
  CHECK(f.player({{"action", "next"}})["track"]["title"] == "Neon Rain");
  Json now = f.ok("music_now_playing", Json::object());
  CHECK(now["player"]["track"]["track_number"] == 2);
  CHECK(now["player"]["context_uri"] == kAlbum);
  REQUIRE(now["devices"].size() == 2);
  CHECK(now["devices"][0]["name"] == "null");
  CHECK(now["devices"][0]["type"] == "null");

  // The queue: the rest of the album, then what was added (MPD appends).
  Json q = f.ok("music_queue", {{"action", "add"}, {"uri", kSmoke}});
  REQUIRE(q["queue"].size() == 2);
  CHECK(q["queue"][0]["title"] == "Terminal");
  CHECK(q["queue"][1]["uri"] == kSmoke);
  CHECK(q["queue"][1]["title"] == "Smoke: Rings");
  CHECK(q["now_playing"]["title"] == "Neon Rain");
  CHECK(f.ok("music_now_playing", Json::object())["player"]["context_uri"] == kAlbum);  // still the album, one track longer

  Json seeked = f.player({{"action", "seek"}, {"position_ms", 30000}});
  CHECK(seeked["track"]["title"] == "Neon Rain");
  CHECK(seeked["position_ms"].get<int>() >= 29000);
  CHECK(seeked["position_ms"].get<int>() < 60000);
  CHECK(f.player({{"action", "volume"}, {"volume_percent", 30}})["volume_percent"] == 30);
  CHECK(f.player({{"action", "pause"}})["playing"] == false);
  CHECK(f.player({{"action", "resume"}})["playing"] == true);
  // Late in a track previous restarts it; early, it goes back one.
  CHECK(f.player({{"action", "previous"}})["track"]["title"] == "Neon Rain");
  CHECK(f.player({{"action", "previous"}})["track"]["title"] == "Midnight Tram");

  CHECK(f.player({{"action", "shuffle"}, {"state", true}})["shuffle"] == true);
  CHECK(f.player({{"action", "shuffle"}, {"state", false}})["shuffle"] == false);
  CHECK(f.player({{"action", "repeat"}, {"state", "track"}})["repeat"] == "track");
  CHECK(f.player({{"action", "repeat"}, {"state", "context"}})["repeat"] == "context");
  CHECK(f.player({{"action", "repeat"}, {"state", "off"}})["repeat"] == "off");

  CHECK(f.player({{"action", "transfer"}, {"device_id", "second"}})["device_id"] == "1");
  now = f.ok("music_now_playing", Json::object());
  CHECK(now["devices"][0]["active"] == false);
  CHECK(now["devices"][1]["active"] == true);
  CHECK(f.player({{"action", "transfer"}, {"device_id", "0"}})["device_id"] == "0");

  // A track on its own: no context; a track within a context starts there.
  p = f.player({{"action", "play"}, {"uri", kSmoke}});
  CHECK(p["track"]["title"] == "Smoke: Rings");
  CHECK(p["context_uri"].is_null());
  CHECK(f.ok("music_queue", Json::object())["queue"].empty());
  p = f.player({{"action", "play"}, {"uri", "mpd:track:Nora%20Vale/Midnight%20Tram/03.flac"}, {"context_uri", kAlbum}});
  CHECK(p["track"]["title"] == "Terminal");
  CHECK(f.player({{"action", "play"}, {"context_uri", "mpd:artist:Tomasz%20Reed%20Trio"}, {"offset", 1}})["track"]["title"] == "Smoke: Rings");
}

TEST_CASE("mpd: stored playlists create, add, remove, play", "[mpd]") {
  MpdFixture f;
  CHECK(f.ok("music_playlists", Json::object())["playlists"].empty());
  Json pl = f.ok("music_playlists", {{"action", "create"}, {"name", "Road trip"}, {"description", "ignored by MPD"}})["playlist"];
  CHECK(pl["uri"] == "mpd:playlist:Road%20trip");
  CHECK(pl["track_count"] == 0);
  std::string uri = pl["uri"];
  Json listed = f.ok("music_playlists", Json::object())["playlists"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["name"] == "Road trip");

  CHECK(f.ok("music_playlists", {{"action", "add"}, {"playlist_id", uri}, {"uris", {kTrack1, kSmoke, kTrack1}}})["playlist"]["track_count"] == 3);
  CHECK(f.ok("music_playlists", {{"action", "remove"}, {"playlist_id", uri}, {"uris", {kTrack1}}})["playlist"]["track_count"] == 1);
  Json got = f.ok("music_playlists", {{"action", "get"}, {"playlist_id", "Road trip"}});  // the bare name works too
  REQUIRE(got["tracks"].size() == 1);
  CHECK(got["tracks"][0]["title"] == "Smoke: Rings");
  CHECK(got["tracks"][0]["album"] == "Blue Hour");

  Json p = f.player({{"action", "play"}, {"context_uri", uri}});
  CHECK(p["track"]["title"] == "Smoke: Rings");
  CHECK(p["context_uri"] == uri);
  CHECK(f.ok("music_search", {{"query", "road"}, {"types", {"playlist"}}})["playlists"][0]["track_count"] == 1);

  // All or nothing; names the item at fault.
  CHECK_THAT(f.error("music_playlists", {{"action", "add"}, {"playlist_id", uri}, {"uris", {kTrack1, "mpd:track:nope.flac"}}}),
             Catch::StartsWith("uris[1]:"));
  CHECK(f.ok("music_playlists", {{"action", "get"}, {"playlist_id", uri}})["playlist"]["track_count"] == 1);
  CHECK_THAT(f.error("music_playlists", {{"action", "add"}, {"playlist_id", uri}, {"uris", {kAlbum}}}), Catch::StartsWith("uris[0]:"));
  CHECK_THAT(f.error("music_playlists", {{"action", "create"}, {"name", "Road trip"}}), Catch::StartsWith("name:"));
  CHECK_THAT(f.error("music_playlists", {{"action", "create"}, {"name", "bad/name"}}), Catch::StartsWith("name:"));
  CHECK_THAT(f.error("music_playlists", {{"action", "get"}, {"playlist_id", "nope"}}), Catch::StartsWith("playlist_id:"));
  CHECK_THAT(f.error("music_playlists", {{"action", "add"}, {"playlist_id", "mpd:playlist:nope"}, {"uris", {kTrack1}}}),
             Catch::StartsWith("playlist_id:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", "mpd:playlist:nope"}}), Catch::StartsWith("context_uri:"));
}

TEST_CASE("mpd: bad input names the field", "[mpd]") {
  MpdFixture f;
  CHECK_THAT(f.error("music_playback", {{"action", "pause"}}), Catch::StartsWith("action:"));  // nothing loaded yet
  CHECK_THAT(f.error("music_playback", {{"action", "next"}}), Catch::StartsWith("action:"));
  f.ok("music_playback", {{"action", "play"}, {"context_uri", kAlbum}});
  CHECK_THAT(f.error("music_playback", {{"action", "seek"}, {"position_ms", 10'000'000}}), Catch::StartsWith("position_ms:"));
  CHECK_THAT(f.error("music_playback", {{"action", "volume"}, {"volume_percent", 150}}), Catch::Contains("volume_percent"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", "mpd:album:Nope"}}), Catch::StartsWith("context_uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", kTrack1}}), Catch::StartsWith("context_uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"uri", "spotify:track:1"}}), Catch::StartsWith("uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"uri", "mpd:track:Nora%20Vale"}}), Catch::StartsWith("uri:"));  // a directory
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"uri", kSmoke}, {"context_uri", kAlbum}}), Catch::StartsWith("uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"context_uri", kAlbum}, {"offset", 10}}), Catch::StartsWith("offset:"));
  CHECK_THAT(f.error("music_playback", {{"action", "play"}, {"uri", kTrack1}, {"device_id", "toaster"}}), Catch::StartsWith("device_id:"));
  CHECK_THAT(f.error("music_playback", {{"action", "transfer"}, {"device_id", "toaster"}}), Catch::StartsWith("device_id:"));
  CHECK_THAT(f.error("music_queue", {{"action", "add"}, {"uri", kAlbum}}), Catch::StartsWith("uri:"));
  CHECK_THAT(f.error("music_queue", {{"action", "add"}, {"uri", "mpd:track:nope.flac"}}), Catch::StartsWith("uri:"));
  CHECK_THAT(f.error("music_playback", {{"action", "repeat"}, {"state", "sometimes"}}), Catch::StartsWith("state:"));
  // Refusals changed nothing: still the album from its start.
  Json now = f.ok("music_now_playing", Json::object())["player"];
  CHECK(now["track"]["title"] == "Midnight Tram");
  CHECK(now["context_uri"] == kAlbum);
  CHECK(f.ok("music_queue", Json::object())["queue"].size() == 2);
}

TEST_CASE("mpd: the server going away is a tool error naming MPD, it comes back", "[mpd]") {
  MpdFixture f;
  f.ok("music_playback", {{"action", "play"}, {"context_uri", kAlbum}});
  f.mpd.stop();
  std::string e = f.error("music_now_playing", Json::object());
  CHECK_THAT(e, Catch::Contains("MPD at " + f.mpd.socket()) && Catch::Contains("not reachable") && Catch::Contains("is mpd running"));
  CHECK_THAT(f.error("music_search", {{"query", "rain"}}), Catch::Contains("MPD at"));
  CHECK_THAT(f.error("music_playlists", Json::object()), Catch::Contains("MPD at"));

  f.mpd.start();
  CHECK(f.ok("music_search", {{"query", "rain"}})["tracks"].size() >= 1);
  CHECK(f.ok("music_now_playing", Json::object())["player"]["context_uri"].is_null());  // a new queue: not our album any more
  // The kept connection dies with the server; the next call reconnects once, unseen.
  f.mpd.stop();
  f.mpd.start();
  CHECK(f.ok("music_playlists", Json::object())["playlists"].empty());
  CHECK(f.ok("music_now_playing", Json::object())["devices"].size() == 2);
}

TEST_CASE("mpd: a hung server is a tool error saying MPD did not answer", "[mpd]") {
  MpdFixture f({}, "", 1000);
  f.ok("music_now_playing", Json::object());  // a kept connection
  f.mpd.freeze();
  auto started = std::chrono::steady_clock::now();
  CHECK_THAT(f.error("music_now_playing", Json::object()), Catch::Contains("MPD at") && Catch::Contains("did not answer within 1000 ms"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));  // once, not retried
  f.mpd.resume();
  // Thawed, it answers again (a loaded machine may need a moment to catch up: a few tries).
  Json state;
  for (int i = 0; i < 5 && !state.is_object(); ++i) {
    Json r = f.call("music_now_playing", Json::object())["result"];
    if (!r.value("isError", false)) state = r["structuredContent"];
  }
  REQUIRE(state.is_object());
  CHECK(state["devices"].size() == 2);
}

TEST_CASE("mpd: without a mixer the volume is refused with what to change", "[mpd]") {
  MpdServer::Options o;
  o.mixer_type = "none";
  MpdFixture f(o);
  f.ok("music_playback", {{"action", "play"}, {"context_uri", kAlbum}});
  CHECK(f.ok("music_now_playing", Json::object())["player"]["volume_percent"] == 0);
  CHECK_THAT(f.error("music_playback", {{"action", "volume"}, {"volume_percent", 40}}),
             Catch::StartsWith("volume_percent:") && Catch::Contains("mixer_type"));
}

TEST_CASE("mpd: a password: wrong or missing ones name the account and what to fix", "[mpd]") {
  const std::string secret = "s3cret-pw";
  SECTION("wrong") {
    MpdFixture f({secret}, "not-the-password");
    std::string e = f.error("music_now_playing", Json::object());
    CHECK_THAT(e, Catch::StartsWith("account:") && Catch::Contains("'home'") && Catch::Contains("password") && Catch::Contains("mpd.conf"));
    CHECK_THAT(e, !Catch::Contains("not-the-password") && !Catch::Contains(secret));
    for (auto& line : captured_logs()) CHECK_THAT(line, !Catch::Contains("not-the-password") && !Catch::Contains(secret));
    store::History::Query q;
    q.user = "local";
    std::string stored = f.history.query(q).rows.dump();
    CHECK_THAT(stored, Catch::Contains("music_now_playing") && !Catch::Contains("not-the-password") && !Catch::Contains(secret));
  }
  SECTION("missing: reading works, control does not") {
    MpdFixture f({secret});
    CHECK(f.ok("music_search", {{"query", "rain"}})["tracks"].size() >= 1);
    std::string e = f.error("music_playback", {{"action", "play"}, {"context_uri", kAlbum}});
    CHECK_THAT(e, Catch::StartsWith("account:") && Catch::Contains("'home'") && Catch::Contains("password"));
  }
  SECTION("right") {
    MpdFixture f({secret}, secret);
    CHECK(f.player({{"action", "play"}, {"context_uri", kAlbum}})["track"]["title"] == "Midnight Tram");
  }
}

TEST_CASE("mpd: calls from many threads share the connection safely", "[mpd]") {
  MpdFixture f;
  f.adapter->play(0, "", kAlbum, 0, "");
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i)
        if (f.adapter->state(0).track && f.adapter->queue(0).size() <= 2) ++good;
    });
  for (auto& t : threads) t.join();
  CHECK(good == 100);
}

TEST_CASE("mpd: without stored playlists a search serves the other kinds and says what it skipped", "[mpd]") {
  MpdServer::Options o;
  o.stored_playlists = false;
  MpdFixture f(o);
  Json r = f.call("music_search", {{"query", "reed"}})["result"];  // default types: all four
  INFO(r.dump());
  REQUIRE_FALSE(r.value("isError", false));
  Json found = r["structuredContent"];
  CHECK(found["artists"].size() == 1);
  CHECK(found["albums"][0]["title"] == "Blue Hour");
  CHECK(found["playlists"].empty());
  REQUIRE(found["notes"].size() == 1);
  CHECK_THAT(found["notes"][0].get<std::string>(), Catch::StartsWith("playlists:") && Catch::Contains("stored playlists are disabled"));
  CHECK_THAT(r["content"][0]["text"].get<std::string>(), Catch::Contains("stored playlists are disabled"));
  // Asked for playlists alone: nothing to serve, the same note; listing them is an error saying why.
  Json only = f.ok("music_search", {{"query", "reed"}, {"types", {"playlist"}}});
  CHECK(only["playlists"].empty());
  CHECK(only["notes"].size() == 1);
  CHECK_THAT(f.error("music_playlists", {{"action", "list"}}), Catch::Contains("stored playlists are disabled") && Catch::Contains("playlist_directory"));
  // The connection is still good after MPD's refusal.
  CHECK(f.ok("music_search", {{"query", "rain"}, {"types", {"track"}}})["tracks"].size() >= 1);
}

// As a user configures it: the binary, CONCIERGE_MUSIC_PROVIDER=mpd and CONCIERGE_MPD_BASE_URL,
// against an mpd with and without stored playlists; a search with the default types works on both.
TEST_CASE("mpd: configured through the binary, with and without stored playlists", "[mpd][process]") {
  for (bool playlists : {true, false}) {
    INFO("stored playlists: " << playlists);
    MpdServer::Options o;
    o.stored_playlists = playlists;
    MpdServer mpd(library(), o);
    ServedBinary bin({"CONCIERGE_MUSIC_PROVIDER=mpd", "CONCIERGE_MPD_BASE_URL=" + mpd.socket()});
    Json found = bin.ok("music_search", {{"query", "midnight"}});
    CHECK(found["albums"][0]["uri"] == kAlbum);
    CHECK(found["tracks"][0]["title"] == "Midnight Tram");
    if (playlists) {
      CHECK_FALSE(found.contains("notes"));
    } else {
      REQUIRE(found["notes"].size() == 1);
      CHECK_THAT(found["notes"][0].get<std::string>(), Catch::Contains("stored playlists are disabled"));
    }
  }
}
