#include "providers/calendar/caldav.hpp"
#include "providers/calendar/busy.hpp"
#include "common/text.hpp"

#include <libical/ical.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "providers/calendar/caldav_read.hpp"
#include "providers/calendar/recurrence.hpp"
#include "providers/error.hpp"
#include "providers/http/url.hpp"
#include "providers/ids.hpp"

namespace concierge::providers::calendar {

using namespace std::chrono;

namespace {

const std::string kService = "CalDAV";
constexpr const char* kDav = "DAV:";
constexpr const char* kCal = "urn:ietf:params:xml:ns:caldav";
constexpr const char* kApple = "http://apple.com/ns/ical/";
// Where we keep an all-day event's zone (a DATE has none; the tools show it in its own zone).
constexpr const char* kZoneProp = "X-CONCIERGE-TIME-ZONE";

std::string trim(std::string s) {
  auto sp = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && sp(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && sp(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// "https://host:8443/dav/alice/" -> {"https://host:8443", "/dav/alice/"}.
std::pair<std::string, std::string> split_url(const std::string& url) {
  auto scheme = url.find("://");
  size_t from = scheme == std::string::npos ? 0 : scheme + 3;
  auto slash = url.find('/', from);
  if (slash == std::string::npos) return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

// An href as a path on the configured origin. Servers answer with absolute URLs or references
// relative to the request (RFC 4918 section 8.3, RFC 3986 section 5); one that leads to another
// scheme, host or port is refused, since every request carries the account's Authorization.
std::string href_path(const std::string& href, const http::Url& request) {
  auto u = http::resolve(request, href);
  if (!u || !http::same_origin(*u, request)) {
    std::string shown = href.size() > 200 ? href.substr(0, 200) + "..." : href;
    throw http::Unavailable(kService + " sent an href that leaves " + request.scheme + "://" + request.host +
                            (request.port.empty() ? "" : ":" + request.port) + " ('" + shown +
                            "'); it is not followed, so the account's credentials go to no other server");
  }
  return u->path_and_query();
}

std::string with_slash(std::string p) {
  if (p.empty() || p.back() != '/') p += '/';
  return p;
}

// The last segment of a path ("/alice/work/" -> "work", "/alice/work/x.ics" -> "x.ics").
std::string last_segment(std::string p) {
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p.substr(p.rfind('/') + 1);
}

// ---- XML: multistatus responses (RFC 4918 section 13) -------------------------------------

struct Prop {
  std::string text;                // the element's text content, trimmed
  std::vector<std::string> hrefs;  // DAV:href children
  std::vector<std::string> kids;   // child elements as "ns|name" (resourcetype)
  std::vector<std::string> names;  // the children's name attributes (supported components)
};

struct DavResponse {
  std::string href;
  std::map<std::string, Prop> props;  // found (200) properties by "ns|name"
  const Prop* get(const char* ns, const char* name) const {
    auto it = props.find(std::string(ns) + "|" + name);
    return it == props.end() ? nullptr : &it->second;
  }
};

std::string key_of(const xmlNode* n) {
  std::string ns = n->ns && n->ns->href ? reinterpret_cast<const char*>(n->ns->href) : "";
  return ns + "|" + reinterpret_cast<const char*>(n->name);
}

bool is(const xmlNode* n, const char* ns, const char* name) {
  return n && n->type == XML_ELEMENT_NODE && key_of(n) == std::string(ns) + "|" + name;
}

std::string content(const xmlNode* n) {
  xmlChar* c = xmlNodeGetContent(n);
  std::string out = c ? reinterpret_cast<const char*>(c) : "";
  xmlFree(c);
  return trim(out);
}

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using Doc = std::unique_ptr<xmlDoc, DocFree>;

Doc parse_xml(const std::string& body) {
  static const bool init = [] {
    xmlInitParser();
    return true;
  }();
  (void)init;
  // No network, no entity expansion (XXE), no messages on stderr.
  return Doc(xmlReadMemory(body.data(), int(body.size()), "response.xml", nullptr,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
}

template <class F>
void each_child(const xmlNode* n, F f) {
  for (const xmlNode* c = n ? n->children : nullptr; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) f(c);
}

// The reply to `method` on `origin` + `path` (the base its relative hrefs resolve against).
std::vector<DavResponse> multistatus(const std::string& body, const std::string& method, const std::string& origin, const std::string& path) {
  const std::string what = method + " " + path;
  auto request = http::parse_url(origin + path);
  if (!request || request->scheme.empty()) throw http::Unavailable(kService + ": cannot read " + origin + path + " as a URL");
  Doc doc = parse_xml(body);
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (!is(root, kDav, "multistatus"))
    throw http::Unavailable(kService + " answered " + what + " with something that is not a WebDAV multistatus");
  std::vector<DavResponse> out;
  each_child(root, [&](const xmlNode* resp) {
    if (!is(resp, kDav, "response")) return;
    DavResponse r;
    each_child(resp, [&](const xmlNode* c) {
      if (is(c, kDav, "href")) r.href = href_path(content(c), *request);
      if (!is(c, kDav, "propstat")) return;
      bool ok = false;
      each_child(c, [&](const xmlNode* s) {
        if (is(s, kDav, "status")) ok = content(s).find(" 200") != std::string::npos;
      });
      if (!ok) return;  // 404 propstats list what the resource does not have
      each_child(c, [&](const xmlNode* prop) {
        if (!is(prop, kDav, "prop")) return;
        each_child(prop, [&](const xmlNode* p) {
          Prop v;
          v.text = content(p);
          each_child(p, [&](const xmlNode* k) {
            v.kids.push_back(key_of(k));
            if (is(k, kDav, "href")) v.hrefs.push_back(href_path(content(k), *request));
            if (xmlChar* n = xmlGetProp(k, reinterpret_cast<const xmlChar*>("name"))) {
              v.names.push_back(reinterpret_cast<const char*>(n));
              xmlFree(n);
            }
          });
          r.props[key_of(p)] = std::move(v);
        });
      });
    });
    if (!r.href.empty()) out.push_back(std::move(r));
  });
  return out;
}

// A DAV:error body names the precondition that failed (RFC 4791 section 1.3): "valid-calendar-data".
std::string precondition(const std::string& body) {
  Doc doc = parse_xml(body);
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  std::string out;
  if (is(root, kDav, "error"))
    each_child(root, [&](const xmlNode* c) {
      if (out.empty()) out = reinterpret_cast<const char*>(c->name);
    });
  return out;
}

// Request bodies: fixed documents; the only variable parts are UTC stamps we format.
const char* kFindHome =
    R"(<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">)"
    R"(<d:prop><d:current-user-principal/><c:calendar-home-set/></d:prop></d:propfind>)";
const char* kListCalendars =
    R"(<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" )"
    R"(xmlns:a="http://apple.com/ns/ical/"><d:prop><d:resourcetype/><d:displayname/><c:calendar-timezone/>)"
    R"(<a:calendar-color/><c:supported-calendar-component-set/><c:schedule-default-calendar-URL/></d:prop></d:propfind>)";

std::string query_body(Millis from, Millis to) {
  return R"(<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">)"
         R"(<d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR">)"
         R"(<c:comp-filter name="VEVENT"><c:time-range start=")" +
         stamp(from) + R"(" end=")" + stamp(to) + R"("/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>)";
}

// ---- iCalendar through libical ---------------------------------------------------------------

struct CompFree {
  void operator()(icalcomponent* c) const { icalcomponent_free(c); }
};
using Ical = std::unique_ptr<icalcomponent, CompFree>;

const date::time_zone* find_zone(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}
const date::time_zone* utc_zone() {
  static const date::time_zone* z = date::locate_zone("UTC");
  return z;
}
bool is_utc(const date::time_zone* z) { return z->name() == "UTC" || z->name() == "Etc/UTC"; }

// An IANA zone from a TZID as clients write them: "Europe/Berlin", or with a vendor prefix
// ("/freeassociation.sourceforge.net/Europe/Berlin", "/mozilla.org/20050126_1/Europe/Berlin").
const date::time_zone* zone_of_tzid(const std::string& tzid) {
  if (auto z = find_zone(tzid)) return z;
  for (size_t at = tzid.find('/'); at != std::string::npos; at = tzid.find('/', at + 1))
    if (auto z = find_zone(tzid.substr(at + 1))) return z;
  return nullptr;
}

std::string ical_text(icalcomponent* c) {
  char* s = icalcomponent_as_ical_string_r(c);
  std::string out = s ? s : "";
  std::free(s);
  return out;
}

Ical parse_ical(const std::string& text) {
  Ical c(icalparser_parse_string(text.c_str()));
  if (c && icalcomponent_isa(c.get()) != ICAL_VCALENDAR_COMPONENT) {
    // Several top-level components come back wrapped in an XROOT: take the first calendar.
    icalcomponent* inner = icalcomponent_get_first_component(c.get(), ICAL_VCALENDAR_COMPONENT);
    if (!inner) return nullptr;
    icalcomponent_remove_component(c.get(), inner);
    c.reset(inner);
  }
  return c;
}

LocalMs local_of(const icaltimetype& t) {
  date::local_days day{date::year{t.year} / unsigned(t.month) / unsigned(t.day)};
  if (t.is_date) return LocalMs{day};
  return day + hours(t.hour) + minutes(t.minute) + seconds(t.second);
}

icaltimetype ical_of(LocalMs t, bool is_date) {
  auto day = date::floor<date::days>(t);
  date::year_month_day ymd{day};
  date::hh_mm_ss<milliseconds> hms{date::floor<seconds>(t) - day};
  icaltimetype out = icaltime_null_time();
  out.year = int(ymd.year());
  out.month = int(unsigned(ymd.month()));
  out.day = int(unsigned(ymd.day()));
  if (is_date) {
    out.is_date = 1;
    return out;
  }
  out.hour = int(hms.hours().count());
  out.minute = int(hms.minutes().count());
  out.second = int(hms.seconds().count());
  return out;
}

std::string tzid_of(icalproperty* p) {
  icalparameter* tz = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
  const char* s = tz ? icalparameter_get_tzid(tz) : nullptr;
  return s ? s : "";
}

// An instant from a date-time property: UTC, in its TZID, or floating / a date in `fallback`.
// A TZID that names no IANA zone is resolved through the object's own VTIMEZONE by libical.
Millis instant_of(icalcomponent* vcal, icalproperty* p, const icaltimetype& t, const date::time_zone* fallback) {
  if (t.is_date) return to_utc(local_of(t), fallback);
  if (icaltime_is_utc(t)) return to_utc(local_of(t), utc_zone());
  std::string tzid = tzid_of(p);
  if (tzid.empty()) return to_utc(local_of(t), fallback);
  if (auto z = zone_of_tzid(tzid)) return to_utc(local_of(t), z);
  if (icaltimezone* z = vcal ? icalcomponent_get_timezone(vcal, tzid.c_str()) : nullptr)
    return Millis(icaltime_as_timet_with_zone(t, z)) * 1000;
  return to_utc(local_of(t), fallback);
}

// One VEVENT as we read it.
struct Vevent {
  icalcomponent* comp = nullptr;
  std::string summary, description, location, rrule;
  Millis start = 0, end = 0;
  bool all_day = false;
  const date::time_zone* tz = nullptr;  // the wall clock its recurrences keep
  std::vector<Millis> exdates;
  std::optional<Millis> recurrence_id;
  std::vector<Attendee> attendees;
  std::vector<int> reminders;
  Millis created = 0, updated = 0;
  bool transparent = false;  // TRANSP:TRANSPARENT or STATUS:CANCELLED: not busy
};

std::string text_prop(icalcomponent* c, icalproperty_kind k) {
  icalproperty* p = icalcomponent_get_first_property(c, k);
  const char* s = p ? icalproperty_get_value_as_string(p) : nullptr;
  if (!s) return "";
  // get_value_as_string escapes TEXT values; the value itself is what we want.
  icalvalue* v = icalproperty_get_value(p);
  if (v && icalvalue_isa(v) == ICAL_TEXT_VALUE) return icalvalue_get_text(v) ? icalvalue_get_text(v) : "";
  return s;
}

Millis stamp_prop(icalcomponent* c, icalproperty_kind k) {
  icalproperty* p = icalcomponent_get_first_property(c, k);
  if (!p) return 0;
  icalvalue* v = icalproperty_get_value(p);
  if (!v || icalvalue_isa(v) != ICAL_DATETIME_VALUE) return 0;
  return instant_of(nullptr, p, icalvalue_get_datetime(v), utc_zone());
}

std::string response_of(icalparameter_partstat s) {
  switch (s) {
    case ICAL_PARTSTAT_ACCEPTED: return "accepted";
    case ICAL_PARTSTAT_DECLINED: return "declined";
    case ICAL_PARTSTAT_TENTATIVE: return "tentative";
    default: return "needsAction";
  }
}
icalparameter_partstat partstat_of(const std::string& r) {
  if (r == "accepted") return ICAL_PARTSTAT_ACCEPTED;
  if (r == "declined") return ICAL_PARTSTAT_DECLINED;
  if (r == "tentative") return ICAL_PARTSTAT_TENTATIVE;
  return ICAL_PARTSTAT_NEEDSACTION;
}

Vevent read_vevent(icalcomponent* vcal, icalcomponent* c, const date::time_zone* calendar_tz) {
  Vevent v;
  v.comp = c;
  v.summary = text_prop(c, ICAL_SUMMARY_PROPERTY);
  v.description = text_prop(c, ICAL_DESCRIPTION_PROPERTY);
  v.location = text_prop(c, ICAL_LOCATION_PROPERTY);
  icalproperty* ds = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
  if (!ds) throw http::Unavailable(kService + " sent an event without a start (DTSTART)");
  icaltimetype st = icalproperty_get_dtstart(ds);
  v.all_day = st.is_date != 0;
  const date::time_zone* fallback = calendar_tz ? calendar_tz : utc_zone();
  if (v.all_day) {
    for (icalproperty* x = icalcomponent_get_first_property(c, ICAL_X_PROPERTY); x;
         x = icalcomponent_get_next_property(c, ICAL_X_PROPERTY))
      if (const char* n = icalproperty_get_x_name(x); n && std::string(n) == kZoneProp)
        if (auto z = find_zone(trim(icalproperty_get_x(x) ? icalproperty_get_x(x) : ""))) fallback = z;
    v.tz = fallback;
  } else if (icaltime_is_utc(st)) {
    v.tz = utc_zone();
  } else if (std::string tzid = tzid_of(ds); !tzid.empty()) {
    v.tz = zone_of_tzid(tzid);
    if (!v.tz) v.tz = utc_zone();  // a private VTIMEZONE: the instant through libical, the series in UTC
  } else {
    v.tz = fallback;  // floating: the calendar's wall clock
  }
  v.start = instant_of(vcal, ds, st, v.tz);
  if (icalproperty* de = icalcomponent_get_first_property(c, ICAL_DTEND_PROPERTY)) {
    v.end = instant_of(vcal, de, icalproperty_get_dtend(de), v.tz);
  } else if (icalproperty* du = icalcomponent_get_first_property(c, ICAL_DURATION_PROPERTY)) {
    icaldurationtype d = icalproperty_get_duration(du);
    v.end = v.all_day && d.seconds == 0 && d.minutes == 0 && d.hours == 0
                ? to_utc(to_local(v.start, v.tz) + date::days(int(d.days + 7 * d.weeks)), v.tz)
                : v.start + Millis(icaldurationtype_as_int(d)) * 1000;
  } else {
    v.end = v.all_day ? to_utc(to_local(v.start, v.tz) + date::days(1), v.tz) : v.start;  // RFC 5545 3.6.1
  }
  if (v.end < v.start) v.end = v.start;
  if (icalproperty* rr = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY)) {
    struct icalrecurrencetype r = icalproperty_get_rrule(rr);
    char* s = icalrecurrencetype_as_string_r(&r);
    if (s) v.rrule = s;
    std::free(s);
  }
  for (icalproperty* x = icalcomponent_get_first_property(c, ICAL_EXDATE_PROPERTY); x;
       x = icalcomponent_get_next_property(c, ICAL_EXDATE_PROPERTY)) {
    icaltimetype t = icalproperty_get_exdate(x);
    if (t.is_date && !v.all_day) {  // a date excludes that day's occurrence
      auto tod = to_local(v.start, v.tz) - date::floor<date::days>(to_local(v.start, v.tz));
      v.exdates.push_back(to_utc(local_of(t) + tod, v.tz));
    } else {
      v.exdates.push_back(instant_of(vcal, x, t, v.tz));
    }
  }
  if (icalproperty* rid = icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY))
    v.recurrence_id = instant_of(vcal, rid, icalproperty_get_recurrenceid(rid), v.tz);
  for (icalproperty* a = icalcomponent_get_first_property(c, ICAL_ATTENDEE_PROPERTY); a;
       a = icalcomponent_get_next_property(c, ICAL_ATTENDEE_PROPERTY)) {
    Attendee at;
    std::string addr = icalproperty_get_attendee(a) ? icalproperty_get_attendee(a) : "";
    if (lower(addr).rfind("mailto:", 0) == 0) addr = addr.substr(7);
    at.email = addr;
    if (icalparameter* cn = icalproperty_get_first_parameter(a, ICAL_CN_PARAMETER))
      at.name = icalparameter_get_cn(cn) ? icalparameter_get_cn(cn) : "";
    if (icalparameter* ps = icalproperty_get_first_parameter(a, ICAL_PARTSTAT_PARAMETER))
      at.response = response_of(icalparameter_get_partstat(ps));
    v.attendees.push_back(std::move(at));
  }
  for (icalcomponent* al = icalcomponent_get_first_component(c, ICAL_VALARM_COMPONENT); al;
       al = icalcomponent_get_next_component(c, ICAL_VALARM_COMPONENT)) {
    icalproperty* tr = icalcomponent_get_first_property(al, ICAL_TRIGGER_PROPERTY);
    if (!tr) continue;
    icaltriggertype t = icalproperty_get_trigger(tr);
    if (!icaltime_is_null_time(t.time)) continue;  // an absolute trigger is no "minutes before"
    int secs = icaldurationtype_as_int(t.duration);
    if (secs <= 0) v.reminders.push_back(-secs / 60);
  }
  v.created = stamp_prop(c, ICAL_CREATED_PROPERTY);
  v.updated = stamp_prop(c, ICAL_LASTMODIFIED_PROPERTY);
  if (!v.updated) v.updated = stamp_prop(c, ICAL_DTSTAMP_PROPERTY);
  if (!v.created) v.created = v.updated;
  if (icalproperty* tp = icalcomponent_get_first_property(c, ICAL_TRANSP_PROPERTY))
    v.transparent = icalproperty_get_transp(tp) == ICAL_TRANSP_TRANSPARENT;
  if (icalproperty* sp = icalcomponent_get_first_property(c, ICAL_STATUS_PROPERTY))
    v.transparent = v.transparent || icalproperty_get_status(sp) == ICAL_STATUS_CANCELLED;
  return v;
}

