// The REST adapters through the real binary, configured only by the environment (env -> connect
// -> tool call), so they run with the production HTTP policies (timeouts, budgets, Spotify's
// search cache shared by every account): Google Calendar, Gmail and YouTube on one Google
// sign-in, and Spotify with two signed-in accounts, against in-process fakes that know whose
// token each call carries.
#include <catch2/catch.hpp>

#include "providers/auth/tokens.hpp"
#include "common/json.hpp"
#include "store/store.hpp"
#include "support/fake_upstream.hpp"
#include "support/process.hpp"
#include "support/served_binary.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

void send(httplib::Response& res, const Json& j) { res.set_content(j.dump(), "application/json"); }

// The binary serving over stdio, its data directory holding the given sign-ins: (fake, service,
// account) as `concierge auth login` leaves them.
using SignIns = std::vector<std::tuple<FakeUpstream*, std::string, std::string>>;
struct Binary : ServedBinary {
  Binary(const SignIns& sign_ins, const std::vector<std::string>& env)
      : ServedBinary(env, [&](const std::filesystem::path& data) {
          store::Store store(data, test::database_url(data));
          providers::auth::TokenStore tokens(store, providers::auth::Sealer(std::string(32, char(0xaa))));
          for (auto& [fake, service, account] : sign_ins) fake->sign_in(tokens, store.user_id("local"), service, account);
        }) {}
};

}  // namespace

TEST_CASE("rest through the binary: Google Calendar, Gmail and YouTube on one Google sign-in", "[rest][process]") {
  FakeUpstream google;
  google.accounts = {"default"};
  std::mutex m;
  std::vector<std::string> send_updates, video_queries;
  google.server.Get("/calendar/v3/users/me/calendarList", [](const httplib::Request&, httplib::Response& res) {
    send(res, {{"items", {{{"id", "ada@example.com"}, {"summary", "Ada"}, {"timeZone", "Europe/Berlin"}, {"primary", true}, {"accessRole", "owner"}}}}});
  });
  google.server.Get(R"(/calendar/v3/calendars/([^/]+)/events)", [](const httplib::Request&, httplib::Response& res) {
    send(res, {{"timeZone", "Europe/Berlin"}, {"items", Json::array()}});
  });
  google.server.Post(R"(/calendar/v3/calendars/([^/]+)/events)", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard l(m);
      send_updates.push_back(req.get_param_value("sendUpdates"));
    }
    Json e = Json::parse(req.body);
    e["id"] = "evt1";
    e["status"] = "confirmed";
    send(res, e);
  });
  google.server.Get("/gmail/v1/users/me/labels", [](const httplib::Request&, httplib::Response& res) {
    send(res, {{"labels", {{{"id", "INBOX"}, {"name", "INBOX"}, {"type", "system"}}}}});
  });
  google.server.Get("/gmail/v1/users/me/labels/INBOX", [](const httplib::Request&, httplib::Response& res) {
    send(res, {{"id", "INBOX"}, {"name", "INBOX"}, {"type", "system"}, {"messagesTotal", 12}, {"messagesUnread", 3}});
  });
  google.server.Get("/youtube/v3/videos", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard l(m);
      video_queries.push_back(req.get_param_value("part") + (req.has_param("maxResults") ? " maxResults" : ""));
    }
    send(res, {{"items",
                {{{"kind", "youtube#video"}, {"id", "ramen1AAAAA"}, {"snippet", {{"title", "Weeknight ramen"}, {"channelTitle", "Crumb"}}},
                  {"contentDetails", {{"duration", "PT4M13S"}}}, {"statistics", {{"viewCount", "156000"}}}}}}});
  });

  Binary b({{&google, "google", "default"}},
           {"CONCIERGE_CALENDAR_PROVIDER=google", "CONCIERGE_MAIL_PROVIDER=google", "CONCIERGE_VIDEO_PROVIDER=google",
            "CONCIERGE_GOOGLE_BASE_URL=" + google.url(), "CONCIERGE_GOOGLE_CLIENT_ID=test-client",
            "CONCIERGE_GOOGLE_TOKEN_URL=" + google.url("/oauth/token")});

  Json ev = b.ok("calendar_create_event", {{"summary", "Budget review"}, {"start", "2026-12-01T10:00:00+01:00"}, {"duration_minutes", 60},
                                           {"attendees", {"ravi@example.com"}}});
  CHECK(ev["event"]["id"] == "evt1");
  Json labels = b.ok("mail_list_labels", Json::object());
  CHECK(labels.dump().find("\"unread\":3") != std::string::npos);
  Json v = b.ok("video_details", {{"ids", {"ramen1AAAAA"}}});
  CHECK(v["videos"][0]["duration_seconds"] == 253);
  std::lock_guard l(m);
  CHECK(send_updates == std::vector<std::string>{"all"});  // the attendee is invited
  CHECK(video_queries == std::vector<std::string>{"snippet,contentDetails,statistics"});  // by id: no maxResults
  CHECK(google.calls_by("default") >= 5);
  CHECK(google.refreshes == 0);
}

TEST_CASE("rest through the binary: two Spotify accounts search through the shared cache, each with its own token", "[rest][process][spotify]") {
  FakeUpstream spotify;
  spotify.accounts = {"ada", "bo"};
  std::atomic<int> searches{0};
  // Each account gets results of its own (as Spotify answers by the user's market and
  // history); the track is named after whose token asked.
  spotify.server.Get("/v1/search", [&](const httplib::Request& req, httplib::Response& res) {
    ++searches;
    std::string who = spotify.account_of(req);
    Json track{{"type", "track"}, {"uri", "spotify:track:" + std::string(who == "ada" ? "4uLU6hMCjMI75M1A2tKUQC" : "7ouMYWpwJ422jRcDASZB7P")},
               {"name", "Song for " + who}, {"duration_ms", 200000}, {"artists", {{{"name", "The Fakes"}}}}, {"album", {{"name", "Loopback"}}}};
    send(res, {{"tracks", {{"href", "x"}, {"limit", 10}, {"offset", 0}, {"total", 1}, {"items", {track}}, {"next", nullptr}}}});
  });
  Binary b({{&spotify, "spotify", "ada"}, {&spotify, "spotify", "bo"}},
           {"CONCIERGE_MUSIC_PROVIDER=spotify", "CONCIERGE_SPOTIFY_BASE_URL=" + spotify.url("/v1"), "CONCIERGE_SPOTIFY_CLIENT_ID=test-client",
            "CONCIERGE_SPOTIFY_TOKEN_URL=" + spotify.url("/oauth/token")});
  auto title = [&](const std::string& account) {
    Json r = b.ok("music_search", {{"query", "song"}, {"types", {"track"}}, {"account", account}});
    REQUIRE(r["tracks"].size() == 1);
    return r["tracks"][0]["title"].get<std::string>();
  };
  CHECK(title("ada") == "Song for ada");
  CHECK(title("bo") == "Song for bo");  // not ada's cached answer
  CHECK(searches == 2);
  CHECK(spotify.calls_by("ada") == 1);
  CHECK(spotify.calls_by("bo") == 1);
  // The same search again, through each: the cache answers, still each their own.
  CHECK(title("ada") == "Song for ada");
  CHECK(title("bo") == "Song for bo");
  CHECK(searches == 2);
}
