#include "server/tasks.hpp"

#include "server/invoke.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "common/log_text.hpp"
#include "server/core.hpp"
#include "server/params.hpp"
#include "server/request_state.hpp"

namespace concierge {

using namespace std::chrono_literals;
using SysClock = std::chrono::system_clock;
using MonoClock = std::chrono::steady_clock;

struct TaskManager::Task {
  std::string id, user;
  uint64_t seq = 0;
  Revision revision = kLatest;  // of the call that created it
  TaskStatus status = TaskStatus::Working;
  std::string message;  // statusMessage
  SysClock::time_point created, updated;
  MonoClock::time_point created_mono, finished_mono;
  int64_t ttl_ms = 0;
  int poll_ms = 0;
  Json result;  // the CallToolResult (completed)
  Json error;   // {code, message, data?} (failed)
  CancelToken cancel;
  std::shared_ptr<Session> session;  // 2025-11-25: where status notifications go

  // 2026-07-28 input: what the body waits for, by task-minted key, and answers it has not taken
  // yet. Every key ever used, so none is reused.
  std::map<std::string, Json> input_requests;
  std::map<std::string, Json> answers;
  std::set<std::string> keys_used;
  // 2025-11-25 input: server->client requests not yet answered (sent on tasks/result streams),
  // and the tasks/result requests waiting for the end.
  std::vector<Json> outbox;
  std::vector<std::shared_ptr<Responder>> waiters;
};

namespace {

std::string iso8601(SysClock::time_point tp) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char date[32], out[40];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(ms % 1000));
  return out;
}

Json required_extension() {
  return Json{{"requiredCapabilities", Json{{"extensions", Json{{kTasksExtension, Json::object()}}}}}};
}

// Where a 2026-07-28 task's progress and log messages go: nowhere. Its request's stream ended
// with the CreateTaskResult, and the extension defines no such notifications for tasks.
class NullSink : public Sink {
 public:
  void send(const Json&) override {}
};

// Where a 2025-11-25 task's progress and log messages go: the session's stream (the request's
// own ended with the CreateTaskResult), tagged with the task as that revision requires.
class RelatedTaskSink : public Sink {
 public:
  RelatedTaskSink(std::shared_ptr<Sink> inner, std::string task_id) : inner_(std::move(inner)), task_id_(std::move(task_id)) {}
  void send(const Json& m) override {
    if (!inner_) return;
    Json tagged = m;
    if (tagged.is_object() && tagged.contains("method")) {
      if (!tagged["params"].is_object()) tagged["params"] = Json::object();
      tagged["params"]["_meta"][kMetaRelatedTask] = Json{{"taskId", task_id_}};
    }
    inner_->send(tagged);
  }

 private:
  std::shared_ptr<Sink> inner_;
  std::string task_id_;
};

std::string encode_task_cursor(uint64_t seq) { return base64url_encode("t:" + std::to_string(seq)); }

uint64_t decode_task_cursor(const Json& params) {
  auto it = params.find("cursor");
  if (it == params.end() || it->is_null()) return 0;
  auto fail = [] { return rpc::invalid_params("Invalid cursor: pass the nextCursor of a previous page", Json{{"field", "cursor"}}); };
  if (!it->is_string()) throw fail();
  auto raw = base64url_decode(it->get<std::string>());
  if (!raw || raw->rfind("t:", 0) != 0 || raw->size() < 3 || raw->size() > 22) throw fail();
  uint64_t seq = 0;
  for (char c : raw->substr(2)) {
    if (c < '0' || c > '9') throw fail();
    seq = seq * 10 + static_cast<uint64_t>(c - '0');
  }
  return seq;
}

}  // namespace

std::string_view to_string(TaskStatus s) {
  switch (s) {
    case TaskStatus::Working: return "working";
    case TaskStatus::InputRequired: return "input_required";
    case TaskStatus::Completed: return "completed";
    case TaskStatus::Failed: return "failed";
    case TaskStatus::Cancelled: return "cancelled";
  }
  return "?";
}

