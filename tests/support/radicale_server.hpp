#pragma once
// A real Radicale (Debian's `radicale` package) on 127.0.0.1 for the CalDAV tests: its config,
// users file and collections all in a temporary directory, a free port, ready once it accepts
// connections; killed (and its directory removed) at the end. Never the system service.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace concierge::test {

// A port nobody listens on right now: bind port 0, read it, close.
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("free_port: bind");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

class RadicaleServer {
 public:
  // Users: "name:password" lines (plain htpasswd).
  explicit RadicaleServer(const std::string& users = "alice:wonderland\n") {
    std::ofstream(dir_.path / "users") << users;
    start();
  }
  ~RadicaleServer() { stop(); }

  void start() {
    port_ = free_port();
    std::ofstream(dir_.path / "config") << "[server]\nhosts = 127.0.0.1:" << port_ << "\n"
                                        << "[auth]\ntype = htpasswd\nhtpasswd_filename = " << (dir_.path / "users").string()
                                        << "\nhtpasswd_encryption = plain\ndelay = 0\n"
                                        << "[rights]\ntype = owner_only\n"
                                        << "[storage]\nfilesystem_folder = " << (dir_.path / "collections").string() << "\n"
                                        << "[web]\ntype = none\n"
                                        << "[logging]\nlevel = warning\nmask_passwords = True\n";
    const char* exe = std::filesystem::exists("/usr/bin/radicale") ? "/usr/bin/radicale" : nullptr;
    if (!exe) throw std::runtime_error("Radicale is not installed (apt-get install radicale)");
    // Debian's own interpreter: the package's modules live in its dist-packages.
    proc_ = std::make_unique<ChildProcess>(std::vector<std::string>{"/usr/bin/python3", "-m", "radicale", "--config",
                                                                    (dir_.path / "config").string()});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!accepts(port_)) {
      if (auto st = proc_->wait_exit(std::chrono::milliseconds(50)))
        throw std::runtime_error("Radicale exited at start: " + proc_->stderr_text());
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("Radicale did not start: " + proc_->stderr_text());
    }
  }
  void stop() {
    if (!proc_) return;
    proc_->signal(SIGTERM);
    if (!proc_->wait_exit(std::chrono::seconds(5))) proc_->signal(SIGKILL);
    proc_.reset();  // kills and reaps whatever is left
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() { return proc_ ? proc_->stderr_text() : ""; }

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

}  // namespace concierge::test
