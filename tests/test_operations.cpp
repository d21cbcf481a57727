// Operating the server (issue 18): /metrics in the Prometheus text format, --log-format json with
// request context and traceparent, and /healthz and /readyz that check the store.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// `concierge ARGS...` serving HTTP; the ports it logs ("listening on ..." and "metrics on ...").
struct HttpBinary {
  std::unique_ptr<ChildProcess> proc;
  int port = 0, metrics_port = 0;

  explicit HttpBinary(std::vector<std::string> argv, bool want_metrics_port = false) {
    proc = std::make_unique<ChildProcess>(std::move(argv));
    std::regex listening(R"(listening on http://[^:]+:(\d+)/mcp)"), metrics(R"(metrics on http://[^ ]+:(\d+)/metrics)");
    for (auto deadline = Clock::now() + 30s; (!port || (want_metrics_port && !metrics_port)) && Clock::now() < deadline;) {
      std::smatch m;
      std::string text = proc->stderr_text();
      if (std::regex_search(text, m, listening)) port = std::stoi(m[1]);
      if (std::regex_search(text, m, metrics)) metrics_port = std::stoi(m[1]);
      if (!port || (want_metrics_port && !metrics_port)) REQUIRE_FALSE(proc->wait_exit(50ms));  // waits for output; fails if it died
    }
    INFO(proc->stderr_text());
    REQUIRE(port > 0);
  }
  ~HttpBinary() {
    if (!proc) return;
    proc->signal(SIGTERM);
    auto st = proc->wait_exit(15s);
    if (std::uncaught_exceptions() > 0) return;
    INFO("stderr:\n" << proc->stderr_text());
    CHECK(st);
    if (st) CHECK((st->exited && st->code == 0));
  }
};

// A 2026-07-28 request (stateless: everything in the request).
http::Reply modern(int port, const std::string& method, Json params, const std::string& name = "",
                   std::vector<std::pair<std::string, std::string>> extra = {}) {
  static int id = 100;
  params["_meta"] = Json{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"}, {"io.modelcontextprotocol/clientCapabilities", Json::object()}};
  http::Request r;
  r.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"},
               {"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", method}};
  if (!name.empty()) r.headers.emplace("Mcp-Name", name);
  for (auto& h : extra) r.headers.emplace(h.first, h.second);
  r.body = Json{{"jsonrpc", "2.0"}, {"id", ++id}, {"method", method}, {"params", params}}.dump();
  return http::request(port, r);
}

http::Reply call_tool(int port, const std::string& tool, Json args, std::vector<std::pair<std::string, std::string>> extra = {}) {
  return modern(port, "tools/call", Json{{"name", tool}, {"arguments", std::move(args)}}, tool, std::move(extra));
}

http::Reply get(int port, const std::string& path, std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::Request r;
  r.method = "GET";
  r.path = path;
  for (auto& h : headers) r.headers.emplace(h.first, h.second);
  return http::request(port, r);
}

// name{labels} -> value, from the text format (comments skipped).
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

double at(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

// `promtool check metrics` (Debian's prometheus package): exit status and what it said.
std::pair<int, std::string> promtool_check(const std::string& text) {
  ChildProcess p({"/usr/bin/promtool", "check", "metrics"});
  REQUIRE(p.write(text));
  p.close_stdin();
  std::string out;
  while (auto line = p.read_line(20s)) out += *line + "\n";
  auto st = p.wait_exit(20s);
  REQUIRE(st);
  return {st->exited ? st->code : -1, out + p.stderr_text()};
}

// `users add NAME`, then `keys create --user NAME`: the key it printed.
std::string make_key(const TempDir& data, const std::string& name) {
  {
    ChildProcess p({CONCIERGE_BINARY, "--data-dir", data.path.string(), "users", "add", name});
    p.close_stdin();
    auto st = p.wait_exit(20s);
    INFO(p.stderr_text());
    REQUIRE((st && st->exited && st->code == 0));
  }
  ChildProcess create({CONCIERGE_BINARY, "--data-dir", data.path.string(), "keys", "create", "--user", name});
  create.close_stdin();
  auto key = create.read_line(20s);
  REQUIRE(key);
  REQUIRE(create.wait_exit(20s));
  return *key;
}

}  // namespace

