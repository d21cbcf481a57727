// The server as the binary builds it, on a real store in a temporary data directory:
// preferences, command history (recording, redaction, resources, completion), service status,
// prompts, and history recording under concurrent HTTP load.
#include <catch2/catch.hpp>
#include <httplib.h>
#include <thread>

#include "server/http.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;

namespace {

int error_code(const Json& reply) { return reply.contains("error") ? reply["error"].value("code", 0) : 0; }

// The JSON document of a resources/read reply.
Json read_json(Client& c, const Json& id, const std::string& uri) {
  Json r = c.request(id, "resources/read", Json{{"uri", uri}});
  REQUIRE(r.contains("result"));
  return Json::parse(r["result"]["contents"][0]["text"].get<std::string>());
}

int64_t history_count(AppFixture& f) { return static_cast<int64_t>(f.history.count("local")); }

}  // namespace

TEST_CASE("preferences: defaults, partial update, resource-updated notification", "[app][preferences]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-06-18");

  Json before = read_json(c, 1, "concierge://preferences");
  for (const char* key : {"time_zone", "locale", "working_hours", "default_calendar", "default_meeting_minutes",
                          "default_music_device", "verbosity", "units"})
    CHECK(before.contains(key));
  CHECK(before["verbosity"] == "normal");

  REQUIRE(c.request(2, "resources/subscribe", Json{{"uri", "concierge://preferences"}}).contains("result"));
  Json r = call(c, 3, "preferences_update", Json{{"verbosity", "brief"}, {"time_zone", "Europe/Paris"}});
  REQUIRE(r.contains("result"));
  CHECK_FALSE(r["result"].value("isError", false));
  CHECK(r["result"]["structuredContent"]["verbosity"] == "brief");
  CHECK(r["result"]["structuredContent"]["time_zone"] == "Europe/Paris");
  auto updated = c.sink->wait_for([](const Json& m) {
    return m.value("method", "") == "notifications/resources/updated" && m["params"]["uri"] == "concierge://preferences";
  });
  CHECK(updated);

  Json after = read_json(c, 4, "concierge://preferences");
  CHECK(after["verbosity"] == "brief");
  CHECK(after["time_zone"] == "Europe/Paris");
  CHECK(after["units"] == before["units"]);  // untouched keys keep their value

  // get_current_time now defaults to the preferred zone.
  Json now = call(c, 5, "get_current_time", Json::object());
  CHECK(now["result"]["structuredContent"]["time_zone"] == "Europe/Paris");
}

TEST_CASE("preferences: a 2026-07-28 listener hears of the change", "[app][preferences][modern]") {
  AppFixture f;
  Client listener(*f.server), caller(*f.server);
  listener.send(rpc::make_request(11, "subscriptions/listen",
                                  Json{{"notifications", {{"resourceSubscriptions", {"concierge://preferences"}}}}, {"_meta", modern_meta()}}));
  REQUIRE(listener.sink->wait_for([](const Json& m) { return m.value("method", "") == "notifications/subscriptions/acknowledged"; }));
  Json r = caller.request(1, "tools/call", Json{{"name", "preferences_update"}, {"arguments", {{"units", "imperial"}}}, {"_meta", modern_meta()}});
  REQUIRE(r.contains("result"));
  CHECK_FALSE(r["result"].value("isError", false));
  auto note = listener.sink->wait_for([](const Json& m) {
    return m.value("method", "") == "notifications/resources/updated" && m["params"]["uri"] == "concierge://preferences";
  });
  CHECK(note);
}

