// The HTTP transport as a resource server (issue 16): bearer tokens on every MCP endpoint (401
// challenges, query-string tokens refused), the RFC 9728 metadata, scopes (filtered lists, 403
// insufficient_scope), every user's sessions, tasks, requestState and resource notifications
// their own, the public URL's Host check, CORS, and the refusal to bind publicly unauthenticated.
// The app as the binary builds it (AppFixture) behind an HttpServer on 127.0.0.1:<any port>,
// with an in-test Authenticator mapping fixed tokens to users and scopes.
#include <catch2/catch.hpp>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "server/http.hpp"
#include "support/app_fixture.hpp"
#include "support/harness.hpp"
#include "support/http_client.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::test::http;
using namespace std::chrono_literals;

namespace {

constexpr const char* kModern = "2026-07-28";
constexpr const char* kAcceptBoth = "application/json, text/event-stream";

std::set<std::string> every_scope() { return {all_scopes().begin(), all_scopes().end()}; }

std::string all_scopes_text() {
  std::string out;
  for (const auto& s : all_scopes()) out += (out.empty() ? "" : " ") + s;
  return out;
}

// Fixed tokens: alice and bob with every scope, alice with calendar:read only, alice without
// preferences:read. Records every refusal it is told of.
class FakeAuthenticator : public Authenticator {
 public:
  FakeAuthenticator() {
    tokens_["tok-alice"] = Principal{"alice", every_scope(), "key", "key-1"};
    tokens_["tok-bob"] = Principal{"bob", every_scope(), "key", "key-2"};
    tokens_["tok-cal"] = Principal{"alice", {"calendar:read"}, "jwt", "iss sub-1"};
    auto no_prefs = every_scope();
    no_prefs.erase("preferences:read");
    tokens_["tok-noprefs"] = Principal{"alice", no_prefs, "jwt", "iss sub-1"};
  }
  Result authenticate(std::string_view token) override {
    std::lock_guard l(m_);
    ++authentications_;
    auto it = tokens_.find(std::string(token));
    if (it == tokens_.end()) return Result{std::nullopt, AccessDenied{"invalid_token", "the token has expired"}};
    return Result{it->second, {}};
  }
  void refused(const std::string& user, int status, const std::string& reason) override {
    std::lock_guard l(m_);
    refusals_.emplace_back(user, status, reason);
  }
  std::vector<std::tuple<std::string, int, std::string>> refusals() {
    std::lock_guard l(m_);
    return refusals_;
  }
  int authentications() {
    std::lock_guard l(m_);
    return authentications_;
  }

 private:
  std::mutex m_;
  std::map<std::string, Principal> tokens_;
  std::vector<std::tuple<std::string, int, std::string>> refusals_;
  int authentications_ = 0;
};

// Waits for input (elicitation) once, then answers: a multi-round-trip tool for requestState.
ToolDefinition confirm_tool() {
  ToolDefinition d;
  d.name = "test_confirm";
  d.description = "Asks the user to confirm, then says what they answered.";
  d.input_schema = Json{{"type", "object"}};
  d.handler = [](const Json&, RequestContext& ctx) {
    Json answer = ctx.input("confirm", "elicitation/create",
                            Json{{"message", "Sure?"}, {"requestedSchema", {{"type", "object"}, {"properties", Json::object()}}}});
    return ToolResult::text("answered " + answer.value("action", "?"));
  };
  return d;
}

// Runs as a task (2026-07-28 extension): a task id for the isolation check.
ToolDefinition task_tool() {
  ToolDefinition d;
  d.name = "test_task";
  d.description = "Always a task.";
  d.input_schema = Json{{"type", "object"}};
  d.task_support = TaskSupport::Required;
  d.handler = [](const Json&, RequestContext&) { return ToolResult::text("task done"); };
  return d;
}

// The app behind an authenticating HttpServer, run() on a thread; stopped on scope exit.
class AccessServer {
 public:
  explicit AccessServer(HttpOptions options = {}) {
    app_.server->tools().add(confirm_tool());
    app_.server->tools().add(task_tool());
    options.host = "127.0.0.1";
    options.port = 0;
    options.access.authenticator = auth_;
    http_ = std::make_unique<HttpServer>(*app_.server, options);
    port_ = http_->bind();
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { http_->run(); });
  }
  ~AccessServer() {
    http_->stop();
    thread_.join();
    http_.reset();
  }
  int port() const { return port_; }
  FakeAuthenticator& auth() { return *auth_; }
  AppFixture& app() { return app_; }
  std::string metadata_url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/.well-known/oauth-protected-resource/mcp";
  }

 private:
  AppFixture app_;
  std::shared_ptr<FakeAuthenticator> auth_ = std::make_shared<FakeAuthenticator>();
  std::unique_ptr<HttpServer> http_;
  int port_ = 0;
  std::thread thread_;
};

