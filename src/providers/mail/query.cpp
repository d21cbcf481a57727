#include "providers/mail/query.hpp"
#include "common/text.hpp"

#include <algorithm>

#include "providers/error.hpp"

namespace concierge::providers::mail {

namespace {

const std::vector<std::string> kOps{"from", "to", "subject", "is", "has", "label", "in", "before", "after"};

std::string like(const std::string& v) {
  std::string out = "%";
  for (char c : v) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

}  // namespace

std::vector<Term> parse_query(const std::string& q) {
  std::vector<Term> out;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < q.size() && std::isspace(static_cast<unsigned char>(q[i]))) ++i;
  };
  for (skip_space(); i < q.size(); skip_space()) {
    Term t;
    if (q[i] == '-' && i + 1 < q.size() && !std::isspace(static_cast<unsigned char>(q[i + 1]))) {
      t.negated = true;
      ++i;
    }
    // An operator is a known word followed by ':'.
    size_t colon = q.find(':', i);
    size_t space = q.find_first_of(" \t\"", i);
    if (colon != std::string::npos && (space == std::string::npos || colon < space)) {
      std::string op = lower(q.substr(i, colon - i));
      if (std::find(kOps.begin(), kOps.end(), op) != kOps.end()) {
        t.op = op;
        i = colon + 1;
      }
    }
    if (t.op.empty()) t.op = "text";
    std::string value;
    if (i < q.size() && q[i] == '"') {
      auto close = q.find('"', i + 1);
      if (close == std::string::npos) throw Error("query", "a quote is not closed: " + q.substr(i));
      value = q.substr(i + 1, close - i - 1);
      i = close + 1;
    } else {
      auto end = q.find_first_of(" \t", i);
      value = q.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? q.size() : end;
    }
    if (value.empty()) {
      if (t.op == "text") continue;
      throw Error("query", t.op + ": needs a value");
    }
    t.value = value;
    std::string v = lower(value);
    if (t.op == "is" && v != "unread" && v != "read" && v != "starred")
      throw Error("query", "is:" + value + " is not something mail can be (is:unread, is:read, is:starred)");
    if (t.op == "has" && v != "attachment") throw Error("query", "has:" + value + " is not supported (has:attachment)");
    if (t.op == "in" && v != "inbox" && v != "sent" && v != "drafts" && v != "draft" && v != "trash" && v != "spam" && v != "anywhere" &&
        v != "starred")
      throw Error("query", "in:" + value + " is not a place (inbox, sent, drafts, trash, spam, anywhere)");
    if (t.op == "before" || t.op == "after") {
      std::string d = value;
      std::replace(d.begin(), d.end(), '/', '-');
      if (!looks_like_date(d)) throw Error("query", t.op + ":" + value + " is not a date (YYYY-MM-DD or YYYY/MM/DD)");
      parse_date(d, "query");
      t.value = d;
    }
    out.push_back(std::move(t));
  }
  return out;
}

SqlFilter to_sql(const std::vector<Term>& terms, const date::time_zone* tz) {
  SqlFilter f;
  std::vector<std::string> parts;
  bool trash_asked = false;
  auto has_label = [&](const std::string& label) {
    f.params.emplace_back(std::in_place_type<std::string>, label);
    return std::string("EXISTS (SELECT 1 FROM mail_message_labels l WHERE l.message_id = m.id AND lower(l.label) = lower(?))");
  };
  for (auto& t : terms) {
    std::string v = lower(t.value), c;
    auto text = [&](std::initializer_list<const char*> cols) {
      std::string s = "(";
      bool first = true;
      for (auto* col : cols) {
        // lower() on both sides: SQLite's LIKE ignores ASCII case and PostgreSQL's does not.
        s += std::string(first ? "" : " OR ") + "lower(" + col + ") LIKE lower(?) ESCAPE '\\'";
        f.params.emplace_back(std::in_place_type<std::string>, like(t.value));
        first = false;
      }
      return s + ")";
    };
    if (t.op == "from") c = text({"m.from_email", "m.from_name"});
    else if (t.op == "to") c = text({"m.to_addrs", "m.cc_addrs"});
    else if (t.op == "subject") c = text({"m.subject"});
    else if (t.op == "text") c = text({"m.subject", "m.from_name", "m.from_email", "m.body_text"});
    else if (t.op == "is") c = v == "unread" ? "m.unread = 1" : v == "read" ? "m.unread = 0" : "m.starred = 1";
    else if (t.op == "has") c = "m.has_attachment = 1";
    else if (t.op == "label" || t.op == "in") {
      std::string l = v == "drafts" ? "draft" : v;
      if (l == "trash" || l == "spam" || l == "anywhere") trash_asked = true;
      if (l == "anywhere") c = "1 = 1";
      else if (l == "starred") c = "m.starred = 1";
      else if (l == "unread") c = "m.unread = 1";
      else if (l == "inbox" || l == "sent" || l == "draft" || l == "trash" || l == "spam") {
        std::string upper = l;
        for (auto& ch : upper) ch = char(std::toupper(static_cast<unsigned char>(ch)));
        c = has_label(upper);
      } else c = has_label(t.value);
    } else if (t.op == "before" || t.op == "after") {
      Millis at = to_utc(LocalMs{parse_date(t.value, "query")}, tz);
      c = t.op == "before" ? "m.date_ms < ?" : "m.date_ms >= ?";
      f.params.emplace_back(std::in_place_type<int64_t>, at);
    }
    parts.push_back(t.negated ? "NOT " + c : c);
  }
  if (!trash_asked) parts.push_back("NOT EXISTS (SELECT 1 FROM mail_message_labels l WHERE l.message_id = m.id AND l.label IN ('TRASH', 'SPAM'))");
  for (size_t i = 0; i < parts.size(); ++i) f.where += (i ? " AND " : "") + parts[i];
  if (f.where.empty()) f.where = "1 = 1";
  return f;
}

}  // namespace concierge::providers::mail