Event to_event(const Vevent& v, const std::string& id, const std::string& series_id, const std::string& calendar) {
  Event e;
  e.id = id;
  e.series_id = series_id;
  e.calendar_id = calendar;
  e.summary = v.summary;
  e.description = v.description;
  e.location = v.location;
  e.start = v.start;
  e.end = v.end;
  e.all_day = v.all_day;
  e.time_zone = std::string(v.tz->name());
  e.recurrence = series_id.empty() ? v.rrule : "";
  e.attendees = v.attendees;
  e.reminder_minutes = v.reminders;
  e.created = v.created;
  e.updated = v.updated;
  return e;
}

Series series_of(const Vevent& v, std::vector<Millis> skip) {
  skip.insert(skip.end(), v.exdates.begin(), v.exdates.end());
  return Series{date::floor<seconds>(to_local(v.start, v.tz)), v.end - v.start, v.rrule, v.tz, std::move(skip)};
}

// An occurrence's end: all-day ones keep their length in days on the wall clock.
Millis occurrence_end(const Vevent& v, Millis start) {
  if (!v.all_day) return start + (v.end - v.start);
  return to_utc(to_local(start, v.tz) + (to_local(v.end, v.tz) - to_local(v.start, v.tz)), v.tz);
}

// ---- writing VEVENTs ---------------------------------------------------------------------