// ---- Requests -------------------------------------------------------------------------------

// The header that mirrors a request's name (2026-07-28 Mcp-Name), if its method has one.
std::string mirrored_name(const std::string& method, const Json& params) {
  for (const char* key : {"name", "uri", "taskId"})
    if (params.contains(key) && params[key].is_string() &&
        (method == "tools/call" || method == "prompts/get" || method == "resources/read" || method.rfind("tasks/", 0) == 0))
      return params[key].get<std::string>();
  return {};
}

// A stateless 2026-07-28 request with every header it needs; an empty token sends none.
Reply mcp(int port, const std::string& token, const std::string& method, Json params = Json::object(), Json caps = Json::object(),
          httplib::Headers extra = {}, const std::string& path = "/mcp") {
  static std::atomic<int> next_id{1};
  params["_meta"] = modern_meta(std::move(caps));
  Request r;
  r.path = path;
  r.body = rpc::make_request(next_id++, method, params).dump();
  r.headers = {{"Content-Type", "application/json"}, {"Accept", kAcceptBoth}, {"MCP-Protocol-Version", kModern}, {"Mcp-Method", method}};
  if (auto name = mirrored_name(method, params); !name.empty()) r.headers.emplace("Mcp-Name", name);
  if (!token.empty()) r.headers.emplace("Authorization", "Bearer " + token);
  for (auto& [k, v] : extra) r.headers.emplace(k, v);
  return request(port, r);
}

Reply get(int port, const std::string& path, httplib::Headers headers = {}) {
  Request q;
  q.method = "GET";
  q.path = path;
  q.headers = std::move(headers);
  return request(port, q);
}

Reply call_tool(int port, const std::string& token, const std::string& tool, Json args = Json::object(), Json caps = Json::object()) {
  return mcp(port, token, "tools/call", Json{{"name", tool}, {"arguments", std::move(args)}}, std::move(caps));
}

Json result_of(const Reply& r) {
  INFO(r.describe());
  Json resp = r.response();
  REQUIRE(resp.is_object());
  REQUIRE(resp.contains("result"));
  return resp["result"];
}

std::string text_of(const Reply& r) {
  Json res = result_of(r);
  INFO(r.describe());
  REQUIRE(res["content"].is_array());
  return res["content"][0].value("text", "");
}

// A legacy (2025-11-25) POST in a session (empty: none).
Reply legacy(int port, const std::string& token, const Json& msg, const std::string& session) {
  Request r;
  r.body = msg.dump();
  r.headers = {{"Content-Type", "application/json"}, {"Accept", kAcceptBoth}, {"MCP-Protocol-Version", "2025-11-25"}};
  if (!session.empty()) r.headers.emplace("Mcp-Session-Id", session);
  if (!token.empty()) r.headers.emplace("Authorization", "Bearer " + token);
  return request(port, r);
}

std::string open_session(int port, const std::string& token) {
  Reply init = legacy(port, token,
                      rpc::make_request(1, "initialize",
                                        Json{{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()},
                                             {"clientInfo", {{"name", "access-test"}, {"version", "1"}}}}),
                      "");
  INFO(init.describe());
  REQUIRE(init.status == 200);
  std::string sid = init.header("Mcp-Session-Id");
  REQUIRE_FALSE(sid.empty());
  REQUIRE(legacy(port, token, rpc::make_notification("notifications/initialized", nullptr), sid).status == 202);
  return sid;
}

