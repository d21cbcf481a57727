#include "tools/booking/common.hpp"

namespace concierge::tools {

// The booking tools, one file each in this folder.
std::vector<ToolDefinition> booking_tools(App& app) {
  using namespace booking;
  std::vector<ToolDefinition> out;
  out.push_back(list_event_types(app));
  out.push_back(find_slots(app));
  out.push_back(create(app));
  out.push_back(list(app));
  out.push_back(reschedule(app));
  out.push_back(cancel(app));
  return out;
}

}  // namespace concierge::tools