void remove_all(icalcomponent* c, icalproperty_kind k) {
  std::vector<icalproperty*> found;
  for (icalproperty* p = icalcomponent_get_first_property(c, k); p; p = icalcomponent_get_next_property(c, k)) found.push_back(p);
  for (auto* p : found) {
    icalcomponent_remove_property(c, p);
    icalproperty_free(p);
  }
}

void remove_x(icalcomponent* c, const char* name) {
  std::vector<icalproperty*> found;
  for (icalproperty* p = icalcomponent_get_first_property(c, ICAL_X_PROPERTY); p;
       p = icalcomponent_get_next_property(c, ICAL_X_PROPERTY))
    if (const char* n = icalproperty_get_x_name(p); n && std::string(n) == name) found.push_back(p);
  for (auto* p : found) {
    icalcomponent_remove_property(c, p);
    icalproperty_free(p);
  }
}

// A date-time property as the event's zone writes it: TZID=<IANA>, UTC (Z), or a DATE.
icalproperty* time_prop(icalproperty_kind kind, Millis at, const date::time_zone* tz, bool all_day) {
  icaltimetype t = ical_of(to_local(at, tz), all_day);
  bool utc = is_utc(tz) && !all_day;
  if (utc) t = icaltime_set_timezone(&t, icaltimezone_get_utc_timezone());
  icalproperty* p = icalproperty_new(kind);
  icalproperty_set_value(p, all_day ? icalvalue_new_date(t) : icalvalue_new_datetime(t));
  if (!utc && !all_day) icalproperty_add_parameter(p, icalparameter_new_tzid(std::string(tz->name()).c_str()));
  return p;
}

