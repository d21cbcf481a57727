// Bad input is a tool error that starts with the argument at fault: the schema's verdicts
// ("max_results: must be at least 1", "bogus: unknown argument") and the handlers' own
// ("time_zone: unknown time zone 'Mars/Olympus'; ..."), for a spread of tools, in-process and
// through the binary; input schemas bound every string and array a client sends.
#include <catch2/catch.hpp>

#include "server/schema.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

std::string text_of(const Json& reply) {
  std::string out;
  for (const auto& c : reply["result"]["content"]) out += c.value("text", "");
  return out;
}

// A locale of `n` characters that matches its pattern all along: std::regex would recurse once
// per "-aa" and overflow the stack on it, so it must be refused before any regex sees it.
std::string long_locale(size_t n) {
  std::string s = "en";
  while (s.size() + 3 <= n) s += "-aa";
  return s;
}

struct Case {
  std::string tool;
  Json args;
  std::string prefix;  // the message starts with exactly this
};

// Tomorrow-ish dates are not needed: each call fails before any date matters.
const std::vector<Case>& cases() {
  static const std::vector<Case> all{
      // Schema: numbers as the schema wrote them, unknown and missing arguments, types, enums.
      {"calendar_list_events", {{"max_results", 0}}, "max_results: must be at least 1"},
      {"calendar_list_events", {{"max_results", 1000}}, "max_results: must be at most 250"},
      {"calendar_list_events", {{"max_results", 2.5}}, "max_results: must be an integer, not a number"},
      {"calendar_list_events", {{"bogus", 1}}, "bogus: unknown argument (known: account, calendars, end, max_results, "},
      {"calendar_list_events", {{"calendars", {"a", ""}}}, "calendars[1]: must not be empty"},
      {"calendar_list_events", {{"start", "soon"}}, "start: must be at least 10 characters"},
      {"get_current_time", {{"time_zone", 5}}, "time_zone: must be a string, not an integer"},
      {"get_current_time", {{"time_zone", std::string(65, 'x')}}, "time_zone: must be at most 64 characters (got 65)"},
      {"echo", Json::object(), "text: is required"},
      {"echo", {{"text", "x"}, {"bad key\n", 1}}, "[\"bad key\\n\"]: unknown argument"},
      {"calendar_create_event", {{"start", "2030-01-01"}}, "summary: is required"},
      {"calendar_create_event", {{"summary", "x"}, {"start", "2030-01-01"}, {"attendees", {{{"name", "Bob"}}}}}, "attendees[0].email: is required"},
      {"calendar_create_event", {{"summary", "x"}, {"start", "2030-01-01"}, {"attendees", {7}}}, "attendees[0]: must be a string or an object, not an integer"},
      {"mail_read", {{"message_id", "x"}, {"format", "pdf"}}, "format: must be one of \"text\", \"html\""},
      {"music_search", {{"query", "x"}, {"types", {"track", "album", "track"}}}, "types[2]: repeats types[0]; items must be unique"},
      {"music_search", {{"query", "x"}, {"types", Json(std::vector<std::string>(5000, "track"))}}, "types: must have at most 4 items (got 5000)"},
      {"music_playback", {{"action", "fly"}}, "action: must be one of \"play\", "},
      {"music_playback", {{"action", "volume"}, {"volume_percent", 101}}, "volume_percent: must be at most 100"},
      {"preferences_update", Json::object(), "arguments: give at least 1 argument"},
      {"preferences_update", {{"verbosity", "loud"}}, "verbosity: must be one of \"brief\", \"normal\", \"detailed\""},
      {"preferences_update", {{"working_hours", {{"mon", "9-5"}}}}, "working_hours.mon: must be null or an object, not a string"},
      {"preferences_update", {{"working_hours", {{"mon", {{"start", "25:00"}, {"end", "17:00"}}}}}},
       "working_hours.mon.start: must match the pattern ^([01][0-9]|2[0-3]):[0-5][0-9]$ (HH:MM)"},
      {"preferences_update", {{"working_hours", {{"mon", {{"start", "09:00"}}}}}}, "working_hours.mon.end: is required"},
      {"preferences_update", {{"working_hours", {{"someday", nullptr}}}}, "working_hours.someday: unknown property (known: fri, mon, "},
      {"preferences_update", {{"locale", long_locale(100000)}}, "locale: must be at most 35 characters (got "},
      {"booking_create", {{"start", "2030-01-01T10:00:00Z"}, {"attendee", {{"name", "A"}, {"email", "a@example.com"}}}}, "event_type: is required"},
      // The handlers' own checks, beyond what a schema can say.
      {"get_current_time", {{"time_zone", "Mars/Olympus"}}, "time_zone: unknown time zone 'Mars/Olympus'; give an IANA name"},
      {"preferences_update", {{"time_zone", "Mars/Olympus"}}, "time_zone: unknown time zone 'Mars/Olympus'; give an IANA name"},
      {"preferences_update", {{"working_hours", {{"tue", {{"start", "17:00"}, {"end", "09:00"}}}}}}, "working_hours.tue: start 17:00 is not before end 09:00"},
      {"calendar_create_event", {{"summary", "x"}, {"start", "2030-01-01T10:00:00Z"}, {"end", "2030-01-01T09:00:00Z"}}, "end: must be after start"},
      {"calendar_create_event", {{"summary", "x"}, {"start", "2030-01-01T10:00:00Z"}, {"attendees", {"bob"}}}, "attendees[0]: 'bob' is not an email address"},
      {"calendar_create_event", {{"summary", "x"}, {"start", "2030-01-01T10:00:00Z"}, {"time_zone", "Moon/Base"}}, "time_zone: unknown time zone 'Moon/Base'"},
      {"calendar_create_event", {{"summary", "x"}, {"start", "2030-01-01T10:00:00Z"}, {"recurrence", "FREQ=OFTEN"}}, "recurrence: 'FREQ=OFTEN' is not"},
      {"calendar_find_free_time", {{"start", "2030-01-01"}, {"end", "2030-06-01"}}, "end: the window can span at most 62 days"},
      {"mail_read", Json::object(), "message_id: is required unless thread_id is given"},
      {"mail_read", {{"message_id", "nope"}}, "message_id: no message 'nope'"},
      {"mail_modify", {{"message_ids", {"nope"}}}, "arguments: nothing to change: give read, starred, "},
      {"mail_send", {{"to", {"bob"}}, {"text", "hi"}}, "to[0]: 'bob' is not an email address"},
      {"mail_search", {{"query", "is:happy"}}, "query: is:happy is not something mail can be"},
      {"music_playback", {{"action", "seek"}}, "position_ms: is required for action 'seek'"},
      {"music_playback", {{"action", "shuffle"}, {"state", "on"}}, "state: must be true or false for action 'shuffle'"},
      {"music_playlists", {{"action", "create"}}, "name: is required for action 'create'"},
      {"music_queue", {{"action", "add"}}, "uri: is required for action 'add'"},
      {"video_playlists", {{"action", "add"}, {"playlist_id", "watch_later"}}, "video_ids: is required for action 'add'"},
      {"booking_create", {{"event_type", "x"}, {"start", "2030-01-01T10:00:00Z"}, {"attendee", {{"name", "A"}, {"email", "nobody"}}}},
       "attendee.email: 'nobody' is not an email address"},
      {"booking_cancel", {{"booking_id", "nope"}}, "booking_id: no booking 'nope'"},
  };
  return all;
}

}  // namespace