TEST_CASE("preferences: bad input names the field and writes nothing", "[app][preferences]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  Json before = read_json(c, 1, "concierge://preferences");
  const int64_t calls_before = history_count(f);

  struct Bad {
    Json args;
    std::string field;
  };
  std::vector<Bad> bad{
      {Json{{"favourite_colour", "blue"}}, "favourite_colour"},
      {Json{{"verbosity", 3}}, "verbosity"},
      {Json{{"verbosity", "chatty"}}, "verbosity"},
      {Json{{"time_zone", "Mars/Olympus_Mons"}}, "time_zone"},
      {Json{{"default_meeting_minutes", 1000}}, "default_meeting_minutes"},
      {Json{{"working_hours", {{"mon", {{"start", "17:00"}, {"end", "09:00"}}}}}}, "working_hours.mon"},
      // A valid key beside a bad one: all or nothing.
      {Json{{"units", "imperial"}, {"time_zone", "Nowhere/Special"}}, "time_zone"},
  };
  int id = 10;
  for (const auto& b : bad) {
    INFO(b.args.dump());
    Json r = call(c, id++, "preferences_update", b.args);
    REQUIRE(r.contains("result"));
    CHECK(r["result"].value("isError", false));
    CHECK_THAT(text_of(r), Catch::StartsWith(b.field + ": "));
  }
  CHECK(read_json(c, id++, "concierge://preferences") == before);
  // Refused calls are still calls: each one is in the history, as a tool error.
  CHECK(history_count(f) == calls_before + static_cast<int64_t>(bad.size()));
}

TEST_CASE("history: every tools/call is recorded with client, revision, transport and outcome", "[app][history]") {
  AppFixture f;
  // A tool that runs until the client cancels it.
  f.server->tools().add(ToolDefinition{.name = "wait_for_cancel",
                                       .title = "",
                                       .description = "waits",
                                       .input_schema = Json{{"type", "object"}},
                                       .output_schema = nullptr,
                                       .hints = {},
                                       .icons = nullptr,
                                       .handler = [](const Json&, RequestContext& ctx) {
                                         while (!ctx.cancel().cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
                                         throw rpc::Error(rpc::kRequestCancelled, "cancelled");
                                         return ToolResult::text("");
                                       }});
  Client c(*f.server);
  c.initialize("2025-06-18");
  CHECK(text_of(call(c, 1, "echo", Json{{"text", "hello"}})) == "hello");
  CHECK(call(c, 2, "echo", Json{{"txt", "typo"}})["result"].value("isError", false));
  CHECK(error_code(call(c, 3, "no_such_tool", Json::object())) == rpc::kInvalidParams);
  c.send(rpc::make_request(4, "tools/call", Json{{"name", "wait_for_cancel"}, {"arguments", Json::object()}}));
  // The cancelled call is recorded once its handler has ended.
  c.send(rpc::make_notification("notifications/cancelled", Json{{"requestId", 4}}));
  for (int i = 0; i < 500 && history_count(f) < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));

  store::History::Query q;
  q.user = "local";
  q.limit = 10;
  Json rows = f.history.query(q).rows;
  REQUIRE(rows.size() == 4);
  std::map<std::string, Json> by_outcome;
  for (const auto& r : rows) by_outcome[r["outcome"]] = r;
  REQUIRE(by_outcome.count("ok"));
  REQUIRE(by_outcome.count("tool_error"));
  REQUIRE(by_outcome.count("protocol_error"));
  REQUIRE(by_outcome.count("cancelled"));
  const Json& ok = by_outcome["ok"];
  CHECK(ok["tool"] == "echo");
  CHECK(ok["arguments"] == Json{{"text", "hello"}});
  CHECK(ok["summary"] == "hello");
  CHECK(ok["client"]["name"] == "test-client");
  CHECK(ok["client"]["version"] == "1.0");
  CHECK(ok["protocolVersion"] == "2025-06-18");
  CHECK(ok["transport"] == "test");
  CHECK(ok["durationMs"].get<double>() >= 0);
  CHECK_THAT(by_outcome["tool_error"]["summary"].get<std::string>(), Catch::Contains("txt"));
  CHECK(by_outcome["protocol_error"]["tool"] == "no_such_tool");
  CHECK(by_outcome["cancelled"]["tool"] == "wait_for_cancel");
}