bool TaskManager::declared(const RequestContext& ctx) {
  const Json& caps = ctx.client_capabilities();
  auto ext = caps.find("extensions");
  if (ext == caps.end() || !ext->is_object()) return false;
  auto it = ext->find(kTasksExtension);
  return it != ext->end() && it->is_object();
}

void TaskManager::add_capabilities(Json& caps) const {
  const auto& tools = server_.tools().list();
  bool any = std::any_of(tools.begin(), tools.end(), [](const RegisteredTool* t) { return t->def.task_support != TaskSupport::Forbidden; });
  if (!any) return;
  caps["tasks"] = Json{{"list", Json::object()},
                       {"cancel", Json::object()},
                       {"requests", Json{{"tools", Json{{"call", Json::object()}}}}}};
  caps["extensions"][kTasksExtension] = Json::object();
}

// ---- Creating and running -------------------------------------------------------------------

std::optional<Json> TaskManager::call_tool(const RegisteredTool& tool, const Json& args, const Json& task, RequestContext& ctx) {
  const TaskSupport support = tool.def.task_support;
  const std::string& name = tool.def.name;
  int64_t ttl = server_.options().task_ttl_ms;
  if (ctx.modern()) {
    // The server decides; a `task` param is not part of 2026-07-28 and is ignored.
    if (support == TaskSupport::Forbidden) return std::nullopt;
    if (!declared(ctx)) {
      if (support == TaskSupport::Required)
        throw rpc::Error(rpc::kMissingRequiredClientCapability,
                         "Tool " + name + " runs only as a task: declare the " + kTasksExtension +
                             " extension in the request's client capabilities",
                         required_extension());
      return std::nullopt;
    }
    if (tool.def.defers_task) return std::nullopt;  // the handler decides, with ToolResult::deferred
  } else {
    if (ctx.revision() != Revision::V2025_11_25) return std::nullopt;  // no tasks in this revision
    if (task.is_null()) {
      if (support == TaskSupport::Required)
        throw rpc::Error(rpc::kMethodNotFound, "Tool " + name + " must be called as a task: add params.task");
      return std::nullopt;
    }
    if (support == TaskSupport::Forbidden)
      throw rpc::Error(rpc::kMethodNotFound, "Tool " + name + " does not support task-augmented calls");
    if (!task.is_object()) throw rpc::invalid_params("Invalid parameter task: expected an object", Json{{"field", "task"}});
    // The requested retention, within our limit (a receiver may override it).
    if (auto asked = Fields(task, "task").opt<int64_t>("ttl"); asked && *asked > 0)
      ttl = std::min(*asked, server_.options().task_max_ttl_ms);
  }
  const RegisteredTool* t = &tool;  // registry entries live as long as the server
  Body body = [t, args](RequestContext& c) { return run_tool(*t, args, c); };
  // A 2026-07-28 Optional call may simply run here when we are busy; a 2025-11-25 client that
  // asked for a task, or a Required tool, gets an error instead.
  return start(ctx, ttl, std::move(body), ctx.modern() && support == TaskSupport::Optional);
}

std::optional<Json> TaskManager::defer(const RegisteredTool& tool, std::function<ToolResult(RequestContext&)> rest, RequestContext& ctx) {
  if (!ctx.modern() || ctx.is_detached() || !tool.def.defers_task || tool.def.task_support == TaskSupport::Forbidden || !declared(ctx))
    return std::nullopt;
  const RegisteredTool* t = &tool;
  Body body = [t, rest = std::move(rest)](RequestContext& c) {
    return tool_call_result(*t, finish_tool(ToolResult::deferred(rest), c), c);
  };
  return start(ctx, server_.options().task_ttl_ms, std::move(body), /*may_run_inline=*/true);
}

