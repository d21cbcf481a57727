#include "tools/mail/tools.hpp"

namespace concierge::tools {

// The mail tools, one file each in this folder.
std::vector<ToolDefinition> mail_tools(App& app) {
  std::vector<ToolDefinition> out;
  out.push_back(mail::search(app));
  out.push_back(mail::read(app));
  out.push_back(mail::send(app));
  out.push_back(mail::draft(app));
  out.push_back(mail::modify(app));
  out.push_back(mail::list_labels(app));
  return out;
}

}  // namespace concierge::tools