TEST_CASE("errors: each bad input is a tool error starting with the argument at fault", "[errors]") {
  AppFixture f;
  Client c(*f.server);
  c.initialize("2025-11-25");
  int id = 1;
  for (const auto& k : cases()) {
    INFO(k.tool << " " << k.args.dump().substr(0, 200));
    Json r = c.request(id++, "tools/call", Json{{"name", k.tool}, {"arguments", k.args}});
    REQUIRE(r.contains("result"));
    CHECK(r["result"].value("isError", false));
    CHECK_THAT(text_of(r), Catch::StartsWith(k.prefix));
  }
  // Still serving, and a good call after all that succeeds.
  Json ok = c.request(id++, "tools/call", Json{{"name", "get_current_time"}, {"arguments", {{"time_zone", "Europe/Paris"}}}});
  CHECK_FALSE(ok["result"].value("isError", false));
}

TEST_CASE("errors: schema messages in the schema's own terms", "[errors][schema]") {
  CompiledSchema s(Json::parse(R"({
    "type": "object",
    "properties": {
      "ratio": {"type": "number", "minimum": 0.5, "exclusiveMaximum": 2},
      "step": {"type": "integer", "multipleOf": 5},
      "kind": {"const": "fixed"},
      "tags": {"type": "array", "minItems": 2, "items": {"type": "string"}},
      "nested": {"type": "object", "properties": {"deep": {"type": "array", "items": {"type": "object",
                 "properties": {"x": {"type": "boolean"}}, "additionalProperties": false}}}},
      "12": {"type": "string"}
    },
    "additionalProperties": false
  })"));
  CHECK(s.validate(Json{{"ratio", 0.25}}) == "ratio: must be at least 0.5");
  CHECK(s.validate(Json{{"ratio", 2}}) == "ratio: must be less than 2");
  CHECK(s.validate(Json{{"step", 7}}) == "step: must be a multiple of 5");
  CHECK(s.validate(Json{{"kind", "moving"}}) == "kind: must be \"fixed\"");
  CHECK(s.validate(Json{{"tags", {"a"}}}) == "tags: must have at least 2 items");
  CHECK(s.validate(Json{{"nested", {{"deep", {Json::object(), {{"x", "yes"}}}}}}}) == "nested.deep[1].x: must be a boolean, not a string");
  CHECK(s.validate(Json{{"nested", {{"deep", {{{"y", 1}}}}}}}) == "nested.deep[0].y: unknown property (known: x)");
  CHECK(s.validate(Json{{"12", 12}}) == "12: must be a string, not an integer");  // a key, not an index
  CHECK(s.validate(Json::array()) == "arguments: must be an object, not an array");
  CHECK(s.validate(Json{{std::string(100, 'k'), 1}}).value_or("").rfind("[\"" + std::string(64, 'k') + "...\"]: unknown argument", 0) == 0);
  CHECK_FALSE(s.validate(Json{{"ratio", 1}, {"step", 10}, {"tags", {"a", "b"}}}));
}

