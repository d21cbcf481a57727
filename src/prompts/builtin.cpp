#include <chrono>
#include <date/tz.h>

#include "prompts/prompt.hpp"
#include "server/jsonrpc.hpp"

namespace concierge::prompts {

void register_builtin(PromptRegistry& registry, App& app) {
  registry.add(voice_assistant(app));
  registry.add(service_integration(app));
  registry.add(daily_briefing(app));
  registry.add(schedule_meeting(app));
}

Json user_text(std::string text) {
  return Json{{"role", "user"}, {"content", Json{{"type", "text"}, {"text", std::move(text)}}}};
}

Json embedded_json(const std::string& uri, const Json& value) {
  return Json{{"role", "user"},
              {"content", Json{{"type", "resource"},
                               {"resource", Json{{"uri", uri}, {"mimeType", "application/json"}, {"text", value.dump(2)}}}}}};
}

void bad_argument(const std::string& prompt, const std::string& name, const std::string& why) {
  throw rpc::invalid_params("Invalid argument " + name + " for prompt " + prompt + ": " + why, Json{{"field", "arguments." + name}});
}

std::string today_in(const std::string& time_zone) {
  const date::time_zone* zone;
  try {
    zone = date::locate_zone(time_zone);
  } catch (const std::exception&) {
    zone = date::locate_zone("UTC");
  }
  auto local = date::make_zoned(zone, std::chrono::system_clock::now()).get_local_time();
  return date::format("%F", date::floor<date::days>(local));
}

}  // namespace concierge::prompts