TEST_CASE("history: secrets reach neither the history nor the log", "[app][history][redaction]") {
  AppFixture f;
  const std::string password = "hunter2-correct-horse", token = "ya29.A0ARrdaM-secret-token", pin = "918273",
                    api_key = "sk-live-4242-abcdef";
  Json schema = Json::parse(R"({
    "type": "object",
    "properties": {
      "username": {"type": "string"},
      "password": {"type": "string"},
      "access_token": {"type": "string"},
      "pin": {"type": "string", "writeOnly": true},
      "options": {"type": "object", "properties": {"api_key": {"type": "string"}}},
      "mode": {"type": "string"}
    }
  })");
  // One tool fails with a message quoting its secrets (an upstream error might); one returns
  // them in a tool error.
  f.server->tools().add(ToolDefinition{.name = "connect_account", .title = "", .description = "", .input_schema = schema,
                                       .output_schema = nullptr, .hints = {}, .icons = nullptr,
                                       .handler = [](const Json& a, RequestContext&) -> ToolResult {
                                         if (a.value("mode", "") == "throw")
                                           throw std::runtime_error("login failed for " + a.value("password", "") + " / " +
                                                                    a.value("pin", "") + " / " + a.value("access_token", ""));
                                         throw ToolError("upstream refused key " + a["options"].value("api_key", "") + " and pin " +
                                                         a.value("pin", ""));
                                       },
                                       .task_support = TaskSupport::Optional});
  Client c(*f.server);
  c.initialize("2025-11-25");
  Json args{{"username", "ada"}, {"password", password}, {"access_token", token}, {"pin", pin}, {"options", {{"api_key", api_key}}}};
  Json a1 = args, a2 = args;
  a1["mode"] = "throw";
  a2["mode"] = "tool_error";
  CHECK(error_code(call(c, 1, "connect_account", a1)) == rpc::kInternalError);
  CHECK(call(c, 2, "connect_account", a2)["result"].value("isError", false));
  // The same failure inside a task (2025-11-25) is logged through the same redaction.
  Json created = c.request(3, "tools/call", Json{{"name", "connect_account"}, {"arguments", a1}, {"task", {{"ttl", 60000}}}});
  REQUIRE(created["result"].contains("task"));
  Json outcome = c.request(4, "tasks/result", Json{{"taskId", created["result"]["task"]["taskId"]}});
  CHECK((outcome.contains("error") || outcome["result"].value("isError", false)));

  store::History::Query q;
  q.user = "local";
  std::string stored = f.history.query(q).rows.dump();
  std::ostringstream exported;
  f.history.export_jsonl("local", exported);
  std::string logs;
  for (const auto& l : captured_logs()) logs += l + "\n";
  for (const auto& secret : {password, token, pin, api_key}) {
    INFO(secret);
    CHECK(stored.find(secret) == std::string::npos);
    CHECK(exported.str().find(secret) == std::string::npos);
    CHECK(logs.find(secret) == std::string::npos);
  }
  CHECK_THAT(stored, Catch::Contains("ada"));  // what is not secret stays
  CHECK_THAT(logs, Catch::Contains("handler for tools/call failed: login failed for [redacted]"));
  CHECK_THAT(logs, Catch::Contains("(tools/call) failed: login failed for [redacted]"));  // the task's
}

