// The real `concierge serve` binary over stdio: framing, error replies for bad input, stdout
// discipline, shutdown, and the 2026-07-28 per-request flow. Each test spawns the binary.
#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace std::chrono_literals;

namespace {

const char* kInitialize =
    R"({"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25",)"
    R"("capabilities":{},"clientInfo":{"name":"stdio-test","version":"1.0"}}})";
const char* kInitialized = R"({"jsonrpc":"2.0","method":"notifications/initialized"})";

Json modern_meta(Json caps = Json::object(), const std::string& version = "2026-07-28") {
  return Json{{"io.modelcontextprotocol/protocolVersion", version},
              {"io.modelcontextprotocol/clientCapabilities", std::move(caps)},
              {"io.modelcontextprotocol/clientInfo", {{"name", "stdio-test"}, {"version", "1.0"}}}};
}

// A message the server writes on stdout is a JSON-RPC 2.0 object, or (batch reply) a non-empty
// array of them.
bool is_jsonrpc_message(const Json& j) {
  if (j.is_object()) return j.contains("jsonrpc") && j["jsonrpc"] == "2.0";
  if (!j.is_array() || j.empty()) return false;
  for (const auto& m : j)
    if (!m.is_object() || !m.contains("jsonrpc") || m["jsonrpc"] != "2.0") return false;
  return true;
}

// `concierge serve` on pipes.
class Concierge {
 public:
  explicit Concierge(std::vector<std::string> serve_args = {}) : proc_(argv(data_.path.string(), std::move(serve_args))) {}

  void send(const std::string& line) { REQUIRE(proc_.write_line(line)); }
  void send(const Json& message) { send(message.dump()); }

  // The next line on stdout that is not a notification, raw. Notifications are skipped (they are
  // still checked by check_stdout()).
  std::string next_raw(std::chrono::milliseconds timeout = 5s) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto line = proc_.read_line(std::max(left, 0ms));
      if (!line) {
        FAIL("no reply on stdout within " << timeout.count() << " ms; stderr:\n" << proc_.stderr_text());
      }
      Json j = Json::parse(*line, nullptr, false);
      if (j.is_object() && j.contains("method") && !j.contains("id")) continue;  // notification
      return *line;
    }
  }
  Json next(std::chrono::milliseconds timeout = 5s) {
    std::string raw = next_raw(timeout);
    Json j = Json::parse(raw, nullptr, false);
    INFO("stdout line: " << raw.substr(0, 500));
    REQUIRE_FALSE(j.is_discarded());
    return j;
  }
  Json request(const Json& id, const std::string& method, Json params = nullptr) {
    Json m{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
    if (!params.is_null()) m["params"] = std::move(params);
    send(m);
    Json reply = next();
    INFO("reply: " << reply.dump().substr(0, 500));
    CHECK(reply["id"] == id);
    return reply;
  }
  // The server still answers: a ping gets its empty result.
  void expect_alive(const std::string& after) {
    INFO("ping after: " << after);
    Json reply = request("alive-" + std::to_string(++pings_), "ping");
    CHECK(reply.contains("result"));
    CHECK(reply["result"] == Json::object());
  }
  void initialize(const std::string& version = "2025-11-25") {
    Json init = Json::parse(kInitialize);
    init["params"]["protocolVersion"] = version;
    send(init);
    Json r = next();
    REQUIRE(r["id"] == "init");
    REQUIRE(r.contains("result"));
    REQUIRE(r["result"]["protocolVersion"] == version);
    send(std::string(kInitialized));
  }

  // Ends the session with EOF on stdin: the process must exit 0 within 2 s; everything it wrote
  // on stdout must be JSON-RPC.
  void finish() {
    proc_.close_stdin();
    auto t0 = Clock::now();
    auto status = proc_.wait_exit(5s);
    auto elapsed = Clock::now() - t0;
    REQUIRE(status);
    CHECK(status->exited);
    CHECK(status->code == 0);
    CHECK(elapsed < 2s);
    proc_.stdout_reader().read_to_eof(2s);
    check_stdout();
  }
  void check_stdout() {
    const auto& lines = proc_.stdout_reader().history();
    for (const auto& line : lines) {
      Json j = Json::parse(line, nullptr, false);
      INFO("stdout line: " << line.substr(0, 300));
      CHECK(is_jsonrpc_message(j));
    }
    CHECK(proc_.stdout_reader().partial().empty());
  }

  ChildProcess& proc() { return proc_; }

 private:
  static std::vector<std::string> argv(const std::string& data_dir, std::vector<std::string> serve_args) {
    std::vector<std::string> a{CONCIERGE_BINARY, "--log-level", "debug", "--data-dir", data_dir, "serve"};
    for (auto& s : serve_args) a.push_back(std::move(s));
    return a;
  }
  TempDir data_;  // before proc_: the process's data directory outlives it
  ChildProcess proc_;
  int pings_ = 0;
};