// A subscriptions/listen stream (2026-07-28), its acknowledgement read (into `ack` when given).
RawHttp listen(int port, const std::string& token, const Json& filter, Json* ack_out = nullptr) {
  Json params{{"notifications", filter}, {"_meta", modern_meta()}};
  RawHttp s;
  s.start(port, "POST", "/mcp",
          {{"Content-Type", "application/json"}, {"Accept", kAcceptBoth}, {"MCP-Protocol-Version", kModern},
           {"Mcp-Method", "subscriptions/listen"}, {"Authorization", "Bearer " + token}},
          rpc::make_request(1, "subscriptions/listen", params).dump());
  REQUIRE(s.wait_head());
  INFO(s.describe());
  REQUIRE(s.status() == 200);
  auto ack = s.next_event();
  REQUIRE(ack);
  REQUIRE(ack->json());
  REQUIRE(ack->json()->value("method", "") == "notifications/subscriptions/acknowledged");
  if (ack_out) *ack_out = *ack->json();
  return s;
}

std::vector<std::string> names(const Json& list, const char* key, const char* field = "name") {
  std::vector<std::string> out;
  for (const auto& item : list[key]) out.push_back(item.value(field, ""));
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

// =============================================================================================

TEST_CASE("http access: no token is 401 with the metadata and every scope, a refused one 401 invalid_token", "[http][access]") {
  AccessServer srv;
  int port = srv.port();
  {
    Reply r = mcp(port, "", "tools/list");
    INFO(r.describe());
    CHECK(r.status == 401);
    CHECK(r.header("WWW-Authenticate") == "Bearer resource_metadata=\"" + srv.metadata_url() + "\", scope=\"" + all_scopes_text() + "\"");
    CHECK(r.json()["error"].value("code", 0) == rpc::kInvalidRequest);
  }
  {
    Reply r = mcp(port, "tok-stale", "tools/list");
    INFO(r.describe());
    CHECK(r.status == 401);
    CHECK(r.header("WWW-Authenticate") == "Bearer error=\"invalid_token\", error_description=\"the token has expired\", resource_metadata=\"" +
                                               srv.metadata_url() + "\"");
  }
  {
    // Another scheme is no bearer token at all.
    Reply r = mcp(port, "", "tools/list", Json::object(), Json::object(), {{"Authorization", "Basic YWxpY2U6cHc="}});
    INFO(r.describe());
    CHECK(r.status == 401);
    CHECK(r.header("WWW-Authenticate").rfind("Bearer resource_metadata=", 0) == 0);
  }
  // Every MCP endpoint: the GET stream, DELETE, the legacy /sse and /messages.
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{{"GET", "/mcp"}, {"DELETE", "/mcp"}, {"GET", "/sse"}, {"POST", "/messages?sessionId=x"}}) {
    Request q;
    q.method = method;
    q.path = path;
    q.headers = {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", "x"}, {"Content-Type", "application/json"}};
    if (method == "POST") q.body = "{}";
    Reply r = request(port, q);
    INFO(r.describe());
    CHECK(r.status == 401);
    CHECK(r.has_header("WWW-Authenticate"));
  }
  // The audit learns of each refusal with its reason, never the token.
  auto refusals = srv.auth().refusals();
  CHECK(refusals.size() == 7);
  for (auto& [user, status, reason] : refusals) {
    CHECK(user.empty());
    CHECK(status == 401);
    CHECK(reason.find("tok-stale") == std::string::npos);
  }
  // A valid token gets through, authenticated once for the request.
  int before = srv.auth().authentications();
  CHECK(text_of(call_tool(port, "tok-alice", "echo", {{"text", "hi"}})) == "hi");
  CHECK(srv.auth().authentications() == before + 1);
}

TEST_CASE("http access: a token in the query string is refused with 400 invalid_request", "[http][access]") {
  AccessServer srv;
  for (const std::string token : {"", "tok-alice"}) {  // alone, or beside a valid header
    Reply r = mcp(srv.port(), token, "tools/list", Json::object(), Json::object(), {}, "/mcp?access_token=tok-alice");
    INFO(r.describe());
    CHECK(r.status == 400);
    std::string challenge = r.header("WWW-Authenticate");
    CHECK(challenge.rfind("Bearer error=\"invalid_request\", ", 0) == 0);
    CHECK(challenge.find("resource_metadata=\"" + srv.metadata_url() + "\"") != std::string::npos);
    CHECK(r.body.find("tok-alice") == std::string::npos);
  }
  CHECK(srv.auth().authentications() == 0);
}

TEST_CASE("http access: RFC 9728 metadata at both paths and /healthz stay public", "[http][access]") {
  HttpOptions o;
  o.access.authorization_servers = {"https://issuer.example.com"};
  AccessServer srv(o);
  for (const std::string path : {"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"}) {
    Reply r = get(srv.port(), path, {{"Origin", "https://app.example.net"}});  // any origin may read it
    INFO(r.describe());
    CHECK(r.status == 200);
    CHECK(r.header("Access-Control-Allow-Origin") == "*");
    Json m = r.json();
    CHECK(m["resource"] == "http://127.0.0.1:" + std::to_string(srv.port()) + "/mcp");
    CHECK(m["authorization_servers"] == Json::array({"https://issuer.example.com"}));
    CHECK(m["scopes_supported"] == Json(all_scopes()));
    CHECK(m["bearer_methods_supported"] == Json::array({"header"}));
  }
  Reply r = get(srv.port(), "/healthz");
  INFO(r.describe());
  CHECK(r.status == 200);
  CHECK(r.json()["status"] == "ok");
}

TEST_CASE("http access: keys-only metadata names no authorization server", "[http][access]") {
  AccessServer srv;  // no authorization_servers
  Reply r = get(srv.port(), "/.well-known/oauth-protected-resource/mcp");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK_FALSE(r.json().contains("authorization_servers"));
}

TEST_CASE("http access: a calendar:read token sees only calendar read tools, and a write is 403 insufficient_scope", "[http][access]") {
  AccessServer srv;
  int port = srv.port();
  Json tools = result_of(mcp(port, "tok-cal", "tools/list"));
  auto listed = names(tools, "tools");
  INFO(dump(listed));
  CHECK(has(listed, "calendar_list_events"));
  CHECK(has(listed, "echo"));  // a valid token is all it needs
  CHECK_FALSE(has(listed, "calendar_create_event"));
  CHECK_FALSE(has(listed, "mail_search"));
  CHECK_FALSE(has(listed, "preferences_update"));
  // No other domain's tool, no calendar write (the general tools, this test's included, stay).
  for (const auto& t : tools["tools"]) {
    std::string name = t["name"];
    for (const std::string other : {"mail_", "music_", "video_", "booking_", "preferences_"}) CHECK(name.rfind(other, 0) != 0);
    if (name.rfind("calendar_", 0) == 0) CHECK(t["annotations"].value("readOnlyHint", false));
  }
  // Everything, for a token with every scope.
  auto all = names(result_of(mcp(port, "tok-alice", "tools/list")), "tools");
  CHECK(has(all, "calendar_create_event"));
  CHECK(has(all, "mail_send"));

  Reply r = call_tool(port, "tok-cal", "calendar_create_event", {{"summary", "Dentist"}, {"start", "2027-03-01T10:00:00"}});
  INFO(r.describe());
  CHECK(r.status == 403);
  // What the operation needs joined with what the token has: a client re-authorizing with
  // exactly these keeps its calendar:read.
  CHECK(r.header("WWW-Authenticate") ==
        "Bearer error=\"insufficient_scope\", scope=\"calendar:read calendar:write\", resource_metadata=\"" + srv.metadata_url() +
            "\", error_description=\"Insufficient scope: tools/call calendar_create_event needs calendar:write\"");
  Json err = r.json();
  CHECK(err["error"]["code"] == rpc::kInsufficientScope);
  CHECK(err["error"]["data"]["requiredScopes"] == Json::array({"calendar:write"}));
  CHECK(err.contains("id"));
  // The call never ran: no event for alice.
  Json events = result_of(call_tool(port, "tok-alice", "calendar_list_events", {{"start", "2027-03-01"}, {"end", "2027-03-02"}}));
  CHECK(events["structuredContent"]["events"].empty());
  // mail_send needs a scope of its own, preferences_update preferences:write.
  auto refusals_before = srv.auth().refusals().size();
  for (auto [tool, scope] : std::vector<std::pair<std::string, std::string>>{{"mail_send", "mail:send"}, {"preferences_update", "preferences:write"}}) {
    Reply s = call_tool(port, "tok-cal", tool, {{"to", "x@example.com"}});
    INFO(s.describe());
    CHECK(s.status == 403);
    CHECK(s.json()["error"]["data"]["requiredScopes"] == Json::array({scope}));
  }
  auto refusals = srv.auth().refusals();
  REQUIRE(refusals.size() == refusals_before + 2);
  CHECK(std::get<0>(refusals.back()) == "alice");
  CHECK(std::get<1>(refusals.back()) == 403);
}

TEST_CASE("http access: a legacy session's call outside the scopes is 403 too", "[http][access][legacy]") {
  AccessServer srv;
  std::string sid = open_session(srv.port(), "tok-cal");
  Reply r = legacy(srv.port(), "tok-cal",
                   rpc::make_request(2, "tools/call", Json{{"name", "calendar_delete_event"}, {"arguments", {{"id", "x"}}}}), sid);
  INFO(r.describe());
  CHECK(r.status == 403);
  CHECK(r.header("WWW-Authenticate").find("scope=\"calendar:read calendar:write\"") != std::string::npos);
  CHECK(r.json()["id"] == 2);
}

TEST_CASE("http access: concierge://preferences needs preferences:read", "[http][access]") {
  AccessServer srv;
  int port = srv.port();
  Reply r = mcp(port, "tok-noprefs", "resources/read", Json{{"uri", "concierge://preferences"}});
  INFO(r.describe());
  CHECK(r.status == 403);
  CHECK(r.header("WWW-Authenticate").find("preferences:read") != std::string::npos);
  auto listed = names(result_of(mcp(port, "tok-noprefs", "resources/list")), "resources", "uri");
  CHECK_FALSE(has(listed, "concierge://preferences"));
  CHECK(has(listed, "concierge://history"));
  // Prompts that embed the preferences are hidden and refused too.
  auto prompts = names(result_of(mcp(port, "tok-noprefs", "prompts/list")), "prompts");
  CHECK_FALSE(has(prompts, "voice_assistant"));
  CHECK(has(prompts, "service_integration"));
  CHECK(mcp(port, "tok-noprefs", "prompts/get", Json{{"name", "voice_assistant"}}).status == 403);
  // Completing its arguments draws on the same data: refused alike.
  Json complete{{"ref", {{"type", "ref/prompt"}, {"name", "voice_assistant"}}}, {"argument", {{"name", "verbosity"}, {"value", "b"}}}};
  CHECK(mcp(port, "tok-noprefs", "completion/complete", complete).status == 403);
  CHECK(result_of(mcp(port, "tok-alice", "completion/complete", complete))["completion"]["values"] == Json::array({"brief"}));
  // A listen for it is not honoured without the scope (the acknowledgement leaves it out).
  Json filter{{"resourceSubscriptions", Json::array({"concierge://preferences"})}};
  Json ack;
  RawHttp without = listen(port, "tok-noprefs", filter, &ack);
  CHECK_FALSE(ack["params"]["notifications"].contains("resourceSubscriptions"));
  RawHttp with = listen(port, "tok-alice", filter, &ack);
  CHECK(ack["params"]["notifications"]["resourceSubscriptions"] == Json::array({"concierge://preferences"}));
  // With the scope: readable.
  Json read = result_of(mcp(port, "tok-alice", "resources/read", Json{{"uri", "concierge://preferences"}}));
  CHECK(read["contents"][0]["uri"] == "concierge://preferences");
  // calendar:read alone: the agenda template, nothing of mail or history.
  auto templates = names(result_of(mcp(port, "tok-cal", "resources/templates/list")), "resourceTemplates", "uriTemplate");
  CHECK(templates == std::vector<std::string>{"concierge://calendar/agenda/{date}"});
}

TEST_CASE("http access: two users see nothing of each other's preferences, history and events", "[http][access][isolation]") {
  AccessServer srv;
  int port = srv.port();
  REQUIRE(result_of(call_tool(port, "tok-alice", "preferences_update", {{"time_zone", "Pacific/Auckland"}})).value("isError", false) == false);
  REQUIRE(text_of(call_tool(port, "tok-alice", "echo", {{"text", "alice was here"}})) == "alice was here");
  Json created = result_of(call_tool(port, "tok-alice", "calendar_create_event", {{"summary", "Alice's secret meeting"}, {"start", "2027-03-01T10:00:00"}, {"duration_minutes", 30}}));
  REQUIRE(created.value("isError", false) == false);

  auto read = [&](const std::string& token, const std::string& uri) {
    return result_of(mcp(port, token, "resources/read", Json{{"uri", uri}}))["contents"][0].value("text", "");
  };
  CHECK(read("tok-alice", "concierge://preferences").find("Pacific/Auckland") != std::string::npos);
  CHECK(read("tok-bob", "concierge://preferences").find("Pacific/Auckland") == std::string::npos);
  CHECK(read("tok-alice", "concierge://history").find("alice was here") != std::string::npos);
  CHECK(read("tok-bob", "concierge://history").find("alice was here") == std::string::npos);
  auto events = [&](const std::string& token) {
    return dump(result_of(call_tool(port, token, "calendar_list_events", {{"start", "2027-02-28"}, {"end", "2027-03-03"}}))["structuredContent"]);
  };
  CHECK(events("tok-alice").find("Alice's secret meeting") != std::string::npos);
  CHECK(events("tok-bob").find("Alice's secret meeting") == std::string::npos);
}

TEST_CASE("http access: another user's session id is 404 as an unknown one", "[http][access][isolation][legacy]") {
  AccessServer srv;
  int port = srv.port();
  std::string sid = open_session(port, "tok-alice");
  Json ping = rpc::make_request(5, "ping", Json::object());
  CHECK(legacy(port, "tok-alice", ping, sid).status == 200);
  {
    Reply r = legacy(port, "tok-bob", ping, sid);
    INFO(r.describe());
    CHECK(r.status == 404);
    CHECK(r.body == legacy(port, "tok-bob", rpc::make_request(5, "ping", Json::object()), "no-such-session").body);
  }
  {
    RawHttp get;
    get.start(port, "GET", "/mcp", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"Authorization", "Bearer tok-bob"}});
    REQUIRE(get.wait_head());
    CHECK(get.status() == 404);
  }
  {
    Request del;
    del.method = "DELETE";
    del.headers = {{"Mcp-Session-Id", sid}, {"Authorization", "Bearer tok-bob"}};
    Reply r = request(port, del);
    INFO(r.describe());
    CHECK(r.status == 404);
  }
  CHECK(legacy(port, "tok-alice", ping, sid).status == 200);  // bob's DELETE did not end it

  // 2024-11-05: alice's /sse session is not bob's to post to.
  RawHttp sse;
  sse.start(port, "GET", "/sse", {{"Accept", "text/event-stream"}, {"Authorization", "Bearer tok-alice"}});
  auto endpoint = sse.next_event();
  REQUIRE(endpoint);
  REQUIRE(endpoint->event == "endpoint");
  std::string path = *endpoint->data;
  Request post;
  post.path = path;
  post.body = ping.dump();
  post.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer tok-bob"}};
  Reply bob = request(port, post);
  INFO(bob.describe());
  CHECK(bob.status == 404);
  post.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer tok-alice"}};
  CHECK(request(port, post).status == 202);
}

