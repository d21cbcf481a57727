#pragma once
// A real Dovecot IMAP server (Debian's dovecot-imapd) for tests: all its config and state in a
// temp dir, one passwd-file user with a plain password, maildir storage, plaintext LOGIN on
// 127.0.0.1 at a free port, logs in dovecot.log. Started in the foreground (-F) as a child,
// ready when the port accepts a connection, killed (and reaped) by stop() or the destructor.
// Runs as root (CI) or as the current user.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/temp_dir.hpp"

extern char** environ;

namespace concierge::test {

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

struct DovecotServer {
  TempDir dir;
  int port = 0;
  pid_t pid = -1;
  std::string user = "alice", password = "s3cret-Pa55";

  DovecotServer() {
    port = free_port();
    auto p = [&](const char* sub) { return (dir.path / sub).string(); };
    std::filesystem::create_directories(dir.path / "run");
    std::filesystem::create_directories(dir.path / "state");
    std::filesystem::create_directories(dir.path / "mail");
    std::filesystem::permissions(dir.path, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                               std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                               std::filesystem::perms::others_exec);
    // Dovecot never accesses mail as root: under root (CI) the mail belongs to nobody.
    bool root = ::getuid() == 0;
    uid_t uid = root ? 65534 : ::getuid();
    gid_t gid = root ? 65534 : ::getgid();
    std::string me;
    if (passwd* pw = ::getpwuid(::getuid())) me = pw->pw_name;
    if (root && ::chown(p("mail").c_str(), uid, gid) != 0) throw std::runtime_error("cannot chown the mail directory");
    {
      std::ofstream users(p("users"));
      users << user << ":{PLAIN}" << password << ":::::\n";
    }
    std::ofstream conf(p("dovecot.conf"));
    conf << "base_dir = " << p("run") << "\n"
         << "state_dir = " << p("state") << "\n"
         << "log_path = " << p("dovecot.log") << "\n"
         << "info_log_path = " << p("dovecot.log") << "\n"
         << "protocols = imap\n"
         << "listen = 127.0.0.1\n"
         << "ssl = no\n"
         << "disable_plaintext_auth = no\n"
         << "auth_mechanisms = plain login\n"
         << "auth_failure_delay = 0\n"  // a wrong password answers at once
         << "mail_location = maildir:" << p("mail") << "/%u\n"
         << "mail_uid = " << uid << "\nmail_gid = " << gid << "\n"
         // As root the package's dovecot/dovenull users do the unprivileged work; otherwise we do.
         << (root ? "" : "default_internal_user = " + me + "\ndefault_login_user = " + me + "\n")
         << "passdb {\n  driver = passwd-file\n  args = " << p("users") << "\n}\n"
         << "userdb {\n  driver = passwd-file\n  args = " << p("users") << "\n}\n"
         << "namespace inbox {\n  inbox = yes\n  separator = /\n"
         << "  mailbox Sent {\n    special_use = \\Sent\n    auto = subscribe\n  }\n"
         << "  mailbox Drafts {\n    special_use = \\Drafts\n    auto = subscribe\n  }\n"
         << "  mailbox Trash {\n    special_use = \\Trash\n    auto = subscribe\n  }\n"
         << "  mailbox Junk {\n    special_use = \\Junk\n    auto = subscribe\n  }\n"
         << "  mailbox Archive {\n    special_use = \\Archive\n    auto = subscribe\n  }\n"
         << "}\n"
         << "service imap-login {\n  chroot =\n  inet_listener imap {\n    address = 127.0.0.1\n    port = " << port
         << "\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\n"
         << "service anvil {\n  chroot =\n}\n"
         << "service stats {\n  inet_listener http {\n    port = 0\n  }\n}\n";
    conf.close();
    start();
  }
  ~DovecotServer() { stop(); }
  DovecotServer(const DovecotServer&) = delete;
  DovecotServer& operator=(const DovecotServer&) = delete;

  std::string url() const { return "imap://127.0.0.1:" + std::to_string(port); }
  std::string log() const {
    std::ifstream in(dir.path / "dovecot.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  void start() {
    std::string conf = (dir.path / "dovecot.conf").string();
    const char* argv[] = {"dovecot", "-F", "-c", conf.c_str(), nullptr};
    const char* bin = std::filesystem::exists("/usr/sbin/dovecot") ? "/usr/sbin/dovecot" : "dovecot";
    if (posix_spawnp(&pid, bin, nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0)
      throw std::runtime_error("cannot start dovecot (apt-get install dovecot-imapd)");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!accepts(port)) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        throw std::runtime_error("dovecot exited at start: " + log());
      }
      if (std::chrono::steady_clock::now() > deadline) {
        stop();
        throw std::runtime_error("dovecot did not listen in time: " + log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling connect, not a fixed wait
    }
  }

  // Stops the master (which takes its children down) and waits for it.
  void stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid = -1;
    // Children may outlive the master by a moment: wait until the port is closed.
    for (int i = 0; i < 500 && accepts(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
};

}  // namespace concierge::test
