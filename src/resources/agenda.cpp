#include "providers/providers.hpp"
#include "providers/time.hpp"
#include "resources/resource.hpp"
#include "server/jsonrpc.hpp"
#include "store/preferences.hpp"
#include "store/store.hpp"

namespace concierge::resources {

Json agenda_document(App& app, RequestContext& ctx, const std::string& day) {
  const std::string tz_name = app.preferences.time_zone(ctx.user());
  const auto* tz = providers::zone(tz_name);
  auto local = providers::parse_date(day, "date");
  providers::Millis from = providers::to_utc(providers::LocalMs{local}, tz);
  providers::Millis to = providers::to_utc(providers::LocalMs{local + date::days(1)}, tz);
  Json doc{{"date", day}, {"timeZone", tz_name}, {"events", Json::array()}};
  // A provider that fails (an upstream down) leaves a note rather than failing the read.
  try {
    auto page = app.providers.calendar.get().events(app.store.user_id(ctx.user()), {.from = from, .to = to, .max_results = 100});
    for (auto& e : page.events) {
      Json j{{"id", e.id}, {"summary", e.summary}, {"all_day", e.all_day}, {"calendar", e.calendar_id}};
      if (!e.all_day) {
        j["start"] = providers::format_time(e.start, tz);
        j["end"] = providers::format_time(e.end, tz);
      }
      if (!e.location.empty()) j["location"] = e.location;
      if (!e.attendees.empty()) j["attendees"] = e.attendees.size();
      doc["events"].push_back(std::move(j));
    }
    doc["truncated"] = !page.next_page_token.empty();
  } catch (const std::exception& e) {
    doc["error"] = std::string("the calendar could not be read: ") + e.what();
  }
  return doc;
}

// One day's agenda on the default calendar account, in the user's time zone.
ResourceTemplateDefinition agenda(App& app) {
  return ResourceTemplateDefinition{
      .uri_template = "concierge://calendar/agenda/{date}",
      .name = "agenda",
      .title = "Agenda of one day",
      .description = "The events of one day (YYYY-MM-DD, in the user's time zone) on the default calendar account.",
      .mime_type = "application/json",
      .icons = nullptr,
      .read = [&app](const std::string& uri, const std::map<std::string, std::string>& vars, RequestContext& ctx) -> Json {
        const std::string& day = vars.at("date");
        if (!providers::looks_like_date(day))
          throw rpc::invalid_params("Invalid date: expected YYYY-MM-DD, got '" + day + "'", Json{{"field", "uri"}, {"variable", "date"}});
        try {
          return json_contents(uri, agenda_document(app, ctx, day));
        } catch (const providers::Error& e) {
          throw rpc::invalid_params(std::string("Invalid ") + e.what(), Json{{"field", "uri"}, {"variable", "date"}});
        }
      },
      .ttl_ms = 0,
      .scope = "calendar:read"};
}

}  // namespace concierge::resources
