// The real binary on a data directory: what it stores survives a restart, every acknowledged
// call survives SIGKILL, and `concierge history export|purge` hand the person their data.
#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <thread>

#include "common/json.hpp"
#include "store/history.hpp"
#include "store/store.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

// `concierge --data-dir DIR serve` on pipes, spoken to line by line (2025-11-25 handshake).
class Stdio {
 public:
  explicit Stdio(const std::filesystem::path& dir, std::vector<std::string> flags = {})
      : proc_(serve_command(dir, std::move(flags))) {
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
  static std::vector<std::string> serve_command(const std::filesystem::path& dir, std::vector<std::string> flags) {
    std::vector<std::string> cmd{CONCIERGE_BINARY, "--log-level", "warn", "--data-dir", dir.string(), "serve"};
    cmd.insert(cmd.end(), flags.begin(), flags.end());
    return cmd;
  }
  ChildProcess proc_;
};

// Runs a command to completion; returns stdout.
std::string run_command(const std::vector<std::string>& argv) {
  ChildProcess p(argv);
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

// Runs `concierge ARGS...` to completion; returns stdout.
std::string run(std::vector<std::string> args) {
  args.insert(args.begin(), CONCIERGE_BINARY);
  return run_command(args);
}

// Bytes of every file under dir.
uintmax_t dir_bytes(const std::filesystem::path& dir) {
  uintmax_t n = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

// Rows of each demo domain's main tables, through SQLite.
std::map<std::string, int64_t> demo_rows(const std::filesystem::path& dir) {
  store::Store s(dir, test::database_url(dir));
  std::map<std::string, int64_t> out;
  for (const char* table : {"calendar_calendars", "calendar_events", "mail_messages", "mail_user_labels", "music_albums", "music_tracks",
                            "music_playlists", "video_videos", "video_playlists", "booking_event_types"})
    out[table] = s.read([&](sql::Database& db) { return db.execAndGet(std::string("SELECT COUNT(*) FROM ") + table).getInt64(); });
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
  store::Store store(dir, test::database_url(dir));
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
  std::ofstream(file) << "an older file, readable by all\n";
  ::chmod(file.c_str(), 0644);
  run({"--data-dir", dir.string(), "history", "export", "--output", file.string()});
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);  // the person's data: theirs alone, whatever was there
  auto fresh = tmp.path / "fresh.jsonl";
  run({"--data-dir", dir.string(), "history", "export", "-o", fresh.string()});
  REQUIRE(::stat(fresh.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::ifstream in(file);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == out);

  // Nothing is older than 2000-01-01; then everything goes.
  CHECK_THAT(run({"--data-dir", dir.string(), "history", "purge", "--before", "2000-01-01"}), Catch::Contains("purged 0"));
  CHECK_THAT(run({"--data-dir", dir.string(), "history", "purge"}), Catch::Contains("purged 5"));
  CHECK(run({"--data-dir", dir.string(), "history", "export"}).empty());
}

TEST_CASE("store: 30 calls of 3 MiB arguments grow the data directory by under 2 MiB, history says what was cut", "[store][process][limits]") {
  TempDir tmp;
  auto dir = tmp.path / "data";
  {
    Stdio s(dir);
    s.call(0, "echo", Json{{"text", "warm-up"}});
    s.stop();
  }
  const uintmax_t before = dir_bytes(dir);
  const std::string big(3 * 1024 * 1024, 'a');
  const size_t original = Json{{"text", big}}.dump().size();
  {
    Stdio s(dir);
    for (int i = 1; i <= 30; ++i) {
      Json r = s.call(i, "echo", Json{{"text", big}});
      REQUIRE(r.contains("result"));
      REQUIRE_FALSE(r["result"].value("isError", false));
    }
    Json history = s.read("h", "concierge://history");
    REQUIRE(history["calls"].size() >= 30);
    const Json& args = history["calls"][0]["arguments"];
    CHECK(args["truncated"] == true);
    CHECK(args["originalBytes"] == original);
    CHECK_THAT(args["prefix"].get<std::string>(), Catch::StartsWith(R"({"text":"aaaa)"));
    CHECK(args.dump().size() <= store::kHistoryArgumentsMax);
    s.stop();
  }
  const uintmax_t after = dir_bytes(dir);
  // Unbounded, this was 94 MB. Bound: 30 x 16 KiB of arguments plus SQLite's pages and indexes.
  INFO("data directory: " << before << " bytes before, " << after << " after");
  CHECK(after - before < 2 * 1024 * 1024);
}

TEST_CASE("store: --history-max-mb keeps the history under its cap, oldest calls removed first", "[store][process][limits]") {
  TempDir tmp;
  auto dir = tmp.path / "data";
  const std::string text(12 * 1024, 'x');
  {
    Stdio s(dir, {"--history-max-mb", "1"});
    for (int i = 0; i < 200; ++i) REQUIRE(s.call(i, "echo", Json{{"text", std::to_string(i) + "-" + text}}).contains("result"));
    s.stop();
  }
  std::istringstream lines(run({"--data-dir", dir.string(), "history", "export"}));
  std::vector<Json> rows;
  for (std::string l; std::getline(lines, l);)
    if (!l.empty()) rows.push_back(Json::parse(l));
  // 200 x 12 KiB is 2.4 MiB: about 70 calls fit in 1 MiB (the purge goes down to 90% of it).
  INFO(rows.size() << " calls kept");
  CHECK(rows.size() < 90);
  CHECK(rows.size() > 40);
  REQUIRE_FALSE(rows.empty());
  CHECK_THAT(rows.back()["arguments"]["text"].get<std::string>(), Catch::StartsWith("199-"));  // the newest stay
  const auto first_kept = std::stoi(rows.front()["arguments"]["text"].get<std::string>());
  CHECK(first_kept == 200 - static_cast<int>(rows.size()));  // what went is the oldest, contiguous
  CHECK(dir_bytes(dir) < 4 * 1024 * 1024);
}

TEST_CASE("store: four processes started at once on an empty data directory with --demo fill it exactly once", "[store][process][concurrent][postgres]") {
  TempDir tmp;
  // In the PostgreSQL pass: four instances as on four machines, a data directory each, one
  // database (the schema support/test_database.hpp gives `dir`).
  const bool pg = !test::postgres_url().empty();
  auto database = [&](const std::filesystem::path& d) {
    return pg ? std::vector<std::string>{"--database", test::database_url(d)} : std::vector<std::string>{};
  };
  // What one process alone puts in.
  auto alone = tmp.path / "alone";
  auto args = database(alone);
  args.insert(args.begin(), {"--data-dir", alone.string()});
  args.push_back("demo");
  run(args);
  const auto expected = demo_rows(alone);
  REQUIRE(expected.at("calendar_events") > 0);

  auto dir = tmp.path / "data";  // does not exist yet
  std::vector<std::unique_ptr<ChildProcess>> procs;
  for (int i = 0; i < 4; ++i) {
    std::vector<std::string> argv{CONCIERGE_BINARY, "--log-level", "warn", "--data-dir", pg ? dir.string() + "-" + std::to_string(i) : dir.string()};
    for (auto& a : database(dir)) argv.push_back(a);
    argv.insert(argv.end(), {"serve", "--demo"});
    procs.push_back(std::make_unique<ChildProcess>(argv));
  }
  const Json init{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
                  {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()}, {"clientInfo", {{"name", "race"}, {"version", "1"}}}}}};
  for (auto& p : procs) {
    REQUIRE(p->write_line(init.dump()));
    REQUIRE(p->write_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
    REQUIRE(p->write_line(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"calendar_list_events","arguments":{}}})"));
    p->close_stdin();
  }
  for (auto& p : procs) {
    bool listed = false;
    while (auto line = p->read_line(60s)) {
      Json j = Json::parse(*line, nullptr, false);
      if (j.is_object() && j.value("id", Json()) == 2) listed = j.contains("result") && !j["result"].value("isError", false);
    }
    auto st = p->wait_exit(30s);
    REQUIRE(st);
    INFO("stderr: " << p->stderr_text());
    CHECK(st->exited);
    CHECK(st->code == 0);
    CHECK(listed);
  }
  CHECK(demo_rows(dir) == expected);
}

TEST_CASE("store: four concurrent first starts agree on one token.key", "[store][process][concurrent][auth]") {
  TempDir tmp;
  auto dir = tmp.path / "data";
  std::vector<std::unique_ptr<ChildProcess>> procs;
  for (int i = 0; i < 4; ++i)
    procs.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/env", "-u", "CONCIERGE_TOKEN_KEY", CONCIERGE_BINARY, "--data-dir", dir.string(), "auth", "status"}));
  for (auto& p : procs) {
    p->close_stdin();
    while (p->read_line(30s)) {
    }
    auto st = p->wait_exit(30s);
    REQUIRE(st);
    INFO("stderr: " << p->stderr_text());
    CHECK(st->exited);
    CHECK(st->code == 0);  // none read an empty or partial key
  }
  struct stat st {};
  REQUIRE(::stat((dir / "token.key").c_str(), &st) == 0);
  CHECK(st.st_size == 32);
  CHECK((st.st_mode & 0777) == 0600);
  for (auto& e : std::filesystem::directory_iterator(dir))  // no temporary key left behind
    CHECK_FALSE(e.path().filename().string().starts_with("token.key."));
}

TEST_CASE("store: concierge tools opens no database and creates nothing", "[store][process][cli]") {
  TempDir home;
  std::string out = run_command({"/usr/bin/env", "-u", "CONCIERGE_DATA_DIR", "-u", "XDG_DATA_HOME", "-u", "XDG_CONFIG_HOME", "-u",
                                 "CONCIERGE_CONFIG", "HOME=" + home.path.string(), CONCIERGE_BINARY, "tools"});
  CHECK_THAT(out, Catch::Contains("calendar_list_events"));
  CHECK_THAT(out, Catch::Contains("preferences_update"));
  CHECK(std::filesystem::is_empty(home.path));
}
