// Configuration: the file and the environment, secrets refused from the file, mistakes named;
// `concierge config path|show` on the real binary.
#include <catch2/catch.hpp>
#include <fstream>

#include "providers/config.hpp"
#include "support/process.hpp"
#include "support/scoped_env.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {
using Env = ScopedEnv;
void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }
}  // namespace

TEST_CASE("config: defaults, file, environment over file", "[config]") {
  TempDir tmp;
  Env env;
  auto file = tmp.path / "config.json";
  env.set("CONCIERGE_CONFIG", file.string());
  env.set("CONCIERGE_CALENDAR_PROVIDER", std::nullopt);
  env.set("CONCIERGE_GOOGLE_CLIENT_ID", std::nullopt);
  env.set("CONCIERGE_GOOGLE_CLIENT_SECRET", std::nullopt);
  auto none = providers::Config::load();
  CHECK(none.path == file);
  for (auto& [domain, p] : none.providers) CHECK(p == "local");

  write(file, R"({"providers": {"calendar": "caldav", "music": "spotify"},
                  "services": {"google": {"client_id": "file-id", "base_url": "http://127.0.0.1:9/"}}})");
  auto c = providers::Config::load();
  CHECK(c.providers["calendar"] == "caldav");
  CHECK(c.providers["music"] == "spotify");
  CHECK(c.services["google"].client_id == "file-id");
  env.set("CONCIERGE_CALENDAR_PROVIDER", "google");
  env.set("CONCIERGE_GOOGLE_CLIENT_ID", "env-id");
  env.set("CONCIERGE_GOOGLE_CLIENT_SECRET", "s3cret-value");
  c = providers::Config::load();
  CHECK(c.providers["calendar"] == "google");
  CHECK(c.services["google"].client_id == "env-id");
  CHECK(c.services["google"].client_secret == "s3cret-value");
  auto shown = c.redacted().dump();
  CHECK(shown.find("s3cret-value") == std::string::npos);
  CHECK(c.redacted()["services"]["google"]["client_secret"] == "(set)");

  // The standards' settings: address and user in the file, the password from the environment.
  write(file, R"({"services": {"imap": {"base_url": "imaps://mail.example", "username": "ada", "from": "ada@example.com"},
                               "spotify": {"authorize_url": "http://127.0.0.1:9/a", "token_url": "http://127.0.0.1:9/t"}}})");
  env.set("CONCIERGE_IMAP_PASSWORD", "imap-pass-42");
  c = providers::Config::load();
  CHECK(c.services["imap"].username == "ada");
  CHECK(c.services["imap"].from == "ada@example.com");
  CHECK(c.services["imap"].password == "imap-pass-42");
  CHECK(c.services["spotify"].token_url == "http://127.0.0.1:9/t");
  CHECK(c.redacted()["services"]["imap"]["password"] == "(set)");
  CHECK(c.redacted().dump().find("imap-pass-42") == std::string::npos);
  env.set("CONCIERGE_IMAP_PASSWORD", std::nullopt);
}

TEST_CASE("config: mistakes are named, a secret in the file is refused", "[config]") {
  TempDir tmp;
  Env env;
  auto file = tmp.path / "config.json";
  env.set("CONCIERGE_CONFIG", file.string());
  env.set("CONCIERGE_MUSIC_PROVIDER", std::nullopt);
  const std::pair<const char*, const char*> cases[] = {
      {R"({"services": {"spotify": {"client_secret": "abc"}}})", "CONCIERGE_SPOTIFY_CLIENT_SECRET"},
      {R"({"services": {"imap": {"password": "abc"}}})", "CONCIERGE_IMAP_PASSWORD"},
      {R"({"providers": {"music": "winamp"}})", "music can't use 'winamp'"},
      {R"({"providers": {"fax": "local"}})", "no domain 'fax'"},
      {R"({"services": {"myspace": {}}})", "services.myspace"},
      {R"({"services": {"google": {"colour": "red"}}})", "services.google.colour"},
      {R"({"provider": {}})", "provider: unknown key"},
      {R"(not json)", "not a JSON object"},
      {R"({"services": {"imap": {"allow_plaintext": "yes"}}})", "services.imap.allow_plaintext: expected true or false"},
      {R"({"services": {"caldav": {"allow_plaintext": true}}})", "services.caldav.allow_plaintext: unknown setting"},
  };
  for (auto& [text, why] : cases) {
    INFO(text);
    write(file, text);
    CHECK_THROWS_WITH(providers::Config::load(), Catch::Contains(why) && Catch::Contains(file.string()));
  }
  write(file, "{}");
  env.set("CONCIERGE_MUSIC_PROVIDER", "winamp");
  CHECK_THROWS_WITH(providers::Config::load(), Catch::Contains("CONCIERGE_MUSIC_PROVIDER"));
}

