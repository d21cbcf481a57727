// Hostile HTTP input against the real binary, `concierge serve --http 127.0.0.1:0` with its own
// limit flags: oversized chunked and compressed bodies, header floods, slow clients, connection
// and stream floods, replay buffers, sessions past the cap, dropped streams and listens. Each test
// checks the specific status and JSON-RPC error (naming the flag), that the process is still up,
// that the next normal call succeeds, and where memory is the point, the RSS before and after.
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <thread>

#include "support/harness.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::test::http;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAcceptBoth = "application/json, text/event-stream";

// A field of /proc/<pid>/status, in its unit (kB for VmRSS).
long proc_status(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  return -1;
}

// `concierge serve --http 127.0.0.1:0 <flags>` on a temporary data directory.
struct Served {
  TempDir tmp;
  std::unique_ptr<ChildProcess> proc;
  int port = 0;

  explicit Served(std::vector<std::string> flags) {
    std::vector<std::string> argv{"/usr/bin/env", "CONCIERGE_CONFIG=" + (tmp.path / "none.json").string(), CONCIERGE_BINARY,
                                  "--data-dir", (tmp.path / "data").string(), "serve", "--no-history", "--http", "127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    proc = std::make_unique<ChildProcess>(argv);
    // The port is in the "listening on" line; waiting on the exit doubles as the poll interval.
    auto deadline = Clock::now() + 20s;
    while (port == 0 && Clock::now() < deadline) {
      auto text = proc->stderr_text();
      if (auto at = text.find("listening on http://127.0.0.1:"); at != std::string::npos) {
        port = std::atoi(text.c_str() + at + std::strlen("listening on http://127.0.0.1:"));
        break;
      }
      if (proc->wait_exit(20ms)) break;
    }
    INFO(proc->stderr_text());
    REQUIRE(port > 0);
  }
  ~Served() {
    if (!proc) return;
    proc->signal(SIGTERM);
    auto status = proc->wait_exit(10s);
    INFO(proc->stderr_text());
    CHECK(status);
    if (status) CHECK((status->exited && status->code == 0));
  }
  long rss_kb() const { return proc_status(proc->pid(), "VmRSS"); }
  long threads() const { return proc_status(proc->pid(), "Threads"); }

  // The process is up and a normal session works: initialize (2025-03-26: a JSON reply) and ping.
  void check_serving() {
    INFO(proc->stderr_text());
    REQUIRE_FALSE(proc->wait_exit(0ms));
    std::string sid = open_session("2025-03-26");
    Reply ping = post(rpc::make_request(2, "ping", Json::object()), sid, "2025-03-26");
    INFO(ping.describe());
    CHECK(ping.status == 200);
    CHECK(ping.response().contains("result"));
  }
  Reply post(const Json& msg, const std::string& session = "", const std::string& version = "", const std::string& path = "/mcp") {
    Request r;
    r.path = path;
    r.body = msg.dump();
    r.headers = {{"Content-Type", "application/json"}, {"Accept", kAcceptBoth}};
    if (!session.empty()) r.headers.emplace("Mcp-Session-Id", session);
    if (!version.empty()) r.headers.emplace("MCP-Protocol-Version", version);
    return request(port, r, 20);
  }
  std::string open_session(const std::string& version) {
    Reply init = post(rpc::make_request(1, "initialize",
                                        Json{{"protocolVersion", version},
                                             {"capabilities", Json::object()},
                                             {"clientInfo", {{"name", "limits-test"}, {"version", "1"}}}}));
    INFO(init.describe());
    REQUIRE(init.status == 200);
    REQUIRE(init.response().contains("result"));
    std::string sid = init.header("Mcp-Session-Id");
    REQUIRE_FALSE(sid.empty());
    Reply note = post(rpc::make_notification("notifications/initialized", nullptr), sid, version);
    REQUIRE(note.status == 202);
    return sid;
  }
  // A count from /healthz (sessions, connections, streams); -1 when it was not answered.
  long health(const std::string& key) {
    Request r;
    r.method = "GET";
    r.path = "/healthz";
    Reply h = request(port, r);
    Json j = h.status == 200 ? h.json() : Json();
    return j.is_object() && j.contains(key) ? j[key].get<long>() : -1;
  }
  // Waits (bounded) until /healthz reports `key` == value; each request is the poll interval.
  bool health_reaches(const std::string& key, long value, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (health(key) == value) return true;
      proc->wait_exit(50ms);
    }
    return false;
  }
};

