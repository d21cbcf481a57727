#include <date/tz.h>

#include <cstdlib>

#include "providers/time.hpp"
#include "store/preferences.hpp"
#include "tools/tool.hpp"

namespace concierge::tools {

namespace {
// The user's zone: their preference when there is a store, else the system's default.
const date::time_zone* default_zone(App* app, const std::string& user) {
  for (const std::string& name : {app ? app->preferences.time_zone(user) : std::string(), store::Preferences::system_time_zone()}) {
    if (name.empty()) continue;
    try { return date::locate_zone(name); } catch (const std::exception&) {}
  }
  return date::locate_zone("UTC");
}

std::string offset_text(std::chrono::seconds off) {
  auto total = off.count();
  char sign = total < 0 ? '-' : '+';
  total = std::abs(total);
  char buf[8];
  std::snprintf(buf, sizeof buf, "%c%02lld:%02lld", sign, static_cast<long long>(total / 3600),
                static_cast<long long>(total / 60 % 60));
  return buf;
}
}  // namespace

ToolDefinition get_current_time(App* app) {
  return define(
      "get_current_time",
      {.title = "Current time",
       .description = "The current date and time in an IANA time zone (default: the user's), as RFC 3339 with offset.",
       .hints = {.read_only = true, .destructive = false, .idempotent = false, .open_world = false}},
      [app](const Json& args, RequestContext& ctx) {
        const date::time_zone* zone;
        if (auto it = args.find("time_zone"); it != args.end()) {
          zone = providers::zone(it->get<std::string>(), "time_zone");
        } else {
          zone = default_zone(app, ctx.user());
        }
        auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
        date::zoned_time<std::chrono::seconds> zt(zone, now);
        auto info = zt.get_info();
        auto local = zt.get_local_time();
        std::string offset = offset_text(info.offset);
        std::string datetime = date::format("%FT%T", local) + offset;
        std::string weekday = date::format("%A", local);
        Json out{{"datetime", datetime},
                 {"date", date::format("%F", local)},
                 {"time", date::format("%T", local)},
                 {"weekday", weekday},
                 {"time_zone", std::string(zone->name())},
                 {"utc_offset", offset},
                 {"abbreviation", info.abbrev},
                 {"dst", info.save != std::chrono::minutes(0)},
                 {"unix_seconds", now.time_since_epoch().count()}};
        std::string text = "It is " + weekday + ", " + date::format("%e %B %Y, %H:%M", local) + " in " +
                           std::string(zone->name()) + " (UTC" + offset + ").";
        return ToolResult::text(std::move(text), std::move(out));
      });
}

const ToolRegistrar registered{"", get_current_time};

}  // namespace concierge::tools
