#pragma once
// Google Calendar (API v3) behind CalendarProvider.
//
// Ids are Google's own. An event's calendar is not part of its id, so the adapter remembers
// which calendar it saw each event on (a cache) and otherwise looks on the primary calendar
// first, then the others. Occurrences of a recurring series are Google's "instances", listed
// with singleEvents=true; Google names them "<series id>_<original start>", the start in UTC
// basic format ("abc123_20261123T090000Z") for timed series, which is exactly our occurrence id,
// and as a date ("abc123_20261123") for all-day series, which we pass through unchanged.
// Changing one occurrence (Scope::This) patches the instance (Google keeps it as an exception
// under the same id); Scope::Following ends the series with UNTIL and inserts a new series from
// that occurrence on, as Google's own UI does; Scope::All patches the series, moving every
// occurrence by as much as the given one moves.
// Every write says whether Google mails the attendees (sendUpdates, whose default is to tell
// nobody: developers.google.com/workspace/calendar/api/v3/reference/events/insert, .../patch,
// .../delete): "all" when the event has attendees (before or after the change), unless the call
// says otherwise (notify_attendees: true -> all, false -> none).
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "providers/auth/credentials.hpp"
#include "providers/auth/oauth.hpp"
#include "providers/calendar/provider.hpp"
#include "providers/http/client.hpp"
#include "providers/http/service.hpp"

namespace concierge::providers::calendar {

// https://www.googleapis.com (paths /calendar/v3/...; Gmail and YouTube share the host), with
// the budget of Calendar's published per-user quota: 600 requests per minute per user per
// project (10,000 per minute per project), i.e. 10 per second with a burst of 20.
http::Policy google_calendar_policy();

// Least privilege: calendar.events (read and write events) plus calendar.readonly (the list of
// calendars and free/busy, which calendar.events does not cover); read-only: calendar.readonly.
std::vector<std::string> google_calendar_scopes(bool read_only);

// Google's error body {"error": {"code", "message", "errors": [{"reason"}]}} as tool errors:
// 404 notFound / 410 deleted -> NotFound; 412 conditionNotMet -> Conflict; 403 (and 429) with
// rateLimitExceeded, userRateLimitExceeded, quotaExceeded, dailyLimitExceeded or usageLimits
// -> Unavailable "over the rate limit", like a 429 (Google sends either status for the same
// limit); 403 requiredAccessLevel -> Error naming calendar_id (a calendar shared read-only);
// 400 -> Error quoting Google's message. Fields are named by the call sites.
void google_decode(const http::Response& response, const http::Request& request);

class GoogleCalendar : public CalendarProvider {
 public:
  GoogleCalendar(std::shared_ptr<http::Client> client, std::shared_ptr<auth::Credentials> credentials);

  std::vector<Calendar> calendars(const Call& call) override;
  EventPage events(const Call& call, const EventQuery& query) override;
  Event event(const Call& call, const std::string& id, const std::string& field = "event_id") override;
  Event create(const Call& call, const NewEvent& event) override;
  Event update(const Call& call, const std::string& id, const EventPatch& patch, Scope scope) override;
  void remove(const Call& call, const std::string& id, Scope scope) override;
  void remove(const Call& call, const std::string& id, Scope scope, std::optional<bool> notify_attendees) override;
  std::vector<Interval> busy(const Call& call, const std::vector<std::string>& calendars, Millis from, Millis to) override;

 private:
  struct Entry {
    Calendar calendar;
    std::string role;  // accessRole: owner, writer, reader, freeBusyReader
  };
  struct Found {
    std::string calendar;  // Google's calendar id
    Json item;             // the event resource
  };
  Json upstream(const Call& call, http::Request r);
  std::vector<Entry> calendar_list(const Call& call, bool fresh = false);
  std::string primary_id(const Call& call);
  std::string calendar_zone(const Call& call, const std::string& calendar);
  Found find(const Call& call, const std::string& id, const std::string& field);
  Found series_of(const Call& call, const Found& instance, const std::string& series_id);
  Event to_event(const Call& call, const std::string& calendar, const Json& item, const std::string& list_zone = "");
  void remember(const Call& call, const std::string& event_id, const std::string& calendar);

  http::ServiceApi api_;
  std::mutex m_;
  std::map<int64_t, std::vector<Entry>> calendars_;               // per user: the calendar list
  std::map<std::pair<int64_t, std::string>, std::string> where_;  // (user, event id) -> calendar
  std::map<std::string, std::pair<int64_t, std::string>> pages_;  // page handle -> (user, where each calendar goes on)
  std::deque<std::string> page_order_;
};

}  // namespace concierge::providers::calendar
