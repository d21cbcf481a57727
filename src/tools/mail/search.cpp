#include "tools/mail/tools.hpp"

namespace concierge::tools::mail {

ToolDefinition search(App& app) {
  auto def = define("mail_search",
                {.title = "Search mail",
                 .description = "Finds messages, newest first; headers and snippets only (mail_read for bodies). Query operators: "
                                "from:, to:, subject:, is:unread|read|starred, has:attachment, label:, "
                                "in:inbox|sent|drafts|trash|spam|anywhere, before:/after: YYYY-MM-DD, \"phrases\", free words; "
                                "-term negates. Trash and spam are left out unless asked for.",
                 .hints = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  auto page = c.provider.search(c.call, args.value("query", ""), args.value("max_results", 20), args.value("page_token", ""), c.tz);
                  Json out = Json::array();
                  std::string text;
                  int unread = 0;
                  for (auto& s : page.messages) {
                    out.push_back(summary_json(s, c.tz));
                    unread += s.unread;
                    if (out.size() <= 3) text += (text.empty() ? "" : "; ") + summary_line(s);
                  }
                  Json result{{"messages", out}};
                  if (!page.next_page_token.empty()) result["next_page_token"] = page.next_page_token;
                  std::string said = out.empty() ? "No messages found."
                                                 : std::to_string(out.size()) + (page.next_page_token.empty() ? "" : "+") + " messages (" +
                                                       std::to_string(unread) + " unread): " + text + (out.size() > 3 ? "; …" : ".");
                  return ToolResult::text(said, std::move(result));
                });
  // Searching a large IMAP mailbox can take a while: a client may run it as a task and poll.
  def.task_support = TaskSupport::Optional;
  return def;
}

const ToolRegistrar registered{"mail", search};

}  // namespace concierge::tools::mail