int code_of(const Json& reply) { return reply.contains("error") ? reply["error"].value("code", 0) : 0; }
std::string message_of(const Json& reply) {
  return reply.contains("error") ? reply["error"].value("message", std::string()) : std::string();
}

// A request line padded with `pad` bytes of 'a' inside a JSON string, written in 1 MiB chunks.
void send_padded(Concierge& c, const Json& id, size_t pad) {
  std::string head = R"({"jsonrpc":"2.0","id":)" + id.dump() + R"(,"method":"ping","params":{"pad":")";
  std::string tail = "\"}}\n";
  REQUIRE(c.proc().write(head));
  const std::string chunk(1 << 20, 'a');
  for (size_t left = pad; left > 0;) {
    size_t n = std::min(left, chunk.size());
    REQUIRE(c.proc().write(std::string_view(chunk.data(), n)));
    left -= n;
  }
  REQUIRE(c.proc().write(tail));
}

}  // namespace

TEST_CASE("stdio process: bad input gets its specific error and the server keeps serving", "[stdio]") {
  Concierge c;

  // Before initialize: ping is allowed, other requests are refused (-32602 naming initialize).
  c.expect_alive("start");
  Json r = c.request(2, "tools/list");
  CHECK(code_of(r) == -32602);
  CHECK_THAT(message_of(r), Catch::Contains("initialize"));
  c.expect_alive("tools/list before initialize");

  c.initialize();
  c.expect_alive("initialize");

  // Malformed JSON -> -32700, id null.
  c.send(std::string(R"({"jsonrpc":"2.0","id":3,"method":"ping")"));
  r = c.next();
  CHECK(code_of(r) == -32700);
  CHECK(r.contains("id"));
  CHECK(r["id"].is_null());
  c.expect_alive("malformed JSON");

  // Valid JSON that is not an object -> -32600, id null.
  for (const char* line : {R"("hello")", "42"}) {
    INFO("line: " << line);
    c.send(std::string(line));
    r = c.next();
    CHECK(code_of(r) == -32600);
    CHECK(r.contains("id"));
    CHECK(r["id"].is_null());
    c.expect_alive(line);
  }

  // Missing "jsonrpc" -> -32600 (the id may be echoed or null).
  c.send(std::string(R"({"id":4,"method":"ping"})"));
  r = c.next();
  CHECK(code_of(r) == -32600);
  CHECK(r.contains("id"));
  CHECK((r["id"].is_null() || r["id"] == 4));
  c.expect_alive("missing jsonrpc");

  // Ids of a wrong type -> -32600, id null (such an id can't be echoed).
  for (const char* line :
       {R"({"jsonrpc":"2.0","id":true,"method":"ping"})", R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})",
        R"({"jsonrpc":"2.0","id":null,"method":"ping"})", R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})",
        R"({"jsonrpc":"2.0","id":[1],"method":"ping"})"}) {
    INFO("line: " << line);
    c.send(std::string(line));
    r = c.next();
    CHECK(code_of(r) == -32600);
    CHECK(r.contains("id"));
    CHECK(r["id"].is_null());
    c.expect_alive(line);
  }

  // Unknown method -> -32601 with the request's id.
  r = c.request("u-1", "no/such/method");
  CHECK(code_of(r) == -32601);
  c.expect_alive("unknown method");

  // A second initialize -> -32600, and the session keeps its negotiated version.
  {
    Json again = Json::parse(kInitialize);
    again["id"] = "init-2";
    again["params"]["protocolVersion"] = "2025-03-26";
    r = c.request("init-2", "initialize", again["params"]);
    CHECK(code_of(r) == -32600);
    c.expect_alive("second initialize");
  }

  // A batch when the negotiated version is not 2025-03-26 -> one -32600 with id null, and none of
  // its requests runs.
  c.send(std::string(R"([{"jsonrpc":"2.0","id":"b1","method":"ping"},{"jsonrpc":"2.0","id":"b2","method":"tools/list"}])"));
  r = c.next();
  REQUIRE(r.is_object());
  CHECK(code_of(r) == -32600);
  CHECK(r.contains("id"));
  CHECK(r["id"].is_null());
  c.expect_alive("batch under 2025-11-25");  // next() would have returned b1/b2 replies first

  // Invalid UTF-8 inside a JSON string -> -32700 mentioning UTF-8.
  c.send(std::string("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                     "\"arguments\":{\"text\":\"bad \xff\xfe bytes \xc3\x28\"}}}"));
  r = c.next();
  CHECK(code_of(r) == -32700);
  CHECK(r["id"].is_null());
  CHECK_THAT(message_of(r), Catch::Contains("UTF-8"));
  c.expect_alive("invalid UTF-8");

  // Schema-invalid tool arguments -> a result (not a protocol error) with isError, naming the field.
  r = c.request(6, "tools/call", Json{{"name", "echo"}, {"arguments", {{"text", 5}}}});
  REQUIRE(r.contains("result"));
  CHECK(r["result"].value("isError", false) == true);
  REQUIRE(r["result"]["content"].is_array());
  REQUIRE_FALSE(r["result"]["content"].empty());
  CHECK_THAT(r["result"]["content"][0].value("text", std::string()), Catch::Contains("text"));
  c.expect_alive("schema-invalid arguments");

  // A valid tool call still works.
  r = c.request(7, "tools/call", Json{{"name", "echo"}, {"arguments", {{"text", "still here"}}}});
  REQUIRE(r.contains("result"));
  CHECK(r["result"]["content"][0]["text"] == "still here");

  // A line over the default 16 MiB limit -> -32600, id null, naming the limit; the request in it
  // is not run, and the next line is served normally.
  send_padded(c, 99, 16 * 1024 * 1024 + 1024);
  r = c.next(20s);
  CHECK(code_of(r) == -32600);
  CHECK(r.contains("id"));
  CHECK(r["id"].is_null());
  CHECK_THAT(message_of(r), Catch::Contains("16777216") && Catch::Contains("limit"));
  c.expect_alive("over-long line");  // a reply to id 99 would show up here instead

  c.finish();
  // Logs went to stderr (the startup line), none of them to stdout.
  CHECK_THAT(c.proc().stderr_text(), Catch::Contains("serving MCP on stdio"));
  for (const auto& line : c.proc().stdout_reader().history()) CHECK(line.find("serving MCP") == std::string::npos);
}

