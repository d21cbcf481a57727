#include "providers/error.hpp"
#include "tools/mail/tools.hpp"

namespace concierge::tools::mail {

ToolDefinition modify(App& app) {
  return define("mail_modify",
                {.title = "Change messages",
                 .description = "Marks messages read or unread (read), stars or unstars them (starred), adds or removes labels, "
                                "archives (out of the inbox) or moves them to trash. Several messages at once; all or none.",
                 .hints = {.read_only = false, .destructive = true, .idempotent = true, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  ml::Change change;
                  change.add_labels = args.value("add_labels", std::vector<std::string>{});
                  change.remove_labels = args.value("remove_labels", std::vector<std::string>{});
                  if (args.contains("read")) change.read = args["read"].get<bool>();
                  if (args.contains("starred")) change.starred = args["starred"].get<bool>();
                  change.archive = args.value("archive", false);
                  change.trash = args.value("trash", false);
                  if (change.add_labels.empty() && change.remove_labels.empty() && !change.read && !change.starred && !change.archive && !change.trash)
                    throw providers::Error("arguments", "nothing to change: give read, starred, add_labels, remove_labels, archive or trash");
                  auto changed = c.provider.modify(c.call, args.at("message_ids").get<std::vector<std::string>>(), change);
                  Json out = Json::array();
                  for (auto& s : changed) out.push_back(summary_json(s, c.tz));
                  return ToolResult::text("Changed " + std::to_string(out.size()) + (out.size() == 1 ? " message." : " messages."), Json{{"messages", out}});
                });
}

const ToolRegistrar registered{"mail", modify};

}  // namespace concierge::tools::mail
