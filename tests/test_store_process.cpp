// The real binary on a data directory: what it stores survives a restart, every acknowledged
// call survives SIGKILL, and `concierge history export|purge` hand the person their data.
#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "server/json.hpp"
#include "store/history.hpp"
#include "store/store.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

// `concierge --data-dir DIR serve` on pipes, spoken to line by line (2025-11-25 handshake).
class Stdio {
 public:
  explicit Stdio(const std::filesystem::path& dir)
      : proc_({CONCIERGE_BINARY, "--log-level", "warn", "--data-dir", dir.string(), "serve"}) {
    Json init = request("init", "initialize",
                        Json{{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()},
                             {"clientInfo", {{"name", "store-test"}, {"version", "2.0"}}}});
    REQUIRE(init.contains("result"));
    REQUIRE(proc_.write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  }
  Json request(const Json& id, const std::string& method, Json params) {
    REQUIRE(proc_.write_line(Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}.dump()));
    for (;;) {
      auto line = proc_.read_line(10s);
      if (!line) FAIL("no reply to " << method << "; stderr:\n" << proc_.stderr_text());
      Json j = Json::parse(*line, nullptr, false);
      if (j.is_object() && j.contains("id") && j["id"] == id) return j;
    }
  }
  Json call(const Json& id, const std::string& tool, Json args) {
    return request(id, "tools/call", Json{{"name", tool}, {"arguments", std::move(args)}});
  }
  Json read(const Json& id, const std::string& uri) {
    Json r = request(id, "resources/read", Json{{"uri", uri}});
    REQUIRE(r.contains("result"));
    return Json::parse(r["result"]["contents"][0]["text"].get<std::string>());
  }
  void stop() {
    proc_.close_stdin();
    auto st = proc_.wait_exit(10s);
    REQUIRE(st);
    CHECK(st->exited);
    CHECK(st->code == 0);
  }
  ChildProcess& proc() { return proc_; }

 private:
  ChildProcess proc_;
};

// Runs `concierge ARGS...` to completion; returns stdout.
std::string run(std::vector<std::string> args) {
  args.insert(args.begin(), CONCIERGE_BINARY);
  ChildProcess p(args);
  p.close_stdin();
  std::string out;
  while (auto line = p.read_line(10s)) out += *line + "\n";
  auto st = p.wait_exit(10s);
  REQUIRE(st);
  INFO("stderr: " << p.stderr_text());
  REQUIRE(st->exited);
  REQUIRE(st->code == 0);
  return out;
}

}  // namespace

TEST_CASE("store: preferences and history survive a restart, the files are private", "[store][process]") {
  TempDir tmp;
  auto dir = tmp.path / "data";
  {
    Stdio s(dir);
    Json r = s.call(1, "preferences_update", Json{{"verbosity", "detailed"}, {"time_zone", "America/New_York"}});
    REQUIRE(r.contains("result"));
    REQUIRE_FALSE(r["result"].value("isError", false));
    for (int i = 0; i < 3; ++i) s.call(10 + i, "echo", Json{{"text", "before restart " + std::to_string(i)}});
    s.stop();
  }
  struct stat st {};
  REQUIRE(::stat((dir / "concierge.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);

  Stdio again(dir);
  Json prefs = again.read(2, "concierge://preferences");
  CHECK(prefs["verbosity"] == "detailed");
  CHECK(prefs["time_zone"] == "America/New_York");
  Json history = again.read(3, "concierge://history");
  REQUIRE(history["calls"].size() == 4);
  CHECK(history["calls"][0]["arguments"]["text"] == "before restart 2");
  CHECK(history["calls"][3]["tool"] == "preferences_update");
  CHECK(history["calls"][3]["client"]["name"] == "store-test");
  CHECK(history["calls"][3]["transport"] == "stdio");
  again.stop();
}

TEST_CASE("store: 500 acknowledged calls survive SIGKILL", "[store][process][crash]") {
  TempDir tmp;
  auto dir = tmp.path / "data";
  {
    Stdio s(dir);
    for (int i = 0; i < 500; ++i) {
      Json r = s.call(i, "echo", Json{{"text", "call " + std::to_string(i)}});
      REQUIRE(r.contains("result"));  // acknowledged
    }
    REQUIRE(s.proc().signal(SIGKILL));
    auto st = s.proc().wait_exit(10s);
    REQUIRE(st);
    CHECK(st->signal == SIGKILL);
  }
  store::Store store(dir);
  CHECK(store.integrity_check() == "ok");
  store::History history(store);
  CHECK(history.count("local") == 500);
  store::History::Query q;
  q.user = "local";
  q.limit = 1;
  CHECK(history.query(q).rows[0]["arguments"]["text"] == "call 499");
}

TEST_CASE("store: history export and purge from the command line", "[store][process][cli]") {
  TempDir tmp;
  auto dir = tmp.path / "data";
  {
    Stdio s(dir);
    for (int i = 0; i < 5; ++i) s.call(i, "echo", Json{{"text", "line " + std::to_string(i)}});
    s.stop();
  }
  std::string out = run({"--data-dir", dir.string(), "history", "export"});
  std::istringstream lines(out);
  std::vector<Json> rows;
  for (std::string l; std::getline(lines, l);)
    if (!l.empty()) rows.push_back(Json::parse(l));
  REQUIRE(rows.size() == 5);
  CHECK(rows[0]["arguments"]["text"] == "line 0");  // oldest first
  CHECK(rows[4]["arguments"]["text"] == "line 4");

  auto file = tmp.path / "export.jsonl";
  run({"--data-dir", dir.string(), "history", "export", "--output", file.string()});
  std::ifstream in(file);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == out);

  // Nothing is older than 2000-01-01; then everything goes.
  CHECK_THAT(run({"--data-dir", dir.string(), "history", "purge", "--before", "2000-01-01"}), Catch::Contains("purged 0"));
  CHECK_THAT(run({"--data-dir", dir.string(), "history", "purge"}), Catch::Contains("purged 5"));
  CHECK(run({"--data-dir", dir.string(), "history", "export"}).empty());
}