void set_time(icalcomponent* c, icalproperty_kind kind, Millis at, const date::time_zone* tz, bool all_day) {
  remove_all(c, kind);
  icalcomponent_add_property(c, time_prop(kind, at, tz, all_day));
}

void set_text(icalcomponent* c, icalproperty_kind kind, const std::string& text) {
  remove_all(c, kind);
  if (text.empty()) return;
  icalproperty* p = icalproperty_new(kind);
  icalproperty_set_value(p, icalvalue_new_text(text.c_str()));
  icalcomponent_add_property(c, p);
}

void set_stamp(icalcomponent* c, icalproperty_kind kind, Millis at) {
  remove_all(c, kind);
  icaltimetype t = ical_of(to_local(at, utc_zone()), false);
  t = icaltime_set_timezone(&t, icaltimezone_get_utc_timezone());
  icalproperty* p = icalproperty_new(kind);
  icalproperty_set_value(p, icalvalue_new_datetime(t));
  icalcomponent_add_property(c, p);
}

void set_rrule(icalcomponent* c, const std::string& rrule) {
  remove_all(c, ICAL_RRULE_PROPERTY);
  if (rrule.empty()) return;
  icalcomponent_add_property(c, icalproperty_new_rrule(icalrecurrencetype_from_string(rrule.c_str())));
}

void set_attendees(icalcomponent* c, const std::vector<Attendee>& as) {
  remove_all(c, ICAL_ATTENDEE_PROPERTY);
  for (auto& a : as) {
    icalproperty* p = icalproperty_new_attendee(("mailto:" + a.email).c_str());
    if (!a.name.empty()) icalproperty_add_parameter(p, icalparameter_new_cn(a.name.c_str()));
    icalproperty_add_parameter(p, icalparameter_new_partstat(partstat_of(a.response)));
    icalcomponent_add_property(c, p);
  }
}

void set_reminders(icalcomponent* c, const std::vector<int>& minutes) {
  std::vector<icalcomponent*> old;
  for (icalcomponent* a = icalcomponent_get_first_component(c, ICAL_VALARM_COMPONENT); a;
       a = icalcomponent_get_next_component(c, ICAL_VALARM_COMPONENT))
    old.push_back(a);
  for (auto* a : old) {
    icalcomponent_remove_component(c, a);
    icalcomponent_free(a);
  }
  for (int m : minutes) {
    icalcomponent* a = icalcomponent_new(ICAL_VALARM_COMPONENT);
    icalcomponent_add_property(a, icalproperty_new_action(ICAL_ACTION_DISPLAY));
    icalcomponent_add_property(a, icalproperty_new_description("Reminder"));
    icaltriggertype t{};
    t.time = icaltime_null_time();
    t.duration = icaldurationtype_from_int(-m * 60);
    icalcomponent_add_property(a, icalproperty_new_trigger(t));
    icalcomponent_add_component(c, a);
  }
}

void set_zone_note(icalcomponent* c, const date::time_zone* tz, bool all_day) {
  remove_x(c, kZoneProp);
  if (!all_day) return;
  icalproperty* p = icalproperty_new_x(std::string(tz->name()).c_str());
  icalproperty_set_x_name(p, kZoneProp);
  icalcomponent_add_property(c, p);
}

// Writes the fields we model into a VEVENT (other properties other clients set stay as they are).
void write_fields(icalcomponent* c, const Vevent& v) {
  set_text(c, ICAL_SUMMARY_PROPERTY, v.summary);
  set_text(c, ICAL_DESCRIPTION_PROPERTY, v.description);
  set_text(c, ICAL_LOCATION_PROPERTY, v.location);
  set_time(c, ICAL_DTSTART_PROPERTY, v.start, v.tz, v.all_day);
  remove_all(c, ICAL_DURATION_PROPERTY);
  set_time(c, ICAL_DTEND_PROPERTY, v.end, v.tz, v.all_day);
  set_zone_note(c, v.tz, v.all_day);
  if (!v.recurrence_id) set_rrule(c, v.rrule);
  remove_all(c, ICAL_EXDATE_PROPERTY);
  for (Millis x : v.exdates) icalcomponent_add_property(c, time_prop(ICAL_EXDATE_PROPERTY, x, v.tz, v.all_day));
  if (v.recurrence_id) set_time(c, ICAL_RECURRENCEID_PROPERTY, *v.recurrence_id, v.tz, v.all_day);
  set_attendees(c, v.attendees);
  set_reminders(c, v.reminders);
  Millis now = now_ms();
  set_stamp(c, ICAL_DTSTAMP_PROPERTY, now);
  set_stamp(c, ICAL_LASTMODIFIED_PROPERTY, now);
  if (!icalcomponent_get_first_property(c, ICAL_CREATED_PROPERTY)) set_stamp(c, ICAL_CREATED_PROPERTY, now);
  // Every change is a new revision for other clients (RFC 5545 3.8.7.4).
  icalproperty* seq = icalcomponent_get_first_property(c, ICAL_SEQUENCE_PROPERTY);
  int n = seq ? icalproperty_get_sequence(seq) + 1 : 0;
  remove_all(c, ICAL_SEQUENCE_PROPERTY);
  icalcomponent_add_property(c, icalproperty_new_sequence(n));
}

// The VTIMEZONE every TZID we write needs (RFC 5545 3.6.5), from libical's zone data, with the
// plain IANA name as TZID.
void ensure_vtimezone(icalcomponent* vcal, const date::time_zone* tz) {
  if (is_utc(tz)) return;
  std::string name(tz->name());
  for (icalcomponent* z = icalcomponent_get_first_component(vcal, ICAL_VTIMEZONE_COMPONENT); z;
       z = icalcomponent_get_next_component(vcal, ICAL_VTIMEZONE_COMPONENT))
    if (icalproperty* id = icalcomponent_get_first_property(z, ICAL_TZID_PROPERTY); id && icalproperty_get_tzid(id) &&
                                                                                     name == icalproperty_get_tzid(id))
      return;
  icaltimezone* builtin = icaltimezone_get_builtin_timezone(name.c_str());
  icalcomponent* def = builtin ? icaltimezone_get_component(builtin) : nullptr;
  if (!def) return;  // a zone libical does not know: servers resolve IANA names themselves
  icalcomponent* copy = icalcomponent_new_clone(def);
  remove_all(copy, ICAL_TZID_PROPERTY);
  icalcomponent_add_property(copy, icalproperty_new_tzid(name.c_str()));
  icalcomponent_add_component(vcal, copy);
}

