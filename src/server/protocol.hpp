#pragma once
// The params of the MCP methods the core serves, as typed values (clangd's Protocol.h style):
// each is parsed by `parse_params` (found by ADL from Server::bind<P>) before its handler runs, so
// a wrong or missing field is -32602 naming it and handlers see only checked values.
#include <cstddef>
#include <map>
#include <string>
#include <type_traits>

#include "common/json.hpp"
#include "server/context.hpp"

namespace concierge {

// tools/list, resources/list, resources/templates/list, prompts/list: where the page starts.
struct PageParams {
  size_t offset = 0;  // from the opaque cursor of the previous page
};
PageParams parse_params(const Json& params, std::type_identity<PageParams>);
// The cursor a page hands out for the next one.
std::string encode_cursor(size_t offset);

struct CallToolParams {
  std::string name;
  Json arguments = Json::object();
  Json task;  // 2025-11-25 task augmentation (tasks.hpp checks it); null when absent
};
CallToolParams parse_params(const Json& params, std::type_identity<CallToolParams>);

// resources/read, resources/subscribe, resources/unsubscribe.
struct UriParams {
  std::string uri;
};
UriParams parse_params(const Json& params, std::type_identity<UriParams>);

struct GetPromptParams {
  std::string name;
  std::map<std::string, std::string> arguments;  // prompt arguments are strings by name
};
GetPromptParams parse_params(const Json& params, std::type_identity<GetPromptParams>);

struct SetLevelParams {
  LogLevel level = LogLevel::Info;
};
SetLevelParams parse_params(const Json& params, std::type_identity<SetLevelParams>);

struct CompleteParams {
  std::string ref_type;  // ref/prompt or ref/resource
  std::string ref_name;  // ref/prompt
  std::string ref_uri;   // ref/resource
  std::string argument_name, argument_value;
  Json context_arguments = Json::object();
};
CompleteParams parse_params(const Json& params, std::type_identity<CompleteParams>);

}  // namespace concierge