TEST_CASE("http access: another user's task id and requestState are not theirs", "[http][access][isolation]") {
  AccessServer srv;
  int port = srv.port();
  Json caps{{"extensions", {{"io.modelcontextprotocol/tasks", Json::object()}}}};
  Json created = result_of(call_tool(port, "tok-alice", "test_task", Json::object(), caps));
  REQUIRE(created.value("resultType", "") == "task");
  std::string task = created["taskId"];
  CHECK(result_of(mcp(port, "tok-alice", "tasks/get", Json{{"taskId", task}}, caps))["taskId"] == task);
  Reply r = mcp(port, "tok-bob", "tasks/get", Json{{"taskId", task}}, caps);
  INFO(r.describe());
  Reply unknown = mcp(port, "tok-bob", "tasks/get", Json{{"taskId", "AAAAAAAAAAAAAAAAAAAAAAAA"}}, caps);
  CHECK(r.status == unknown.status);
  CHECK(r.response()["error"]["code"] == unknown.response()["error"]["code"]);
  CHECK(r.response()["error"]["code"] == rpc::kInvalidParams);

  // requestState is sealed for alice: bob retrying with it is refused.
  Json elicit{{"elicitation", Json::object()}};
  Json first = result_of(call_tool(port, "tok-alice", "test_confirm", Json::object(), elicit));
  REQUIRE(first.value("resultType", "") == "input_required");
  Json retry{{"name", "test_confirm"}, {"arguments", Json::object()}, {"requestState", first["requestState"]},
             {"inputResponses", {{"confirm", {{"action", "accept"}, {"content", Json::object()}}}}}};
  Reply stolen = mcp(port, "tok-bob", "tools/call", retry, elicit);
  INFO(stolen.describe());
  CHECK(stolen.response()["error"]["code"] == rpc::kInvalidParams);
  CHECK(stolen.response()["error"].value("message", "").rfind("Invalid requestState", 0) == 0);
  CHECK(text_of(mcp(port, "tok-alice", "tools/call", retry, elicit)) == "answered accept");
}

