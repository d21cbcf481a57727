#pragma once
// A CalDAV account (RFC 4791: Radicale, Nextcloud, Fastmail, iCloud...) behind CalendarProvider.
// Discovery goes principal -> calendar-home-set -> the home's calendars (PROPFIND); events come
// from calendar-query REPORTs with a time range and are expanded on our side (recurrence.hpp),
// never by the server's <expand>, so every server's events follow the same rules. Resources are
// iCalendar objects read and written with libical; writes carry If-Match / If-None-Match so a
// change made meanwhile by another client is refused rather than overwritten.
//
// Ids: a calendar is the last path segment of its collection under the home ("work"); an event
// is "<calendar>/<resource name without .ics>"; an occurrence of a series, as everywhere,
// "<series id>_<UTC start stamp>" (an overridden occurrence keeps the id of the one it replaces).
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "providers/auth/credentials.hpp"
#include "providers/calendar/provider.hpp"
#include "providers/http/client.hpp"
#include "providers/http/service.hpp"

namespace concierge::providers::calendar {

struct CaldavOptions {
  // Where discovery starts, the "context path" of RFC 6764 section 6: the server's root, a
  // principal, the user's calendar home or one calendar's URL ("https://dav.example.com/alice/",
  // "https://cloud.example.com/remote.php/dav/", "http://127.0.0.1:5232/"). A PROPFIND there asks
  // for current-user-principal (RFC 5397) and calendar-home-set (RFC 4791 section 6.2.1), then
  // the principal's home; failing both, the URL is taken as the home. (RFC 6764's
  // /.well-known/caldav redirect is not followed: a root URL must answer PROPFIND itself.)
  std::string url;
  std::string account = "default";  // how messages name the account
  std::string username, password;   // HTTP Basic...
  std::shared_ptr<auth::Credentials> credentials;  // ...or these instead (e.g. a Bearer token)
  http::Ms timeout{15000};
};

// The HTTP policy for one CalDAV server: base URL = the URL's origin (the paths CalDAV hands out
// are absolute), timeouts from the options. CalDAV servers publish no quotas; the budget is a
// polite default for a personal server.
http::Policy caldav_policy(const CaldavOptions& options);

// "Basic base64(user:pass)"; a 401 means the password itself is wrong (no refresh possible), so
// the tool error names the account and what to fix.
class BasicCredentials : public auth::Credentials {
 public:
  BasicCredentials(std::string account, const std::string& username, const std::string& password);
  std::string authorization(int64_t) override { return value_; }
  std::string refresh(int64_t, const std::string&) override;
  std::string account() const override { return account_; }

 private:
  std::string account_, username_, value_;
};

class CaldavCalendar : public CalendarProvider {
 public:
  // `client` may be given to share one (tests inspect its breaker); by default one is made from
  // caldav_policy(options).
  explicit CaldavCalendar(CaldavOptions options, std::shared_ptr<http::Client> client = nullptr);

  std::vector<Calendar> calendars(const Call& call) override;
  EventPage events(const Call& call, const EventQuery& query) override;
  Event event(const Call& call, const std::string& id, const std::string& field = "event_id") override;
  Event create(const Call& call, const NewEvent& event) override;
  Event update(const Call& call, const std::string& id, const EventPatch& patch, Scope scope) override;
  void remove(const Call& call, const std::string& id, Scope scope) override;
  std::vector<Interval> busy(const Call& call, const std::vector<std::string>& calendars, Millis from, Millis to) override;

  http::Client& client() { return *client_; }

  struct Collection;  // a calendar as the server describes it (href, zone...)
  struct Found;       // an event as fetched: its resource and what the id names in it

 private:
  std::string home(const Call& call);
  std::vector<Collection> collections(const Call& call);
  Collection collection(const Call& call, const std::string& id, const std::string& field);
  http::Response dav(const Call& call, http::Request r, const std::string& field = "");
  Found fetch(const Call& call, const std::string& id, const std::string& field);
  void put(const Call& call, const Found& f, const std::string& field);
  struct Listed;
  std::vector<Listed> collect(const Call& call, const std::vector<std::string>& calendars, Millis from, Millis to,
                              const std::string& field);

  CaldavOptions options_;
  std::string base_path_;  // the URL's path ("/alice/")
  std::shared_ptr<http::Client> client_;
  std::unique_ptr<http::ServiceApi> api_;
  std::mutex m_;
  std::map<int64_t, std::string> homes_;  // discovery, cached per user
};

}  // namespace concierge::providers::calendar
