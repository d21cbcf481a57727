#include "server/serve.hpp"

#include <csignal>
#include <cstdlib>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace concierge {

StopSignals::StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  int p[2];
  if (::pipe(p) != 0) throw std::runtime_error("cannot create the stop pipe");
  read_fd_ = p[0];
  write_fd_ = p[1];
  std::thread([set, fd = write_fd_] {
    int sig = 0;
    sigwait(&set, &sig);
    char b = 1;
    [[maybe_unused]] auto n = ::write(fd, &b, 1);
  }).detach();
}

void StopSignals::trigger() const {
  char b = 1;
  [[maybe_unused]] auto n = ::write(write_fd_, &b, 1);
}

int serve_http_until_stopped(Server& server, const HttpOptions& options, const StopSignals& stop,
                             const std::function<void(int port)>& on_bound) {
  HttpServer http(server, options);
  int bound;
  try {
    bound = http.bind();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  on_bound(bound);
  std::thread stopper([&http, fd = stop.fd()] {
    char b;
    [[maybe_unused]] auto n = ::read(fd, &b, 1);
    spdlog::info("stopping on signal");
    http.stop();
  });
  http.run();
  // run() returns after a signal (the stopper has finished) or a listener failure.
  stop.trigger();
  stopper.join();
  server.cancel_all();
  if (!server.wait_idle(std::chrono::seconds(1))) {
    spdlog::default_logger()->flush();
    std::_Exit(0);
  }
  return 0;
}

}  // namespace concierge