std::optional<Json> TaskManager::start(RequestContext& ctx, int64_t ttl_ms, Body body, bool may_run_inline) {
  sweep();
  auto t = std::make_shared<Task>();
  t->id = server_.options().instance_prefix + base64url_encode(random_bytes(18));
  t->user = ctx.user();
  t->revision = ctx.revision();
  t->created = t->updated = SysClock::now();
  t->created_mono = MonoClock::now();
  t->ttl_ms = ttl_ms;
  t->poll_ms = server_.options().task_poll_interval_ms;

  // The body's own context: the request's identity, capabilities and progress token, the task's
  // cancellation, and none of the request's multi-round-trip answers (task input keys are the
  // task's own).
  std::shared_ptr<RequestContext> tctx;
  if (ctx.modern()) {
    tctx = ctx.detached(t->cancel, std::make_shared<NullSink>(),
                        [this, t](RequestContext&, std::vector<InputRequest> rs) { return park(t, std::move(rs)); });
  } else {
    t->session = ctx.session();
    tctx = ctx.detached(t->cancel, std::make_shared<RelatedTaskSink>(t->session->notify_sink, t->id),
                        [this, t](RequestContext& c, std::vector<InputRequest> rs) { return ask_related(t, c, std::move(rs)); });
  }

  Json created;
  {
    std::lock_guard l(m_);
    // Every unfinished task holds a worker; a cap keeps them from starving ordinary requests.
    size_t live = std::count_if(tasks_.begin(), tasks_.end(), [](const auto& e) { return !terminal(e.second->status); });
    if (live >= server_.options().max_live_tasks) {
      if (may_run_inline) return std::nullopt;
      throw rpc::Error(rpc::kInternalError, "Too many tasks in progress; try again later");
    }
    t->seq = next_seq_++;
    tasks_[t->id] = t;  // durable before the handle goes out: an immediate tasks/get finds it
    created = render(*t, ctx.revision(), false);
  }
  spdlog::info("task {} started: {} for {}", t->id, ctx.method(), t->user);
  pool_.submit([this, t, tctx, body = std::move(body)] { run(t, *tctx, body); });
  if (ctx.modern()) {
    created["resultType"] = "task";
    return created;
  }
  return Json{{"task", std::move(created)}};
}

void TaskManager::run(const std::shared_ptr<Task>& t, RequestContext& ctx, const Body& body) {
  const std::string cancelled = "The task was cancelled.";
  const logging::Context lc = ctx.log_context();
  logging::Scope scope(&lc);  // the body's log lines name the request that created the task
  try {
    Json result = body(ctx);
    if (t->cancel.cancelled()) settle(t, TaskStatus::Cancelled, nullptr, nullptr, cancelled);
    // A tool error is a result, not a failure (2026-07-28); render() shows it as failed to 2025-11-25.
    else settle(t, TaskStatus::Completed, std::move(result), nullptr, "");
  } catch (const rpc::Error& e) {
    if (e.code == rpc::kRequestCancelled || t->cancel.cancelled()) {
      settle(t, TaskStatus::Cancelled, nullptr, nullptr, cancelled);
    } else {
      Json error{{"code", e.code}, {"message", e.what()}};
      if (!e.data.is_null()) error["data"] = e.data;
      settle(t, TaskStatus::Failed, nullptr, std::move(error), e.what());
    }
  } catch (const Cancelled&) {  // the body stopped on the task's token
    settle(t, TaskStatus::Cancelled, nullptr, nullptr, cancelled);
  } catch (const InputRequired&) {
    spdlog::error("task {} ({}) threw InputRequired itself; input goes through ctx.input", t->id, ctx.method());
    settle(t, TaskStatus::Failed, nullptr, Json{{"code", rpc::kInternalError}, {"message", "Internal error"}}, "Internal error");
  } catch (const std::exception& e) {
    // The message may carry provider details; it goes to the log, not to the client.
    spdlog::error("task {} ({}) failed: {}", t->id, ctx.method(), log_safe(server_.redact_for_log(ctx, e.what())));
    settle(t, TaskStatus::Failed, nullptr, Json{{"code", rpc::kInternalError}, {"message", "Internal error"}}, "Internal error");
  }
}

