#pragma once
// Tasks: a tools/call answered at once with a handle while the tool runs on the worker pool; the
// client polls the handle for the outcome. One store serves two wire dialects:
//
//  * 2026-07-28, the io.modelcontextprotocol/tasks extension (SEP-2663). The server decides per
//    call, and only for a request whose clientCapabilities declare the extension. The result is a
//    flat CreateTaskResult (resultType "task"); tasks/get returns the task with its inputRequests,
//    result or error inline; tasks/update answers inputRequests; tasks/cancel is an ack.
//  * 2025-11-25, the experimental tasks utility. The client asks per call (params.task). The
//    result is {task}; tasks/get and tasks/cancel return the Task; tasks/result blocks until the
//    task ends and returns the call's own result or error; tasks/list pages through the user's
//    tasks; notifications/tasks/status goes to the session on every change.
//
// Tasks belong to the user of the connection that created them: another user's task id is as
// unknown as a made-up one. Ids come from the CSPRNG (144 bits). A finished task stays
// retrievable for its ttl after it finishes; an unfinished one is cancelled and failed when its
// ttl from creation runs out, so a forgotten task can't hold a worker forever.
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/context.hpp"
#include "common/json.hpp"
#include "server/registry.hpp"
#include "server/thread_pool.hpp"

namespace concierge {

class Server;
class Responder;

enum class TaskStatus { Working, InputRequired, Completed, Failed, Cancelled };
std::string_view to_string(TaskStatus s);
inline bool terminal(TaskStatus s) { return s >= TaskStatus::Completed; }

inline constexpr const char* kTasksExtension = "io.modelcontextprotocol/tasks";
inline constexpr const char* kMetaRelatedTask = "io.modelcontextprotocol/related-task";

class TaskManager {
 public:
  // Task bodies run on `pool` (the server's workers); methods are bound on `server`.
  TaskManager(Server& server, ThreadPool& pool) : server_(server), pool_(pool) {}
  TaskManager(const TaskManager&) = delete;
  TaskManager& operator=(const TaskManager&) = delete;

  // tools/call, before the handler runs: the CreateTaskResult when this call becomes a task as a
  // whole, nullopt to run it in the request. Throws the refusals: a Required tool the client
  // can't run as a task (-32021 in 2026-07-28, -32601 in 2025-11-25), or params.task on a tool
  // that forbids tasks (-32601, 2025-11-25).
  std::optional<Json> call_tool(const RegisteredTool& tool, const Json& arguments, const Json& task, RequestContext& ctx);
  // tools/call, after a defers_task handler returned ToolResult::deferred: the CreateTaskResult
  // when `rest` becomes a task, nullopt to run it in the request.
  std::optional<Json> defer(const RegisteredTool& tool, std::function<ToolResult(RequestContext&)> rest, RequestContext& ctx);

  // Whether the client of this (2026-07-28) request declared the extension.
  static bool declared(const RequestContext& ctx);

  // Adds the task capabilities (both dialects; adapt_capabilities keeps the one a revision has)
  // when some tool supports tasks.
  void add_capabilities(Json& caps) const;
  void bind_methods();  // on the Server, once
  // Shutdown: every unfinished task is cancelled, and tasks/result waiters are answered.
  void cancel_all();
  size_t size();  // tasks held (tests)

 private:
  struct Task;
  using Body = std::function<Json(RequestContext&)>;  // returns the CallToolResult

  // Creates the task and queues its body: the CreateTaskResult for ctx's revision. With too many
  // tasks unfinished: nullopt when the call may run in the request instead, else -32603.
  std::optional<Json> start(RequestContext& ctx, int64_t ttl_ms, Body body, bool may_run_inline);
  void run(const std::shared_ptr<Task>& t, RequestContext& ctx, const Body& body);
  // Moves t to a terminal state and tells whoever waits; false if it already was in one.
  bool settle(const std::shared_ptr<Task>& t, TaskStatus status, Json result, Json error, std::string message);
  // A status change of a 2025-11-25 task: notifications/tasks/status to its session. Call
  // without m_ held.
  void notify(const std::shared_ptr<Task>& t, const Json& task_json);
  // The caller's task named by params.taskId, or -32602.
  std::shared_ptr<Task> find(const Json& params, RequestContext& ctx);
  // Drops finished tasks past their ttl and stops unfinished ones past it. Call without m_ held.
  void sweep();
  Json render(const Task& t, Revision r, bool detailed) const;  // m_ held
  void gate(RequestContext& ctx) const;  // the era/capability checks of every tasks/* method

  // What a task body's ctx.input() does (see RequestContext::input_hook_).
  std::map<std::string, Json> park(const std::shared_ptr<Task>& t, std::vector<InputRequest> requests);
  std::map<std::string, Json> ask_related(const std::shared_ptr<Task>& t, RequestContext& ctx,
                                          std::vector<InputRequest> requests);

  // The methods.
  Json get(const Json& params, RequestContext& ctx);
  Json update(const Json& params, RequestContext& ctx);
  Json cancel(const Json& params, RequestContext& ctx);
  Json list(const Json& params, RequestContext& ctx);
  void result(const Json& params, std::shared_ptr<Responder> r);
  // Answers a tasks/result waiter for a finished task.
  void answer(const Task& t, const std::shared_ptr<Responder>& r) const;

  Server& server_;
  ThreadPool& pool_;
  mutable std::mutex m_;
  std::condition_variable cv_;  // a task's inputs answered, or a task cancelled
  std::unordered_map<std::string, std::shared_ptr<Task>> tasks_;
  uint64_t next_seq_ = 1;  // creation order, for tasks/list cursors
};

}  // namespace concierge
