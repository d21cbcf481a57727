// Catch2 main: server logs go to a capture sink (tests can assert on them) instead of stdout.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "support/log_capture.hpp"

namespace concierge::test {
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_sink;

std::vector<std::string> captured_logs() { return log_sink->last_formatted(); }
}  // namespace concierge::test

int main(int argc, char* argv[]) {
  // Hermetic: no test (nor a binary one starts) reads the developer's configuration file.
  ::setenv("CONCIERGE_CONFIG", "/nonexistent/concierge-tests/config.json", 1);
  concierge::test::log_sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096);
  auto logger = std::make_shared<spdlog::logger>("test", concierge::test::log_sink);
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
  return Catch::Session().run(argc, argv);
}