TEST_CASE("http access: a user's preferences changing notifies only that user's subscriptions", "[http][access][isolation]") {
  AccessServer srv;
  int port = srv.port();
  Json filter{{"resourceSubscriptions", Json::array({"concierge://preferences"})}, {"toolsListChanged", true}};
  RawHttp alice = listen(port, "tok-alice", filter);
  RawHttp bob = listen(port, "tok-bob", filter);
  // A legacy session of bob's, subscribed the 2025-11-25 way, with its GET stream open.
  std::string sid = open_session(port, "tok-bob");
  REQUIRE(legacy(port, "tok-bob", rpc::make_request(3, "resources/subscribe", Json{{"uri", "concierge://preferences"}}), sid).status == 200);
  RawHttp bob_get;
  bob_get.start(port, "GET", "/mcp", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"Authorization", "Bearer tok-bob"}});
  REQUIRE(bob_get.wait_head());
  REQUIRE(bob_get.status() == 200);
  REQUIRE(bob_get.next_event());  // the priming event

  // Notifications go out before the tool replies: once it has, anything for bob is queued.
  REQUIRE(result_of(call_tool(port, "tok-alice", "preferences_update", {{"verbosity", "brief"}})).value("isError", false) == false);
  srv.app().server->notify_list_changed("tools");  // a marker every stream gets, after

  auto a = alice.next_event();
  REQUIRE(a);
  REQUIRE(a->json());
  CHECK(a->json()->value("method", "") == "notifications/resources/updated");
  for (RawHttp* s : {&bob, &bob_get}) {
    auto b = s->next_event();
    INFO(s->describe());
    REQUIRE(b);
    REQUIRE(b->json());
    CHECK(b->json()->value("method", "") == "notifications/tools/list_changed");
  }
}

