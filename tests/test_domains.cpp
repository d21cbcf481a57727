// What every domain shares: --tools and --read-only choose the tools a server exposes, every
// domain tool takes `account` and declares its hints, `concierge demo` fills an empty store once.
#include <catch2/catch.hpp>
#include <set>

#include "support/app_fixture.hpp"
#include "support/process.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

std::set<std::string> names(AppFixture& f) {
  std::set<std::string> out;
  for (auto* t : f.server->tools().list()) out.insert(t->def.name);
  return out;
}

struct Run {
  int code;
  std::string out, err;
};
Run run(std::vector<std::string> args) {
  args.insert(args.begin(), CONCIERGE_BINARY);
  ChildProcess p(args);
  p.close_stdin();
  Run r;
  while (auto line = p.read_line(20s)) r.out += *line + "\n";
  auto st = p.wait_exit(20s);
  REQUIRE(st);
  REQUIRE(st->exited);
  r.code = st->code;
  r.err = p.stderr_text();
  return r;
}

}  // namespace

TEST_CASE("tool selection: domains and read-only", "[domains]") {
  SECTION("every domain by default; each domain tool names its domain and takes account") {
    AppFixture f;
    auto all = names(f);
    for (const auto& d : tools::tool_domains()) {
      INFO(d);
      // A domain whose tools have not landed yet simply has none; those that have, follow the rules.
      for (auto* t : f.server->tools().list()) {
        if (t->def.name.rfind(d + "_", 0) != 0) continue;
        INFO(t->def.name);
        CHECK(t->def.input_schema["properties"].contains("account"));
        CHECK(t->def.hints.read_only.has_value());
        CHECK(t->def.hints.open_world == false);  // local providers reach nothing outside
        if (t->def.hints.read_only == true) CHECK(t->def.output_schema.is_object());
      }
    }
    CHECK(all.count("calendar_create_event"));
    CHECK(all.count("booking_create"));
  }
  SECTION("--tools calendar: only the calendar's tools beside the general ones") {
    AppFixture f(true, {}, {.domains = {"calendar"}});
    std::set<std::string> general;  // as registered: a general tool added later is expected too
    for (auto& t : tools::registered_tools())
      if (t.domain.empty()) general.insert(t.make(&f.app).name);
    CHECK(general.count("echo"));
    for (auto& n : names(f)) CHECK((n.rfind("calendar_", 0) == 0 || general.count(n)));
    for (auto& n : general) CHECK(names(f).count(n));
    CHECK(names(f).count("calendar_find_free_time"));
    CHECK_FALSE(names(f).count("booking_create"));
  }
  SECTION("--read-only: nothing that writes") {
    AppFixture f(true, {}, {.read_only = true});
    for (auto* t : f.server->tools().list()) CHECK(t->def.hints.read_only == true);
    CHECK(names(f).count("calendar_list_events"));
    CHECK(names(f).count("booking_find_slots"));
    CHECK_FALSE(names(f).count("calendar_create_event"));
    CHECK_FALSE(names(f).count("preferences_update"));
  }
  SECTION("an unknown domain is refused") {
    Server s;
    tools::ToolSelection sel{.domains = {"calendar", "fax"}};
    CHECK_THROWS_WITH(tools::register_builtin(s.tools(), nullptr, sel), Catch::Contains("fax"));
  }
}

TEST_CASE("the binary: --tools, --read-only, demo", "[domains][process]") {
  TempDir tmp;
  auto dir = tmp.path.string();
  auto listed = run({"--data-dir", dir, "--tools", "calendar,booking", "--read-only", "tools"});
  REQUIRE(listed.code == 0);
  CHECK_THAT(listed.out, Catch::Contains("calendar_list_events") && Catch::Contains("booking_find_slots"));
  CHECK_THAT(listed.out, !Catch::Contains("calendar_create_event") && !Catch::Contains("booking_create"));
  auto bad = run({"--data-dir", dir, "--tools", "calendar,fax", "tools"});
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("fax"));

  auto first = run({"--data-dir", dir, "demo"});
  REQUIRE(first.code == 0);
  CHECK_THAT(first.out, Catch::Contains("calendar: demo data added") && Catch::Contains("booking: demo data added"));
  auto second = run({"--data-dir", dir, "demo"});
  CHECK_THAT(second.out, Catch::Contains("calendar: already has data, left alone"));
}
