// A tool added the way README's "Adding a tool" says, from this file alone: no shared header or
// list names it, yet the server lists it, calls it, filters it like the built-in tools, and the
// tests that count tools still pass with it there. Also: how registration derives `quick`, and
// the check the build runs (`concierge tools --check`).
#include <catch2/catch.hpp>

#include <mutex>
#include <set>

#include "support/app_fixture.hpp"
#include "support/tool_calls.hpp"
#include "tools/tool.hpp"

using namespace concierge;
using namespace concierge::test;

namespace concierge::tools {

namespace {
std::mutex notes_mu;
std::vector<std::string> notes;  // what scratch_note keeps, for the whole test run
}  // namespace

// The README's step 2. Its schemas would be schemas/scratch_note.{input,output}.json; the test
// binary has no schemas/ of its own, so they are given inline (ToolInfo::input_schema).
ToolDefinition scratch_note() {
  return define("scratch_note",
                {.title = "Scratch note",
                 .description = "Keeps a note for the rest of the run; returns how many are kept.",
                 .hints = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false},
                 .input_schema = Json::parse(R"({"type": "object", "additionalProperties": false, "required": ["text"],
                                                 "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 200,
                                                                         "description": "The note."}}})"),
                 .output_schema = Json::parse(R"({"type": "object", "required": ["notes"],
                                                  "properties": {"notes": {"type": "integer"}}})")},
                [](const Json& args, RequestContext&) {
                  std::lock_guard l(notes_mu);
                  notes.push_back(args["text"]);
                  return ToolResult::text("Kept.", Json{{"notes", notes.size()}});
                });
}

const ToolRegistrar registered{"", scratch_note};

}  // namespace concierge::tools

namespace {

std::set<std::string> names(const ToolRegistry& r) {
  std::set<std::string> out;
  for (auto* t : r.list()) out.insert(t->def.name);
  return out;
}

}  // namespace

TEST_CASE("a tool registered from its own file: listed, callable, filtered like the built-in ones", "[tool_registry]") {
  SECTION("listed beside the built-in tools, under every domain selection") {
    AppFixture f;
    CHECK(names(f.server->tools()).count("scratch_note"));
    CHECK(names(f.server->tools()).count("calendar_list_events"));
    AppFixture calendar_only(true, {}, {.domains = {"calendar"}});
    CHECK(names(calendar_only.server->tools()).count("scratch_note"));  // general: no domain to deselect
  }
  SECTION("callable: validated against its schema, its structured result checked") {
    AppFixture f;
    Client c(*f.server);
    c.initialize("2025-11-25");
    ToolCalls calls(c);
    int before = calls.ok("scratch_note", {{"text", "buy milk"}})["notes"];
    CHECK(calls.ok("scratch_note", {{"text", "call Ada"}})["notes"] == before + 1);
    CHECK_THAT(calls.error("scratch_note", {{"text", ""}}), Catch::StartsWith("text:"));
  }
  SECTION("--read-only leaves it out: it writes") {
    AppFixture f(true, {}, {.read_only = true});
    CHECK_FALSE(names(f.server->tools()).count("scratch_note"));
    CHECK(names(f.server->tools()).count("get_current_time"));
  }
  SECTION("without an App: it needs none, so it is there; the tools that need one are not") {
    ToolRegistry r;
    tools::register_builtin(r, nullptr);
    CHECK(names(r).count("scratch_note"));
    CHECK_FALSE(names(r).count("preferences_update"));
    size_t without_app = 0;
    for (auto& t : tools::registered_tools()) without_app += !t.needs_app;
    CHECK(r.list().size() == without_app);
  }
}

TEST_CASE("registration: domains from the registered tools, quick derived from where a domain is served", "[tool_registry]") {
  CHECK(tools::tool_domains() == std::vector<std::string>{"booking", "calendar", "mail", "music", "video"});
  ToolRegistry bad;
  CHECK_THROWS_WITH(tools::register_builtin(bad, nullptr, {.domains = {"fax"}}),
                    "unknown tool domain 'fax' (known: booking, calendar, mail, music, video)");

  AppFixture f;
  SECTION("local providers: every tool quick, none open-world") {
    ToolRegistry r;
    tools::register_builtin(r, &f.app);
    REQUIRE(r.list().size() == tools::registered_tools().size());
    for (auto* t : r.list()) {
      INFO(t->def.name);
      CHECK(t->def.quick);
      CHECK(t->def.hints.open_world == false);
    }
  }
  SECTION("a domain on an outside service: its tools open-world and on the worker pool, the rest quick") {
    ToolRegistry r;
    tools::register_builtin(r, &f.app, {.open_world = {"calendar", "music"}});
    int outside = 0;
    for (auto* t : r.list()) {
      INFO(t->def.name);
      const bool served_outside = t->def.name.rfind("calendar_", 0) == 0 || t->def.name.rfind("music_", 0) == 0;
      outside += served_outside;
      CHECK(t->def.quick == !served_outside);
      CHECK(t->def.hints.open_world == served_outside);
    }
    CHECK(outside >= 2);
  }
}

TEST_CASE("the build's check: every tool made with its input schema, every schema a tool's", "[tool_registry]") {
  AppFixture f;
  CHECK(tools::check_tools(f.app).empty());  // this binary's tools and schemas, scratch_note included

  // A tool whose input schema is missing, and a schema file left behind by a rename.
  std::vector<tools::ToolFactory> factories{
      {"", false, [](App*) { return tools::define("echo", {}, {}); }},
      {"mail", true, [](App*) -> ToolDefinition { return tools::define("mail_archive", {}, {}); }},
  };
  std::map<std::string_view, std::string_view> schemas{
      {"echo.input", "{}"}, {"mail_archve.input", "{}"}, {"mail_archve.output", "{}"}, {"shared_defs", "{}"}};
  auto problems = tools::check_tools(f.app, factories, schemas);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "a tool of domain mail can't be made: missing schema file schemas/mail_archive.input.json");
  CHECK(problems[1] == "schemas/mail_archve.input.json belongs to no tool (no registered tool is named mail_archve)");
  CHECK(problems[2] == "schemas/mail_archve.output.json belongs to no tool (no registered tool is named mail_archve)");
}