// The refusal's JSON-RPC error names the limit's flag.
void check_refusal(const std::string& body, const std::string& flag) {
  INFO(body);
  Json j = Json::parse(body, nullptr, false);
  REQUIRE(j.is_object());
  REQUIRE(j.contains("error"));
  CHECK(j["error"]["message"].get<std::string>().find(flag) != std::string::npos);
  CHECK(j["error"]["data"].value("flag", "") == flag);
}

// A raw exchange answered `status` with a refusal naming `flag`.
void check_refused(RawHttp& raw, int status, const std::string& flag) {
  INFO(raw.describe());
  REQUIRE(raw.wait_head(10s));
  CHECK(raw.status() == status);
  raw.wait_end(5s);
  check_refusal(raw.body(), flag);
}

// Under ASan or TSan the allocator holds freed memory (quarantine, shadow): RSS then says nothing
// about the server's own bounds, so they are asserted in the normal build only.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif

// RSS grew by less than `bound_kb` since `before_kb`.
void check_rss_bound(const Served& s, long before_kb, long bound_kb, const std::string& what) {
  long after = s.rss_kb();
  INFO("VmRSS " << before_kb << " kB -> " << after << " kB " << what << " (bound: +" << bound_kb / 1024 << " MiB)");
  if (kRssMeaningful) CHECK(after - before_kb < bound_kb);
}

std::vector<std::pair<std::string, std::string>> post_headers(std::vector<std::pair<std::string, std::string>> extra = {}) {
  std::vector<std::pair<std::string, std::string>> h{{"Content-Type", "application/json"}, {"Accept", kAcceptBoth}};
  h.insert(h.end(), extra.begin(), extra.end());
  return h;
}