bool TaskManager::settle(const std::shared_ptr<Task>& t, TaskStatus status, Json result, Json error, std::string message) {
  std::vector<std::shared_ptr<Responder>> waiters;
  Json note;
  {
    std::lock_guard l(m_);
    if (terminal(t->status)) return false;  // e.g. cancelled while the body was finishing
    t->status = status;
    t->result = std::move(result);
    t->error = std::move(error);
    t->message = std::move(message);
    t->updated = SysClock::now();
    t->finished_mono = MonoClock::now();
    t->input_requests.clear();
    t->outbox.clear();
    waiters.swap(t->waiters);
    if (t->session) note = render(*t, Revision::V2025_11_25, false);
  }
  cv_.notify_all();
  spdlog::info("task {} {}", t->id, to_string(status));
  // The status first, so a client sees it no later than the result it announces.
  if (!note.is_null()) notify(t, note);
  // A terminal task's result and error never change again: safe to read without the lock.
  for (auto& w : waiters) answer(*t, w);
  return true;
}

void TaskManager::notify(const std::shared_ptr<Task>& t, const Json& task_json) {
  if (!t->session || !t->session->notify_sink) return;
  t->session->notify_sink->send(rpc::make_notification("notifications/tasks/status", task_json));
}

// ---- Input ----------------------------------------------------------------------------------

std::map<std::string, Json> TaskManager::park(const std::shared_ptr<Task>& t, std::vector<InputRequest> requests) {
  std::map<std::string, std::string> minted;  // the body's key -> the task's key
  std::unique_lock l(m_);
  if (terminal(t->status) || t->cancel.cancelled()) throw rpc::Error(rpc::kRequestCancelled, "cancelled");
  for (auto& r : requests) {
    // Keys are unique over the task's life: a key asked for again gets a fresh one.
    std::string key = r.key;
    for (int n = 2; t->keys_used.count(key); ++n) key = r.key + "." + std::to_string(n);
    t->keys_used.insert(key);
    t->input_requests[key] = Json{{"method", r.method}, {"params", std::move(r.params)}};
    minted[r.key] = key;
  }
  t->status = TaskStatus::InputRequired;
  t->updated = SysClock::now();
  auto ready = [&] {
    if (terminal(t->status) || t->cancel.cancelled()) return true;
    return std::all_of(minted.begin(), minted.end(), [&](const auto& e) { return t->answers.count(e.second) > 0; });
  };
  while (!ready()) cv_.wait_for(l, 250ms);  // tasks/update, tasks/cancel and shutdown notify
  if (terminal(t->status) || t->cancel.cancelled()) throw rpc::Error(rpc::kRequestCancelled, "cancelled");
  std::map<std::string, Json> out;
  for (const auto& [mine, key] : minted) {
    out[mine] = std::move(t->answers[key]);
    t->answers.erase(key);
  }
  if (t->input_requests.empty() && t->status == TaskStatus::InputRequired) {
    t->status = TaskStatus::Working;
    t->updated = SysClock::now();
  }
  return out;
}

