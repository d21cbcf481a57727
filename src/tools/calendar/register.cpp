#include "tools/calendar/common.hpp"

namespace concierge::tools {

// The calendar tools, one file each in this folder.
std::vector<ToolDefinition> calendar_tools(App& app) {
  using namespace calendar;
  std::vector<ToolDefinition> out;
  out.push_back(list_calendars(app));
  out.push_back(list_events(app));
  out.push_back(get_event(app));
  out.push_back(create_event(app));
  out.push_back(update_event(app));
  out.push_back(delete_event(app));
  out.push_back(find_free_time(app));
  return out;
}

}  // namespace concierge::tools
