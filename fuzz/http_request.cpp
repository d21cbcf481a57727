// The HTTP transport in-process: one HttpServer (Streamable HTTP, both eras, and legacy
// HTTP+SSE) on a loopback port with the real app behind it; each input is written as raw bytes
// on a new connection, which is then half-closed, and the reply read until the server closes it
// (or 1 s passes: an open SSE stream). Crashes anywhere in cpp-httplib's parsing, our framing,
// the session handling or dispatch surface here; what the server answers is not checked.
//
// A socket round trip per input costs far more than calling the header/body functions directly,
// but those are cpp-httplib's and our handlers together, with limits applied by the server
// object; only the whole path finds what falls between them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <thread>

#include "server/http.hpp"
#include "support/app_fixture.hpp"

using namespace concierge;
using namespace std::chrono_literals;

namespace {

struct Served {
  test::AppFixture app{true, [] {
                         ServerOptions o;
                         o.client_request_timeout = 100ms;
                         return o;
                       }()};
  HttpServer http{*app.server, [] {
                    HttpOptions o;
                    o.max_body_bytes = 64 * 1024;
                    o.heartbeat = 1s;  // an abandoned stream notices on its next write
                    o.read_timeout = 2s;
                    return o;
                  }()};
  int port = http.bind();
  std::thread runner{[this] { http.run(); }};
};

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Closed with a reset: a TIME_WAIT per input would use up the loopback's ephemeral ports.
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");  // the server is gone
    __builtin_trap();
  }
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Served* served = [] {
    spdlog::set_level(spdlog::level::off);
    auto* s = new Served;  // for the process: stopping it per input would cost more than the input
    static std::filesystem::path dir = s->app.dir.path;
    std::atexit([] { std::error_code ec; std::filesystem::remove_all(dir, ec); });
    return s;
  }();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  int fd = connect_to(served->port);
  for (size_t sent = 0; sent < size;) {
    ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may refuse early (413, 431) and close
    sent += size_t(n);
  }
  ::shutdown(fd, SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + 1s;
  char buf[16384];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, int(left)) <= 0) break;
    if (::recv(fd, buf, sizeof buf, 0) <= 0) break;
  }
  ::close(fd);
  return 0;
}
