// The registry of domains and providers: a provider registered here, from the test binary with no
// shared file edited (as README's "Adding a provider" says), is selected by configuration
// (CONCIERGE_VIDEO_PROVIDER=dummy), reads its own service's settings, and serves the video tools
// through app::open_app and connect; an unknown provider name is refused at start naming the
// known ones, in-process and by the binary.
#include <catch2/catch.hpp>

#include "app/app.hpp"
#include "common/text.hpp"
#include "providers/registry.hpp"
#include "providers/video/local.hpp"
#include "support/harness.hpp"
#include "support/process.hpp"
#include "support/scoped_env.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

// The dummy: the local video library on a store of its own (so what it holds is not the local
// account's), with one video named after the configured CONCIERGE_DUMMY_USERNAME.
struct OwnStore {
  store::Store store{""};  // in memory
};
class DummyVideo : OwnStore, public providers::video::LocalVideo {
 public:
  DummyVideo(int64_t user, const std::string& name) : LocalVideo(OwnStore::store) {
    OwnStore::store.user_id("local");  // the row the video belongs to
    add_video(user, {.id = "dummy1", .title = "Dummy video for " + name, .channel = "Dummy", .published = 1'700'000'000'000});
  }
};

// The one registration statement a provider needs.
const bool registered = providers::register_adapter<providers::video::VideoProvider>(
    {.domain = "video", .provider = "dummy", .services = {{.name = "dummy"}}}, [](providers::AdapterContext& ctx) {
      const int64_t user = ctx.connections.tokens.store().user_id("local");
      return providers::Connected<providers::video::VideoProvider>{std::make_shared<DummyVideo>(user, ctx.service("dummy").username)};
    });

struct Configured {
  TempDir tmp;
  ScopedEnv env;
  Configured() {
    env.set("CONCIERGE_CONFIG", (tmp.path / "none.json").string());
    for (auto& d : providers::domains()) env.set("CONCIERGE_" + upper(d) + "_PROVIDER", std::nullopt);
  }
};

}  // namespace

TEST_CASE("registry: a provider registered by the test binary is chosen by configuration and serves the tools", "[registry]") {
  REQUIRE(registered);
  Configured f;
  f.env.set("CONCIERGE_VIDEO_PROVIDER", "dummy");
  f.env.set("CONCIERGE_DUMMY_USERNAME", "Ada");
  auto config = providers::Config::load();
  CHECK(config.providers["video"] == "dummy");
  CHECK(config.redacted()["services"]["dummy"]["username"] == "Ada");  // its service's settings, known from the registration

  auto state = app::open_app({.data_dir = (f.tmp.path / "data").string()}, &config);
  auto server = app::make_server(*state, {}, false, {}, &config);
  Client c(*server);
  c.initialize("2025-11-25");
  auto search = [&](int id, Json args) {
    Json r = c.request(id, "tools/call", Json{{"name", "video_search"}, {"arguments", std::move(args)}});
    INFO(r.dump());
    REQUIRE(r.contains("result"));
    REQUIRE_FALSE(r["result"].value("isError", false));
    return r["result"]["structuredContent"]["videos"];
  };
  // The default account is the dummy's; the local library stays reachable as "local".
  Json found = search(1, {{"query", "dummy"}});
  REQUIRE(found.size() == 1);
  CHECK(found[0]["title"] == "Dummy video for Ada");
  CHECK(search(2, {{"query", "dummy"}, {"account", "local"}}).empty());

  Json services = c.request(3, "resources/read", Json{{"uri", "concierge://services"}});
  Json doc = Json::parse(services["result"]["contents"][0]["text"].get<std::string>());
  bool shown = false;
  for (auto& d : doc["services"])
    if (d["domain"] == "video") shown = d["provider"] == "dummy";
  CHECK(shown);
}

TEST_CASE("registry: an unknown provider name fails at start, naming the known ones", "[registry]") {
  Configured f;
  SECTION("Config::load") {
    f.env.set("CONCIERGE_VIDEO_PROVIDER", "nope");
    CHECK_THROWS_WITH(providers::Config::load(), Catch::StartsWith("CONCIERGE_VIDEO_PROVIDER: video can't use 'nope' (local, dummy, google)"));
  }
  SECTION("a configuration made otherwise is refused by connect, not served locally") {
    auto config = providers::Config::load();
    config.providers["video"] = "nope";
    CHECK_THROWS_WITH(app::open_app({.data_dir = (f.tmp.path / "data").string()}, &config),
                      Catch::Contains("video: no provider 'nope' (local, dummy, google)"));
  }
  SECTION("concierge serve") {
    ChildProcess p({"/usr/bin/env", "CONCIERGE_CONFIG=" + (f.tmp.path / "none.json").string(), "CONCIERGE_CALENDAR_PROVIDER=nope",
                    CONCIERGE_BINARY, "--data-dir", (f.tmp.path / "data").string(), "serve"});
    p.close_stdin();
    auto st = p.wait_exit(20s);
    REQUIRE(st);
    CHECK(st->code != 0);
    CHECK_THAT(p.stderr_text(), Catch::Contains("CONCIERGE_CALENDAR_PROVIDER: calendar can't use 'nope' (local, caldav, google)"));
  }
}

TEST_CASE("registry: a registration that can't work is refused when made", "[registry]") {
  auto make = [](providers::AdapterContext&) { return providers::Connected<providers::video::VideoProvider>{}; };
  CHECK_THROWS_WITH(providers::register_adapter<providers::video::VideoProvider>({.domain = "fax", .provider = "x"}, make),
                    Catch::Contains("no such domain"));
  CHECK_THROWS_WITH(providers::register_adapter<providers::video::VideoProvider>({.domain = "music", .provider = "x"}, make),
                    Catch::Contains("does not make the domain's provider interface"));
  CHECK_THROWS_WITH(providers::register_adapter<providers::video::VideoProvider>({.domain = "video", .provider = "google"}, make),
                    Catch::Contains("the name is taken"));
  CHECK(providers::find_adapter("video", "x") == nullptr);
}

TEST_CASE("registry: the lists the core shows derive from the registrations", "[registry]") {
  CHECK(providers::domains() == std::vector<std::string>{"calendar", "mail", "music", "video", "booking"});
  CHECK(providers::oauth_services() == std::vector<std::string>{"calcom", "google", "spotify"});
  CHECK(providers::providers_of("music") == std::vector<std::string>{"local", "mpd", "spotify"});
  CHECK(providers::known_services() ==
        std::vector<std::string>{"calcom", "caldav", "dummy", "google", "imap", "mpd", "smtp", "spotify"});
  CHECK(providers::service_settings("smtp")->allow_plaintext);
  CHECK_FALSE(providers::service_settings("caldav")->allow_plaintext);
  CHECK(providers::service_settings("calcom")->api_version_families == std::vector<std::string>{"bookings", "slots", "event_types"});
}