Ical new_vcalendar() {
  Ical cal(icalcomponent_new(ICAL_VCALENDAR_COMPONENT));
  icalcomponent_add_property(cal.get(), icalproperty_new_version("2.0"));
  icalcomponent_add_property(cal.get(), icalproperty_new_prodid("-//Concierge//CalDAV adapter//EN"));
  return cal;
}

void apply(Vevent& v, const EventPatch& p) {
  if (p.summary) v.summary = *p.summary;
  if (p.description) v.description = *p.description;
  if (p.location) v.location = *p.location;
  if (p.time_zone) v.tz = zone(*p.time_zone);
  if (p.attendees) v.attendees = *p.attendees;
  if (p.reminder_minutes) v.reminders = *p.reminder_minutes;
  if (p.recurrence) v.rrule = p.recurrence->empty() ? "" : normalize_rrule(*p.recurrence);
}

void check_times(const Vevent& v) {
  if (v.end <= v.start) throw Error("end", "must be after start");
}

bool matches(const Event& e, const std::string& lowered) {
  if (lowered.empty()) return true;
  auto has = [&](const std::string& s) { return lower(s).find(lowered) != std::string::npos; };
  return has(e.summary) || has(e.description) || has(e.location);
}

std::string uid_of(icalcomponent* c) {
  icalproperty* p = icalcomponent_get_first_property(c, ICAL_UID_PROPERTY);
  return p && icalproperty_get_uid(p) ? icalproperty_get_uid(p) : "";
}

std::vector<icalcomponent*> vevents(icalcomponent* vcal) {
  std::vector<icalcomponent*> out;
  for (icalcomponent* c = icalcomponent_get_first_component(vcal, ICAL_VEVENT_COMPONENT); c;
       c = icalcomponent_get_next_component(vcal, ICAL_VEVENT_COMPONENT))
    out.push_back(c);
  return out;
}

bool is_override(icalcomponent* c) { return icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY) != nullptr; }

icalcomponent* master_of(icalcomponent* vcal) {
  for (auto* c : vevents(vcal))
    if (!is_override(c)) return c;
  return nullptr;
}

// An all-day series ends with a DATE UNTIL (RFC 5545: UNTIL has DTSTART's value type).
std::string until_before(const Vevent& master, Millis occurrence) {
  std::string rule = rule_until(master.rrule, occurrence);
  if (!master.all_day) return rule;
  icalrecurrencetype r = icalrecurrencetype_from_string(rule.c_str());
  r.until = ical_of(to_local(occurrence, master.tz) - date::days(1), true);
  char* s = icalrecurrencetype_as_string_r(&r);
  std::string out = s ? s : rule;
  std::free(s);
  return out;
}

}  // namespace

// ---- reading REPORT answers (caldav_read.hpp) ----------------------------------------------

std::vector<caldav::Listed> caldav::resource_events(const std::string& ics, const std::string& href, const std::string& calendar_id,
                                                    const date::time_zone* calendar_tz, Millis from, Millis to) {
  Ical ical = parse_ical(ics);
  if (!ical) throw http::Unavailable(kService + " sent calendar data for " + href + " that is not iCalendar");
  std::string name = last_segment(href);
  if (name.size() > 4 && lower(name.substr(name.size() - 4)) == ".ics") name.resize(name.size() - 4);
  std::string series_id = calendar_id + "/" + name;
  std::vector<Vevent> overrides;
  std::optional<Vevent> master;
  for (auto* c : vevents(ical.get())) {
    Vevent v = read_vevent(ical.get(), c, calendar_tz);
    if (v.recurrence_id) overrides.push_back(std::move(v));
    else if (!master) master = std::move(v);
  }
  std::vector<Listed> out;
  auto add = [&](Event e, bool transparent) {
    if (e.start < to && std::max(e.end, e.start + 1) > from) out.push_back({std::move(e), transparent});
  };
  for (auto& o : overrides)
    add(to_event(o, series_id + "_" + stamp(*o.recurrence_id), master ? series_id : "", calendar_id), o.transparent);
  if (!master) return out;
  if (master->rrule.empty()) {
    add(to_event(*master, series_id, "", calendar_id), master->transparent);
    return out;
  }
  std::vector<Millis> replaced;
  for (auto& o : overrides) replaced.push_back(*o.recurrence_id);
  for (Millis s : expand(series_of(*master, replaced), from, to)) {
    Event e = to_event(*master, series_id + "_" + stamp(s), series_id, calendar_id);
    e.start = s;
    e.end = occurrence_end(*master, s);
    out.push_back({std::move(e), master->transparent});
  }
  return out;
}

std::vector<caldav::Listed> caldav::report_events(const std::string& body, const std::string& origin, const std::string& path,
                                                  const std::string& calendar_id, const date::time_zone* calendar_tz, Millis from,
                                                  Millis to) {
  std::vector<Listed> out;
  for (auto& d : multistatus(body, "REPORT", origin, path)) {
    auto data = d.get(kCal, "calendar-data");
    if (!data) continue;
    for (auto& l : resource_events(data->text, d.href, calendar_id, calendar_tz, from, to)) out.push_back(std::move(l));
  }
  return out;
}

// ---- the adapter -------------------------------------------------------------------------------

struct CaldavCalendar::Collection {
  std::string id, href, name, color;
  const date::time_zone* tz = nullptr;
  bool primary = false;
};

// A resource (one iCalendar object, a series with its overrides) and what an id names in it.
struct CaldavCalendar::Found {
  Collection calendar;
  std::string href, etag, series_id;  // series_id: "<calendar>/<name>"
  Ical cal;
  std::optional<Millis> occurrence;  // the id names this occurrence of the series
  icalcomponent* override_comp = nullptr;  // ...which has its own VEVENT
};

struct CaldavCalendar::Listed : caldav::Listed {};

http::Policy caldav_policy(const CaldavOptions& o) {
  http::Policy p;
  p.service = kService;
  p.base_url = split_url(o.url).first;
  p.timeout = o.timeout;
  p.connect_timeout = std::min(o.timeout, http::Ms{5000});
  // A personal server, no published quotas: a polite budget, enough for a listing over a few
  // calendars (one REPORT each) without waiting.
  p.rate_per_second = 20;
  p.burst = 40;
  return p;
}

