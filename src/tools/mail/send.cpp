#include "tools/mail/tools.hpp"

namespace concierge::tools::mail {

namespace {
ToolDefinition composer(App& app, const char* name, bool send) {
  return define(name,
                {.title = send ? "Send mail" : "Save a draft",
                 .description = std::string(send ? "Sends a message" : "Saves a draft") +
                                ": to, cc, bcc (addresses), subject, text and/or html body. reply_to_message_id answers a message: "
                                "In-Reply-To and References are set so it threads, the subject gets \"Re:\", and to defaults to "
                                "the sender." + (send ? " The local mailbox files it in Sent." : ""),
                 .hints = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false},
                 // Sending reaches other people: a scope of its own (a draft stays mail:write).
                 .scope = send ? "mail:send" : ""},
                [&app, send](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  auto o = outgoing(args);
                  auto s = send ? c.provider.send(c.call, o) : c.provider.draft(c.call, o);
                  std::string to = s.to.empty() ? "no one yet" : ml::format_address(s.to[0]) + (s.to.size() > 1 ? " and others" : "");
                  return ToolResult::text(std::string(send ? "Sent" : "Saved a draft of") + " \"" + s.subject + "\" to " + to + ".",
                                          Json{{"message", summary_json(s, c.tz)}});
                });
}
}  // namespace

ToolDefinition send(App& app) { return composer(app, "mail_send", true); }
ToolDefinition draft(App& app) { return composer(app, "mail_draft", false); }

const ToolRegistrar registered_send{"mail", send};
const ToolRegistrar registered_draft{"mail", draft};

}  // namespace concierge::tools::mail
