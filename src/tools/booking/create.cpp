#include <regex>

#include "providers/error.hpp"
#include "tools/booking/common.hpp"
#include "tools/calendar/common.hpp"

namespace concierge::tools::booking {

ToolDefinition create(App& app) {
  return define("booking_create",
                {.title = "Book a slot",
                 .description = "Books an open slot of an event type for an attendee (name, email, their time zone) and puts "
                                "it on the user's calendar. start must be one of booking_find_slots' start times.",
                 .hints = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false}},
                [&app](const Json& args, RequestContext& ctx) {
                  auto c = call_of(app, args, ctx);
                  static const std::regex email(R"([^@\s<>(),;:"]+@[^@\s<>(),;:"]+\.[^@\s<>(),;:"]+)");
                  const Json& a = args.at("attendee");
                  bk::NewBooking nb;
                  nb.event_type_id = args.at("event_type");
                  nb.start = calendar::when(args, "start", c.tz).at;
                  nb.attendee = {a.at("name"), a.at("email"), a.value("time_zone", "")};
                  if (!std::regex_match(nb.attendee.email, email))
                    throw providers::Error("attendee.email", "'" + nb.attendee.email + "' is not an email address");
                  if (!nb.attendee.time_zone.empty()) providers::zone(nb.attendee.time_zone, "attendee.time_zone");
                  nb.notes = args.value("notes", "");
                  auto b = c.provider.create(c.call, nb);
                  return ToolResult::text("Booked " + booking_line(b, c.tz) + ".", Json{{"booking", booking_json(b, c.tz)}});
                });
}

const ToolRegistrar registered{"booking", create};

}  // namespace concierge::tools::booking