std::map<std::string, Json> TaskManager::ask_related(const std::shared_ptr<Task>& t, RequestContext& ctx,
                                                     std::vector<InputRequest> requests) {
  auto& s = *t->session;
  struct Ask {
    std::string key;
    Json id;
    std::shared_ptr<PendingCall> call;
    Json message;
  };
  std::vector<Ask> asks;
  for (auto& r : requests) {
    Ask a{r.key, nullptr, std::make_shared<PendingCall>(), nullptr};
    {
      std::lock_guard l(s.m);
      a.id = s.next_request_id++;
      s.pending[a.id.dump()] = a.call;
    }
    Json p = r.params.is_object() ? std::move(r.params) : Json::object();
    p["_meta"][kMetaRelatedTask] = Json{{"taskId", t->id}};
    a.message = rpc::make_request(a.id, r.method, std::move(p));
    asks.push_back(std::move(a));
  }
  auto forget = [&] {
    std::lock_guard l(s.m);
    for (const auto& a : asks) s.pending.erase(a.id.dump());
  };

  // The requests wait in the task's outbox and go out on every tasks/result stream: the client
  // calls tasks/result when it sees input_required, and that stream is where it listens.
  std::vector<std::shared_ptr<Responder>> waiters;
  Json note;
  {
    std::lock_guard l(m_);
    if (terminal(t->status)) {
      forget();
      throw rpc::Error(rpc::kRequestCancelled, "cancelled");
    }
    for (const auto& a : asks) t->outbox.push_back(a.message);
    if (t->status != TaskStatus::InputRequired) {
      t->status = TaskStatus::InputRequired;
      t->updated = SysClock::now();
      note = render(*t, Revision::V2025_11_25, false);
    }
    waiters = t->waiters;
  }
  if (!note.is_null()) notify(t, note);
  for (const auto& w : waiters)
    if (!w->context().cancel().cancelled())
      for (const auto& a : asks) w->context().send(a.message);

  // Only the task's end stops the wait: the client answers when it gets round to tasks/result.
  bool answered = true;
  for (auto& a : asks) {
    std::unique_lock l(a.call->m);
    while (!a.call->done && !ctx.cancel().cancelled()) a.call->cv.wait_for(l, 100ms);
    if (!a.call->done) { answered = false; break; }
  }
  forget();
  {
    std::lock_guard l(m_);
    std::erase_if(t->outbox, [&](const Json& m) {
      return std::any_of(asks.begin(), asks.end(), [&](const Ask& a) { return m["id"] == a.id; });
    });
    note = nullptr;
    if (t->outbox.empty() && t->status == TaskStatus::InputRequired) {
      t->status = TaskStatus::Working;
      t->updated = SysClock::now();
      note = render(*t, Revision::V2025_11_25, false);
    }
  }
  if (!note.is_null()) notify(t, note);
  if (!answered) {
    if (s.notify_sink)
      for (const auto& a : asks)
        if (!a.call->done)
          s.notify_sink->send(rpc::make_notification(
              "notifications/cancelled", Json{{"requestId", a.id}, {"reason", "the task was cancelled"}}));
    throw rpc::Error(rpc::kRequestCancelled, "cancelled");
  }
  std::map<std::string, Json> out;
  for (const auto& a : asks) {
    const Json& resp = a.call->response;
    if (auto e = resp.find("error"); e != resp.end())
      throw rpc::Error(rpc::kInternalError, "The client refused " + a.message["method"].get<std::string>() + ": " + e->value("message", "error"),
                       Json{{"clientError", *e}});
    out[a.key] = resp.value("result", Json::object());
  }
  return out;
}

// ---- Lookup, expiry, rendering --------------------------------------------------------------

void TaskManager::sweep() {
  std::vector<std::shared_ptr<Task>> overdue;
  {
    std::lock_guard l(m_);
    const auto now = MonoClock::now();
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      const Task& t = *it->second;
      const auto ttl = std::chrono::milliseconds(t.ttl_ms);
      if (terminal(t.status) && now - t.finished_mono >= ttl) {
        it = tasks_.erase(it);
        continue;
      }
      if (!terminal(t.status) && now - t.created_mono >= ttl) overdue.push_back(it->second);
      ++it;
    }
  }
  for (auto& t : overdue) {
    spdlog::warn("task {} outlived its ttl of {} ms; stopping it", t->id, t->ttl_ms);
    settle(t, TaskStatus::Failed, nullptr,
           Json{{"code", rpc::kInternalError}, {"message", "The task ran past its ttl and was stopped"}},
           "The task ran past its ttl and was stopped");
    t->cancel.cancel();
  }
  if (!overdue.empty()) cv_.notify_all();
}

std::shared_ptr<TaskManager::Task> TaskManager::find(const Json& params, RequestContext& ctx) {
  auto id = Fields(params).req<std::string>("taskId");
  sweep();
  std::lock_guard l(m_);
  auto it = tasks_.find(id);
  // Another user's task reads exactly like a missing one: its existence is not theirs to learn.
  if (it == tasks_.end() || it->second->user != ctx.user())
    throw rpc::invalid_params("Failed to retrieve task: Task not found (it never existed, or it expired)", Json{{"field", "taskId"}});
  return it->second;
}

