// The real binary with a configured service: `CONCIERGE_MUSIC_PROVIDER=spotify` puts the Spotify
// adapter behind the music tools as the default account (local stays as "local"), its calls go
// to the configured base URL (a fake here) with the signed-in account's token, an expired token
// is refreshed once, a revoked grant says which command signs in again, concierge://services
// shows the account's state, and no token reaches the logs or the history.
#include <catch2/catch.hpp>
#include <fstream>

#include "providers/auth/tokens.hpp"
#include "common/json.hpp"
#include "store/store.hpp"
#include "support/fake_upstream.hpp"
#include "support/process.hpp"
#include "support/stdio_rpc.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

const std::string kKeyHex(64, 'a');  // CONCIERGE_TOKEN_KEY: 32 bytes of 0xaa

Json player() {
  return Json{{"device", {{"id", "dev1"}, {"name", "Kitchen"}, {"type", "Speaker"}, {"is_active", true}, {"volume_percent", 40}}},
              {"is_playing", true},
              {"progress_ms", 1000},
              {"shuffle_state", false},
              {"repeat_state", "off"},
              {"context", nullptr},
              {"currently_playing_type", "track"},
              {"item",
               {{"type", "track"},
                {"uri", "spotify:track:4uLU6hMCjMI75M1A2tKUQC"},
                {"name", "Upstream Song"},
                {"duration_ms", 200000},
                {"track_number", 3},
                {"artists", {{{"name", "The Fakes"}, {"uri", "spotify:artist:1"}}}},
                {"album", {{"name", "Loopback"}, {"uri", "spotify:album:2"}}}}}};
}

struct Served {
  TempDir tmp;
  FakeUpstream fake;
  std::filesystem::path data = tmp.path / "data";
  std::unique_ptr<ChildProcess> proc;

  Served() {
    fake.server.Get("/v1/me/player", [](const httplib::Request&, httplib::Response& res) { res.set_content(player().dump(), "application/json"); });
    fake.server.Get("/v1/me/player/devices", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(Json{{"devices", {player()["device"]}}}.dump(), "application/json");
    });
    {
      // What `concierge auth login spotify` leaves behind, sealed with the key the server gets.
      store::Store store(data, test::database_url(data));
      std::string key(32, char(0xaa));
      providers::auth::TokenStore tokens(store, providers::auth::Sealer(key));
      fake.sign_in(tokens, store.user_id("local"), "spotify", "default");
    }
    proc = std::make_unique<ChildProcess>(std::vector<std::string>{
        "/usr/bin/env", "CONCIERGE_CONFIG=" + (tmp.path / "none.json").string(), "CONCIERGE_TOKEN_KEY=" + kKeyHex,
        "CONCIERGE_MUSIC_PROVIDER=spotify", "CONCIERGE_SPOTIFY_BASE_URL=" + fake.url("/v1"), "CONCIERGE_SPOTIFY_CLIENT_ID=test-client",
        "CONCIERGE_SPOTIFY_TOKEN_URL=" + fake.url("/oauth/token"), CONCIERGE_BINARY, "--log-level", "debug", "--data-dir", data.string(),
        "serve"});
    Json init = request("init", "initialize",
                        Json{{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", "t"}, {"version", "1"}}}});
    REQUIRE(init.contains("result"));
    REQUIRE(proc->write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  }
  Json request(const Json& id, const std::string& method, Json params) { return rpc_request(*proc, id, method, std::move(params)); }
  int id = 1;
  Json call(const std::string& tool, Json args = Json::object()) {
    Json r = request(id++, "tools/call", Json{{"name", tool}, {"arguments", std::move(args)}});
    INFO(r.dump());
    REQUIRE(r.contains("result"));
    return r["result"];
  }
  Json music_status() {
    Json r = request(id++, "resources/read", Json{{"uri", "concierge://services"}});
    REQUIRE(r.contains("result"));
    Json doc = Json::parse(r["result"]["contents"][0]["text"].get<std::string>());
    for (auto& s : doc["services"])
      if (s["domain"] == "music") return s;
    FAIL("no music in " << doc.dump());
    return {};
  }
};

}  // namespace

TEST_CASE("connect: a configured Spotify account serves the music tools through the binary", "[connect][process]") {
  Served s;
  Json now = s.call("music_now_playing");
  INFO(now.dump());
  REQUIRE_FALSE(now.value("isError", false));
  CHECK(now["structuredContent"].dump().find("Upstream Song") != std::string::npos);
  CHECK(s.fake.refreshes == 0);

  // The local player is still there, by name.
  Json local = s.call("music_now_playing", {{"account", "local"}});
  CHECK_FALSE(local.value("isError", false));
  CHECK(local["structuredContent"].dump().find("Upstream Song") == std::string::npos);

  // The access token dies early: one refresh, then the call succeeds.
  s.fake.inject({Fault::Expired});
  Json again = s.call("music_now_playing");
  CHECK_FALSE(again.value("isError", false));
  CHECK(s.fake.refreshes == 1);

  Json music = s.music_status();
  INFO(music.dump());
  CHECK(music["provider"] == "spotify");
  bool found = false;
  for (auto& a : music["accounts"])
    if (a["account"] == "default") {
      found = true;
      CHECK(a["details"]["signed_in"] == true);
      CHECK(a["details"]["breaker"] == "closed");
      CHECK(a["details"].contains("token_expires_at"));
    }
  CHECK(found);

  // The grant is revoked: the tool says exactly which command fixes it, and the status shows it.
  s.fake.revoked = true;
  s.fake.inject({Fault::Expired});
  Json denied = s.call("music_now_playing");
  CHECK(denied.value("isError", false));
  CHECK_THAT(denied["content"][0]["text"].get<std::string>(), Catch::Contains("concierge auth login spotify --account default"));
  CHECK(s.music_status()["health"] == "needs_reauth");

  s.proc->close_stdin();
  auto st = s.proc->wait_exit(15s);
  REQUIRE(st);
  CHECK(st->code == 0);
  // No token in the logs (debug level) or in the history the binary recorded.
  std::string logs = s.proc->stderr_text();
  ChildProcess exporter({"/usr/bin/env", "CONCIERGE_CONFIG=" + (s.tmp.path / "none.json").string(), CONCIERGE_BINARY, "--data-dir",
                         s.data.string(), "history", "export"});
  exporter.close_stdin();
  std::string history;
  while (auto line = exporter.read_line(10s)) history += *line + "\n";
  REQUIRE(exporter.wait_exit(10s));
  CHECK(history.find("music_now_playing") != std::string::npos);
  REQUIRE_FALSE(s.fake.seen_tokens.empty());
  for (auto& t : s.fake.seen_tokens) {
    CHECK(logs.find(t) == std::string::npos);
    CHECK(history.find(t) == std::string::npos);
  }
}
