// The store layer on its own: data directory resolution, migrations, the history journal's
// exactly-once recovery, pagination, retention, purge, and redaction.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "store/history.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_database.hpp"

using namespace concierge;
using namespace concierge::test;

namespace {

// Sets an environment variable for one scope and puts the old value back.
struct EnvVar {
  std::string name;
  std::optional<std::string> old;
  EnvVar(std::string n, const char* value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    if (value) ::setenv(name.c_str(), value, 1);
    else ::unsetenv(name.c_str());
  }
  ~EnvVar() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

store::CallRecord call(const std::string& tool, int64_t time_ms, Json args = Json::object()) {
  store::CallRecord r;
  r.time_ms = time_ms;
  r.user = "local";
  r.client_name = "unit";
  r.client_version = "1";
  r.protocol_version = "2025-11-25";
  r.transport = "test";
  r.tool = tool;
  r.arguments = std::move(args);
  r.summary = tool + " done";
  return r;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE("store: the data directory comes from the flag, then the environment, then XDG, then HOME", "[store][unit]") {
  EnvVar a("CONCIERGE_DATA_DIR", "/env/dir"), b("XDG_DATA_HOME", "/xdg"), c("HOME", "/home/ada");
  CHECK(store::resolve_data_dir("/flag/dir") == "/flag/dir");
  CHECK(store::resolve_data_dir("") == "/env/dir");
  EnvVar a2("CONCIERGE_DATA_DIR", nullptr);
  CHECK(store::resolve_data_dir("") == "/xdg/concierge");
  EnvVar b2("XDG_DATA_HOME", nullptr);
  CHECK(store::resolve_data_dir("") == "/home/ada/.local/share/concierge");
  EnvVar c2("HOME", nullptr);
  CHECK_THROWS(store::resolve_data_dir(""));
}

TEST_CASE("store: migrations run once, in order, a newer database is refused", "[store][unit]") {
  TempDir tmp;
  {
    store::Store s(tmp.path, test::database_url(tmp.path));
    CHECK(s.schema_version() == 8);
    CHECK(s.integrity_check() == "ok");
    CHECK(s.user_id("local") == s.user_id("local"));
    CHECK(s.user_id("ada") != s.user_id("local"));
  }
  {
    store::Store again(tmp.path, test::database_url(tmp.path));  // reopening applies nothing twice
    CHECK(again.schema_version() == 8);
    again.write([](sql::Database& db) {
      return db.exec(db.engine() == sql::Engine::postgres ? "UPDATE concierge_schema SET version = 99" : "PRAGMA user_version = 99");
    });
  }
  CHECK_THROWS_WITH(store::Store(tmp.path, test::database_url(tmp.path)), Catch::Contains("newer Concierge"));
}

TEST_CASE("history: a crash between the database commit and the journal's truncation inserts nothing twice", "[store][history][unit]") {
  TempDir tmp;
  {
    store::Store s(tmp.path, test::database_url(tmp.path));
    store::History h(s);
    for (int i = 0; i < 3; ++i) h.record(call("echo", now_ms()));
    CHECK(h.count("local") == 3);  // synced: all three are in the database
  }
  // What a crash can leave: journal lines the database already has (seq 1-3) and one it lacks.
  // Recent times: a 1970 row would be the retention pass's to delete, racing the counts below.
  {
    std::ofstream j(tmp.path / "history.journal", std::ios::app);
    for (int seq = 1; seq <= 4; ++seq)
      j << R"({"seq":)" << seq << R"(,"r":{"t":)" << now_ms() << R"(,"u":"local","cn":"c","cv":"1","pv":"2025-11-25","tr":"stdio","tool":"late","a":null,"o":"ok","d":5,"s":"x"}})"
        << "\n";
    j << R"({"seq":5,"r":{"t":1,"u":"loc)";  // a write cut short: never acknowledged
  }
  store::Store s(tmp.path, test::database_url(tmp.path));
  store::History h(s);
  CHECK(h.count("local") == 4);  // 3 + seq 4; seq 1-3 not again; the torn line skipped
  store::History::Query q;
  q.user = "local";
  q.tool = "late";
  CHECK(h.query(q).rows.size() == 1);
  h.record(call("echo", now_ms()));  // sequence numbers go on after the replayed ones
  CHECK(h.count("local") == 5);
}

TEST_CASE("history: pages, filters, days, purge and retention", "[store][history][unit]") {
  TempDir tmp;
  store::Store s(tmp.path, test::database_url(tmp.path));
  const int64_t day = 86'400'000, now = now_ms();
  {
    store::History h(s, {.retention_days = 0});
    for (int i = 0; i < 7; ++i) h.record(call(i % 2 ? "odd" : "even", now - i * day));
    h.record(call("ancient", now - 400 * day));

    store::History::Query q;
    q.user = "local";
    q.limit = 3;
    auto p1 = h.query(q);
    REQUIRE(p1.rows.size() == 3);
    REQUIRE(p1.next_before_id);
    q.before_id = p1.next_before_id;
    auto p2 = h.query(q);
    CHECK(p2.rows[0]["id"].get<int64_t>() < p1.rows[2]["id"].get<int64_t>());

    store::History::Query odd;
    odd.user = "local";
    odd.tool = "odd";
    CHECK(h.query(odd).rows.size() == 3);
    store::History::Query window;
    window.user = "local";
    window.from_ms = now - 2 * day - 1000;
    window.to_ms = now + 1000;
    CHECK(h.query(window).rows.size() == 3);
    CHECK(h.tools("local") == std::vector<std::string>{"ancient", "even", "odd"});
    auto days = h.days("local", "UTC");
    CHECK(days.size() == 8);
    CHECK(std::is_sorted(days.rbegin(), days.rend()));
    CHECK(h.tools("someone-else").empty());  // every query is per user

    CHECK(h.purge("local", now - 5 * day - 1000) == 2);  // the ancient one and day -6
    CHECK(h.count("local") == 6);
  }
  store::History kept(s, {.retention_days = 3});
  kept.sync();  // the first ingest round applies the retention
  for (int i = 0; i < 200 && kept.count("local") != 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(kept.count("local") == 3);  // today, -1 and -2 days
}

TEST_CASE("history: the summary is capped at 500 characters without cutting a character", "[store][history][unit]") {
  TempDir tmp;
  store::Store s(tmp.path, test::database_url(tmp.path));
  store::History h(s);
  auto r = call("echo", now_ms());
  r.summary.clear();
  for (int i = 0; i < 400; ++i) r.summary += "é";  // two bytes each
  r.summary += std::string(300, 'x');
  h.record(r);
  store::History::Query q;
  q.user = "local";
  std::string stored = h.query(q).rows[0]["summary"];
  CHECK(stored.size() == 2 * 400 + 99 + std::string("…").size());
  CHECK(stored.substr(stored.size() - std::string("…").size()) == "…");
}

TEST_CASE("redaction: names, nesting, arrays, schema marks, free text", "[store][redaction][unit]") {
  Json schema = Json::parse(R"({
    "type": "object",
    "properties": {
      "pin": {"type": "string", "writeOnly": true},
      "accounts": {"type": "array", "items": {"type": "object", "properties": {"passcode": {"type": "string", "format": "password"}}}},
      "note": {"type": "string"}
    }
  })");
  Json args = Json::parse(R"({
    "note": "keep me",
    "pin": "4321",
    "Authorization": "Bearer abc.def",
    "nested": {"client_secret": "s3cr3t-value", "deeper": [{"refresh_token": "rt-123456"}]},
    "accounts": [{"passcode": "pass-one", "name": "work"}],
    "API-Key": "k-999999"
  })");
  Json out = store::redact(args, schema);
  CHECK(out["note"] == "keep me");
  CHECK(out["pin"] == "[redacted]");
  CHECK(out["Authorization"] == "[redacted]");
  CHECK(out["nested"]["client_secret"] == "[redacted]");
  CHECK(out["nested"]["deeper"][0]["refresh_token"] == "[redacted]");
  CHECK(out["accounts"][0]["passcode"] == "[redacted]");
  CHECK(out["accounts"][0]["name"] == "work");
  CHECK(out["API-Key"] == "[redacted]");
  CHECK(args["pin"] == "4321");  // a copy: the call still gets its arguments