Json TaskManager::render(const Task& t, Revision r, bool detailed) const {
  const bool modern = is_modern(r);
  // 2025-11-25 counts a tool's isError result as a failed task; 2026-07-28 as a completed one.
  const bool tool_error = t.status == TaskStatus::Completed && t.result.value("isError", false);
  const std::string_view status = (!modern && tool_error) ? "failed" : to_string(t.status);
  Json j{{"taskId", t.id}, {"status", status}, {"createdAt", iso8601(t.created)}, {"lastUpdatedAt", iso8601(t.updated)}};
  j[modern ? "ttlMs" : "ttl"] = t.ttl_ms;
  j[modern ? "pollIntervalMs" : "pollInterval"] = t.poll_ms;
  if (!t.message.empty()) j["statusMessage"] = t.message;
  else if (!modern && tool_error) j["statusMessage"] = "The tool reported an error; tasks/result has its result";
  if (detailed && modern) {
    if (t.status == TaskStatus::InputRequired) j["inputRequests"] = t.input_requests.empty() ? Json::object() : Json(t.input_requests);
    if (t.status == TaskStatus::Completed) {
      j["result"] = t.result;
      j["result"]["resultType"] = "complete";
    }
    if (t.status == TaskStatus::Failed) j["error"] = t.error;
  }
  return j;
}

// ---- Methods --------------------------------------------------------------------------------

void TaskManager::gate(RequestContext& ctx) const {
  if (ctx.modern()) {
    if (!declared(ctx))
      throw rpc::Error(rpc::kMissingRequiredClientCapability,
                       ctx.method() + " needs the " + kTasksExtension + " extension in the request's client capabilities",
                       required_extension());
  } else if (ctx.revision() != Revision::V2025_11_25) {
    throw rpc::Error(rpc::kMethodNotFound,
                     "Method not found: " + ctx.method() + " (not part of protocol " + std::string(to_string(ctx.revision())) + ")");
  }
}

void TaskManager::bind_methods() {
  auto sync = [this](const char* name, Server::Eras eras, Json (TaskManager::*fn)(const Json&, RequestContext&)) {
    server_.bind_async(name, eras, [this, fn](const Json& params, std::shared_ptr<Responder> r) {
      r->reply((this->*fn)(params, r->context()));
    }, /*run_inline=*/true);
  };
  // None of them blocks a thread: tasks/result parks its Responder with the task.
  sync("tasks/get", Server::kBoth, &TaskManager::get);
  sync("tasks/cancel", Server::kBoth, &TaskManager::cancel);
  sync("tasks/update", Server::kModern, &TaskManager::update);
  sync("tasks/list", Server::kLegacy, &TaskManager::list);  // 2026-07-28 removed it, and tasks/result
  server_.bind_async("tasks/result", Server::kLegacy, [this](const Json& params, std::shared_ptr<Responder> r) {
    result(params, std::move(r));
  }, /*run_inline=*/true);
}

Json TaskManager::get(const Json& params, RequestContext& ctx) {
  gate(ctx);
  auto t = find(params, ctx);
  std::lock_guard l(m_);
  return render(*t, ctx.revision(), true);
}

Json TaskManager::update(const Json& params, RequestContext& ctx) {
  gate(ctx);
  auto t = find(params, ctx);
  Json responses = object_field(Fields(params), "inputResponses", true);
  {
    std::lock_guard l(m_);
    // Keys not outstanding (never issued, answered already, or the task moved on) are ignored.
    for (auto& [k, v] : responses.items())
      if (t->input_requests.count(k) && !v.is_object())
        throw rpc::invalid_params("Invalid inputResponses." + k + ": expected an object (the client's result for that request)",
                                  Json{{"field", "inputResponses." + k}});
    for (auto& [k, v] : responses.items()) {
      if (!t->input_requests.erase(k)) continue;
      t->answers[k] = v;
    }
    if (t->status == TaskStatus::InputRequired && t->input_requests.empty()) {
      t->status = TaskStatus::Working;
      t->updated = SysClock::now();
    }
  }
  cv_.notify_all();
  return Json::object();
}