// A plain TCP connection to the server (blocking), with a small receive buffer when asked.
int connect_raw(int port, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

std::string chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

// `head -c N /dev/zero | gzip`: N bytes of zeros, deflated (about a thousandth of N).
std::string gzip_zeros(size_t n) {
  std::string cmd = "head -c " + std::to_string(n) + " /dev/zero | gzip -c";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[65536];
  for (size_t k; (k = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, k);
  REQUIRE(::pclose(p) == 0);
  return out;
}

}  // namespace

TEST_CASE("http limits: a 64 MiB chunked body is cut at --max-body-bytes with 413", "[http][limits]") {
  Served s({"--max-body-bytes", "1048576"});
  long rss_before = s.rss_kb();
  RawHttp raw;
  REQUIRE(raw.start(s.port, "POST", "/mcp", post_headers({{"Transfer-Encoding", "chunked"}})));
  std::string piece = chunk(std::string(65536, 'x'));
  auto deadline = Clock::now() + 30s;
  std::string prefix = chunk(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":")");
  raw.send_all(prefix, deadline);
  for (int i = 0; i < 1024 && raw.send_all(piece, deadline, /*stop_on_response=*/true); ++i) {
  }
  check_refused(raw, 413, "--max-body-bytes");
  check_rss_bound(s, rss_before, 32 * 1024, "after a 64 MiB chunked body (the cap is 1 MiB)");
  s.check_serving();
}

TEST_CASE("http limits: a gzip bomb inflates only up to --max-body-bytes, other encodings are 415", "[http][limits]") {
  Served s({"--max-body-bytes", "1048576"});
  std::string bomb = gzip_zeros(200u << 20);  // 200 MiB inflated, about 200 KB sent
  INFO("gzip body " << bomb.size() << " bytes");
  REQUIRE(bomb.size() < 400'000);
  long rss_before = s.rss_kb();
  RawHttp raw;
  raw.start(s.port, "POST", "/mcp", post_headers({{"Content-Encoding", "gzip"}}), bomb, 20s);
  check_refused(raw, 413, "--max-body-bytes");
  check_rss_bound(s, rss_before, 32 * 1024, "after a gzip body inflating to 200 MiB (the cap is 1 MiB)");

  // A small gzip body inflates and is served.
  std::string ping = rpc::make_request(7, "ping", Json::object()).dump();
  FILE* p = ::popen(("printf '%s' '" + ping + "' | gzip -c > " + (s.tmp.path / "ping.gz").string()).c_str(), "r");
  REQUIRE(p);
  REQUIRE(::pclose(p) == 0);
  std::ifstream gz(s.tmp.path / "ping.gz", std::ios::binary);
  std::string small((std::istreambuf_iterator<char>(gz)), {});
  std::string sid = s.open_session("2025-03-26");
  RawHttp ok;
  ok.start(s.port, "POST", "/mcp",
           post_headers({{"Content-Encoding", "gzip"}, {"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", "2025-03-26"}}), small);
  {
    INFO(ok.describe());
    REQUIRE(ok.wait_end(10s));
    CHECK(ok.status() == 200);
    CHECK(ok.body().find("\"result\"") != std::string::npos);
  }

  RawHttp zstd;
  zstd.start(s.port, "POST", "/mcp", post_headers({{"Content-Encoding", "zstd"}}), "xx");
  {
    INFO(zstd.describe());
    REQUIRE(zstd.wait_end(10s));
    CHECK(zstd.status() == 415);
  }
  s.check_serving();
}

TEST_CASE("http limits: 130,000 header lines and an oversized head are 431", "[http][limits]") {
  Served s({});
  long rss_before = s.rss_kb();
  // The head as a client would send it, line after line, in one connection.
  auto send_head = [&](const std::string& head) {
    int fd = connect_raw(s.port);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    std::string got;
    size_t sent = 0;
    auto deadline = Clock::now() + 20s;
    while (Clock::now() < deadline && got.find("\r\n\r\n") == std::string::npos) {
      pollfd p{fd, short(POLLIN | (sent < head.size() ? POLLOUT : 0)), 0};
      if (::poll(&p, 1, 1000) <= 0) continue;
      if (p.revents & POLLIN) {
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, size_t(n));
      } else if (p.revents & POLLOUT) {
        ssize_t n = ::send(fd, head.data() + sent, head.size() - sent, MSG_NOSIGNAL);
        if (n > 0) sent += size_t(n);
        else if (errno != EAGAIN) break;
      }
    }
    // The rest of the answer (its body) until the server closes.
    for (auto end = Clock::now() + 5s; Clock::now() < end;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, size_t(n));
    }
    ::close(fd);
    return got;
  };
  std::string lines = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 130'000; ++i) lines += "X-" + std::to_string(i) + ": v\r\n";
  lines += "\r\n";
  std::string answer = send_head(lines);
  {
    INFO(answer.substr(0, 600));
    CHECK(answer.rfind("HTTP/1.1 431", 0) == 0);
    CHECK(answer.find("--max-headers") != std::string::npos);
  }
  std::string big = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 20; ++i) big += "X-Big-" + std::to_string(i) + ": " + std::string(4000, 'b') + "\r\n";
  big += "\r\n";
  answer = send_head(big);
  {
    INFO(answer.substr(0, 600));
    CHECK(answer.rfind("HTTP/1.1 431", 0) == 0);
    CHECK(answer.find("--max-header-bytes") != std::string::npos);
  }
  check_rss_bound(s, rss_before, 16 * 1024, "after 130,000 header lines (the head cap is 64 KiB)");
  s.check_serving();
}

TEST_CASE("http limits: a client trickling its request head is dropped at --header-timeout with 408", "[http][limits]") {
  Served s({"--header-timeout", "1"});
  // The request line, then one header byte every 200 ms: a per-read timeout never fires.
  int fd = connect_raw(s.port);
  auto t0 = Clock::now();
  std::string head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == ssize_t(head.size()));
  std::string got;
  while (Clock::now() - t0 < 15s) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {  // the server's answer or close ends the trickle
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, size_t(n));
      continue;
    }
    if (::send(fd, "v", 1, MSG_NOSIGNAL) != 1) break;
  }
  auto took = Clock::now() - t0;
  ::close(fd);
  INFO(got);
  INFO("dropped after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms (--header-timeout 1)");
  CHECK(got.rfind("HTTP/1.1 408", 0) == 0);
  CHECK(got.find("--header-timeout") != std::string::npos);
  CHECK(took < 6s);
  s.check_serving();
}