TEST_CASE("http access: CORS preflight for allowed origins, headers exposed on refusals", "[http][access][cors]") {
  AccessServer srv;
  int port = srv.port();
  std::string origin = "http://localhost:" + std::to_string(port);
  Request pre;
  pre.method = "OPTIONS";
  pre.headers = {{"Origin", origin}, {"Access-Control-Request-Method", "POST"},
                 {"Access-Control-Request-Headers", "authorization, content-type, mcp-param-region"}};
  Reply r = request(port, pre);
  INFO(r.describe());
  CHECK(r.status == 204);
  CHECK(r.header("Access-Control-Allow-Origin") == origin);
  CHECK(r.header("Access-Control-Allow-Methods").find("POST") != std::string::npos);
  CHECK(r.header("Access-Control-Allow-Headers") ==
        "Authorization, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID, Content-Type, mcp-param-region");
  CHECK(srv.auth().authentications() == 0);  // preflights carry no token

  pre.headers = {{"Origin", "https://evil.example.com"}, {"Access-Control-Request-Method", "POST"}};
  CHECK(request(port, pre).status == 403);

  Reply refused = mcp(port, "", "tools/list", Json::object(), Json::object(), {{"Origin", origin}});
  INFO(refused.describe());
  CHECK(refused.status == 401);
  CHECK(refused.header("Access-Control-Allow-Origin") == origin);
  CHECK(refused.header("Access-Control-Expose-Headers") == "Mcp-Session-Id, WWW-Authenticate");
}