TEST_CASE("metrics: the text format, label escaping, histogram buckets and collectors", "[metrics][unit]") {
  metrics::Registry r;
  auto& c = r.counter("t_requests_total", "Requests.\nSecond line", {"method", "outcome"});
  c.inc({"tools/call", "ok"});
  c.inc({"tools/call", "ok"}, 2);
  c.inc({"a\"b\\c\nd", "x"});
  auto& h = r.histogram("t_seconds", "Durations.", {"tool"}, {0.1, 1});
  h.observe({"echo"}, 0.05);
  h.observe({"echo"}, 0.1);  // on a bound: counted in that bucket (le is <=)
  h.observe({"echo"}, 5);
  CHECK(&r.counter("t_requests_total", "ignored", {"method", "outcome"}) == &c);  // one family per name
  std::string text;
  {
    auto handle = r.add_collector([](std::vector<metrics::Sample>& out) {
      out.push_back({"t_open", "Open things.", "gauge", {{"service", "google"}}, 3});
      out.push_back({"t_open", "Open things.", "gauge", {{"service", "google"}}, 9});  // a duplicate series: dropped
    });
    text = r.render();
  }
  CHECK(text ==
        "# HELP t_open Open things.\n# TYPE t_open gauge\nt_open{service=\"google\"} 3\n"
        "# HELP t_requests_total Requests.\\nSecond line\n# TYPE t_requests_total counter\n"
        "t_requests_total{method=\"a\\\"b\\\\c\\nd\",outcome=\"x\"} 1\n"
        "t_requests_total{method=\"tools/call\",outcome=\"ok\"} 3\n"
        "# HELP t_seconds Durations.\n# TYPE t_seconds histogram\n"
        "t_seconds_bucket{tool=\"echo\",le=\"0.1\"} 2\nt_seconds_bucket{tool=\"echo\",le=\"1\"} 2\n"
        "t_seconds_bucket{tool=\"echo\",le=\"+Inf\"} 3\nt_seconds_sum{tool=\"echo\"} 5.15\nt_seconds_count{tool=\"echo\"} 3\n");
  // The collector's handle is gone: its gauge with it.
  CHECK(r.render().find("t_open") == std::string::npos);
  CHECK_THROWS_WITH(r.counter("bad-name", "", {}), Catch::Contains("bad-name"));
  CHECK_THROWS_WITH(r.counter("ok_total", "", {"__reserved"}), Catch::Contains("__reserved"));
  CHECK_THROWS_WITH(r.histogram("h2", "", {}, {1, 0.5}), Catch::Contains("ascend"));
}

