#include "providers/http/url.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <array>
#include <date/date.h>

namespace concierge::providers::http {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3986 section 5.2.4.
std::string remove_dot_segments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.substr(0, 3) == "../") in.remove_prefix(3);
    else if (in.substr(0, 2) == "./") in.remove_prefix(2);
    else if (in.substr(0, 3) == "/./") in.remove_prefix(2);
    else if (in == "/.") in = "/";
    else if (in.substr(0, 4) == "/../" || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      auto slash = out.rfind('/');
      out.resize(slash == std::string::npos ? 0 : slash);
    } else if (in == "." || in == "..") in = {};
    else {
      size_t next = in.find('/', in[0] == '/' ? 1 : 0);
      out.append(in.substr(0, next));
      in = next == std::string_view::npos ? std::string_view() : in.substr(next);
    }
  }
  return out;
}

std::string merge(const Url& base, const std::string& path) {
  if (base.has_authority && base.path.empty()) return "/" + path;
  auto slash = base.path.rfind('/');
  return slash == std::string::npos ? path : base.path.substr(0, slash + 1) + path;
}

std::string default_port(const std::string& scheme) {
  if (scheme == "http") return "80";
  if (scheme == "https") return "443";
  return "";
}

}  // namespace

std::string Url::text() const {
  std::string out;
  if (!scheme.empty()) out += scheme + ":";
  if (has_authority) out += "//" + (userinfo.empty() ? "" : userinfo + "@") + host + (port.empty() ? "" : ":" + port);
  out += path;
  if (query) out += "?" + *query;
  if (fragment) out += "#" + *fragment;
  return out;
}

std::string Url::path_and_query() const { return (path.empty() ? "/" : path) + (query ? "?" + *query : ""); }

std::optional<Url> parse_url(std::string_view s) {
  if (std::any_of(s.begin(), s.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7F; })) return std::nullopt;
  Url u;
  // scheme ":" when the first ':' comes before any '/', '?' or '#' and what precedes is a scheme.
  if (auto colon = s.find(':'); colon != std::string_view::npos && colon < s.find_first_of("/?#")) {
    auto scheme = s.substr(0, colon);
    if (scheme.empty() || !is_alpha(scheme[0]) ||
        !std::all_of(scheme.begin(), scheme.end(), [](char c) { return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.'; }))
      return std::nullopt;  // "a b:" or ":x": a relative path may not have ':' in its first segment
    u.scheme = lower(scheme);
    s.remove_prefix(colon + 1);
  }
  if (auto hash = s.find('#'); hash != std::string_view::npos) {
    u.fragment = std::string(s.substr(hash + 1));
    s = s.substr(0, hash);
  }
  if (auto q = s.find('?'); q != std::string_view::npos) {
    u.query = std::string(s.substr(q + 1));
    s = s.substr(0, q);
  }
  if (s.substr(0, 2) == "//") {
    u.has_authority = true;
    s.remove_prefix(2);
    auto end = s.find('/');
    std::string_view authority = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view() : s.substr(end);
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
      u.userinfo = std::string(authority.substr(0, at));
      authority.remove_prefix(at + 1);
    }
    std::string_view port;
    if (!authority.empty() && authority[0] == '[') {
      auto close = authority.find(']');
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view rest = authority.substr(close + 1);
      if (!rest.empty() && rest[0] != ':') return std::nullopt;
      if (!rest.empty()) port = rest.substr(1);
      authority = authority.substr(0, close + 1);
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) return std::nullopt;
    u.host = lower(authority);
    u.port = std::string(port);
  }
  u.path = std::string(s);
  return u;
}

std::optional<Url> resolve(const Url& base, std::string_view reference) {
  auto r = parse_url(reference);
  if (!r || base.scheme.empty()) return std::nullopt;
  Url t;
  if (!r->scheme.empty()) {
    t = *r;
    t.path = remove_dot_segments(r->path);
  } else {
    t.scheme = base.scheme;
    if (r->has_authority) {
      t.has_authority = true;
      t.userinfo = r->userinfo;
      t.host = r->host;
      t.port = r->port;
      t.path = remove_dot_segments(r->path);
      t.query = r->query;
    } else {
      t.has_authority = base.has_authority;
      t.userinfo = base.userinfo;
      t.host = base.host;
      t.port = base.port;
      if (r->path.empty()) {
        t.path = base.path;
        t.query = r->query ? r->query : base.query;
      } else {
        t.path = remove_dot_segments(r->path[0] == '/' ? r->path : merge(base, r->path));
        t.query = r->query;
      }
    }
    t.fragment = r->fragment;
  }
  return t;
}

bool same_origin(const Url& a, const Url& b) {
  auto port = [](const Url& u) { return u.port.empty() ? default_port(u.scheme) : std::to_string(std::stoi(u.port)); };
  return !a.scheme.empty() && a.has_authority && b.has_authority && a.scheme == b.scheme && a.host == b.host && port(a) == port(b);
}

bool is_loopback_host(std::string_view host) {
  std::string h = lower(host);
  if (h == "localhost" || h == "localhost." || h == "[::1]" || h == "::1") return true;
  // 127.0.0.0/8 in dotted-quad form only (no "127.1" shorthand, no hex).
  if (h.rfind("127.", 0) != 0) return false;
  int parts = 0;
  for (size_t i = 0; i <= h.size();) {
    size_t dot = std::min(h.find('.', i), h.size());
    std::string_view part(h.data() + i, dot - i);
    if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), is_digit) || std::stoi(std::string(part)) > 255)
      return false;
    ++parts;
    i = dot + 1;
  }
  return parts == 4;
}

