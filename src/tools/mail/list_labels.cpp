#include "tools/mail/tools.hpp"

namespace concierge::tools::mail {

ToolDefinition list_labels(App& app) {
  return define("mail_list_labels",
                {.title = "List mail labels",
                 .description = "The mailbox's labels, system (INBOX, SENT, DRAFT, TRASH, SPAM, STARRED) and the user's, with "
                                "message and unread counts.",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  Json out = Json::array();
                  int inbox_unread = 0;
                  for (auto& l : c.provider.labels(c.call)) {
                    out.push_back({{"name", l.name}, {"type", l.type}, {"total", l.total}, {"unread", l.unread}});
                    if (l.name == "INBOX") inbox_unread = l.unread;
                  }
                  return ToolResult::text(std::to_string(out.size()) + " labels; " + std::to_string(inbox_unread) + " unread in the inbox.",
                                          Json{{"labels", out}});
                });
}

const ToolRegistrar registered{"mail", list_labels};

}  // namespace concierge::tools::mail
