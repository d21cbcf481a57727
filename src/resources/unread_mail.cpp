#include "providers/providers.hpp"
#include "resources/resource.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"

namespace concierge::resources {

Json unread_mail_document(App& app, RequestContext& ctx) {
  const auto* tz = providers::zone(app.preferences.time_zone(ctx.user()));
  Json doc{{"messages", Json::array()}};
  // A provider that fails (an upstream down) leaves a note rather than failing the read.
  try {
    auto page = app.providers.mail.get().search(app.store.user_id(ctx.user()), "in:inbox is:unread", 25, "", tz);
    for (auto& m : page.messages)
      doc["messages"].push_back({{"id", m.id},
                                 {"thread_id", m.thread_id},
                                 {"from", providers::mail::format_address(m.from)},
                                 {"subject", m.subject},
                                 {"snippet", m.snippet},
                                 {"date", providers::format_time(m.date, tz)},
                                 {"starred", m.starred}});
    doc["truncated"] = !page.next_page_token.empty();
  } catch (const std::exception& e) {
    doc["error"] = std::string("the mailbox could not be read: ") + e.what();
  }
  return doc;
}

// The unread mail in the inbox of the default mail account, newest first (at most 25).
ResourceDefinition unread_mail(App& app) {
  return ResourceDefinition{
      .uri = kUnreadMailUri,
      .name = "unread-mail",
      .title = "Unread mail",
      .description = "Unread messages in the inbox of the default mail account, newest first: sender, subject, snippet.",
      .mime_type = "application/json",
      .icons = nullptr,
      .read = [&app](RequestContext& ctx) { return json_contents(kUnreadMailUri, unread_mail_document(app, ctx)); },
      .ttl_ms = 0,
      .scope = "mail:read"};
}

}  // namespace concierge::resources
