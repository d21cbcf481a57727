#include "providers/error.hpp"
#include "tools/mail/tools.hpp"

namespace concierge::tools::mail {

ToolDefinition read(App& app) {
  return define("mail_read",
                {.title = "Read mail",
                 .description = "One message (message_id) or a whole thread, oldest first (thread_id): headers, body as text "
                                "(default) or html, cut at max_body_chars with a marker, and attachments (name, type, size).",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  std::string format = args.value("format", "text");
                  size_t max = args.value("max_body_chars", 20000);
                  std::vector<ml::Message> messages;
                  if (args.contains("message_id")) messages.push_back(c.provider.message(c.call, args["message_id"]));
                  else if (args.contains("thread_id")) messages = c.provider.thread(c.call, args["thread_id"]);
                  else throw providers::Error("message_id", "is required unless thread_id is given");
                  Json out = Json::array();
                  for (auto& m : messages) out.push_back(message_json(m, c.tz, format, max));
                  std::string said = messages.size() == 1 ? summary_line(messages[0].summary) + ". " + messages[0].summary.snippet
                                                          : std::to_string(messages.size()) + " messages in the thread \"" + messages[0].summary.subject + "\".";
                  return ToolResult::text(said, Json{{"messages", out}});
                });
}

const ToolRegistrar registered{"mail", read};

}  // namespace concierge::tools::mail