BasicCredentials::BasicCredentials(std::string account, const std::string& username, const std::string& password)
    : account_(std::move(account)), username_(username) {
  std::string plain = username + ":" + password;
  std::string out(4 * ((plain.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(plain.data()),
                          int(plain.size()));
  out.resize(size_t(std::max(n, 0)));
  value_ = "Basic " + out;
}

std::string BasicCredentials::refresh(int64_t, const std::string&) {
  throw auth::NeedsReauth(kService, account_, "the server refused user '" + username_ + "' with that password",
                          "correct the CalDAV username and password configured for account '" + account_ + "'");
}

CaldavCalendar::CaldavCalendar(CaldavOptions options, std::shared_ptr<http::Client> client)
    : options_(std::move(options)), base_path_(with_slash(split_url(options_.url).second)), client_(std::move(client)) {
  if (!client_) client_ = std::make_shared<http::Client>(caldav_policy(options_));
  auto creds = options_.credentials
                   ? options_.credentials
                   : std::make_shared<BasicCredentials>(options_.account, options_.username, options_.password);
  api_ = std::make_unique<http::ServiceApi>(client_, creds, kService);
}

http::Response CaldavCalendar::dav(const Call& call, http::Request r, const std::string& field) {
  http::Response resp = api_->send(call, r);
  if (resp.status < 400 || resp.status == 404 || resp.status == 412) return resp;
  std::string why = precondition(resp.body);
  std::string what = kService + " refused " + r.method + " " + r.path + " (HTTP " + std::to_string(resp.status) +
                     (why.empty() ? "" : ": " + why) + ")";
  if (resp.status == 403)
    throw Error("account", what + "; account '" + options_.account + "' may not access it: check the URL and its permissions");
  if (resp.status >= 500) throw http::Unavailable(what + "; the server is failing, try again later");
  throw Error(field, what);
}

std::string CaldavCalendar::home(const Call& call) {
  {
    std::lock_guard l(m_);
    if (auto it = homes_.find(call.user); it != homes_.end()) return it->second;
  }
  auto propfind = [&](const std::string& path) {
    http::Request r{.method = "PROPFIND", .path = path, .headers = {{"Depth", "0"}}, .body = kFindHome,
                    .content_type = "application/xml; charset=utf-8"};
    http::Response resp = dav(call, r, "account");
    if (resp.status == 404)
      throw Error("account", kService + " has nothing at " + path + ": check the URL configured for account '" + options_.account + "'");
    return multistatus(resp.body, "PROPFIND", client_->policy().base_url, path);
  };
  std::string found = base_path_;
  auto first = propfind(base_path_);
  auto home_in = [](const std::vector<DavResponse>& rs) -> std::string {
    for (auto& r : rs)
      if (auto p = r.get(kCal, "calendar-home-set"); p && !p->hrefs.empty()) return with_slash(p->hrefs.front());
    return "";
  };
  if (auto h = home_in(first); !h.empty()) {
    found = h;
  } else {
    std::string principal;
    for (auto& r : first)
      if (auto p = r.get(kDav, "current-user-principal"); p && !p->hrefs.empty()) principal = p->hrefs.front();
    if (!principal.empty() && principal != base_path_)
      if (auto h = home_in(propfind(principal)); !h.empty()) found = h;
    // Otherwise the URL is the home itself.
  }
  std::lock_guard l(m_);
  homes_[call.user] = found;
  return found;
}

std::vector<CaldavCalendar::Collection> CaldavCalendar::collections(const Call& call) {
  std::string h = home(call);
  http::Request r{.method = "PROPFIND", .path = h, .headers = {{"Depth", "1"}}, .body = kListCalendars,
                  .content_type = "application/xml; charset=utf-8"};
  http::Response resp = dav(call, r, "account");
  if (resp.status == 404) throw Error("account", kService + " has no calendar home at " + h + " for account '" + options_.account + "'");
  std::vector<Collection> out;
  std::string default_href;
  for (auto& d : multistatus(resp.body, "PROPFIND", client_->policy().base_url, h)) {
    if (auto p = d.get(kCal, "schedule-default-calendar-URL"); p && !p->hrefs.empty()) default_href = with_slash(p->hrefs.front());
    auto type = d.get(kDav, "resourcetype");
    if (!type || std::find(type->kids.begin(), type->kids.end(), std::string(kCal) + "|calendar") == type->kids.end()) continue;
    if (auto comps = d.get(kCal, "supported-calendar-component-set");
        comps && !comps->names.empty() && std::find(comps->names.begin(), comps->names.end(), "VEVENT") == comps->names.end())
      continue;  // a task list
    Collection c;
    c.href = with_slash(d.href);
    c.id = last_segment(c.href);
    if (c.id.empty() || with_slash(c.href) == h) continue;
    auto name = d.get(kDav, "displayname");
    c.name = name && !name->text.empty() ? name->text : c.id;
    if (auto color = d.get(kApple, "calendar-color")) c.color = color->text.size() == 9 ? color->text.substr(0, 7) : color->text;
    if (auto tzp = d.get(kCal, "calendar-timezone"); tzp && !tzp->text.empty()) {
      // A VCALENDAR holding one VTIMEZONE (RFC 4791 5.2.2); some servers keep a bare name.
      if (Ical z = parse_ical(tzp->text)) {
        if (icalcomponent* vt = icalcomponent_get_first_component(z.get(), ICAL_VTIMEZONE_COMPONENT))
          if (icalproperty* id = icalcomponent_get_first_property(vt, ICAL_TZID_PROPERTY); id && icalproperty_get_tzid(id))
            c.tz = zone_of_tzid(icalproperty_get_tzid(id));
      } else {
        c.tz = zone_of_tzid(tzp->text);
      }
    }
    out.push_back(std::move(c));
  }
  // No "primary" in CalDAV: the scheduling default (RFC 6638) when the server names one, else
  // the first by path, so it stays the same between calls.
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.href < b.href; });
  bool any = false;
  for (auto& c : out)
    if (!default_href.empty() && c.href == default_href) c.primary = any = true;
  if (!any && !out.empty()) out.front().primary = true;
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return std::tie(b.primary, a.name) < std::tie(a.primary, b.name); });
  return out;
}

CaldavCalendar::Collection CaldavCalendar::collection(const Call& call, const std::string& id, const std::string& field) {
  auto all = collections(call);
  if (all.empty())
    throw NotFound(field, "account '" + options_.account + "' has no calendars on the " + kService + " server; create one there first");
  if (id.empty()) return all.front();
  for (auto& c : all)
    if (c.id == id) return c;
  throw NotFound(field, "no calendar '" + id + "'; calendar_list_calendars shows the ones there are");
}

std::vector<Calendar> CaldavCalendar::calendars(const Call& call) {
  std::vector<Calendar> out;
  for (auto& c : collections(call))
    out.push_back({c.id, c.name, c.tz ? std::string(c.tz->name()) : "UTC", c.color, c.primary});
  return out;
}

std::vector<CaldavCalendar::Listed> CaldavCalendar::collect(const Call& call, const std::vector<std::string>& wanted, Millis from,
                                                            Millis to, const std::string& field) {
  auto all = collections(call);
  std::vector<Collection> cals;
  for (auto& id : wanted) {
    auto it = std::find_if(all.begin(), all.end(), [&](auto& c) { return c.id == id; });
    if (it == all.end()) throw NotFound(field, "no calendar '" + id + "'; calendar_list_calendars shows the ones there are");
    cals.push_back(*it);
  }
  if (wanted.empty()) cals = all;
  std::vector<Listed> out;
  for (auto& cal : cals) {
    http::Request r{.method = "REPORT", .path = cal.href, .headers = {{"Depth", "1"}}, .body = query_body(from, to),
                    .content_type = "application/xml; charset=utf-8"};
    http::Response resp = dav(call, r, field);
    if (resp.status == 404) continue;  // removed since the listing
    for (auto& l : caldav::report_events(resp.body, client_->policy().base_url, cal.href, cal.id, cal.tz, from, to)) out.push_back({std::move(l)});
  }
  std::sort(out.begin(), out.end(),
            [](const Listed& a, const Listed& b) { return std::tie(a.event.start, a.event.id) < std::tie(b.event.start, b.event.id); });
  return out;
}