TEST_CASE("stdio process: --max-message-bytes refuses a longer line and serves the next", "[stdio]") {
  Concierge c({"--max-message-bytes", "1024"});
  c.initialize();
  // Under the limit: served.
  send_padded(c, "small", 800);
  Json r = c.next();
  CHECK(r["id"] == "small");
  CHECK(r.contains("result"));
  // 2 KiB: refused.
  send_padded(c, "big", 2048);
  r = c.next();
  CHECK(code_of(r) == -32600);
  CHECK(r.contains("id"));
  CHECK(r["id"].is_null());
  CHECK_THAT(message_of(r), Catch::Contains("1024") && Catch::Contains("limit"));
  c.expect_alive("2 KiB line");

  // The boundary: exactly 1024 bytes is accepted, 1025 is not.
  auto line_of = [](const std::string& id, size_t total) {
    std::string head = R"({"jsonrpc":"2.0","id":")" + id + R"(","method":"ping","params":{"pad":")";
    std::string tail = "\"}}";
    return head + std::string(total - head.size() - tail.size(), 'a') + tail;
  };
  c.send(line_of("exact", 1024));
  r = c.next();
  CHECK(r["id"] == "exact");
  CHECK(r.contains("result"));
  c.send(line_of("over", 1025));
  r = c.next();
  CHECK(code_of(r) == -32600);
  CHECK(r["id"].is_null());
  c.expect_alive("1025-byte line");

  // An over-long line and a valid one in the same write: the second is served.
  REQUIRE(c.proc().write(line_of("big2", 2048) + "\n" + R"({"jsonrpc":"2.0","id":"after","method":"ping"})" + "\n"));
  r = c.next();
  CHECK(code_of(r) == -32600);
  r = c.next();
  CHECK(r["id"] == "after");
  CHECK(r.contains("result"));

  // An over-long line whose end (and the next request) comes in a later write.
  std::string big3 = line_of("big3", 4096);
  REQUIRE(c.proc().write(big3.substr(0, 3000)));
  r = c.next();  // refused as soon as the limit is passed
  CHECK(code_of(r) == -32600);
  REQUIRE(c.proc().write(big3.substr(3000) + "\n" + R"({"jsonrpc":"2.0","id":"after2","method":"ping"})" + "\n"));
  r = c.next();
  CHECK(r["id"] == "after2");
  CHECK(r.contains("result"));

  // CRLF line endings and blank lines.
  REQUIRE(c.proc().write("\n   \r\n" + std::string(R"({"jsonrpc":"2.0","id":"crlf","method":"ping"})") + "\r\n"));
  r = c.next();
  CHECK(r["id"] == "crlf");
  CHECK(r.contains("result"));
  c.finish();
}

