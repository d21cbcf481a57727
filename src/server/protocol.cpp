#include "server/protocol.hpp"

#include "common/base64.hpp"
#include "server/params.hpp"

namespace concierge {

PageParams parse_params(const Json& params, std::type_identity<PageParams>) {
  auto it = params.find("cursor");
  if (it == params.end() || it->is_null()) return {};
  auto fail = [] { return rpc::invalid_params("Invalid cursor: pass the nextCursor of a previous page", Json{{"field", "cursor"}}); };
  if (!it->is_string()) throw fail();
  auto raw = base64url_decode(it->get<std::string>());
  if (!raw || raw->rfind("o:", 0) != 0 || raw->size() < 3) throw fail();
  size_t offset = 0;
  for (char c : raw->substr(2)) {
    if (c < '0' || c > '9' || offset > 1'000'000'000) throw fail();
    offset = offset * 10 + static_cast<size_t>(c - '0');
  }
  return {offset};
}

std::string encode_cursor(size_t offset) { return base64url_encode("o:" + std::to_string(offset)); }

CallToolParams parse_params(const Json& params, std::type_identity<CallToolParams>) {
  Fields f(params);
  CallToolParams p;
  p.name = f.req<std::string>("name");
  p.arguments = object_field(f, "arguments");
  if (auto task = params.find("task"); task != params.end()) p.task = *task;
  return p;
}

UriParams parse_params(const Json& params, std::type_identity<UriParams>) { return {Fields(params).req<std::string>("uri")}; }

GetPromptParams parse_params(const Json& params, std::type_identity<GetPromptParams>) {
  Fields f(params);
  GetPromptParams p;
  p.name = f.req<std::string>("name");
  Json args = params.value("arguments", Json());
  if (args.is_null()) return p;
  if (!args.is_object()) throw rpc::invalid_params("Invalid parameter arguments: expected an object", Json{{"field", "arguments"}});
  for (auto& [k, v] : args.items()) {
    if (!v.is_string())
      throw rpc::invalid_params("Invalid parameter arguments." + k + ": expected a string, got " + json_kind(v),
                                Json{{"field", "arguments." + k}});
    p.arguments[k] = v.get<std::string>();
  }
  return p;
}

SetLevelParams parse_params(const Json& params, std::type_identity<SetLevelParams>) {
  auto level = Fields(params).req<std::string>("level");
  auto parsed = parse_log_level(level);
  if (!parsed) throw rpc::invalid_params("Invalid parameter level: '" + level + "' is not a logging level", Json{{"field", "level"}});
  return {*parsed};
}

CompleteParams parse_params(const Json& params, std::type_identity<CompleteParams>) {
  Fields f(params);
  Json ref = object_field(f, "ref", true);
  Json argument = object_field(f, "argument", true);
  Fields rf(ref, "ref"), af(argument, "argument");
  CompleteParams p;
  p.ref_type = rf.req<std::string>("type");
  p.argument_name = af.req<std::string>("name");
  p.argument_value = af.req<std::string>("value");
  p.context_arguments = params.value("context", Json::object()).value("arguments", Json::object());
  if (p.ref_type == "ref/prompt") p.ref_name = rf.req<std::string>("name");
  else if (p.ref_type == "ref/resource") p.ref_uri = rf.req<std::string>("uri");
  else throw rpc::invalid_params("Invalid parameter ref.type: expected ref/prompt or ref/resource", Json{{"field", "ref.type"}});
  return p;
}

}  // namespace concierge