namespace {

// A cursor over an HTTP-date: each step consumes exactly what it expects or fails.
struct DateReader {
  std::string_view s;
  bool ok = true;
  bool literal(std::string_view l) {
    ok = ok && s.substr(0, l.size()) == l;
    if (ok) s.remove_prefix(l.size());
    return ok;
  }
  int digits(size_t n) {
    int v = 0;
    for (size_t i = 0; ok && i < n; ++i) {
      ok = i < s.size() && is_digit(s[i]);
      if (ok) v = v * 10 + (s[i] - '0');
    }
    if (ok) s.remove_prefix(n);
    return v;
  }
  int month() {
    static constexpr std::array<std::string_view, 12> names{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (size_t i = 0; ok && i < names.size(); ++i)
      if (s.substr(0, 3) == names[i]) {
        s.remove_prefix(3);
        return int(i) + 1;
      }
    ok = false;
    return 0;
  }
  // A day name, short ("Sun") or long ("Sunday", RFC 850); its value is not checked against the date.
  void day_name(bool long_form) {
    static constexpr std::array<std::string_view, 7> names{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
    for (auto n : names)
      if (long_form ? s.substr(0, n.size()) == n : s.substr(0, 3) == n.substr(0, 3)) {
        s.remove_prefix(long_form ? n.size() : 3);
        return;
      }
    ok = false;
  }
};

std::optional<date::sys_seconds> http_date(std::string_view v) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  auto time_of_day = [&](DateReader& r) {
    h = r.digits(2);
    r.literal(":");
    mi = r.digits(2);
    r.literal(":");
    sec = r.digits(2);
  };
  DateReader r{v};
  auto comma = v.find(',');
  if (comma == 3) {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    r.day_name(false);
    r.literal(", ");
    d = r.digits(2);
    r.literal(" ");
    mo = r.month();
    r.literal(" ");
    y = r.digits(4);
    r.literal(" ");
    time_of_day(r);
    r.literal(" GMT");
  } else if (comma != std::string_view::npos) {  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    r.day_name(true);
    r.literal(", ");
    d = r.digits(2);
    r.literal("-");
    mo = r.month();
    r.literal("-");
    y = r.digits(2);
    // Two digits: the year in this century unless that is more than 50 years ahead (RFC 9110 5.6.7).
    int now_year = int(date::year_month_day(date::floor<date::days>(std::chrono::system_clock::now())).year());
    y += now_year / 100 * 100;
    if (y > now_year + 50) y -= 100;
    r.literal(" ");
    time_of_day(r);
    r.literal(" GMT");
  } else {  // asctime: Sun Nov  6 08:49:37 1994
    r.day_name(false);
    r.literal(" ");
    mo = r.month();
    r.literal(" ");
    if (!r.s.empty() && r.s[0] == ' ') {
      r.literal(" ");
      d = r.digits(1);
    } else {
      d = r.digits(2);
    }
    r.literal(" ");
    time_of_day(r);
    r.literal(" ");
    y = r.digits(4);
  }
  if (!r.ok || !r.s.empty() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  date::year_month_day ymd{date::year(y), date::month(unsigned(mo)), date::day(unsigned(d))};
  if (!ymd.ok()) return std::nullopt;
  return date::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(std::min(sec, 59));
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v, std::chrono::system_clock::time_point now) {
  using std::chrono::milliseconds;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), is_digit)) {
    int64_t s = 0;
    for (char c : v) {
      s = s * 10 + (c - '0');
      if (s >= kMaxRetryAfter.count()) return kMaxRetryAfter;  // before it can overflow
    }
    return milliseconds(s * 1000);
  }
  auto when = http_date(v);
  if (!when) return std::nullopt;
  // In seconds: a year-0 date in nanoseconds would overflow.
  auto delta = *when - date::floor<std::chrono::seconds>(now);
  return milliseconds(std::clamp<std::chrono::seconds>(delta, std::chrono::seconds(0), kMaxRetryAfter));
}

}  // namespace concierge::providers::http