Json TaskManager::cancel(const Json& params, RequestContext& ctx) {
  gate(ctx);
  auto t = find(params, ctx);
  // Cancelled before the reply (2025-11-25 requires it; 2026-07-28 clients see it at once).
  bool changed = settle(t, TaskStatus::Cancelled, nullptr, nullptr, "The task was cancelled by request.");
  t->cancel.cancel();  // after settle: a body finishing now can't overtake the cancellation
  cv_.notify_all();
  std::lock_guard l(m_);
  if (ctx.modern()) return Json::object();  // an ack, also for a task that had already ended
  if (!changed)
    throw rpc::invalid_params("Cannot cancel task: already in terminal status '" +
                                  render(*t, ctx.revision(), false)["status"].get<std::string>() + "'",
                              Json{{"field", "taskId"}});
  return render(*t, ctx.revision(), false);
}

Json TaskManager::list(const Json& params, RequestContext& ctx) {
  gate(ctx);
  const uint64_t after = decode_task_cursor(params);
  sweep();
  std::lock_guard l(m_);
  std::vector<const Task*> mine;
  for (const auto& [_, t] : tasks_)
    if (t->user == ctx.user() && t->seq > after) mine.push_back(t.get());
  std::sort(mine.begin(), mine.end(), [](const Task* a, const Task* b) { return a->seq < b->seq; });
  // Cursors name the last task seen, so a page boundary survives tasks expiring meanwhile.
  const size_t n = std::min(mine.size(), server_.options().page_size);
  Json out{{"tasks", Json::array()}};
  for (size_t i = 0; i < n; ++i) out["tasks"].push_back(render(*mine[i], ctx.revision(), false));
  if (n < mine.size()) out["nextCursor"] = encode_task_cursor(mine[n - 1]->seq);
  return out;
}

void TaskManager::result(const Json& params, std::shared_ptr<Responder> r) {
  auto& ctx = r->context();
  gate(ctx);
  auto t = find(params, ctx);
  std::vector<Json> outstanding;
  bool done;
  {
    std::lock_guard l(m_);
    done = terminal(t->status);
    if (!done) {
      t->waiters.push_back(r);
      outstanding = t->outbox;
    }
  }
  if (done) return answer(*t, r);
  // Requests the task waits on go out on this stream too (see ask_related).
  for (const auto& m : outstanding) ctx.send(m);
}

void TaskManager::answer(const Task& t, const std::shared_ptr<Responder>& r) const {
  // Exactly what the call itself would have answered, tagged with its task.
  if (!t.result.is_null()) {
    Json result = t.result;
    result["_meta"][kMetaRelatedTask] = Json{{"taskId", t.id}};
    r->reply(std::move(result));
  } else if (!t.error.is_null()) {
    r->fail(t.error.value("code", static_cast<int>(rpc::kInternalError)), t.error.value("message", "Internal error"),
            t.error.value("data", Json()));
  } else {
    r->fail(rpc::kInternalError, "The task was cancelled before it produced a result", Json{{"taskId", t.id}});
  }
}

void TaskManager::cancel_all() {
  std::vector<std::shared_ptr<Task>> live;
  {
    std::lock_guard l(m_);
    for (const auto& [_, t] : tasks_)
      if (!terminal(t->status)) live.push_back(t);
  }
  for (auto& t : live) {
    settle(t, TaskStatus::Cancelled, nullptr, nullptr, "The server is shutting down.");
    t->cancel.cancel();
  }
  cv_.notify_all();
}

size_t TaskManager::size() {
  std::lock_guard l(m_);
  return tasks_.size();
}

}  // namespace concierge
