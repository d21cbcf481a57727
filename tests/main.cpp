// Catch2 main: server logs go to a capture sink (tests can assert on them) instead of stdout.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#ifdef __SANITIZE_THREAD__
#include <httplib.h>

#include <thread>
#endif

#include "support/log_capture.hpp"

namespace concierge::test {
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_sink;

std::vector<std::string> captured_logs() { return log_sink->last_formatted(); }
}  // namespace concierge::test

#ifdef __SANITIZE_THREAD__
// cpp-httplib is an uninstrumented shared library: the client's function-local static regex (the
// response line's) is initialised behind a guard check compiled into that library, which TSan
// cannot see, so two test threads that first use it in turn are reported as racing on it. One
// request here, before any test starts a thread, initialises it where every thread inherits it.
static void initialise_httplib_statics() {
  httplib::Server s;
  s.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  int port = s.bind_to_any_port("127.0.0.1");
  std::thread t([&] { s.listen_after_bind(); });
  httplib::Client("127.0.0.1", port).Get("/");
  s.stop();
  t.join();
}
#endif

int main(int argc, char* argv[]) {
#ifdef __SANITIZE_THREAD__
  initialise_httplib_statics();
#endif
  // Hermetic: no test (nor a binary one starts) reads the developer's configuration file.
  ::setenv("CONCIERGE_CONFIG", "/nonexistent/concierge-tests/config.json", 1);
  concierge::test::log_sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096);
  auto logger = std::make_shared<spdlog::logger>("test", concierge::test::log_sink);
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
  return Catch::Session().run(argc, argv);
}
