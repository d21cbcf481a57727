#pragma once
// The prompts, one function per file, registered in prompts/builtin.cpp. A prompt is a template
// the user picks in their client; it reads preferences and history through App.
#include <string>

#include "server/registry.hpp"
#include "tools/app.hpp"

namespace concierge::prompts {

PromptDefinition voice_assistant(App& app);
PromptDefinition service_integration(App& app);
PromptDefinition daily_briefing(App& app);
PromptDefinition schedule_meeting(App& app);

void register_builtin(PromptRegistry& registry, App& app);

// Shared by the prompts: a user-role text message, an embedded JSON resource, an argument error.
Json user_text(std::string text);
Json embedded_json(const std::string& uri, const Json& value);
[[noreturn]] void bad_argument(const std::string& prompt, const std::string& name, const std::string& why);
// Today's date (YYYY-MM-DD) in an IANA zone.
std::string today_in(const std::string& time_zone);

}  // namespace concierge::prompts