TEST_CASE("errors: input schemas bound every string and array a client sends", "[errors][schema]") {
  AppFixture f;
  size_t strings = 0;
  for (const RegisteredTool* t : f.server->tools().list()) {
    // Iterative walk over the schema: every string has maxLength (or an enum), every array
    // maxItems. echo's text is exempt: it returns what it gets, bounded by the message size.
    std::vector<std::pair<std::string, const Json*>> todo{{t->def.name, &t->def.input_schema}};
    while (!todo.empty()) {
      auto [where, node] = todo.back();
      todo.pop_back();
      if (!node->is_object()) continue;
      INFO(where);
      Json type = node->value("type", Json());
      auto has = [&](const char* k) { return type == k || (type.is_array() && std::find(type.begin(), type.end(), k) != type.end()); };
      if (has("string") && !node->contains("enum") && where != "echo/text") {
        ++strings;
        CHECK(node->contains("maxLength"));
      }
      if (has("array")) CHECK(node->contains("maxItems"));
      for (const auto& [k, v] : node->items()) {
        if (k == "properties")
          for (const auto& [p, s] : v.items()) todo.push_back({where + "/" + p, &s});
        else if (k == "items" || k == "additionalProperties")
          todo.push_back({where + "/" + k, &v});
        else if (k == "anyOf" || k == "oneOf" || k == "allOf")
          for (const auto& s : v) todo.push_back({where, &s});
      }
    }
  }
  CHECK(strings > 100);
}

TEST_CASE("errors: through the binary, bad input is named and the server keeps serving", "[errors][stdio]") {
  TempDir data;
  ChildProcess p({CONCIERGE_BINARY, "--data-dir", data.path.string(), "serve"});
  auto send = [&](const Json& m) { REQUIRE(p.write_line(m.dump())); };
  auto reply = [&](const Json& id) {
    for (;;) {
      auto line = p.read_line(20s);
      INFO(p.stderr_text());
      REQUIRE(line);
      Json j = Json::parse(*line, nullptr, false);
      if (j.is_object() && j.contains("id") && j["id"] == id) return j;
    }
  };
  send(Json{{"jsonrpc", "2.0"}, {"id", 0}, {"method", "initialize"},
            {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", "errors-test"}, {"version", "1"}}}}}});
  REQUIRE(reply(0).contains("result"));
  send(Json{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});

  const std::vector<Case> over_the_wire{
      {"calendar_list_events", {{"max_results", 0}}, "max_results: must be at least 1"},
      {"get_current_time", {{"time_zone", "Mars/Olympus"}}, "time_zone: unknown time zone 'Mars/Olympus'"},
      {"echo", {{"text", "x"}, {"bogus", true}}, "bogus: unknown argument (known: text)"},
      // Each of these two crashed or hung the process before: a 100 KB locale reached std::regex
      // (stack overflow), 300,000 repeated types were compared pairwise for uniqueItems.
      {"preferences_update", {{"locale", long_locale(100000)}}, "locale: must be at most 35 characters"},
      {"music_search", {{"query", "x"}, {"types", Json(std::vector<std::string>(300000, "track"))}}, "types: must have at most 4 items (got 300000)"},
  };
  int id = 1;
  for (const auto& k : over_the_wire) {
    INFO(k.tool << " " << k.args.dump().substr(0, 200));
    send(Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", {{"name", k.tool}, {"arguments", k.args}}}});
    Json r = reply(id++);
    REQUIRE(r.contains("result"));
    CHECK(r["result"].value("isError", false));
    CHECK_THAT(text_of(r), Catch::StartsWith(k.prefix));
  }
  send(Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", {{"name", "echo"}, {"arguments", {{"text", "still here"}}}}}});
  CHECK(text_of(reply(id)) == "still here");

  p.close_stdin();
  auto status = p.wait_exit(10s);
  REQUIRE(status);
  CHECK(status->exited);
  CHECK(status->code == 0);
}