TEST_CASE("http limits: past --max-connections new streams and connections get 503 + Retry-After, short POSTs still succeed", "[http][limits]") {
  // 16 connections: SSE streams may take 14, two are kept for requests.
  Served s({"--max-connections", "16"});
  std::vector<RawHttp> streams(14);
  for (auto& st : streams) {
    REQUIRE(st.start(s.port, "GET", "/sse", {{"Accept", "text/event-stream"}}));
    INFO(st.describe());
    REQUIRE(st.wait_head(10s));
    REQUIRE(st.status() == 200);
    REQUIRE(st.next_event(10s));
  }
  RawHttp extra;
  REQUIRE(extra.start(s.port, "GET", "/sse", {{"Accept", "text/event-stream"}}));
  {
    INFO(extra.describe());
    REQUIRE(extra.wait_end(10s));
    CHECK(extra.status() == 503);
    CHECK(extra.header("Retry-After") == "5");
    check_refusal(extra.body(), "--max-connections");
  }
  // The kept connections serve requests while every stream stays open.
  for (int i = 0; i < 5; ++i) s.check_serving();

  // Two silent connections (within --header-timeout) take the last slots: the next is refused.
  REQUIRE(s.health("connections") == 14 + 1);  // the streams and this /healthz
  std::vector<int> idle{connect_raw(s.port), connect_raw(s.port)};
  RawHttp refused;
  // The server counts a connection when a thread takes it up: until both silent ones are
  // counted, a request may still get in (bounded retries).
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    refused = RawHttp();
    REQUIRE(refused.start(s.port, "POST", "/mcp", post_headers(), "{}"));
    REQUIRE(refused.wait_end(10s));
    if (refused.status() == 503) break;
  }
  {
    INFO(refused.describe());
    CHECK(refused.status() == 503);
    CHECK(refused.header("Retry-After") == "1");
    check_refusal(refused.body(), "--max-connections");
  }
  for (int fd : idle) ::close(fd);
  // Once they are gone, a short POST succeeds with every stream still open.
  CHECK(s.health_reaches("connections", 14 + 1, 10s));  // the streams and this /healthz
  s.check_serving();
  int open = 0;
  for (auto& st : streams) open += st.still_open();
  CHECK(open == 14);
}

