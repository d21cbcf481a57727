#pragma once
// The calendar domain: what any calendar provider can do. Tools in src/tools/calendar/ use only
// this. `user` is the store's user id (whose calendars); ids are the provider's own strings.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "providers/call.hpp"
#include "providers/time.hpp"

namespace concierge::providers::calendar {

struct Calendar {
  std::string id;
  std::string name;
  std::string time_zone;
  std::string color;
  bool primary = false;
};

struct Attendee {
  std::string email;
  std::string name;
  std::string response = "needsAction";  // needsAction, accepted, declined, tentative
};

struct Event {
  // An occurrence of a recurring event has id "<series id>_<UTC start, 20261123T090000Z>" and
  // series_id set; a single event or a series itself has series_id empty.
  std::string id;
  std::string series_id;
  std::string calendar_id;
  std::string summary, description, location;
  Millis start = 0, end = 0;  // all-day: local midnights in time_zone, end exclusive
  bool all_day = false;
  std::string time_zone;      // IANA; the wall clock recurrences keep
  std::string recurrence;     // RRULE (RFC 5545, without "RRULE:") of the series; empty if single
  std::vector<Attendee> attendees;
  std::vector<int> reminder_minutes;
  Millis created = 0, updated = 0;
};

struct EventQuery {
  Millis from = 0, to = 0;             // overlapping [from, to)
  std::string text;                    // case-insensitive, in summary, description, location
  std::vector<std::string> calendars;  // empty: all
  int max_results = 50;
  std::string page_token;
};

struct EventPage {
  std::vector<Event> events;  // by start; recurring events expanded into occurrences
  std::string next_page_token;
};

struct NewEvent {
  std::string calendar_id;  // empty: the primary calendar
  std::string summary, description, location;
  Millis start = 0, end = 0;
  bool all_day = false;
  std::string time_zone;
  std::string recurrence;
  std::vector<Attendee> attendees;
  std::vector<int> reminder_minutes;
  // Whether attendees are told (invitations, updates, cancellations) where the calendar sends
  // them; empty: they are when there are any.
  std::optional<bool> notify_attendees;
};

struct EventPatch {
  std::optional<std::string> summary, description, location, time_zone, recurrence;
  std::optional<Millis> start, end;
  std::optional<std::vector<Attendee>> attendees;
  std::optional<std::vector<int>> reminder_minutes;
  std::optional<bool> notify_attendees;  // as in NewEvent
};

// Which part of a recurring event an update or delete touches (given an occurrence's id).
enum class Scope { This, Following, All };

struct Interval {
  Millis start = 0, end = 0;
};

class CalendarProvider {
 public:
  virtual ~CalendarProvider() = default;
  virtual std::vector<Calendar> calendars(const Call& call) = 0;
  virtual EventPage events(const Call& call, const EventQuery& query) = 0;
  // A single event, a series, or one occurrence by its id. NotFound naming `field`.
  virtual Event event(const Call& call, const std::string& id, const std::string& field = "event_id") = 0;
  virtual Event create(const Call& call, const NewEvent& event) = 0;
  virtual Event update(const Call& call, const std::string& id, const EventPatch& patch, Scope scope) = 0;
  virtual void remove(const Call& call, const std::string& id, Scope scope) = 0;
  // The same, telling the attendees or not (as NewEvent's notify_attendees); calendars that send
  // no invitations (local, CalDAV) have nobody to tell.
  virtual void remove(const Call& call, const std::string& id, Scope scope, std::optional<bool> /*notify_attendees*/) {
    remove(call, id, scope);
  }
  // Busy intervals on the given calendars (empty: all), merged and sorted, clipped to [from, to).
  virtual std::vector<Interval> busy(const Call& call, const std::vector<std::string>& calendars, Millis from, Millis to) = 0;
};

}  // namespace concierge::providers::calendar