TEST_CASE("http access: behind --public-url the Host must be the public one (X-Forwarded-Host from trusted proxies)", "[http][access]") {
  auto serve = [](std::vector<std::string> proxies) {
    HttpOptions o;
    o.access.public_url = "https://mcp.example.com/mcp";
    o.access.trusted_proxies = std::move(proxies);
    return std::make_unique<AccessServer>(o);
  };
  {
    auto srv = serve({"10.0.0.0/8", "::1/128", "127.0.0.0/8"});
    int port = srv->port();
    Reply ok = mcp(port, "tok-alice", "tools/list", Json::object(), Json::object(), {{"Host", "mcp.example.com"}});
    INFO(ok.describe());
    CHECK(ok.status == 200);
    // The metadata URL is the public one, path inserted.
    Reply none = mcp(port, "", "tools/list", Json::object(), Json::object(), {{"Host", "MCP.example.com:443"}});
    CHECK(none.status == 401);
    CHECK(none.header("WWW-Authenticate").rfind("Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\"", 0) == 0);
    CHECK(get(port, "/.well-known/oauth-protected-resource/mcp", {{"Host", "mcp.example.com"}}).json()["resource"] == "https://mcp.example.com/mcp");

    Reply wrong = mcp(port, "tok-alice", "tools/list");  // Host: 127.0.0.1:<port>
    INFO(wrong.describe());
    CHECK(wrong.status == 421);
    Reply forwarded = mcp(port, "tok-alice", "tools/list", Json::object(), Json::object(), {{"X-Forwarded-Host", "mcp.example.com"}});
    INFO(forwarded.describe());
    CHECK(forwarded.status == 200);
  }
  {
    auto srv = serve({"10.0.0.0/8", "fd00::/8"});  // this peer (127.0.0.1) is not a trusted proxy
    Reply forwarded = mcp(srv->port(), "tok-alice", "tools/list", Json::object(), Json::object(), {{"X-Forwarded-Host", "mcp.example.com"}});
    INFO(forwarded.describe());
    CHECK(forwarded.status == 421);
  }
}