TEST_CASE("http limits: a flooded /sse stream stays within --max-replay-bytes, and POST /messages after it closed is 404", "[http][limits]") {
  Served s({"--max-replay-bytes", "1048576"});
  auto open_sse = [&](RawHttp& st) {
    REQUIRE(st.start(s.port, "GET", "/sse", {{"Accept", "text/event-stream"}}));
    REQUIRE(st.wait_head(10s));
    auto endpoint = st.next_event(10s);
    REQUIRE(endpoint);
    REQUIRE(endpoint->event == "endpoint");
    return *endpoint->data;
  };
  auto init_legacy = [&](const std::string& path) {
    Reply r = s.post(rpc::make_request(1, "initialize",
                                       Json{{"protocolVersion", "2024-11-05"},
                                            {"capabilities", Json::object()},
                                            {"clientInfo", {{"name", "t"}, {"version", "1"}}}}),
                     "", "", path);
    REQUIRE(r.status == 202);
    REQUIRE(s.post(rpc::make_notification("notifications/initialized", nullptr), "", "", path).status == 202);
  };
  // 200 replies of about 256 KiB each (a resources/read of an unknown 128 KiB URI echoes it
  // twice) on a stream the client reads: written, then freed (they were all kept: +50 MB).
  std::string uri = "concierge://nothing/" + std::string(128 * 1024, 'u');
  long rss_before = s.rss_kb();
  {
    RawHttp st;
    std::string path = open_sse(st);
    init_legacy(path);
    REQUIRE(st.next_event(10s));  // the initialize reply
    for (int i = 0; i < 200; ++i) {
      REQUIRE(s.post(rpc::make_request(100 + i, "resources/read", Json{{"uri", uri}}), "", "", path).status == 202);
      auto e = st.next_event(10s);
      REQUIRE(e);
      REQUIRE(e->data->size() > 256 * 1024);
    }
    check_rss_bound(s, rss_before, 32 * 1024, "after 200 replies of 256 KiB read");
  }
  {
    // The same flood on a stream the client doesn't read: the stream is closed rather than kept
    // growing, and its session ends with it.
    RawHttp st;
    std::string path = open_sse(st);
    init_legacy(path);
    int refused_at = -1;
    for (int i = 0; i < 400 && refused_at < 0; ++i) {
      Reply r = s.post(rpc::make_request(1000 + i, "resources/read", Json{{"uri", uri}}), "", "", path);
      if (r.status == 404) refused_at = i;
      else REQUIRE(r.status == 202);
    }
    check_rss_bound(s, rss_before, 48 * 1024, "after up to 400 unread replies of 256 KiB (100 MiB unbounded)");
    INFO("POST /messages refused after " << refused_at << " unread replies");
    if (refused_at < 0) {
      // Socket buffers took it all: the client leaves instead, and the session goes with it.
      st.close();
      auto deadline = Clock::now() + 10s;
      Reply r;
      do {
        r = s.post(rpc::make_request(999, "ping", Json::object()), "", "", path);
      } while (r.status == 202 && Clock::now() < deadline && !s.proc->wait_exit(50ms));
      INFO(r.describe());
      CHECK(r.status == 404);
    }
  }
  {
    // A client that closes its /sse stream: POST /messages for it is 404.
    RawHttp st;
    std::string path = open_sse(st);
    init_legacy(path);
    st.close();
    auto deadline = Clock::now() + 10s;
    Reply r;
    do {
      r = s.post(rpc::make_request(2, "ping", Json::object()), "", "", path);
    } while (r.status == 202 && Clock::now() < deadline && !s.proc->wait_exit(50ms));
    INFO(r.describe());
    CHECK(r.status == 404);
  }
  s.check_serving();
}

TEST_CASE("http limits: a 2025-11-25 session whose stream was reset mid-reply expires", "[http][limits][session]") {
  Served s({"--session-idle-seconds", "1", "--max-body-bytes", "16777216"});
  std::string sid = s.open_session("2025-11-25");
  REQUIRE(s.health("sessions") == 1);
  // A reply of about 12 MB (an unknown 6 MB URI, echoed twice) to a client with a tiny receive
  // window: the server is mid-reply when the client resets the connection.
  int fd = connect_raw(s.port, 4096);
  std::string body = rpc::make_request(5, "resources/read", Json{{"uri", "concierge://nothing/" + std::string(6 << 20, 'r')}}).dump();
  std::string head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: " + std::string(kAcceptBoth) +
                     "\r\nMcp-Session-Id: " + sid + "\r\nMCP-Protocol-Version: 2025-11-25\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n";
  std::string all = head + body;
  for (size_t sent = 0; sent < all.size();) {
    ssize_t n = ::send(fd, all.data() + sent, all.size() - sent, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    sent += size_t(n);
  }
  char first[1024];
  pollfd p{fd, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 10000) == 1);
  REQUIRE(::recv(fd, first, sizeof first, 0) > 0);  // the reply has begun
  linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(fd);  // RST

  CHECK(s.health_reaches("sessions", 0, 10s));
  Reply after = s.post(rpc::make_request(6, "ping", Json::object()), sid, "2025-11-25");
  INFO(after.describe());
  CHECK(after.status == 404);
  s.check_serving();
}

