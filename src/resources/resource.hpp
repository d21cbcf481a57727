#pragma once
// The resources, one function per file, registered in resources/builtin.cpp.
#include "server/core.hpp"
#include "tools/app.hpp"

namespace concierge::resources {

inline constexpr const char* kPreferencesUri = "concierge://preferences";
inline constexpr const char* kHistoryUri = "concierge://history";
inline constexpr const char* kServicesUri = "concierge://services";
inline constexpr const char* kUnreadMailUri = "concierge://mail/unread";
// The most calls one history read returns; older ones are a template or an export away.
inline constexpr size_t kHistoryReadCap = 100;

ResourceDefinition preferences(App& app);
ResourceDefinition history(App& app);
ResourceTemplateDefinition history_by_date(App& app);
ResourceTemplateDefinition history_by_tool(App& app, const ToolRegistry& tools);
ResourceDefinition services(App& app);
ResourceTemplateDefinition agenda(App& app);  // concierge://calendar/agenda/{date}
ResourceDefinition unread_mail(App& app);      // concierge://mail/unread
Json unread_mail_document(App& app, RequestContext& ctx);
// The document behind it (also embedded by the daily_briefing prompt). Throws providers::Error
// naming `date` for a malformed day.
Json agenda_document(App& app, RequestContext& ctx, const std::string& day);

// Registers them all and wires change notifications (preferences -> resources/updated).
void register_builtin(Server& server, App& app);

// Records every tools/call in the history before its reply leaves (Server::set_tool_call_observer),
// secrets redacted, and cleans handler failures of the same secrets before they are logged.
void record_calls(Server& server, App& app);

// One JSON document as a resources/read `contents` array.
Json json_contents(const std::string& uri, const Json& value);

}  // namespace concierge::resources
