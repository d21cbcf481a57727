// Cal.com through the real binary, configured as a user would: the booking provider and base URL
// from a config file or the environment, an API key from the environment, or an OAuth account
// signed in with `concierge auth login calcom` (the binary's own sign-in, against the fake's
// documented token endpoint). Then tool calls: bookings on their current cal-api-version, an
// access token past its lifetime refreshed, a dead grant answered with the sign-in command.
#include <catch2/catch.hpp>
#include <fstream>

#include "providers/auth/tokens.hpp"
#include "common/json.hpp"
#include "store/store.hpp"
#include "support/calcom_fake.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

const std::string kKeyHex(64, 'a');  // CONCIERGE_TOKEN_KEY: 32 bytes of 0xaa

struct Binary {
  TempDir tmp;
  FakeCalcom cal;
  std::filesystem::path data = tmp.path / "data";
  std::string config = (tmp.path / "none.json").string();
  std::vector<std::string> env;  // CONCIERGE_* settings for every run
  std::unique_ptr<ChildProcess> proc;
  int id = 1;

  std::vector<std::string> command(std::vector<std::string> args) {
    std::vector<std::string> c{"/usr/bin/env", "CONCIERGE_CONFIG=" + config, "CONCIERGE_TOKEN_KEY=" + kKeyHex};
    c.insert(c.end(), env.begin(), env.end());
    c.push_back(CONCIERGE_BINARY);
    c.insert(c.end(), {"--log-level", "debug", "--data-dir", data.string()});
    c.insert(c.end(), args.begin(), args.end());
    return c;
  }
  void serve() {
    proc = std::make_unique<ChildProcess>(command({"serve"}));
    Json init = request("init", "initialize",
                        Json{{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", "t"}, {"version", "1"}}}});
    REQUIRE(init.contains("result"));
    REQUIRE(proc->write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  }
  Json request(const Json& rid, const std::string& method, Json params) {
    REQUIRE(proc->write_line(Json{{"jsonrpc", "2.0"}, {"id", rid}, {"method", method}, {"params", std::move(params)}}.dump()));
    for (;;) {
      auto line = proc->read_line(15s);
      if (!line) FAIL("no reply to " << method << "; stderr:\n" << proc->stderr_text());
      Json j = Json::parse(*line, nullptr, false);
      if (j.is_object() && j.contains("id") && j["id"] == rid) return j;
    }
  }
  Json call(const std::string& tool, Json args = Json::object()) {
    Json r = request(id++, "tools/call", Json{{"name", tool}, {"arguments", std::move(args)}});
    INFO(r.dump());
    REQUIRE(r.contains("result"));
    return r["result"];
  }
  static Json ok(const Json& result) {
    INFO(result.dump());
    REQUIRE_FALSE(result.value("isError", false));
    return result["structuredContent"];
  }
  static std::string error(const Json& result) {
    INFO(result.dump());
    CHECK(result.value("isError", false));
    return result["content"][0].value("text", "");
  }
  void stop() {
    proc->close_stdin();
    auto st = proc->wait_exit(15s);
    REQUIRE(st);
    CHECK(st->code == 0);
  }
  void seed(const std::string& account, const std::string& user, bool expired) {
    store::Store store(data, test::database_url(data));
    providers::auth::TokenStore tokens(store, providers::auth::Sealer(std::string(32, char(0xaa))));
    cal.up.sign_in(tokens, store.user_id("local"), account, user, expired);
  }
  // Books the first open consultation slot tomorrow (UTC) as `account` ("" for the default).
  Json book(const std::string& account) {
    Millis from = calcom_day_start(providers::now_ms()) + providers::kDay;
    Json window{{"event_type", "consultation"}, {"start", calcom_iso(from)}, {"end", calcom_iso(from + providers::kDay)}, {"time_zone", "UTC"}};
    if (!account.empty()) window["account"] = account;
    Json slots = ok(call("booking_find_slots", window))["slots"];
    REQUIRE_FALSE(slots.empty());
    Json args{{"event_type", "consultation"}, {"start", slots[0]["start"]},
              {"attendee", {{"name", "Ada Lovelace"}, {"email", "ada@example.com"}, {"time_zone", "Europe/London"}}}, {"time_zone", "UTC"}};
    if (!account.empty()) args["account"] = account;
    return ok(call("booking_create", args))["booking"];
  }
  using Millis = providers::Millis;
};

}  // namespace

TEST_CASE("calcom process: an API key, the provider and base URL from the config file, bookings on their current version",
          "[calcom][process]") {
  Binary b;
  {
    std::ofstream out(b.tmp.path / "config.json");
    out << Json{{"providers", {{"booking", "calcom"}}}, {"services", {{"calcom", {{"base_url", b.cal.up.url("/v2")}}}}}}.dump();
  }
  b.config = (b.tmp.path / "config.json").string();
  const std::string key = b.cal.up.api_key("host");
  b.env = {"CONCIERGE_CALCOM_API_KEY=" + key};
  b.serve();
  Json types = Binary::ok(b.call("booking_list_event_types"))["event_types"];
  REQUIRE(types.size() == 2);
  CHECK(types[1]["id"] == "consultation");
  Json booked = b.book("");
  CHECK(booked["status"] == "accepted");
  Json listed = Binary::ok(b.call("booking_list", {{"time_zone", "UTC"}}))["bookings"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == booked["id"]);
  Json cancelled = Binary::ok(b.call("booking_cancel", {{"booking_id", booked["id"]}, {"reason", "plans changed"}}))["booking"];
  CHECK(cancelled["status"] == "cancelled");
  b.stop();
  CHECK(b.cal.versions_for("/bookings") == std::set<std::string>{"2026-02-25"});
  CHECK(b.cal.versions_for("/slots") == std::set<std::string>{"2024-09-04"});
  CHECK(b.cal.versions_for("/event-types") == std::set<std::string>{"2024-06-14"});
  CHECK(b.proc->stderr_text().find(key) == std::string::npos);
}

TEST_CASE("calcom process: per-endpoint cal-api-version settings reach the calls", "[calcom][process]") {
  Binary b;
  // Cal.com publishes newer versions: the settings follow them without a new build.
  b.cal.bookings_version = "2027-01-01";
  b.cal.slots_version = "2027-02-02";
  {
    std::ofstream out(b.tmp.path / "config.json");
    out << Json{{"services", {{"calcom", {{"slots_version", "2027-02-02"}}}}}}.dump();
  }
  b.config = (b.tmp.path / "config.json").string();
  b.env = {"CONCIERGE_BOOKING_PROVIDER=calcom", "CONCIERGE_CALCOM_BASE_URL=" + b.cal.up.url("/v2"),
           "CONCIERGE_CALCOM_API_KEY=" + b.cal.up.api_key("host"), "CONCIERGE_CALCOM_BOOKINGS_VERSION=2027-01-01"};
  b.serve();
  CHECK(b.book("")["status"] == "accepted");
  CHECK(Binary::ok(b.call("booking_list"))["bookings"].size() == 1);
  b.stop();
  CHECK(b.cal.versions_for("/bookings") == std::set<std::string>{"2027-01-01"});
  CHECK(b.cal.versions_for("/slots") == std::set<std::string>{"2027-02-02"});
  CHECK(b.cal.versions_for("/event-types") == std::set<std::string>{"2024-06-14"});
}

TEST_CASE("calcom process: sign in with OAuth, refresh past the token's lifetime, a dead grant says sign in again", "[calcom][process]") {
  Binary b;
  b.env = {"CONCIERGE_BOOKING_PROVIDER=calcom", "CONCIERGE_CALCOM_BASE_URL=" + b.cal.up.url("/v2"),
           "CONCIERGE_CALCOM_CLIENT_ID=" + b.cal.up.client_id, "CONCIERGE_CALCOM_AUTHORIZE_URL=" + b.cal.up.url("/auth/oauth2/authorize")};

  // `concierge auth login calcom`: it prints the exact redirect URI to register, then the
  // authorization URL; the browser comes back to that redirect with the code.
  const int port = unused_port();
  const std::string redirect = "http://127.0.0.1:" + std::to_string(port) + "/callback";
  ChildProcess login(b.command({"auth", "login", "calcom", "--account", "work", "--port", std::to_string(port)}));
  std::string printed, authorize;
  while (auto line = login.read_line(20s)) {
    printed += *line + "\n";
    if (auto at = line->find(b.cal.up.url("/auth/oauth2/authorize")); at != std::string::npos) {
      authorize = line->substr(at);
      break;
    }
  }
  REQUIRE_FALSE(authorize.empty());
  CHECK_THAT(printed, Catch::Contains("register") && Catch::Contains(redirect));
  CHECK(query_param(authorize, "redirect_uri") == redirect);
  std::string code = b.cal.up.approve("host", redirect, query_param(authorize, "code_challenge"));
  httplib::Client browser("127.0.0.1", port);
  auto back = browser.Get(("/callback?code=" + code + "&state=" + query_param(authorize, "state")).c_str());
  REQUIRE(back);
  CHECK(back->status == 200);
  login.close_stdin();
  std::string rest;
  while (auto line = login.read_line(20s)) rest += *line + "\n";
  auto st = login.wait_exit(20s);
  REQUIRE(st);
  INFO(rest << login.stderr_text());
  CHECK(st->code == 0);
  CHECK_THAT(rest, Catch::Contains("Signed in: calcom account 'work'"));
  {
    std::lock_guard l(b.cal.up.m);
    REQUIRE_FALSE(b.cal.up.token_requests.empty());
    CHECK(b.cal.up.token_requests.back()["grant_type"] == "authorization_code");
  }

  // A second account whose access token's lifetime has already passed (as the store shows).
  b.seed("home", "other", true);
  b.serve();
  Json booked = b.book("work");
  CHECK(booked["status"] == "accepted");
  CHECK(b.cal.up.refreshes == 0);
  // "home" refreshes before its first call, and sees its own (no) bookings, not work's.
  CHECK(Binary::ok(b.call("booking_list", {{"account", "home"}}))["bookings"].empty());
  CHECK(b.cal.up.refreshes == 1);

  // Half an hour on: Cal.com refuses work's token; one refresh on the same endpoint, the call goes on.
  b.cal.up.advance(1801s);
  Json listed = Binary::ok(b.call("booking_list", {{"account", "work"}}))["bookings"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == booked["id"]);
  CHECK(b.cal.up.refreshes == 2);
  CHECK(b.cal.up.old_endpoint_refreshes == 0);

  // The grant dies (the user removed the app): sign in again, with the command, not "unavailable".
  b.cal.up.revoked = true;
  b.cal.up.advance(1801s);
  std::string e = Binary::error(b.call("booking_list", {{"account", "work"}}));
  CHECK_THAT(e, Catch::Contains("needs signing in again") && Catch::Contains("concierge auth login calcom --account work"));
  CHECK_THAT(e, !Catch::Contains("unavailable"));
  b.stop();
  std::string logs = b.proc->stderr_text() + printed + rest + login.stderr_text();
  std::vector<std::string> secrets;
  {
    std::lock_guard l(b.cal.up.m);
    secrets = b.cal.up.seen_tokens;
  }
  REQUIRE_FALSE(secrets.empty());
  for (auto& t : secrets) CHECK(logs.find(t) == std::string::npos);
}