EventPage CaldavCalendar::events(const Call& call, const EventQuery& query) {
  if (query.to <= query.from) throw Error("end", "the window must end after it starts");
  size_t offset = 0;
  if (!query.page_token.empty()) {
    try {
      offset = std::stoul(query.page_token);
    } catch (const std::exception&) {
      throw Error("page_token", "not a page token from a previous listing");
    }
  }
  std::string lowered = lower(query.text);
  std::vector<Event> all;
  for (auto& l : collect(call, query.calendars, query.from, query.to, "calendars"))
    if (matches(l.event, lowered)) all.push_back(std::move(l.event));
  EventPage page;
  size_t max = size_t(std::clamp(query.max_results, 1, 250));
  for (size_t i = offset; i < all.size() && page.events.size() < max; ++i) page.events.push_back(std::move(all[i]));
  if (offset + page.events.size() < all.size()) page.next_page_token = std::to_string(offset + page.events.size());
  return page;
}

CaldavCalendar::Found CaldavCalendar::fetch(const Call& call, const std::string& id, const std::string& field) {
  auto none = [&] { return NotFound(field, "no event '" + id + "'"); };
  auto slash = id.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= id.size()) throw none();
  std::string cal_id = id.substr(0, slash), name = id.substr(slash + 1);
  std::optional<Millis> occ;
  if (auto us = name.rfind('_'); us != std::string::npos)
    if ((occ = parse_stamp(name.substr(us + 1)))) name.resize(us);
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") throw none();
  Found f;
  auto cals = collections(call);
  auto it = std::find_if(cals.begin(), cals.end(), [&](auto& c) { return c.id == cal_id; });
  if (it == cals.end()) throw none();
  f.calendar = *it;
  f.series_id = cal_id + "/" + name;
  // Resources we name "<uid>.ics"; other clients' names are kept whole.
  http::Response resp;
  for (std::string candidate : {name + ".ics", name}) {
    http::Request r{.method = "GET", .path = f.calendar.href + candidate, .headers = {{"Accept", "text/calendar"}}};
    resp = dav(call, r, field);
    if (resp.status == 404) continue;
    f.href = r.path;
    break;
  }
  if (f.href.empty()) throw none();
  f.etag = resp.headers.count("etag") ? resp.headers["etag"] : "";
  f.cal = parse_ical(resp.body);
  if (!f.cal || vevents(f.cal.get()).empty()) throw none();
  if (!occ) {
    if (!master_of(f.cal.get())) throw none();
    return f;
  }
  for (auto* c : vevents(f.cal.get()))
    if (is_override(c)) {
      Vevent v = read_vevent(f.cal.get(), c, f.calendar.tz);
      if (v.recurrence_id == occ) {
        f.occurrence = occ;
        f.override_comp = c;
        return f;
      }
    }
  icalcomponent* m = master_of(f.cal.get());
  if (!m) throw none();
  Vevent v = read_vevent(f.cal.get(), m, f.calendar.tz);
  if (v.rrule.empty()) throw none();
  auto hits = expand(series_of(v, {}), *occ, *occ + 1, 1);
  if (hits.empty() || hits.front() != *occ) throw none();
  f.occurrence = occ;
  return f;
}

Event CaldavCalendar::event(const Call& call, const std::string& id, const std::string& field) {
  Found f = fetch(call, id, field);
  if (f.override_comp) {
    Vevent o = read_vevent(f.cal.get(), f.override_comp, f.calendar.tz);
    return to_event(o, f.series_id + "_" + stamp(*f.occurrence), master_of(f.cal.get()) ? f.series_id : "", f.calendar.id);
  }
  Vevent m = read_vevent(f.cal.get(), master_of(f.cal.get()), f.calendar.tz);
  if (!f.occurrence) return to_event(m, f.series_id, "", f.calendar.id);
  Event e = to_event(m, f.series_id + "_" + stamp(*f.occurrence), f.series_id, f.calendar.id);
  e.start = *f.occurrence;
  e.end = occurrence_end(m, *f.occurrence);
  return e;
}

void CaldavCalendar::put(const Call& call, const Found& f, const std::string& field) {
  http::Request r{.method = "PUT", .path = f.href, .body = ical_text(f.cal.get()), .content_type = "text/calendar; charset=utf-8"};
  if (!f.etag.empty()) r.headers.emplace_back("If-Match", f.etag);
  else r.headers.emplace_back("If-None-Match", "*");
  http::Response resp = dav(call, r, field);
  if (resp.status == 412)
    throw Conflict(field, "the event changed meanwhile on the " + kService + " server (another client edited it); get it again and retry");
  if (resp.status == 404) throw NotFound(field, "the event is gone from the " + kService + " server");
}

Event CaldavCalendar::create(const Call& call, const NewEvent& e) {
  Vevent v;
  v.summary = e.summary;
  v.description = e.description;
  v.location = e.location;
  v.start = e.start;
  v.end = e.end;
  v.all_day = e.all_day;
  v.tz = zone(e.time_zone);
  if (!e.recurrence.empty()) v.rrule = normalize_rrule(e.recurrence);
  v.attendees = e.attendees;
  v.reminders = e.reminder_minutes;
  check_times(v);
  Found f;
  f.calendar = collection(call, e.calendar_id, "calendar_id");
  std::string uid = random_id(32);
  f.cal = new_vcalendar();
  icalcomponent* c = icalcomponent_new(ICAL_VEVENT_COMPONENT);
  icalcomponent_add_property(c, icalproperty_new_uid(uid.c_str()));
  write_fields(c, v);
  ensure_vtimezone(f.cal.get(), v.tz);
  icalcomponent_add_component(f.cal.get(), c);
  f.href = f.calendar.href + uid + ".ics";
  put(call, f, "calendar_id");  // If-None-Match: * (never overwrites)
  return event(call, f.calendar.id + "/" + uid);
}