TEST_CASE("stdio process: ids beyond 2^53 and string ids are echoed exactly", "[stdio]") {
  Concierge c;
  c.initialize();
  for (std::string id : {"9007199254740993", "-9007199254740993", "18446744073709551615", "0",
                         R"("9007199254740993")", R"("req-\"q\"-é-\\")"}) {
    INFO("id: " << id);
    c.send(R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":"ping"})");
    std::string raw = c.next_raw();
    INFO("reply: " << raw);
    std::string want = "\"id\":" + id;
    auto at = raw.find(want);
    REQUIRE(at != std::string::npos);
    char after = raw[at + want.size()];
    CHECK((after == ',' || after == '}'));
    Json j = Json::parse(raw);
    CHECK(j.contains("result"));
  }
  // An integer beyond 64 bits can't be echoed exactly: refused rather than rounded.
  c.send(std::string(R"({"jsonrpc":"2.0","id":18446744073709551616,"method":"ping"})"));
  Json r = c.next();
  CHECK(code_of(r) == -32600);
  CHECK(r["id"].is_null());
  c.finish();
}

TEST_CASE("stdio process: a batch under 2025-03-26 gets one array reply", "[stdio]") {
  Concierge c;
  c.initialize("2025-03-26");

  c.send(std::string(R"([{"jsonrpc":"2.0","id":"b1","method":"ping"},)"
                     R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"x","progress":1}},)"
                     R"({"jsonrpc":"2.0","id":"b2","method":"tools/list"}])"));
  std::string raw = c.next_raw();
  Json batch = Json::parse(raw);
  INFO("reply: " << raw.substr(0, 500));
  REQUIRE(batch.is_array());
  REQUIRE(batch.size() == 2);
  Json by_id = Json::object();
  for (const auto& m : batch) by_id[m["id"].get<std::string>()] = m;
  REQUIRE(by_id.contains("b1"));
  REQUIRE(by_id.contains("b2"));
  CHECK(by_id["b1"]["result"] == Json::object());
  CHECK(by_id["b2"]["result"]["tools"].is_array());
  c.expect_alive("batch");
  c.finish();
}

TEST_CASE("stdio process: EOF on stdin exits 0 within 2 s", "[stdio]") {
  Concierge c;
  c.initialize();
  c.expect_alive("initialize");
  c.finish();  // measures close(stdin) -> exit
}

TEST_CASE("stdio process: SIGTERM or SIGINT while idle exits 0 within 2 s", "[stdio]") {
  int sig = GENERATE(SIGTERM, SIGINT);
  INFO("signal " << sig);
  Concierge c;
  c.initialize();
  c.expect_alive("initialize");  // the signal thread is in place once the transport serves
  auto t0 = Clock::now();
  REQUIRE(c.proc().signal(sig));
  auto status = c.proc().wait_exit(5s);
  auto elapsed = Clock::now() - t0;
  REQUIRE(status);
  CHECK(status->exited);
  CHECK(status->code == 0);
  CHECK(elapsed < 2s);
  c.proc().stdout_reader().read_to_eof(2s);
  c.check_stdout();
}

