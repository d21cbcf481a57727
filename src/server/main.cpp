// concierge: the command line.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <thread>
#include <unistd.h>

#include "server/core.hpp"
#include "server/stdio.hpp"
#include "tools/tool.hpp"

using namespace concierge;

namespace {

// stdout belongs to the protocol: every log line goes to stderr.
void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("concierge");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

std::unique_ptr<Server> make_server() {
  ServerOptions options;
  options.instructions =
      "Concierge manages the user's calendar, mail, music, video and bookings. Times are RFC 3339 with "
      "offset; ask before anything destructive.";
  auto server = std::make_unique<Server>(options);
  tools::register_builtin(server->tools());
  return server;
}

int serve(const StdioOptions& stdio_options) {
  // Signals are taken by one thread and turned into a byte on a pipe the transport polls, so
  // shutdown runs on the normal path rather than inside a handler.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts
  std::signal(SIGPIPE, SIG_IGN);
  int stop_pipe[2];
  if (::pipe(stop_pipe) != 0) return 1;
  std::thread([set, fd = stop_pipe[1]] {
    int sig = 0;
    sigwait(&set, &sig);
    char b = 1;
    [[maybe_unused]] auto n = ::write(fd, &b, 1);
  }).detach();

  auto server = make_server();
  spdlog::info("concierge {} serving MCP on stdio", CONCIERGE_VERSION);
  bool clean = serve_stdio(*server, STDIN_FILENO, STDOUT_FILENO, stop_pipe[0], stdio_options);
  if (!clean) {
    // A handler ignored cancellation: don't let it hold the process past the grace period.
    spdlog::default_logger()->flush();
    std::_Exit(0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Concierge: an MCP server for your calendar, mail, music, video and bookings", "concierge"};
  app.set_version_flag("--version", std::string("concierge ") + CONCIERGE_VERSION);
  app.require_subcommand(0, 1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "stderr log level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

  auto* serve_cmd = app.add_subcommand("serve", "Serve MCP (stdio by default)");
  StdioOptions stdio_options;
  serve_cmd->add_option("--max-message-bytes", stdio_options.max_message_bytes, "Largest message accepted on stdio")
      ->capture_default_str();
  auto* tools_cmd = app.add_subcommand("tools", "List the registered tools");

  CLI11_PARSE(app, argc, argv);
  setup_logging(log_level);

  if (*tools_cmd) {
    auto server = make_server();
    for (const auto* t : server->tools().list()) std::cout << t->def.name << "\t" << t->def.description << "\n";
    return 0;
  }
  if (*serve_cmd) return serve(stdio_options);
  std::cout << app.help();
  return 0;
}
