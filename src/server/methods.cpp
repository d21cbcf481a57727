// The MCP methods the core serves, bound by name.
#include <spdlog/spdlog.h>

#include "server/core.hpp"
#include "server/invoke.hpp"
#include "server/params.hpp"
#include "server/protocol.hpp"
#include "server/request_state.hpp"

namespace concierge {

namespace {
// A page [offset, offset+size) of n items; nextCursor set when more remain.
template <class F>
Json paginate(size_t n, size_t offset, size_t size, const char* key, F&& item) {
  if (offset > n) throw rpc::invalid_params("Invalid cursor: past the end of the list", Json{{"field", "cursor"}});
  Json out{{key, Json::array()}};
  size_t end = std::min(n, offset + size);
  for (size_t i = offset; i < end; ++i) out[key].push_back(item(i));
  if (end < n) out["nextCursor"] = encode_cursor(end);
  return out;
}

// What a caller may see of a list: the items whose scopes its token grants, in the list's order.
template <class T, class F>
std::vector<const T*> visible(const std::vector<T>& all, F&& allowed) {
  std::vector<const T*> out;
  out.reserve(all.size());
  for (const auto& item : all)
    if (allowed(item)) out.push_back(&item);
  return out;
}

bool allows_all(const RequestContext& ctx, const std::vector<std::string>& scopes) {
  return std::all_of(scopes.begin(), scopes.end(), [&](const std::string& s) { return ctx.allows(s); });
}
}  // namespace

void Server::register_protocol_methods() {
  // Each method's params are parsed into its type (protocol.hpp) before the handler runs.
  auto typed = [this]<class P>(std::string name, Eras eras, Json (Server::*fn)(const P&, RequestContext&), bool run_inline = false) {
    bind<P>(std::move(name), eras, [this, fn](const P& p, RequestContext& ctx) { return (this->*fn)(p, ctx); }, run_inline);
  };
  // Cheap methods run on the transport's thread; nothing slow may queue ahead of them.
  bind_async("ping", kLegacy, [](const Json&, std::shared_ptr<Responder> r) { r->reply(Json::object()); }, true);
  bind_async("server/discover", kModern, [this](const Json&, std::shared_ptr<Responder> r) { r->reply(discover(r->context())); }, true);
  bind<SetLevelParams>("logging/setLevel", kLegacy, [](const SetLevelParams& p, RequestContext& ctx) {
    auto& s = *ctx.session();
    { std::lock_guard l(s.m); s.log_level = p.level; }
    return Json::object();
  }, true);
  auto subscription = [this](bool add) {
    return [this, add](const UriParams& p, RequestContext& ctx) {
      std::map<std::string, std::string> vars;
      if (add && !resources_.find(p.uri) && !resources_.match(p.uri, vars))
        throw rpc::Error(rpc::kResourceNotFoundLegacy, "Resource not found: " + p.uri, Json{{"uri", p.uri}});
      auto& s = *ctx.session();
      { std::lock_guard l(s.m); add ? (void)s.subscriptions.insert(p.uri) : (void)s.subscriptions.erase(p.uri); }
      return Json::object();
    };
  };
  bind<UriParams>("resources/subscribe", kLegacy, subscription(true), true);
  bind<UriParams>("resources/unsubscribe", kLegacy, subscription(false), true);

  bind_async("subscriptions/listen", kModern, [this](const Json& params, std::shared_ptr<Responder> r) { listen(params, std::move(r)); }, true);

  typed("tools/list", kBoth, &Server::list_tools, true);
  typed("tools/call", kBoth, &Server::call_tool);
  methods_["tools/call"].quick = [this](const Json& params) {
    auto name = params.find("name");
    const RegisteredTool* tool = name != params.end() && name->is_string() ? tools_.find(name->get_ref<const std::string&>()) : nullptr;
    return tool && tool->def.quick;
  };
  typed("resources/list", kBoth, &Server::list_resources, true);
  typed("resources/templates/list", kBoth, &Server::list_resource_templates, true);
  typed("resources/read", kBoth, &Server::read_resource);
  typed("prompts/list", kBoth, &Server::list_prompts, true);
  typed("prompts/get", kBoth, &Server::get_prompt);
  typed("completion/complete", kBoth, &Server::complete);
  tasks_.bind_methods();  // tasks/get, tasks/update, tasks/cancel, tasks/result, tasks/list
}

Json Server::discover(RequestContext& ctx) {
  Json r{{"supportedVersions", supported_revisions()}, {"capabilities", capabilities(ctx.revision())}};
  if (!options_.instructions.empty()) r["instructions"] = options_.instructions;
  cacheable(r, ctx, 3'600'000, /*shared=*/true);
  return r;
}

std::vector<std::string> Server::required_scopes(const std::string& method, const Json& params) const {
  auto text = [&](const Json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto one = [](const std::string& scope) { return scope.empty() ? std::vector<std::string>{} : std::vector<std::string>{scope}; };
  auto resource = [&](const std::string& uri) {
    if (const auto* d = resources_.find(uri)) return one(d->scope);
    std::map<std::string, std::string> vars;
    if (const auto* t = resources_.match(uri, vars)) return one(t->scope);
    return std::vector<std::string>{};
  };
  if (!params.is_object()) return {};
  if (method == "tools/call") {
    const auto* tool = tools_.find(text(params, "name"));
    return tool ? one(tool->def.scope) : std::vector<std::string>{};
  }
  if (method == "resources/read" || method == "resources/subscribe") return resource(text(params, "uri"));
  if (method == "prompts/get") {
    const auto* p = prompts_.find(text(params, "name"));
    return p ? p->scopes : std::vector<std::string>{};
  }
  if (method == "completion/complete") {  // completions draw on what the ref reads (history, say)
    auto ref = params.find("ref");
    if (ref == params.end() || !ref->is_object()) return {};
    if (text(*ref, "type") == "ref/prompt") {
      const auto* p = prompts_.find(text(*ref, "name"));
      return p ? p->scopes : std::vector<std::string>{};
    }
    const auto* t = resources_.find_template(text(*ref, "uri"));
    return t ? one(t->scope) : std::vector<std::string>{};
  }
  return {};
}

std::optional<rpc::Error> Server::missing_scope(const Json& message, const std::optional<std::set<std::string>>& granted) const {
  if (!granted || !message.is_object()) return std::nullopt;
  auto m = message.find("method");
  if (m == message.end() || !m->is_string()) return std::nullopt;
  auto p = message.find("params");
  auto need = required_scopes(m->get<std::string>(), p == message.end() ? Json::object() : *p);
  if (std::all_of(need.begin(), need.end(), [&](const std::string& s) { return scope_allows(granted, s); })) return std::nullopt;
  std::string what = m->get<std::string>();  // and what it names: "tools/call calendar_create_event"
  if (p != message.end() && p->is_object())
    for (const char* key : {"name", "uri"})
      if (auto v = p->find(key); v != p->end() && v->is_string()) what += " " + v->get<std::string>();
  std::string listed;
  for (const auto& s : need) listed += (listed.empty() ? "" : " ") + s;
  return rpc::Error(rpc::kInsufficientScope, "Insufficient scope: " + what + " needs " + listed, Json{{"requiredScopes", need}});
}

Json Server::list_tools(const PageParams& page, RequestContext& ctx) {
  std::vector<const RegisteredTool*> all;
  if (ctx.scopes()) {
    for (const auto* t : tools_.list())
      if (ctx.allows(t->def.scope)) all.push_back(t);
  }
  const auto& listed = ctx.scopes() ? all : tools_.list();
  Json r = paginate(listed.size(), page.offset, options_.page_size, "tools", [&](size_t i) {
    Json t = listed[i]->wire;
    adapt_tool(t, ctx.revision());
    return t;
  });
  cacheable(r, ctx, options_.list_ttl_ms);
  return r;
}

Json Server::call_tool(const CallToolParams& p, RequestContext& ctx) {
  const RegisteredTool* tool = tools_.find(p.name);
  if (!tool) throw rpc::invalid_params("Unknown tool: " + p.name, Json{{"field", "name"}});

  // A call that becomes a task answers with its handle; the tool runs on the pool (tasks.hpp).
  if (auto created = tasks_.call_tool(*tool, p.arguments, p.task, ctx)) return *created;
  ToolResult result = invoke_tool(*tool, p.arguments, ctx);
  if (result.continuation)
    if (auto created = tasks_.defer(*tool, result.continuation, ctx)) return *created;
  return tool_call_result(*tool, finish_tool(std::move(result), ctx), ctx);
}

Json Server::list_resources(const PageParams& page, RequestContext& ctx) {
  auto all = visible(resources_.resources(), [&](const ResourceDefinition& d) { return ctx.allows(d.scope); });
  Json r = paginate(all.size(), page.offset, options_.page_size, "resources", [&](size_t i) {
    const auto& d = *all[i];
    Json j{{"uri", d.uri}, {"name", d.name}};
    if (!d.title.empty()) j["title"] = d.title;
    if (!d.description.empty()) j["description"] = d.description;
    if (!d.mime_type.empty()) j["mimeType"] = d.mime_type;
    if (d.icons.is_array()) j["icons"] = d.icons;
    adapt_resource(j, ctx.revision());
    return j;
  });
  cacheable(r, ctx, options_.list_ttl_ms);
  return r;
}

Json Server::list_resource_templates(const PageParams& page, RequestContext& ctx) {
  auto all = visible(resources_.templates(), [&](const ResourceTemplateDefinition& d) { return ctx.allows(d.scope); });
  Json r = paginate(all.size(), page.offset, options_.page_size, "resourceTemplates", [&](size_t i) {
    const auto& d = *all[i];
    Json j{{"uriTemplate", d.uri_template}, {"name", d.name}};
    if (!d.title.empty()) j["title"] = d.title;
    if (!d.description.empty()) j["description"] = d.description;
    if (!d.mime_type.empty()) j["mimeType"] = d.mime_type;
    if (d.icons.is_array()) j["icons"] = d.icons;
    adapt_resource(j, ctx.revision());
    return j;
  });
  cacheable(r, ctx, options_.list_ttl_ms);
  return r;
}

Json Server::read_resource(const UriParams& p, RequestContext& ctx) {
  const std::string& uri = p.uri;
  auto not_found = [&] {
    // 2026-07-28 moved "resource not found" to Invalid Params.
    return rpc::Error(ctx.modern() ? rpc::kInvalidParams : rpc::kResourceNotFoundLegacy, "Resource not found: " + uri,
                      Json{{"uri", uri}});
  };
  Json contents;
  int ttl = 0;
  if (const auto* d = resources_.find(uri)) {
    contents = d->read(ctx);
    ttl = d->ttl_ms;
  } else {
    std::map<std::string, std::string> vars;
    const auto* t = resources_.match(uri, vars);
    if (!t) throw not_found();
    contents = t->read(uri, vars, ctx);
    if (contents.is_null()) throw not_found();
    ttl = t->ttl_ms;
  }
  for (auto& c : contents)
    if (ctx.revision() < Revision::V2025_06_18) c.erase("_meta");
  Json r{{"contents", std::move(contents)}};
  cacheable(r, ctx, ttl);
  return r;
}

Json Server::list_prompts(const PageParams& page, RequestContext& ctx) {
  auto all = visible(prompts_.list(), [&](const PromptDefinition& d) { return allows_all(ctx, d.scopes); });
  Json r = paginate(all.size(), page.offset, options_.page_size, "prompts", [&](size_t i) {
    const auto& d = *all[i];
    Json j{{"name", d.name}};
    if (!d.title.empty()) j["title"] = d.title;
    if (!d.description.empty()) j["description"] = d.description;
    if (d.icons.is_array()) j["icons"] = d.icons;
    if (!d.arguments.empty()) {
      j["arguments"] = Json::array();
      for (const auto& a : d.arguments) {
        Json aj{{"name", a.name}, {"required", a.required}};
        if (!a.title.empty()) aj["title"] = a.title;
        if (!a.description.empty()) aj["description"] = a.description;
        j["arguments"].push_back(std::move(aj));
      }
    }
    adapt_prompt(j, ctx.revision());
    return j;
  });
  cacheable(r, ctx, options_.list_ttl_ms);
  return r;
}

Json Server::get_prompt(const GetPromptParams& params, RequestContext& ctx) {
  const std::string& name = params.name;
  const auto* p = prompts_.find(name);
  if (!p) throw rpc::invalid_params("Unknown prompt: " + name, Json{{"field", "name"}});
  const auto& args = params.arguments;
  for (const auto& arg : args) {
    const std::string& k = arg.first;  // not a structured binding: clang 14 cannot capture one in a lambda
    bool known = std::any_of(p->arguments.begin(), p->arguments.end(), [&](const auto& a) { return a.name == k; });
    if (!known) throw rpc::invalid_params("Unknown argument for prompt " + name + ": " + k, Json{{"field", "arguments." + k}});
  }
  for (const auto& a : p->arguments)
    if (a.required && !args.count(a.name))
      throw rpc::invalid_params("Missing required argument for prompt " + name + ": " + a.name, Json{{"field", "arguments." + a.name}});
  Json r = p->render(args, ctx);
  for (auto& m : r["messages"]) {
    Json one = Json::array({m["content"]});
    adapt_content(one, ctx.revision());
    m["content"] = one[0];
  }
  return r;
}

Json Server::complete(const CompleteParams& p, RequestContext& ctx) {
  const std::string& arg_name = p.argument_name;
  const Completer* completer = nullptr;
  if (p.ref_type == "ref/prompt") {
    const auto* prompt = prompts_.find(p.ref_name);
    if (!prompt) throw rpc::invalid_params("Unknown prompt: " + p.ref_name, Json{{"field", "ref.name"}});
    for (const auto& a : prompt->arguments)
      if (a.name == arg_name) completer = &a.complete;
    if (!completer) throw rpc::invalid_params("Prompt " + p.ref_name + " has no argument " + arg_name, Json{{"field", "argument.name"}});
  } else {  // ref/resource (parse_params refused any other type)
    const auto* t = resources_.find_template(p.ref_uri);
    if (!t) throw rpc::invalid_params("Unknown resource template: " + p.ref_uri, Json{{"field", "ref.uri"}});
    auto it = t->complete.find(arg_name);
    if (it != t->complete.end()) {
      completer = &it->second;
    } else {
      const UriTemplate parsed(t->uri_template);
      const auto& vars = parsed.variables();
      if (std::find(vars.begin(), vars.end(), arg_name) == vars.end())
        throw rpc::invalid_params("Resource template " + p.ref_uri + " has no variable " + arg_name, Json{{"field", "argument.name"}});
    }
  }
  std::vector<std::string> values;
  if (completer && *completer) values = (*completer)(p.argument_value, p.context_arguments, ctx);
  const size_t total = values.size();
  if (values.size() > 100) values.resize(100);  // the spec's cap per response
  return Json{{"completion", Json{{"values", values}, {"total", total}, {"hasMore", total > values.size()}}}};
}

}  // namespace concierge