Event CaldavCalendar::update(const Call& call, const std::string& id, const EventPatch& patch, Scope scope) {
  Found f = fetch(call, id, "event_id");
  icalcomponent* mc = master_of(f.cal.get());
  std::optional<Vevent> master;
  if (mc) master = read_vevent(f.cal.get(), mc, f.calendar.tz);
  // An override without its series (an invitation to one occurrence) is edited as it is.
  if (f.override_comp && (scope == Scope::This || !master)) {
    Vevent o = read_vevent(f.cal.get(), f.override_comp, f.calendar.tz);
    Millis dur = o.end - o.start;
    if (patch.start) o.start = *patch.start;
    o.end = patch.end ? *patch.end : o.start + dur;
    EventPatch rest = patch;
    rest.recurrence.reset();
    apply(o, rest);
    check_times(o);
    write_fields(f.override_comp, o);
    ensure_vtimezone(f.cal.get(), o.tz);
    put(call, f, "event_id");
    return event(call, id);
  }
  if (!f.occurrence) {  // a single event, or a whole series by its own id
    Vevent& v = *master;
    Millis dur = v.end - v.start;
    if (patch.start) v.start = *patch.start;
    v.end = patch.end ? *patch.end : v.start + dur;
    apply(v, patch);
    check_times(v);
    write_fields(mc, v);
    ensure_vtimezone(f.cal.get(), v.tz);
    put(call, f, "event_id");
    return event(call, f.series_id);
  }
  Millis occ = *f.occurrence;
  Vevent& m = *master;
  if (scope == Scope::This) {  // a new VEVENT for this occurrence, in the same resource
    Vevent o = m;
    o.rrule.clear();
    o.exdates.clear();
    o.recurrence_id = occ;
    o.start = patch.start ? *patch.start : occ;
    o.end = patch.end ? *patch.end : o.start + (occurrence_end(m, occ) - occ);
    EventPatch rest = patch;
    rest.recurrence.reset();
    apply(o, rest);
    check_times(o);
    icalcomponent* c = icalcomponent_new(ICAL_VEVENT_COMPONENT);
    icalcomponent_add_property(c, icalproperty_new_uid(uid_of(mc).c_str()));
    // The override's RECURRENCE-ID is written in the series' zone, whatever zone it moves to.
    write_fields(c, o);
    set_time(c, ICAL_RECURRENCEID_PROPERTY, occ, m.tz, m.all_day);
    ensure_vtimezone(f.cal.get(), o.tz);
    icalcomponent_add_component(f.cal.get(), c);
    put(call, f, "event_id");
    return event(call, f.series_id + "_" + stamp(occ));
  }
  if (scope == Scope::All || occ == m.start) {
    // The whole series: times move by how far this occurrence moves; so do the exceptions.
    Millis delta = patch.start ? *patch.start - occ : 0;
    Millis new_len = patch.end ? *patch.end - (patch.start ? *patch.start : occ) : occurrence_end(m, occ) - occ;
    m.start += delta;
    m.end = m.start + new_len;
    for (auto& x : m.exdates) x += delta;
    apply(m, patch);
    check_times(m);
    write_fields(mc, m);
    if (delta != 0)
      for (auto* c : vevents(f.cal.get()))
        if (is_override(c)) {
          Vevent o = read_vevent(f.cal.get(), c, f.calendar.tz);
          set_time(c, ICAL_RECURRENCEID_PROPERTY, *o.recurrence_id + delta, m.tz, m.all_day);
        }
    ensure_vtimezone(f.cal.get(), m.tz);
    put(call, f, "event_id");
    return event(call, f.series_id);
  }
  // This and following: the series ends before it; a new series (a new resource) starts here,
  // taking the exceptions and overrides from here on.
  Series whole = series_of(m, {});
  whole.exdates.clear();  // COUNT counts removed occurrences too
  int before = int(expand(whole, m.start, occ).size());
  Vevent next = m;
  next.rrule = rule_after(m.rrule, before);
  next.start = patch.start ? *patch.start : occ;
  next.end = patch.end ? *patch.end : next.start + (occurrence_end(m, occ) - occ);
  Millis shift = next.start - occ;
  next.exdates.clear();
  for (Millis x : m.exdates)
    if (x >= occ) next.exdates.push_back(x + shift);
  apply(next, patch);
  check_times(next);
  std::string uid = random_id(32);
  Found n;
  n.calendar = f.calendar;
  n.href = f.calendar.href + uid + ".ics";
  n.cal = new_vcalendar();
  icalcomponent* nc = icalcomponent_new(ICAL_VEVENT_COMPONENT);
  icalcomponent_add_property(nc, icalproperty_new_uid(uid.c_str()));
  write_fields(nc, next);
  ensure_vtimezone(n.cal.get(), next.tz);
  icalcomponent_add_component(n.cal.get(), nc);
  for (auto* c : vevents(f.cal.get())) {
    if (!is_override(c)) continue;
    Vevent o = read_vevent(f.cal.get(), c, f.calendar.tz);
    if (*o.recurrence_id < occ) continue;
    icalcomponent_remove_component(f.cal.get(), c);
    remove_all(c, ICAL_UID_PROPERTY);
    icalcomponent_add_property(c, icalproperty_new_uid(uid.c_str()));
    set_time(c, ICAL_RECURRENCEID_PROPERTY, *o.recurrence_id + shift, next.tz, next.all_day);
    icalcomponent_add_component(n.cal.get(), c);
  }
  std::erase_if(m.exdates, [&](Millis x) { return x >= occ; });
  m.rrule = until_before(m, occ);
  write_fields(mc, m);
  // The old part first: its If-Match is what tells us nobody changed the series meanwhile.
  put(call, f, "event_id");
  put(call, n, "event_id");
  return event(call, f.calendar.id + "/" + uid);
}

void CaldavCalendar::remove(const Call& call, const std::string& id, Scope scope) {
  Found f = fetch(call, id, "event_id");
  icalcomponent* mc = master_of(f.cal.get());
  auto drop_resource = [&] {
    http::Request r{.method = "DELETE", .path = f.href};
    if (!f.etag.empty()) r.headers.emplace_back("If-Match", f.etag);
    http::Response resp = dav(call, r, "event_id");
    if (resp.status == 412)
      throw Conflict("event_id", "the event changed meanwhile on the " + kService + " server (another client edited it); get it again and retry");
  };
  if (!f.occurrence || !mc) {
    // A single event or a whole series; or an occurrence we were invited to without its series.
    if (f.override_comp && vevents(f.cal.get()).size() > 1) {
      icalcomponent_remove_component(f.cal.get(), f.override_comp);
      icalcomponent_free(f.override_comp);
      put(call, f, "event_id");
      return;
    }
    drop_resource();
    return;
  }
  Vevent m = read_vevent(f.cal.get(), mc, f.calendar.tz);
  Millis occ = *f.occurrence;
  if (scope == Scope::All || (scope == Scope::Following && occ <= m.start)) {
    drop_resource();
    return;
  }
  // Overrides of the removed occurrences go with them.
  for (auto* c : vevents(f.cal.get())) {
    if (!is_override(c)) continue;
    Vevent o = read_vevent(f.cal.get(), c, f.calendar.tz);
    if (*o.recurrence_id == occ || (scope == Scope::Following && *o.recurrence_id >= occ)) {
      icalcomponent_remove_component(f.cal.get(), c);
      icalcomponent_free(c);
    }
  }
  if (scope == Scope::This) {
    m.exdates.push_back(occ);
  } else {
    m.rrule = until_before(m, occ);
    std::erase_if(m.exdates, [&](Millis x) { return x >= occ; });
  }
  write_fields(mc, m);
  put(call, f, "event_id");
}

std::vector<Interval> CaldavCalendar::busy(const Call& call, const std::vector<std::string>& cals, Millis from, Millis to) {
  // From the events themselves: free-busy-query (RFC 4791 7.10) is optional and Radicale 3.1 has
  // none. All-day events are free (as the local provider has it); so are transparent and
  // cancelled ones, as CalDAV's own free-busy rules say.
  std::vector<Interval> spans;
  for (auto& l : collect(call, cals, from, to, "calendars"))
    if (!l.event.all_day && !l.transparent && l.event.end > l.event.start)
      spans.push_back({std::max(l.event.start, from), std::min(l.event.end, to)});
  return merge_busy(std::move(spans));
}

}  // namespace concierge::providers::calendar
