// Concierge over stdio from C++, on the server's own protocol library (concierge_protocol):
// the JSON-RPC message builders and parser (server/jsonrpc.hpp) and the revision names
// (server/revision.hpp). What a client needs beyond them, spawning the server and reading
// its lines, is plain POSIX here.
//
//   concierge_example_cpp_client BINARY [SERVER ARGS...]   (default SERVER ARGS: serve)
//
// initialize, notifications/initialized, tools/list (one line per tool), tools/call
// calendar_list_events; then EOF on the server's stdin and its exit status.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "server/jsonrpc.hpp"
#include "server/revision.hpp"

extern char** environ;

namespace {

using concierge::Json;
namespace rpc = concierge::rpc;

// The server as a child process: JSON-RPC lines to its stdin, from its stdout.
class StdioServer {
 public:
  explicit StdioServer(std::vector<std::string> argv) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    for (int fd : {in[0], in[1], out[0], out[1]}) posix_spawn_file_actions_addclose(&actions, fd);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int err = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    if (err != 0) {
      close(in[1]);
      close(out[0]);
      throw std::runtime_error("BINARY: cannot run '" + argv[0] + "': " + std::strerror(err));
    }
    to_ = fdopen(in[1], "w");
    from_ = fdopen(out[0], "r");
  }
  StdioServer(const StdioServer&) = delete;
  StdioServer& operator=(const StdioServer&) = delete;
  ~StdioServer() {
    if (pid_ > 0) finish();
  }

  void send(const Json& message) {
    std::string line = concierge::dump(message) + "\n";  // one message per line, no embedded newlines
    if (std::fwrite(line.data(), 1, line.size(), to_) != line.size() || std::fflush(to_) != 0)
      throw std::runtime_error("the server's stdin closed");
  }

  // The reply to request `id`, skipping notifications (log messages, progress) on the way.
  Json reply_to(const Json& id) {
    std::string line;
    for (int c; (c = std::fgetc(from_)) != EOF;) {
      if (c != '\n') { line += static_cast<char>(c); continue; }
      Json message, parse_error;
      if (!rpc::parse(line, message, parse_error)) throw std::runtime_error("the server sent a line that is not JSON");
      line.clear();
      auto kind = rpc::classify(message);
      if (kind.kind == rpc::Kind::Response && kind.id == id) return message;
    }
    throw std::runtime_error("the server closed its stdout");
  }

  Json request(const Json& id, const std::string& method, Json params) {
    send(rpc::make_request(id, method, std::move(params)));
    Json reply = reply_to(id);
    if (reply.contains("error"))
      throw std::runtime_error(method + ": error " + reply["error"].value("code", Json(0)).dump() + ": " +
                               reply["error"].value("message", ""));
    return reply["result"];
  }

  // EOF on stdin: the server finishes and exits. Returns its exit status.
  int finish() {
    std::fclose(to_);
    std::fclose(from_);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  std::FILE* to_ = nullptr;
  std::FILE* from_ = nullptr;
};

int run(std::vector<std::string> argv) {
  StdioServer server(std::move(argv));
  // The newest handshake revision the library knows (2026-07-28 is stateless, no initialize).
  const std::string version(concierge::to_string(concierge::kLatestLegacy));
  Json init = server.request(1, "initialize",
                             {{"protocolVersion", version},
                              {"capabilities", Json::object()},
                              {"clientInfo", {{"name", "concierge-example-cpp"}, {"version", "1.0.0"}}}});
  std::cout << "server: " << init["serverInfo"].value("name", "") << " " << init["serverInfo"].value("version", "")
            << " (protocol " << init.value("protocolVersion", "") << ")\n";
  server.send(rpc::make_notification("notifications/initialized", Json::object()));

  std::vector<std::string> names;
  Json cursor;
  int id = 2;
  do {
    Json params = cursor.is_string() ? Json{{"cursor", cursor}} : Json::object();
    Json page = server.request(id++, "tools/list", params);
    for (const Json& tool : page["tools"]) names.push_back(tool.value("name", ""));
    cursor = page.value("nextCursor", Json());
  } while (cursor.is_string());
  std::cout << "tools: " << names.size() << "\n";
  for (const auto& name : names) std::cout << "tool: " << name << "\n";

  Json result = server.request(id++, "tools/call", {{"name", "calendar_list_events"}, {"arguments", Json::object()}});
  const Json content = result.value("content", Json::array());
  std::string text = content.empty() ? "" : content[0].value("text", "");
  if (result.value("isError", false)) throw std::runtime_error("calendar_list_events: " + text);
  std::cout << "calendar_list_events: " << text << "\n";
  std::cout << "exit: " << server.finish() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " BINARY [SERVER ARGS...]  (default SERVER ARGS: serve)\n";
    return 2;
  }
  // A server that exits early closes the pipe: a write then fails (and says so) instead of
  // SIGPIPE ending the client silently.
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1) args.push_back("serve");
  try {
    return run(std::move(args));
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