TEST_CASE("config: the binary prints the path, shows the configuration, refuses what it can't serve", "[config][process]") {
  TempDir tmp;
  auto file = tmp.path / "cfg.json";
  auto run = [&](std::vector<std::string> args, std::vector<std::string> env_extra = {}) {
    std::vector<std::string> cmd{"/usr/bin/env", "CONCIERGE_CONFIG=" + file.string()};
    cmd.insert(cmd.end(), env_extra.begin(), env_extra.end());
    cmd.push_back(CONCIERGE_BINARY);
    cmd.insert(cmd.end(), args.begin(), args.end());
    ChildProcess p(cmd);
    p.close_stdin();
    std::string out;
    while (auto line = p.read_line(20s)) out += *line + "\n";
    auto st = p.wait_exit(20s);
    REQUIRE(st);
    return std::make_tuple(st->code, out, p.stderr_text());
  };
  auto [code, out, err] = run({"config", "path"});
  CHECK(code == 0);
  CHECK(out == file.string() + "\n");
  auto [code2, out2, err2] = run({"config", "show"}, {"CONCIERGE_SPOTIFY_CLIENT_SECRET=very-secret"});
  CHECK(code2 == 0);
  CHECK(Json::parse(out2)["services"]["spotify"]["client_secret"] == "(set)");
  CHECK(out2.find("very-secret") == std::string::npos);
  auto [code3, out3, err3] = run({"--data-dir", (tmp.path / "d").string(), "tools"}, {"CONCIERGE_CALENDAR_PROVIDER=google"});
  // A configured adapter serves the domain's tools (signing in comes later: the tools say how).
  CHECK(code3 == 0);
  CHECK_THAT(out3, Catch::Contains("calendar_list_events"));
  // A standards provider without its server's address is refused at start, naming the setting.
  auto [code4, out4, err4] = run({"--data-dir", (tmp.path / "d").string(), "tools"}, {"CONCIERGE_CALENDAR_PROVIDER=caldav"});
  CHECK(code4 == 1);
  CHECK_THAT(err4, Catch::Contains("CONCIERGE_CALDAV_BASE_URL"));
  // Plaintext mail to a server elsewhere is refused at start, naming the setting.
  auto [code5, out5, err5] = run({"--data-dir", (tmp.path / "d").string(), "tools"},
                                 {"CONCIERGE_MAIL_PROVIDER=imap", "CONCIERGE_IMAP_BASE_URL=imap://mail.example.com",
                                  "CONCIERGE_IMAP_ALLOW_PLAINTEXT=true"});
  CHECK(code5 == 1);
  CHECK_THAT(err5, Catch::Contains("services.imap.allow_plaintext: plaintext is allowed only for a server on this machine"));
}

TEST_CASE("config: allow_plaintext for IMAP and SMTP, from the file or the environment", "[config]") {
  TempDir tmp;
  Env env;
  auto file = tmp.path / "config.json";
  env.set("CONCIERGE_CONFIG", file.string());
  env.set("CONCIERGE_IMAP_ALLOW_PLAINTEXT", std::nullopt);
  env.set("CONCIERGE_SMTP_ALLOW_PLAINTEXT", std::nullopt);
  write(file, R"({"services": {"imap": {"base_url": "imap://127.0.0.1:1143", "allow_plaintext": true}}})");
  auto c = providers::Config::load();
  CHECK(c.services["imap"].allow_plaintext);
  CHECK_FALSE(c.services["smtp"].allow_plaintext);  // off unless said
  CHECK(c.redacted()["services"]["imap"]["allow_plaintext"] == true);
  env.set("CONCIERGE_SMTP_ALLOW_PLAINTEXT", "true");
  env.set("CONCIERGE_IMAP_ALLOW_PLAINTEXT", "false");
  c = providers::Config::load();
  CHECK(c.services["smtp"].allow_plaintext);
  CHECK_FALSE(c.services["imap"].allow_plaintext);
  env.set("CONCIERGE_SMTP_ALLOW_PLAINTEXT", "1");
  CHECK_THROWS_WITH(providers::Config::load(), Catch::Contains("CONCIERGE_SMTP_ALLOW_PLAINTEXT: expected true or false"));
}

TEST_CASE("config: Cal.com's cal-api-version per endpoint family, from the file or the environment", "[config][calcom]") {
  TempDir tmp;
  Env env;
  auto file = tmp.path / "config.json";
  env.set("CONCIERGE_CONFIG", file.string());
  env.set("CONCIERGE_CALCOM_BOOKINGS_VERSION", std::nullopt);
  env.set("CONCIERGE_CALCOM_SLOTS_VERSION", std::nullopt);
  write(file, R"({"services": {"calcom": {"bookings_version": "2026-02-25", "event_types_version": "2024-06-14"}}})");
  auto c = providers::Config::load();
  CHECK(c.services["calcom"].api_versions == std::map<std::string, std::string>{{"bookings", "2026-02-25"}, {"event_types", "2024-06-14"}});
  CHECK(c.redacted()["services"]["calcom"]["bookings_version"] == "2026-02-25");
  env.set("CONCIERGE_CALCOM_BOOKINGS_VERSION", "2027-01-01");
  env.set("CONCIERGE_CALCOM_SLOTS_VERSION", "2024-09-04");
  c = providers::Config::load();
  CHECK(c.services["calcom"].api_versions["bookings"] == "2027-01-01");
  CHECK(c.services["calcom"].api_versions["slots"] == "2024-09-04");
  env.set("CONCIERGE_CALCOM_SLOTS_VERSION", "latest");
  CHECK_THROWS_WITH(providers::Config::load(), Catch::StartsWith("CONCIERGE_CALCOM_SLOTS_VERSION: expected an API version date"));
  env.set("CONCIERGE_CALCOM_SLOTS_VERSION", std::nullopt);
  write(file, R"({"services": {"calcom": {"bookings_version": "soon"}}})");
  CHECK_THROWS_WITH(providers::Config::load(), Catch::Contains("services.calcom.bookings_version: expected an API version date"));
  write(file, R"({"services": {"google": {"bookings_version": "2026-02-25"}}})");
  CHECK_THROWS_WITH(providers::Config::load(), Catch::Contains("services.google.bookings_version: unknown setting"));
  write(file, R"({"services": {"calcom": {"webhooks_version": "2026-02-25"}}})");
  CHECK_THROWS_WITH(providers::Config::load(), Catch::Contains("services.calcom.webhooks_version: unknown setting") &&
                                                   Catch::Contains("bookings_version, slots_version, event_types_version"));
}