TEST_CASE("history: resources, templates, completion, cap and bad variables", "[app][history]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  for (int i = 0; i < 3; ++i) call(c, "e" + std::to_string(i), "echo", Json{{"text", "n" + std::to_string(i)}});
  call(c, "t", "get_current_time", Json::object());

  Json all = read_json(c, 1, "concierge://history");
  REQUIRE(all["calls"].size() == 4);
  CHECK(all["calls"][0]["tool"] == "get_current_time");  // most recent first
  CHECK(all["truncated"] == false);

  Json echo = read_json(c, 2, "concierge://history/tool/echo");
  REQUIRE(echo["calls"].size() == 3);
  for (const auto& r : echo["calls"]) CHECK(r["tool"] == "echo");

  std::string today = prompts::today_in(f.preferences.time_zone("local"));
  Json day = read_json(c, 3, "concierge://history/" + today);
  CHECK(day["calls"].size() == 4);
  CHECK(read_json(c, 4, "concierge://history/2001-01-01")["calls"].empty());

  // Bad variables: a clear Invalid Params naming what is wrong.
  Json bad_date = c.request(5, "resources/read", Json{{"uri", "concierge://history/2026-13-45"}});
  CHECK(error_code(bad_date) == rpc::kInvalidParams);
  CHECK_THAT(bad_date["error"]["message"].get<std::string>(), Catch::Contains("date"));
  Json bad_tool = c.request(6, "resources/read", Json{{"uri", "concierge://history/tool/rm_rf"}});
  CHECK(error_code(bad_tool) == rpc::kInvalidParams);
  CHECK_THAT(bad_tool["error"]["message"].get<std::string>(), Catch::Contains("rm_rf"));

  Json tools = c.request(7, "completion/complete", Json{{"ref", {{"type", "ref/resource"}, {"uri", "concierge://history/tool/{tool}"}}},
                                                        {"argument", {{"name", "tool"}, {"value", "ec"}}}});
  CHECK(tools["result"]["completion"]["values"] == Json::array({"echo"}));
  Json days = c.request(8, "completion/complete", Json{{"ref", {{"type", "ref/resource"}, {"uri", "concierge://history/{date}"}}},
                                                       {"argument", {{"name", "date"}, {"value", today.substr(0, 4)}}}});
  CHECK(days["result"]["completion"]["values"] == Json::array({today}));

  // A long history is capped, and the document says so and where the rest is.
  for (int i = 0; i < 120; ++i) call(c, 100 + i, "echo", Json{{"text", "x"}});
  Json capped = read_json(c, 9, "concierge://history");
  CHECK(capped["calls"].size() == resources::kHistoryReadCap);
  CHECK(capped["truncated"] == true);
  CHECK_THAT(capped["more"].get<std::string>(), Catch::Contains("concierge history export"));
}

TEST_CASE("services: every domain listed, errors kept with their time", "[app][services]") {
  AppFixture f;
  f.status.set_provider("calendar", "local");
  f.status.report_error("local", "calendar", "default", "database is locked");
  Client c(*f.server);
  c.initialize("2025-11-25");
  Json doc = read_json(c, 1, "concierge://services");
  REQUIRE(doc["services"].size() == 5);
  std::vector<std::string> domains;
  for (const auto& s : doc["services"]) domains.push_back(s["domain"]);
  CHECK(domains == std::vector<std::string>{"calendar", "mail", "music", "video", "booking"});
  const Json& cal = doc["services"][0];
  CHECK(cal["provider"] == "local");
  CHECK(cal["health"] == "degraded");
  REQUIRE(cal["accounts"].size() == 1);
  CHECK(cal["accounts"][0]["lastError"] == "database is locked");
  CHECK(cal["accounts"][0]["lastErrorAt"].is_string());
  CHECK(doc["services"][1]["provider"] == "local");  // every domain starts on its local provider
  CHECK(doc["services"][1]["health"] == "ok");

  f.status.report_ok("local", "calendar");
  Json again = read_json(c, 2, "concierge://services");
  CHECK(again["services"][0]["health"] == "ok");
  CHECK(again["services"][0]["accounts"][0]["lastError"] == "database is locked");  // kept on record
}