TEST_CASE("stdio process: 2026-07-28 per-request flow over the real binary", "[stdio]") {
  Concierge c;

  Json r = c.request("d1", "server/discover", Json{{"_meta", modern_meta()}});
  REQUIRE(r.contains("result"));
  CHECK(r["result"]["resultType"] == "complete");
  REQUIRE(r["result"]["supportedVersions"].is_array());
  auto& versions = r["result"]["supportedVersions"];
  CHECK(std::find(versions.begin(), versions.end(), Json("2026-07-28")) != versions.end());

  r = c.request("e1", "tools/call", Json{{"name", "echo"}, {"arguments", {{"text", "modern"}}}, {"_meta", modern_meta()}});
  REQUIRE(r.contains("result"));
  CHECK(r["result"]["resultType"] == "complete");
  CHECK(r["result"]["content"][0]["text"] == "modern");
  REQUIRE(r["result"].contains("_meta"));
  CHECK(r["result"]["_meta"].contains("io.modelcontextprotocol/serverInfo"));
  CHECK(r["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "concierge");

  for (const char* method : {"server/discover", "tools/list"}) {
    INFO("method " << method);
    r = c.request(std::string("v-") + method, method, Json{{"_meta", modern_meta(Json::object(), "1900-01-01")}});
    CHECK(code_of(r) == -32022);
    REQUIRE(r["error"].contains("data"));
    const Json& data = r["error"]["data"];
    REQUIRE(data["supported"].is_array());
    CHECK(std::find(data["supported"].begin(), data["supported"].end(), Json("2026-07-28")) != data["supported"].end());
    CHECK(data["requested"] == "1900-01-01");
  }

  Json meta = modern_meta();
  meta.erase("io.modelcontextprotocol/clientCapabilities");
  r = c.request("nc", "tools/call", Json{{"name", "echo"}, {"arguments", {{"text", "x"}}}, {"_meta", meta}});
  CHECK(code_of(r) == -32602);
  CHECK_THAT(message_of(r), Catch::Contains("clientCapabilities"));

  c.expect_alive("modern requests");
  c.finish();
}

namespace {
// `{"a":` ... levels deep around a value: the shape an attacker nests to overflow a stack.
std::string deep_object(size_t levels) {
  std::string s;
  for (size_t i = 0; i < levels; ++i) s += R"({"a":)";
  s += "1";
  s.append(levels, '}');
  return s;
}
}  // namespace

TEST_CASE("stdio process: JSON nested 20,000 deep is refused in every place, the server keeps serving", "[stdio][limits]") {
  Concierge c;
  c.initialize();
  const std::string deep = deep_object(20000);
  const std::string deep_array = std::string(20000, '[') + std::string(20000, ']');
  // In a tool's arguments, in any params, as the whole message: -32700 naming the limit.
  for (const std::string& line :
       {R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x","x":)" + deep + "}}}",
        R"({"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":)" + deep_array + "}}", deep_array,
        R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"x":)" +
            deep + "}}}"}) {
    c.send(line);
    Json r = c.next();
    CHECK(code_of(r) == -32700);
    CHECK(r["id"].is_null());
    CHECK_THAT(message_of(r), Catch::Contains("nested deeper than 64 levels"));
    c.expect_alive("deep JSON");
  }
  // 60 levels inside a tool's arguments is within the limit and served.
  Json ok = c.request(4, "tools/call", Json::parse(R"({"name":"echo","arguments":{"text":"shallow enough","x":)" + deep_object(60) + "}}"));
  CHECK_FALSE(ok.contains("error"));
  c.finish();
}

TEST_CASE("stdio process: a batch inside a batch is refused, not executed", "[stdio][limits]") {
  Concierge c;
  c.initialize("2025-03-26");
  c.send(std::string(R"([{"jsonrpc":"2.0","id":"outer","method":"ping"},)"
                     R"([{"jsonrpc":"2.0","id":"inner","method":"ping"}]])"));
  std::string raw = c.next_raw();
  INFO("reply: " << raw.substr(0, 500));
  Json batch = Json::parse(raw);
  REQUIRE(batch.is_array());
  REQUIRE(batch.size() == 2);
  CHECK(batch.dump().find("inner") == std::string::npos);  // the nested request never ran
  int refused = 0, answered = 0;
  for (const auto& m : batch) {
    if (m.contains("error")) {
      CHECK(code_of(m) == -32600);
      CHECK_THAT(message_of(m), Catch::Contains("elements must be objects"));
      ++refused;
    } else if (m["id"] == "outer") {
      ++answered;
    }
  }
  CHECK(refused == 1);
  CHECK(answered == 1);
  c.expect_alive("nested batch");
  c.finish();
}