TEST_CASE("log json: one object a line, context fields, client text escaped, traceparent checked", "[log][unit]") {
  logging::Context ctx{.request_id = "7", .user = "ada", .method = "tools/call", .tool = "echo\n\"x\"",
                       .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", .duration_ms = 2.5};
  std::string line = logging::json_line("2026-12-07T00:00:00.000Z", "info", "client said \x1b[31m\xff", &ctx);
  CHECK(line.find('\n') == std::string::npos);
  Json j = Json::parse(line);
  CHECK(j["time"] == "2026-12-07T00:00:00.000Z");
  CHECK(j["level"] == "info");
  CHECK(j["message"] == "client said \x1b[31m\xef\xbf\xbd");  // invalid UTF-8 replaced, control escaped by JSON
  CHECK(j["request_id"] == "7");
  CHECK(j["user"] == "ada");
  CHECK(j["tool"] == "echo\n\"x\"");
  CHECK(j["duration_ms"] == 2.5);
  CHECK(j["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK_FALSE(Json::parse(logging::json_line("t", "warn", "m", nullptr)).contains("user"));

  CHECK(logging::valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  CHECK(logging::valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"));
  CHECK_FALSE(logging::valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
  CHECK_FALSE(logging::valid_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  CHECK_FALSE(logging::valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  CHECK_FALSE(logging::valid_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  CHECK_FALSE(logging::valid_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  CHECK_FALSE(logging::valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"));
  CHECK_FALSE(logging::valid_traceparent(""));
}

TEST_CASE("metrics: a scrape after calls moved by exactly those calls, and promtool accepts it", "[metrics][process]") {
  TempDir data;
  HttpBinary s({CONCIERGE_BINARY, "--data-dir", data.path.string(), "serve", "--demo", "--http", "127.0.0.1:0", "--metrics-addr",
                "127.0.0.1:0"},
               /*want_metrics_port=*/true);
  auto scrape = [&](int port) {
    auto r = get(port, "/metrics");
    INFO(r.describe());
    REQUIRE(r.status == 200);
    CHECK_THAT(r.header("Content-Type"), Catch::StartsWith("text/plain; version=0.0.4"));
    return r.body;
  };
  const auto before = samples(scrape(s.port));
  for (int i = 0; i < 3; ++i) REQUIRE(call_tool(s.port, "calendar_list_events", Json::object()).status == 200);
  REQUIRE(call_tool(s.port, "calendar_list_events", Json{{"max_results", 0}}).status == 200);  // a tool error
  REQUIRE(call_tool(s.port, "no_such_tool", Json::object()).status == 400);                     // a protocol error
  REQUIRE(modern(s.port, "tools/list", Json::object()).status == 200);
  const std::string text = scrape(s.metrics_port);  // the same registry, on the listener of its own
  const auto after = samples(text);
  auto moved = [&](const std::string& key) { return at(after, key) - at(before, key); };
  CHECK(moved(R"(concierge_tool_calls_total{tool="calendar_list_events",outcome="ok"})") == 3);
  CHECK(moved(R"(concierge_tool_calls_total{tool="calendar_list_events",outcome="tool_error"})") == 1);
  CHECK(moved(R"(concierge_tool_calls_total{tool="unknown",outcome="protocol_error"})") == 1);
  CHECK(moved(R"(concierge_requests_total{method="tools/call",outcome="ok"})") == 3);
  CHECK(moved(R"(concierge_requests_total{method="tools/call",outcome="tool_error"})") == 1);
  CHECK(moved(R"(concierge_requests_total{method="tools/call",outcome="protocol_error"})") == 1);
  CHECK(moved(R"(concierge_requests_total{method="tools/list",outcome="ok"})") == 1);
  CHECK(moved(R"(concierge_tool_call_duration_seconds_count{tool="calendar_list_events"})") == 4);
  CHECK(text.find("no_such_tool") == std::string::npos);  // a client's name is no label value
  for (const char* gauge : {"concierge_http_sessions ", "concierge_http_streams ", "concierge_history_journal_backlog ",
                            "process_resident_memory_bytes ", "process_threads ", "process_open_fds "})
    CHECK_THAT(text, Catch::Contains(std::string("\n") + gauge));
  CHECK(at(after, "process_resident_memory_bytes") > 1e6);
  auto [code, said] = promtool_check(text);
  INFO(said << "\n" << text);
  CHECK(code == 0);
  // promtool is strict: a malformed exposition fails it (so the check above can fail).
  CHECK(promtool_check("# TYPE x counter\nx{a=\"unterminated} 1\n").first != 0);
}

TEST_CASE("metrics: behind --auth the scrape needs a key like the MCP endpoint", "[metrics][process][auth]") {
  TempDir data;
  const std::string key = make_key(data, "ops");
  HttpBinary s({CONCIERGE_BINARY, "--data-dir", data.path.string(), "serve", "--http", "127.0.0.1:0", "--auth", "keys"});
  auto anonymous = get(s.port, "/metrics");
  CHECK(anonymous.status == 401);
  CHECK_THAT(anonymous.header("WWW-Authenticate"), Catch::StartsWith("Bearer"));
  auto keyed = get(s.port, "/metrics", {{"Authorization", "Bearer " + key}});
  INFO(keyed.describe());
  CHECK(keyed.status == 200);
  CHECK_THAT(keyed.body, Catch::Contains("# TYPE concierge_http_sessions gauge"));
  CHECK(get(s.port, "/healthz").status == 200);  // probes need no token
  CHECK(get(s.port, "/readyz").status == 200);
}

TEST_CASE("log json: every stderr line is an object with the request's context, and no secret", "[log][process]") {
  TempDir data;
  const std::string key = make_key(data, "ada");
  const std::string wrong_key = "cgk_wrongwrongwrongSECRETwrongwrong", query_token = "QUERYSECRET123456", password = "hunter2-ARGSECRET";
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::string err;
  {
    // --log-format before the subcommand and --log-level after it: both are global.
    HttpBinary s({CONCIERGE_BINARY, "--log-format", "json", "--data-dir", data.path.string(), "serve", "--log-level", "debug", "--http",
                  "127.0.0.1:0", "--auth", "keys"});
    const std::pair<std::string, std::string> auth{"Authorization", "Bearer " + key};
    CHECK(call_tool(s.port, "echo", Json{{"text", "hello"}}, {auth, {"traceparent", traceparent}}).status == 200);
    CHECK(call_tool(s.port, "echo", Json{{"text", "x"}, {"password", password}}, {auth}).status == 200);
    CHECK(call_tool(s.port, "echo", Json{{"text", "x"}}, {{"Authorization", "Bearer " + wrong_key}}).status == 401);
    http::Request q;
    q.path = "/mcp?access_token=" + query_token;
    q.headers = {{"Content-Type", "application/json"}, auth};
    q.body = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
    CHECK(http::request(s.port, q).status == 400);
    // An invalid traceparent is ignored, not logged.
    CHECK(call_tool(s.port, "echo", Json{{"text", "y"}}, {auth, {"traceparent", "00-zz-bad"}}).status == 200);
    s.proc->signal(SIGTERM);
    REQUIRE(s.proc->wait_exit(15s));
    err = s.proc->stderr_text();
    s.proc.reset();
  }
  INFO(err);
  size_t lines = 0, traced = 0, calls = 0;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line); ++lines) {
    Json j = Json::parse(line, nullptr, false);
    INFO(line);
    REQUIRE(j.is_object());
    CHECK(j.contains("time"));
    CHECK(j.contains("level"));
    CHECK(j.contains("message"));
    if (j.value("tool", "") == "echo" && j.contains("duration_ms")) {
      ++calls;
      CHECK(j["user"] == "ada");
      CHECK(j["method"] == "tools/call");
      CHECK(j.contains("request_id"));
    }
    if (j.contains("traceparent")) {
      ++traced;
      CHECK(j["traceparent"] == traceparent);
      CHECK(j["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736");
    }
  }
  CHECK(lines >= 5);
  CHECK(calls == 3);   // one closing line per call: duration, user, method, tool
  CHECK(traced >= 1);  // the traced call's lines carry it; the bad one's don't
  for (const auto& secret : {key, wrong_key, query_token, password}) {
    INFO(secret);
    CHECK(err.find(secret) == std::string::npos);
  }
}

TEST_CASE("health: /healthz and /readyz answer 503 while the database cannot be written, 200 again after", "[health][process]") {
  // Root writes to a read-only file regardless: run the server as nobody then, from a copy of
  // the binary in a directory nobody can reach (the checkout may be under a private home).
  TempDir data, bin;
  const auto db = data.path / "concierge.db";
  std::vector<std::string> argv{CONCIERGE_BINARY, "--data-dir", data.path.string(), "serve", "--http", "127.0.0.1:0"};
  if (::geteuid() == 0) {
    REQUIRE(::chown(data.path.c_str(), 65534, 65534) == 0);
    std::filesystem::permissions(bin.path, std::filesystem::perms(0755));
    std::filesystem::copy_file(CONCIERGE_BINARY, bin.path / "concierge");
    argv[0] = (bin.path / "concierge").string();
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  }
  HttpBinary s(argv);
  auto health = [&] {
    auto r = get(s.port, "/healthz");
    Json body = Json::parse(r.body, nullptr, false);
    return std::pair{r.status, body};
  };
  // Answers are cached for a second (probes are unauthenticated): wait for the state wanted.
  auto await = [&](int status) {
    std::pair<int, Json> last;
    for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
      last = health();
      if (last.first == status) break;
      REQUIRE_FALSE(s.proc->wait_exit(100ms));
    }
    INFO(last.second.dump());
    REQUIRE(last.first == status);
    return last.second;
  };
  Json ok = await(200);
  CHECK(ok["status"] == "ok");
  CHECK(ok["checks"]["database"]["ok"] == true);
  CHECK(ok["checks"]["history_journal"]["ok"] == true);
  CHECK(ok["checks"]["breakers"]["ok"] == true);
  CHECK(get(s.port, "/readyz").status == 200);

  REQUIRE(::chmod(db.c_str(), 0444) == 0);
  Json down = await(503);
  CHECK(down["status"] == "unavailable");
  CHECK(down["checks"]["database"]["ok"] == false);
  CHECK_THAT(down["checks"]["database"]["error"].get<std::string>(), Catch::Contains("cannot be written: Permission denied"));
  CHECK(get(s.port, "/readyz").status == 503);

  REQUIRE(::chmod(db.c_str(), 0600) == 0);
  CHECK(await(200)["checks"]["database"]["ok"] == true);
  CHECK(get(s.port, "/readyz").status == 200);
}

TEST_CASE("flags: --http and --metrics-addr and --log-format refuse bad values naming the flag", "[metrics][log][process]") {
  TempDir data;
  auto refused = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{CONCIERGE_BINARY, "--data-dir", data.path.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return refusal_of(argv);
  };
  CHECK_THAT(refused({"serve", "--http", "80x80"}), Catch::Contains("--http takes [HOST:]PORT, got '80x80'"));
  CHECK_THAT(refused({"serve", "--http", "127.0.0.1:65536"}), Catch::Contains("--http takes [HOST:]PORT"));
  CHECK_THAT(refused({"serve", "--metrics-addr", ":9464"}), Catch::Contains("--metrics-addr takes [HOST:]PORT, got ':9464'"));
  CHECK_THAT(refused({"--log-format", "xml", "serve"}), Catch::Contains("--log-format"));
}