TEST_CASE("prompts: each renders from the preferences, arguments are checked and completable", "[app][prompts]") {
  AppFixture f;
  f.preferences.update("local", Json{{"verbosity", "detailed"}, {"time_zone", "Asia/Tokyo"}, {"default_meeting_minutes", 45}});
  Client c(*f.server);
  c.initialize("2025-11-25");
  Json list = c.request(1, "prompts/list");
  std::set<std::string> names;
  for (const auto& p : list["result"]["prompts"]) names.insert(p["name"]);
  CHECK(names == std::set<std::string>{"daily_briefing", "schedule_meeting", "service_integration", "voice_assistant"});

  auto get = [&](const Json& id, const std::string& name, Json args) {
    return c.request(id, "prompts/get", Json{{"name", name}, {"arguments", std::move(args)}});
  };
  auto all_text = [](const Json& r) {
    std::string out;
    for (const auto& m : r["result"]["messages"]) out += m["content"].dump() + "\n";
    return out;
  };

  Json voice = get(2, "voice_assistant", Json{{"user_name", "Ada"}});
  CHECK_THAT(all_text(voice), Catch::Contains("Ada") && Catch::Contains("Asia/Tokyo") && Catch::Contains("complete answers"));
  Json brief = get(3, "voice_assistant", Json{{"verbosity", "brief"}});
  CHECK_THAT(all_text(brief), Catch::Contains("one short sentence"));
  CHECK(error_code(get(4, "voice_assistant", Json{{"verbosity", "shouty"}})) == rpc::kInvalidParams);

  Json guide = get(5, "service_integration", Json{{"service", "spotify"}});
  CHECK_THAT(all_text(guide), Catch::Contains("127.0.0.1") && Catch::Contains("concierge://services"));
  Json unknown = get(6, "service_integration", Json{{"service", "myspace"}});
  CHECK(error_code(unknown) == rpc::kInvalidParams);
  CHECK_THAT(unknown["error"]["message"].get<std::string>(), Catch::Contains("spotify"));  // lists the known ones

  call(c, 50, "echo", Json{{"text", "remember me"}});
  Json briefing = get(7, "daily_briefing", Json::object());
  CHECK_THAT(all_text(briefing), Catch::Contains("remember me") && Catch::Contains("concierge://preferences"));
  CHECK(error_code(get(8, "daily_briefing", Json{{"date", "tomorrow"}})) == rpc::kInvalidParams);

  Json meeting = get(9, "schedule_meeting", Json{{"attendee", "grace@example.com"}});
  CHECK_THAT(all_text(meeting), Catch::Contains("45-minute") && Catch::Contains("grace@example.com"));
  CHECK(error_code(get(10, "schedule_meeting", Json{{"attendee", "grace"}, {"duration", "an hour"}})) == rpc::kInvalidParams);
  CHECK(error_code(get(11, "schedule_meeting", Json::object())) == rpc::kInvalidParams);  // attendee is required

  auto complete = [&](const Json& id, const std::string& prompt, const std::string& arg, const std::string& value) {
    return c.request(id, "completion/complete", Json{{"ref", {{"type", "ref/prompt"}, {"name", prompt}}},
                                                     {"argument", {{"name", arg}, {"value", value}}}})["result"]["completion"]["values"];
  };
  CHECK(complete(12, "service_integration", "service", "sp") == Json::array({"spotify"}));
  CHECK(complete(13, "voice_assistant", "verbosity", "d") == Json::array({"detailed"}));
  CHECK(complete(14, "schedule_meeting", "window", "t") == Json::array({"today", "tomorrow", "this week"}));
  CHECK(complete(15, "daily_briefing", "date", "").size() >= 1);
}

TEST_CASE("history: 8 HTTP clients x 1000 calls leave exactly 8000 rows", "[app][history][http][concurrency]") {
  AppFixture f;
  HttpServer http(*f.server, HttpOptions{.host = "127.0.0.1", .port = 0});
  const int port = http.bind();
  std::thread runner([&] { http.run(); });
  constexpr int kClients = 8, kCalls = 1000;
  std::atomic<int> ok{0};
  std::vector<std::string> failures;
  std::mutex fm;
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t)
    clients.emplace_back([&, t] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      httplib::Headers h{{"Accept", "application/json, text/event-stream"},
                         {"MCP-Protocol-Version", "2026-07-28"},
                         {"Mcp-Method", "tools/call"},
                         {"Mcp-Name", "echo"}};
      for (int i = 0; i < kCalls; ++i) {
        Json body = rpc::make_request(t * kCalls + i, "tools/call",
                                      Json{{"name", "echo"}, {"arguments", {{"text", "c" + std::to_string(t)}}}, {"_meta", modern_meta()}});
        auto res = cli.Post("/mcp", h, body.dump(), "application/json");
        if (res && res->status == 200 && res->body.find("\"isError\"") == std::string::npos) {
          ++ok;
        } else {
          std::lock_guard l(fm);
          failures.push_back(res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error()));
        }
      }
    });
  for (auto& t : clients) t.join();
  http.stop();
  runner.join();
  INFO((failures.empty() ? std::string() : failures.front()));
  CHECK(ok == kClients * kCalls);
  CHECK(f.history.count("local") == static_cast<size_t>(kClients * kCalls));
  CHECK(f.store.integrity_check() == "ok");
  for (const auto& l : captured_logs()) CHECK_THAT(l, !Catch::Contains("busy") && !Catch::Contains("locked"));
}
