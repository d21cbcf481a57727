// The MCP methods the core serves, bound by name.
#include <spdlog/spdlog.h>

#include "server/core.hpp"
#include "server/params.hpp"
#include "server/request_state.hpp"

namespace concierge {

namespace {
std::string encode_cursor(size_t offset) { return base64url_encode("o:" + std::to_string(offset)); }

size_t decode_cursor(const Json& params) {
  auto it = params.find("cursor");
  if (it == params.end() || it->is_null()) return 0;
  auto fail = [] { return rpc::invalid_params("Invalid cursor: pass the nextCursor of a previous page", Json{{"field", "cursor"}}); };
  if (!it->is_string()) throw fail();
  auto raw = base64url_decode(it->get<std::string>());
  if (!raw || raw->rfind("o:", 0) != 0 || raw->size() < 3) throw fail();
  size_t offset = 0;
  for (char c : raw->substr(2)) {
    if (c < '0' || c > '9' || offset > 1'000'000'000) throw fail();
    offset = offset * 10 + static_cast<size_t>(c - '0');
  }
  return offset;
}

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


// Prompt arguments are strings by name.
std::map<std::string, std::string> string_map(const Json& obj, const char* field) {
  std::map<std::string, std::string> out;
  if (obj.is_null()) return out;
  if (!obj.is_object()) throw rpc::invalid_params(std::string("Invalid parameter ") + field + ": expected an object", Json{{"field", field}});
  for (auto& [k, v] : obj.items()) {
    if (!v.is_string())
      throw rpc::invalid_params(std::string("Invalid parameter ") + field + "." + k + ": expected a string, got " + json_kind(v),
                                Json{{"field", std::string(field) + "." + k}});
    out[k] = v.get<std::string>();
  }
  return out;
}
}  // namespace

void Server::register_protocol_methods() {
  auto sync = [this](std::string name, Eras eras, Json (Server::*fn)(const Json&, RequestContext&), bool run_inline = false) {
    bind_async(std::move(name), eras, [this, fn](const Json& params, std::shared_ptr<Responder> r) {
      r->reply((this->*fn)(params, r->context()));
    }, run_inline);
  };
  // Cheap methods run on the transport's thread; nothing slow may queue ahead of them.
  bind_async("ping", kLegacy, [](const Json&, std::shared_ptr<Responder> r) { r->reply(Json::object()); }, true);
  bind_async("server/discover", kModern, [this](const Json&, std::shared_ptr<Responder> r) { r->reply(discover(r->context())); }, true);
  bind_async("logging/setLevel", kLegacy, [](const Json& params, std::shared_ptr<Responder> r) {
    auto level = Fields(params).req<std::string>("level");
    auto parsed = parse_log_level(level);
    if (!parsed) throw rpc::invalid_params("Invalid parameter level: '" + level + "' is not a logging level", Json{{"field", "level"}});
    auto& s = *r->context().conn_.session;
    { std::lock_guard l(s.m); s.log_level = parsed; }
    r->reply(Json::object());
  }, true);
  auto subscription = [this](bool add) {
    return [this, add](const Json& params, std::shared_ptr<Responder> r) {
      auto uri = Fields(params).req<std::string>("uri");
      std::map<std::string, std::string> vars;
      if (add && !resources_.find(uri) && !resources_.match(uri, vars))
        throw rpc::Error(rpc::kResourceNotFoundLegacy, "Resource not found: " + uri, Json{{"uri", uri}});
      auto& s = *r->context().conn_.session;
      { std::lock_guard l(s.m); add ? (void)s.subscriptions.insert(uri) : (void)s.subscriptions.erase(uri); }
      r->reply(Json::object());
    };
  };
  bind_async("resources/subscribe", kLegacy, subscription(true), true);
  bind_async("resources/unsubscribe", kLegacy, subscription(false), true);

  bind_async("subscriptions/listen", kModern, [this](const Json& params, std::shared_ptr<Responder> r) { listen(params, std::move(r)); }, true);

  sync("tools/list", kBoth, &Server::list_tools, true);
  sync("tools/call", kBoth, &Server::call_tool);
  methods_["tools/call"].quick = [this](const Json& params) {
    auto name = params.find("name");
    const RegisteredTool* tool = name != params.end() && name->is_string() ? tools_.find(name->get_ref<const std::string&>()) : nullptr;
    return tool && tool->def.quick;
  };
  sync("resources/list", kBoth, &Server::list_resources, true);
  sync("resources/templates/list", kBoth, &Server::list_resource_templates, true);
  sync("resources/read", kBoth, &Server::read_resource);
  sync("prompts/list", kBoth, &Server::list_prompts, true);
  sync("prompts/get", kBoth, &Server::get_prompt);
  sync("completion/complete", kBoth, &Server::complete);
  tasks_.bind_methods();  // tasks/get, tasks/update, tasks/cancel, tasks/result, tasks/list
}

Json Server::discover(RequestContext& ctx) {
  Json r{{"supportedVersions", supported_revisions()}, {"capabilities", capabilities(ctx.revision())}};
  if (!options_.instructions.empty()) r["instructions"] = options_.instructions;
  cacheable(r, ctx, 3'600'000, /*shared=*/true);
  return r;
}

Json Server::list_tools(const Json& params, RequestContext& ctx) {
  const auto& all = tools_.list();
  Json r = paginate(all.size(), decode_cursor(params), options_.page_size, "tools", [&](size_t i) {
    Json t = all[i]->wire;
    adapt_tool(t, ctx.revision());
    return t;
  });
  cacheable(r, ctx, options_.list_ttl_ms);
  return r;
}

Json Server::call_tool(const Json& params, RequestContext& ctx) {
  Fields f(params);
  auto name = f.req<std::string>("name");
  Json args = object_field(f, "arguments");
  const RegisteredTool* tool = tools_.find(name);
  if (!tool) throw rpc::invalid_params("Unknown tool: " + name, Json{{"field", "name"}});

  // A call that becomes a task answers with its handle; the tool runs on the pool (tasks.hpp).
  if (auto created = tasks_.call_tool(*tool, args, params, ctx)) return *created;
  ToolResult result = invoke_tool(*tool, args, ctx);
  if (result.continuation)
    if (auto created = tasks_.defer(*tool, result.continuation, ctx)) return *created;
  return tool_call_result(*tool, finish_tool(std::move(result), ctx), ctx);
}

namespace {
// Failures the model should see and can act on become isError results; protocol errors pass.
template <class F>
ToolResult guarded(F&& run, RequestContext& ctx) {
  try {
    return run();
  } catch (const ToolError& e) {
    return ToolResult::error(e.what());
  } catch (const rpc::Error& e) {
    if (e.code != rpc::kMissingRequiredClientCapability || ctx.modern()) throw;
    return ToolResult::error(e.what());  // legacy: the client simply can't do what this tool needs
  }
}
}  // namespace

ToolResult invoke_tool(const RegisteredTool& tool, const Json& args, RequestContext& ctx) {
  // A tool error, not a protocol error: the model sees it and can correct its call. It starts
  // with the argument at fault ("max_results: must be at least 1"), like the handlers' own.
  if (auto problem = tool.input->validate(args)) return ToolResult::error(*problem);
  return guarded([&] { return tool.def.handler(args, ctx); }, ctx);
}

ToolResult finish_tool(ToolResult result, RequestContext& ctx) {
  while (result.continuation) {
    auto rest = std::exchange(result.continuation, nullptr);
    result = guarded([&] { return rest(ctx); }, ctx);
  }
  return result;
}

Json tool_call_result(const RegisteredTool& tool, ToolResult result, RequestContext& ctx) {
  const std::string& name = tool.def.name;
  if (!result.is_error && tool.output) {
    if (result.structured.is_null()) {
      spdlog::error("tool {} returned no structured content for its outputSchema", name);
      throw rpc::Error(rpc::kInternalError, "Internal error: tool " + name + " returned no structured content");
    }
    if (auto problem = tool.output->validate(result.structured)) {
      spdlog::error("tool {} returned output that fails its outputSchema: {}", name, *problem);
      throw rpc::Error(rpc::kInternalError, "Internal error: tool " + name + " returned invalid output (" + *problem + ")");
    }
  }
  if (result.content.empty() && !result.structured.is_null())
    result.content.push_back(Json{{"type", "text"}, {"text", dump(result.structured)}});
  Json r{{"content", std::move(result.content)}};
  adapt_content(r["content"], ctx.revision());
  if (result.is_error) r["isError"] = true;
  if (!result.structured.is_null() && ctx.revision() >= Revision::V2025_06_18)
    r["structuredContent"] = std::move(result.structured);
  return r;
}

Json Server::list_resources(const Json& params, RequestContext& ctx) {
  const auto& all = resources_.resources();
  Json r = paginate(all.size(), decode_cursor(params), options_.page_size, "resources", [&](size_t i) {
    const auto& d = all[i];
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

Json Server::list_resource_templates(const Json& params, RequestContext& ctx) {
  const auto& all = resources_.templates();
  Json r = paginate(all.size(), decode_cursor(params), options_.page_size, "resourceTemplates", [&](size_t i) {
    const auto& d = all[i];
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

Json Server::read_resource(const Json& params, RequestContext& ctx) {
  auto uri = Fields(params).req<std::string>("uri");
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

Json Server::list_prompts(const Json& params, RequestContext& ctx) {
  const auto& all = prompts_.list();
  Json r = paginate(all.size(), decode_cursor(params), options_.page_size, "prompts", [&](size_t i) {
    const auto& d = all[i];
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

Json Server::get_prompt(const Json& params, RequestContext& ctx) {
  Fields f(params);
  auto name = f.req<std::string>("name");
  const auto* p = prompts_.find(name);
  if (!p) throw rpc::invalid_params("Unknown prompt: " + name, Json{{"field", "name"}});
  auto args = string_map(params.value("arguments", Json()), "arguments");
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

Json Server::complete(const Json& params, RequestContext& ctx) {
  Fields f(params);
  Json ref = object_field(f, "ref", true);
  Json argument = object_field(f, "argument", true);
  Fields rf(ref, "ref"), af(argument, "argument");
  auto type = rf.req<std::string>("type");
  auto arg_name = af.req<std::string>("name");
  auto value = af.req<std::string>("value");
  Json context_args = params.value("context", Json::object()).value("arguments", Json::object());

  const Completer* completer = nullptr;
  if (type == "ref/prompt") {
    auto name = rf.req<std::string>("name");
    const auto* p = prompts_.find(name);
    if (!p) throw rpc::invalid_params("Unknown prompt: " + name, Json{{"field", "ref.name"}});
    for (const auto& a : p->arguments)
      if (a.name == arg_name) completer = &a.complete;
    if (!completer) throw rpc::invalid_params("Prompt " + name + " has no argument " + arg_name, Json{{"field", "argument.name"}});
  } else if (type == "ref/resource") {
    auto uri = rf.req<std::string>("uri");
    const auto* t = resources_.find_template(uri);
    if (!t) throw rpc::invalid_params("Unknown resource template: " + uri, Json{{"field", "ref.uri"}});
    auto it = t->complete.find(arg_name);
    if (it != t->complete.end()) {
      completer = &it->second;
    } else {
      const UriTemplate parsed(t->uri_template);
      const auto& vars = parsed.variables();
      if (std::find(vars.begin(), vars.end(), arg_name) == vars.end())
        throw rpc::invalid_params("Resource template " + uri + " has no variable " + arg_name, Json{{"field", "argument.name"}});
    }
  } else {
    throw rpc::invalid_params("Invalid parameter ref.type: expected ref/prompt or ref/resource", Json{{"field", "ref.type"}});
  }
  std::vector<std::string> values;
  if (completer && *completer) values = (*completer)(value, context_args, ctx);
  const size_t total = values.size();
  if (values.size() > 100) values.resize(100);  // the spec's cap per response
  return Json{{"completion", Json{{"values", values}, {"total", total}, {"hasMore", total > values.size()}}}};
}

}  // namespace concierge