TEST_CASE("http limits: past --max-sessions the least recently used idle session is evicted, streaming ones are kept", "[http][limits][session]") {
  Served s({"--max-sessions", "3"});
  std::vector<std::string> sids;
  for (int i = 0; i < 3; ++i) sids.push_back(s.open_session("2025-03-26"));
  auto ping = [&](const std::string& sid) {
    return s.post(rpc::make_request(9, "ping", Json::object()), sid, "2025-03-26").status;
  };
  CHECK(ping(sids[0]) == 200);  // sids[1] is now the least recently used
  sids.push_back(s.open_session("2025-03-26"));
  CHECK(s.health("sessions") == 3);
  CHECK(ping(sids[1]) == 404);
  CHECK(ping(sids[0]) == 200);
  CHECK(ping(sids[2]) == 200);
  CHECK(ping(sids[3]) == 200);

  // Every session streaming: none can be evicted, a new one is refused.
  std::vector<RawHttp> streams(3);
  for (int i = 0; i < 3; ++i) {
    auto& st = streams[i];
    std::string sid = sids[i == 0 ? 0 : i + 1];
    REQUIRE(st.start(s.port, "GET", "/mcp", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", "2025-03-26"}}));
    INFO(st.describe());
    REQUIRE(st.wait_head(10s));
    REQUIRE(st.status() == 200);
  }
  Reply refused = s.post(rpc::make_request(1, "initialize",
                                           Json{{"protocolVersion", "2025-03-26"},
                                                {"capabilities", Json::object()},
                                                {"clientInfo", {{"name", "t"}, {"version", "1"}}}}));
  {
    INFO(refused.describe());
    CHECK(refused.status == 503);
    CHECK(refused.header("Retry-After") == "5");
    check_refusal(refused.body, "--max-sessions");
  }
  for (auto& st : streams) st.close();
  // Once a stream is gone its session is evictable again.
  auto deadline = Clock::now() + 10s;
  int status = 0;
  while (Clock::now() < deadline) {
    Reply r = s.post(rpc::make_request(1, "initialize",
                                       Json{{"protocolVersion", "2025-03-26"},
                                            {"capabilities", Json::object()},
                                            {"clientInfo", {{"name", "t"}, {"version", "1"}}}}));
    status = r.status;
    if (status == 200) break;
    s.proc->wait_exit(50ms);
  }
  CHECK(status == 200);
  s.check_serving();
}

TEST_CASE("http limits: dropped subscriptions/listen requests are unsubscribed and their threads exit", "[http][limits][listen]") {
  Served s({"--worker-idle-seconds", "0.5"});
  s.check_serving();
  long threads_before = s.threads(), rss_before = s.rss_kb();
  constexpr int kListens = 200;
  Json listen = rpc::make_request(1, "subscriptions/listen",
                                  Json{{"notifications", {{"toolsListChanged", true}}}, {"_meta", modern_meta()}});
  std::vector<RawHttp> listens(kListens);
  for (auto& l : listens) {
    REQUIRE(l.start(s.port, "POST", "/mcp",
                    post_headers({{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "subscriptions/listen"}}), listen.dump()));
  }
  int acknowledged = 0;
  for (auto& l : listens) {
    auto e = l.wait_head(10s) && l.status() == 200 ? l.next_event(10s) : std::nullopt;
    auto j = e ? e->json() : std::nullopt;
    acknowledged += j && j->value("method", "") == "notifications/subscriptions/acknowledged";
  }
  CHECK(acknowledged == kListens);
  long threads_peak = s.threads();
  CHECK(s.health("streams") == kListens);
  for (auto& l : listens) l.close();  // every client hangs up

  CHECK(s.health_reaches("streams", 0, 10s));
  auto deadline = Clock::now() + 15s;
  long threads_after = s.threads();
  while (threads_after > threads_before + 8 && Clock::now() < deadline) {
    s.proc->wait_exit(100ms);
    threads_after = s.threads();
  }
  long rss_after = s.rss_kb();
  INFO("threads " << threads_before << " -> " << threads_peak << " with " << kListens << " listens -> " << threads_after
                  << " after they hung up; VmRSS " << rss_before << " -> " << rss_after << " kB");
  CHECK(threads_peak >= threads_before + kListens / 2);
  CHECK(threads_after <= threads_before + 8);  // the base pool of 8 stays
  if (kRssMeaningful) CHECK(rss_after - rss_before < 32 * 1024);
  s.check_serving();
}