  std::string text = store::redact_text("pin 4321, token Bearer abc.def, rt-123456 and pass-one; keep me", args, schema);
  for (const char* secret : {"4321", "Bearer abc.def", "rt-123456", "pass-one"}) CHECK(text.find(secret) == std::string::npos);
  CHECK_THAT(text, Catch::Contains("keep me"));
}

TEST_CASE("preferences: unit checks of every key", "[store][preferences][unit]") {
  TempDir tmp;
  store::Store s(tmp.path, test::database_url(tmp.path));
  store::Preferences p(s);
  int changes = 0;
  p.on_change([&](const std::string&) { ++changes; });
  Json d = p.get("local");
  CHECK(d["working_hours"]["sat"].is_null());
  CHECK(d["default_meeting_minutes"] == 30);

  Json after = p.update("local", Json{{"working_hours", {{"sat", {{"start", "10:00"}, {"end", "12:00"}}}}}, {"locale", "fr-FR"}});
  CHECK(after["working_hours"]["sat"]["start"] == "10:00");
  CHECK(after["working_hours"]["mon"].is_null());  // the week is replaced whole
  CHECK(after["locale"] == "fr-FR");
  CHECK(changes == 1);
  p.update("local", Json{{"locale", "fr-FR"}});  // no change: no notification
  CHECK(changes == 1);
  CHECK(p.get("someone-else")["locale"] == d["locale"]);  // per user

  auto refused = [&](Json patch, const std::string& field) {
    INFO(patch.dump());
    try {
      p.update("local", patch);
      FAIL("accepted");
    } catch (const store::PreferenceError& e) {
      CHECK(e.field == field);
      CHECK_THAT(std::string(e.what()), Catch::StartsWith(field));
    }
  };
  refused(Json{{"time_zone", "Europe/Atlantis"}}, "time_zone");
  refused(Json{{"locale", "english please"}}, "locale");
  refused(Json{{"working_hours", {{"funday", nullptr}}}}, "working_hours");
  refused(Json{{"working_hours", {{"mon", {{"start", "9am"}, {"end", "17:00"}}}}}}, "working_hours.mon.start");
  refused(Json{{"default_meeting_minutes", 2}}, "default_meeting_minutes");
  refused(Json{{"default_music_device", 7}}, "default_music_device");
  refused(Json{{"units", "furlongs"}}, "units");
  refused(Json{{"colour", "red"}}, "colour");
  CHECK(p.get("local") == after);
  CHECK(changes == 1);
}

TEST_CASE("history: arguments past 16 KiB are kept as a marker with their original size, labels are capped", "[store][history][unit]") {
  TempDir tmp;
  store::Store s(tmp.path, test::database_url(tmp.path));
  store::History h(s);
  // Quotes double when escaped, and again inside the marker: it must still fit.
  for (const std::string& filler : {std::string(100'000, 'a'), std::string(40'000, '"')}) {
    Json args{{"text", filler}};
    const size_t original = args.dump().size();
    auto r = call("echo", now_ms(), args);
    r.client_name = std::string(5000, 'n');
    h.record(std::move(r));
    store::History::Query q;
    q.user = "local";
    q.limit = 1;
    Json row = h.query(q).rows[0];
    CHECK(row["arguments"]["truncated"] == true);
    CHECK(row["arguments"]["originalBytes"] == original);
    CHECK(row["arguments"].dump().size() <= store::kHistoryArgumentsMax);
    CHECK_THAT(row["arguments"]["prefix"].get<std::string>(), Catch::StartsWith(R"({"text":")"));
    CHECK(row["client"]["name"].get<std::string>().size() == store::kHistoryLabelMax - 1 + std::string("…").size());
  }
  h.record(call("echo", now_ms(), Json{{"text", std::string(1000, 'b')}}));  // under the cap: kept as it was
  store::History::Query q;
  q.user = "local";
  q.limit = 1;
  CHECK(h.query(q).rows[0]["arguments"]["text"] == std::string(1000, 'b'));
}

TEST_CASE("history: past max_mb the oldest calls of all users go first", "[store][history][unit]") {
  TempDir tmp;
  store::Store s(tmp.path, test::database_url(tmp.path));
  store::History h(s, {.retention_days = 0, .max_mb = 1});
  for (int i = 0; i < 200; ++i) h.record(call("echo", now_ms(), Json{{"text", std::to_string(i) + "-" + std::string(10'000, 'x')}}));
  const size_t kept = h.count("local");  // synced: ingested, and the cap applied in the same round
  INFO(kept << " calls kept");
  CHECK(kept < 105);  // 1 MiB / (10 KB + a row's overhead)
  CHECK(kept > 50);
  const auto bytes = s.read([](sql::Database& db) { return db.execAndGet("SELECT SUM(LENGTH(arguments) + LENGTH(summary)) FROM history").getInt64(); });
  CHECK(bytes <= 1024 * 1024);
  store::History::Query q;
  q.user = "local";
  q.limit = 1;
  CHECK_THAT(h.query(q).rows[0]["arguments"]["text"].get<std::string>(), Catch::StartsWith("199-"));
}

TEST_CASE("redaction and history: arguments nested 100000 levels deep are walked without recursion", "[store][redaction][unit]") {
  const std::string arrays = std::string(100'000, '[') + std::string(100'000, ']');
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += R"({"a":)";
  objects += R"({"token":"deep-secret-1"})" + std::string(100'000, '}');
  Json args = Json::parse(R"({"password":"hunter22","x":)" + arrays + R"(,"y":)" + objects + "}");
  Json out = store::redact(args, Json::object());
  CHECK(out["truncated"] == true);  // too deep to copy: not kept
  std::string text = store::redact_text("hunter22 and deep-secret-1 stay out", args, Json::object());
  CHECK(text.find("hunter22") == std::string::npos);
  CHECK(text.find("deep-secret-1") == std::string::npos);  // found at depth 100001 all the same

  TempDir tmp;
  store::Store s(tmp.path, test::database_url(tmp.path));
  store::History h(s);
  h.record(call("echo", now_ms(), std::move(args)));  // record() is bounded on its own, whatever it is given
  store::History::Query q;
  q.user = "local";
  CHECK(h.query(q).rows[0]["arguments"]["truncated"] == true);
}

TEST_CASE("store: an in-memory store touches no file", "[store][unit]") {
  TempDir tmp;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(tmp.path);  // where a journal without a directory would land
  {
    store::Store s{std::filesystem::path(), test::database_url({})};
    CHECK(s.path().empty());
    CHECK(s.schema_version() == 8);
    CHECK(s.read([](sql::Database& db) { return db.execAndGet("SELECT COUNT(*) FROM users").getInt(); }) == 0);
    store::History h(s);
    h.record(call("echo", now_ms()));
    CHECK(h.count("local") == 1);
  }
  std::filesystem::current_path(cwd);
  CHECK(std::filesystem::is_empty(tmp.path));
}

TEST_CASE("history: two processes on one data directory keep their journals apart, a dead one's is recovered", "[store][history][unit]") {
  TempDir tmp;
  for (int run = 0; run < 2; ++run) {
    store::Store s1(tmp.path, test::database_url(tmp.path)), s2(tmp.path, test::database_url(tmp.path));  // two connections, as two processes have
    store::History h1(s1), h2(s2);            // the second finds slot 0 held
    CHECK(std::filesystem::exists(tmp.path / "history-1.journal"));
    for (int i = 0; i < 50; ++i) {
      h1.record(call("one", now_ms()));
      h2.record(call("two", now_ms()));
    }
    h2.sync();
    CHECK(h1.count("local") == 100 * (run + 1));  // nothing replayed twice, nothing lost
  }
  // Slot 1's process died with a call journaled but not yet in the database (its seq is past
  // what slot 1 took in); a lone start takes slot 0 and recovers slot 1 on the way.
  {
    std::ofstream j(tmp.path / "history-1.journal", std::ios::app);
    j << R"({"seq":1000,"r":{"t":)" << now_ms() << R"(,"u":"local","cn":"c","cv":"1","pv":"2025-11-25","tr":"stdio","tool":"late","a":null,"o":"ok","d":5,"s":"x"}})"
      << "\n";
  }
  store::Store s(tmp.path, test::database_url(tmp.path));
  store::History h(s);
  CHECK(h.count("local") == 201);
  CHECK(std::filesystem::file_size(tmp.path / "history-1.journal") == 0);
}