TEST_CASE("http access: binding publicly without authentication is refused, naming the flags", "[http][access]") {
  AppFixture app;
  auto bind_error = [&](HttpOptions o) -> std::string {
    o.port = 0;
    HttpServer http(*app.server, o);
    try {
      http.bind();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  HttpOptions open;
  open.host = "0.0.0.0";
  std::string e = bind_error(open);
  CHECK(e.find("--auth") != std::string::npos);
  CHECK(e.find("--allow-unauthenticated") != std::string::npos);

  HttpOptions no_url;
  no_url.host = "0.0.0.0";
  no_url.access.authenticator = std::make_shared<FakeAuthenticator>();
  CHECK(bind_error(no_url).find("--public-url is required") != std::string::npos);

  HttpOptions plain;
  plain.access.authenticator = std::make_shared<FakeAuthenticator>();
  plain.access.public_url = "http://mcp.example.com/mcp";
  CHECK(bind_error(plain).rfind("--public-url:", 0) == 0);

  HttpOptions proxy;
  proxy.access.authenticator = std::make_shared<FakeAuthenticator>();
  proxy.access.trusted_proxies = {"10.0.0.0/33"};
  CHECK(bind_error(proxy).rfind("--trusted-proxy: '10.0.0.0/33'", 0) == 0);
}
