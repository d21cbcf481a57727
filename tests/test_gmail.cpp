// The Gmail adapter against a stateful in-process fake of the Gmail API v1: real RFC 5322
// messages kept raw, messages.list with a subset of Gmail's q operators, messages.get in the
// minimal/metadata/full formats built from the raw message (GMime), threads by
// References/In-Reply-To, send and drafts from base64url `raw`, modify/batchModify/trash, labels.
// The mail scenario goes through the tools; then faults, secrets and bad input.
#include <catch2/catch.hpp>
#include <gmime/gmime.h>
#include <atomic>
#include <set>
#include <thread>

#include "common/base64.hpp"
#include "providers/auth/tokens.hpp"
#include "providers/error.hpp"
#include "providers/mail/gmail.hpp"
#include "providers/mail/mime.hpp"
#include "server/request_state.hpp"
#include "support/app_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/tool_calls.hpp"

using namespace concierge;
using namespace concierge::test;
using namespace concierge::providers;
using namespace concierge::providers::mail;
using namespace std::chrono_literals;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
bool contains_ci(const std::string& hay, const std::string& needle) { return lower(hay).find(lower(needle)) != std::string::npos; }

std::string b64url(const std::string& s) { return base64url_encode(s); }

struct Unref {
  void operator()(gpointer p) const {
    if (p) g_object_unref(p);
  }
};

std::string unfold(std::string v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\r') continue;
    if (v[i] == '\n') continue;  // folding: the next line starts with white space
    out += v[i];
  }
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.front()))) out.erase(out.begin());
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

Json headers_json(GMimeObject* o) {
  Json out = Json::array();
  GMimeHeaderList* hl = g_mime_object_get_header_list(o);
  for (int i = 0; i < g_mime_header_list_get_count(hl); ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(hl, i);
    const char* raw = g_mime_header_get_raw_value(h);
    out.push_back({{"name", g_mime_header_get_name(h)}, {"value", unfold(raw ? raw : "")}});
  }
  return out;
}

std::string content_of(GMimePart* p) {
  GMimeDataWrapper* w = g_mime_part_get_content(p);
  if (!w) return "";
  std::unique_ptr<GMimeStream, Unref> mem(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(w, mem.get());
  GByteArray* a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return std::string(reinterpret_cast<const char*>(a->data), a->len);
}

// A MessagePart as messages.get?format=full shows it: text bodies inline (base64url), attachments
// by attachmentId and size.
Json part_json(GMimeObject* o, const std::string& id, Json headers) {
  GMimeContentType* ct = g_mime_object_get_content_type(o);
  gchar* type = g_mime_content_type_get_mime_type(ct);
  Json j{{"partId", id}, {"mimeType", lower(type)}, {"filename", ""}, {"headers", std::move(headers)}};
  g_free(type);
  if (GMIME_IS_MULTIPART(o)) {
    j["body"] = {{"size", 0}};
    Json parts = Json::array();
    for (int i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(o)); ++i) {
      GMimeObject* c = g_mime_multipart_get_part(GMIME_MULTIPART(o), i);
      parts.push_back(part_json(c, (id.empty() ? "" : id + ".") + std::to_string(i), headers_json(c)));
    }
    j["parts"] = parts;
  } else if (GMIME_IS_PART(o)) {
    std::string data = content_of(GMIME_PART(o));
    const char* fn = g_mime_part_get_filename(GMIME_PART(o));
    if (fn && *fn) {
      j["filename"] = fn;
      j["body"] = {{"attachmentId", "ANGjdJ" + std::to_string(data.size())}, {"size", data.size()}};
    } else {
      j["body"] = {{"size", data.size()}, {"data", b64url(data)}};
    }
  }
  return j;
}

struct StoredMail {
  std::string id, thread, raw;
  std::set<std::string> labels;
  int64_t internal = 0;
  MimeMessage parsed;
};

// The Gmail API, as documented, over one mailbox.
struct FakeGmail {
  FakeUpstream up;
  std::mutex m;
  std::vector<StoredMail> mails;
  std::map<std::string, std::string> user_labels;  // Label_N -> name
  std::vector<std::string> queries;                // q of every messages.list
  std::vector<MimeMessage> sent;                   // what messages.send received, parsed
  std::map<std::string, int> calls;                // "messages.batchModify" -> n
  int next = 0x1a2b;
  std::string fail_next;  // "rate" or "nomail": messages.list answers with Gmail's error once
  const std::string me = "alex@example.com";

  static void error(httplib::Response& res, int code, const std::string& status, const std::string& reason, const std::string& message) {
    res.status = code;
    res.set_content(Json{{"error", {{"code", code}, {"message", message}, {"errors", {{{"message", message}, {"domain", "global"}, {"reason", reason}}}}, {"status", status}}}}.dump(),
                    "application/json");
  }
  static void json(httplib::Response& res, const Json& j) { res.set_content(j.dump(), "application/json"); }

  std::string new_id() {
    char buf[32];
    std::snprintf(buf, sizeof buf, "18c%013x", next++);
    return buf;
  }
  StoredMail* find(const std::string& id) {
    for (auto& x : mails)
      if (x.id == id) return &x;
    return nullptr;
  }
  static bool hex(const std::string& id) {
    return !id.empty() && std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isxdigit(c); });
  }
  // Threads as Gmail does for what arrives: by the ids it references.
  std::string thread_for(const MimeMessage& p, const std::string& asked) {
    std::vector<std::string> refs = p.references;
    if (!p.in_reply_to.empty()) refs.push_back(p.in_reply_to);
    for (auto& r : refs)
      for (auto& x : mails)
        if (x.parsed.message_id == r && (asked.empty() || x.thread == asked)) return x.thread;
    return "";
  }
  std::string store(const std::string& raw, std::set<std::string> labels, int64_t when, const std::string& asked_thread = "") {
    StoredMail s;
    s.parsed = parse(raw);
    s.id = new_id();
    s.thread = thread_for(s.parsed, asked_thread);
    if (s.thread.empty()) s.thread = s.id;
    s.raw = raw;
    s.labels = std::move(labels);
    s.internal = when;
    mails.push_back(s);
    return s.id;
  }
  std::string deliver(const MimeMessage& msg, std::set<std::string> labels) {
    std::lock_guard l(m);
    return store(build(msg), std::move(labels), msg.date);
  }

  std::string label_name(const std::string& id) { return user_labels.count(id) ? user_labels[id] : id; }

  std::string snippet(const StoredMail& s) {
    std::string text = s.parsed.text.empty() ? s.parsed.html : s.parsed.text, out;
    for (char c : text) {
      if (c == '\n' || c == '\r') c = ' ';
      if (c == '\'') out += "&#39;";
      else if (c == '&') out += "&amp;";
      else if (c == '<') out += "&lt;";
      else out += c;
      if (out.size() > 100) break;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  }

  Json resource(const StoredMail& s, const std::string& format, const std::vector<std::string>& wanted) {
    Json j{{"id", s.id}, {"threadId", s.thread}, {"labelIds", Json(std::vector<std::string>(s.labels.begin(), s.labels.end()))},
           {"snippet", snippet(s)}, {"historyId", "4242"}, {"internalDate", std::to_string(s.internal)}, {"sizeEstimate", s.raw.size()}};
    if (format == "minimal") return j;
    if (format == "raw") {
      j["raw"] = b64url(s.raw);
      return j;
    }
    std::unique_ptr<GMimeStream, Unref> stream(g_mime_stream_mem_new_with_buffer(s.raw.data(), s.raw.size()));
    std::unique_ptr<GMimeParser, Unref> parser(g_mime_parser_new_with_stream(stream.get()));
    std::unique_ptr<GMimeMessage, Unref> msg(g_mime_parser_construct_message(parser.get(), nullptr));
    GMimeObject* body = g_mime_message_get_mime_part(msg.get());
    Json headers = headers_json(GMIME_OBJECT(msg.get()));
    for (auto& h : headers_json(body)) headers.push_back(h);
    if (format == "metadata") {
      Json kept = Json::array();
      for (auto& h : headers)
        for (auto& w : wanted)
          if (lower(h["name"]) == lower(w)) kept.push_back(h);
      GMimeContentType* ct = g_mime_object_get_content_type(body);
      gchar* type = g_mime_content_type_get_mime_type(ct);
      j["payload"] = {{"mimeType", lower(type)}, {"headers", kept}};
      g_free(type);
      return j;
    }
    j["payload"] = part_json(body, "", headers);
    return j;
  }

  // The subset of Gmail's search operators the adapter sends (dates as epoch seconds).
  bool matches(const StoredMail& s, const std::string& q, bool& ok) {
    std::vector<std::string> tokens;
    for (size_t i = 0; i < q.size();) {
      while (i < q.size() && q[i] == ' ') ++i;
      if (i >= q.size()) break;
      std::string t;
      while (i < q.size() && q[i] != ' ') {
        if (q[i] == '"') {
          auto close = q.find('"', i + 1);
          if (close == std::string::npos) {
            ok = false;
            return false;
          }
          t += q.substr(i + 1, close - i - 1);
          i = close + 1;
        } else {
          t += q[i++];
        }
      }
      tokens.push_back(t);
    }
    bool spam_trash_asked = false;
    bool all = true;
    for (auto t : tokens) {
      bool neg = t[0] == '-';
      if (neg) t = t.substr(1);
      auto colon = t.find(':');
      std::string op = colon == std::string::npos ? "" : lower(t.substr(0, colon)), v = colon == std::string::npos ? t : t.substr(colon + 1);
      static const std::set<std::string> kOps{"from", "to", "subject", "is", "has", "label", "in", "before", "after"};
      if (!kOps.count(op)) op = "";
      bool hit = false;
      auto addrs = [](const std::vector<Address>& as) {
        std::string out;
        for (auto& a : as) out += a.name + " " + a.email + " ";
        return out;
      };
      if (op == "from") hit = contains_ci(s.parsed.from.name + " " + s.parsed.from.email, v);
      else if (op == "to") hit = contains_ci(addrs(s.parsed.to) + addrs(s.parsed.cc), v);
      else if (op == "subject") hit = contains_ci(s.parsed.subject, v);
      else if (op == "is" || op == "has") {
        // Only the values Gmail's search knows; another is refused, not matched as something else.
        static const std::map<std::string, std::string> kIs{{"unread", "UNREAD"}, {"read", ""}, {"starred", "STARRED"}, {"important", "IMPORTANT"}};
        std::string l = lower(v);
        if (op == "has" ? l != "attachment" : !kIs.count(l)) {
          ok = false;
          return false;
        }
        if (op == "has") hit = !s.parsed.attachments.empty();
        else if (l == "read") hit = !s.labels.count("UNREAD");
        else hit = s.labels.count(kIs.at(l)) > 0;
      }
      else if (op == "label" || op == "in") {
        std::string l = lower(v);
        if (l == "drafts") l = "draft";
        if (l == "trash" || l == "spam" || l == "anywhere") spam_trash_asked = true;
        if (l == "anywhere") hit = true;
        for (auto& x : s.labels) {
          std::string n = lower(label_name(x));
          std::replace(n.begin(), n.end(), ' ', '-');  // Gmail's spelling of a spaced label name
          hit |= lower(x) == l || n == l;
        }
      } else if (op == "before" || op == "after") {
        if (v.empty() || !std::all_of(v.begin(), v.end(), ::isdigit)) {  // the adapter sends epoch seconds
          ok = false;
          return false;
        }
        int64_t at = std::stoll(v) * 1000;
        hit = op == "before" ? s.internal < at : s.internal >= at;
      } else {
        hit = contains_ci(s.parsed.subject + " " + s.parsed.from.name + " " + s.parsed.from.email + " " + s.parsed.text, v);
      }
      all = all && (neg ? !hit : hit);
    }
    if (!spam_trash_asked && (s.labels.count("TRASH") || s.labels.count("SPAM"))) return false;
    return all;
  }

  bool valid_label(const std::string& id) {
    static const std::set<std::string> kSystem{"INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "STARRED", "UNREAD", "IMPORTANT"};
    return kSystem.count(id) || user_labels.count(id);
  }

  FakeGmail() {
    auto& s = up.server;
    const std::string base = "/gmail/v1/users/me";
    s.Get(base + "/profile", [this](const httplib::Request&, httplib::Response& res) {
      json(res, {{"emailAddress", me}, {"messagesTotal", 42}, {"threadsTotal", 30}, {"historyId", "4242"}});
    });
    s.Get(base + "/labels", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["labels.list"];
      Json out = Json::array();
      for (const char* id : {"CHAT", "SENT", "INBOX", "IMPORTANT", "TRASH", "DRAFT", "SPAM", "CATEGORY_FORUMS", "STARRED", "UNREAD"})
        out.push_back({{"id", id}, {"name", id}, {"type", "system"}});
      for (auto& [id, name] : user_labels)
        out.push_back({{"id", id}, {"name", name}, {"type", "user"}, {"messageListVisibility", "show"}, {"labelListVisibility", "labelShow"}});
      json(res, {{"labels", out}});
    });
    s.Get(base + R"(/labels/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      std::string id = req.matches[1];
      if (!valid_label(id)) return error(res, 404, "NOT_FOUND", "notFound", "Requested entity was not found.");
      int total = 0, unread = 0;
      for (auto& x : mails)
        if (x.labels.count(id)) {
          ++total;
          unread += int(x.labels.count("UNREAD"));
        }
      json(res, {{"id", id}, {"name", label_name(id)}, {"type", user_labels.count(id) ? "user" : "system"}, {"messagesTotal", total},
                 {"messagesUnread", unread}, {"threadsTotal", total}, {"threadsUnread", unread}});
    });
    s.Post(base + "/labels", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      Json b = Json::parse(req.body);
      std::string name = b.value("name", "");
      for (auto& [id, n] : user_labels)
        if (lower(n) == lower(name)) return error(res, 409, "ALREADY_EXISTS", "duplicate", "Label name exists or conflicts");
      std::string id = "Label_" + std::to_string(user_labels.size() + 1);
      user_labels[id] = name;
      json(res, {{"id", id}, {"name", name}, {"type", "user"}, {"messageListVisibility", "show"}, {"labelListVisibility", "labelShow"}});
    });
    s.Get(base + "/messages", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["messages.list"];
      if (fail_next == "rate") {
        fail_next.clear();
        return error(res, 403, "PERMISSION_DENIED", "userRateLimitExceeded", "User-rate limit exceeded.  Retry after 2026-11-20T10:00:00.000Z");
      }
      if (fail_next == "nomail") {
        fail_next.clear();
        return error(res, 400, "FAILED_PRECONDITION", "failedPrecondition", "Mail service not enabled");
      }
      std::string q = req.get_param_value("q");
      queries.push_back(q);
      int max = req.has_param("maxResults") ? std::stoi(req.get_param_value("maxResults")) : 100;
      size_t offset = 0;
      if (req.has_param("pageToken")) {
        std::string t = req.get_param_value("pageToken");
        if (t.rfind("page-", 0) != 0) return error(res, 400, "INVALID_ARGUMENT", "invalidArgument", "Invalid pageToken");
        offset = std::stoul(t.substr(5));
      }
      std::vector<const StoredMail*> hits;
      bool valid = true;  // a query Gmail refuses is refused on an empty mailbox too
      matches(StoredMail{}, q, valid);
      if (!valid) return error(res, 400, "INVALID_ARGUMENT", "invalidArgument", "Invalid query");
      for (auto& x : mails) {
        bool ok = true;
        bool hit = matches(x, q, ok);
        if (!ok) return error(res, 400, "INVALID_ARGUMENT", "invalidArgument", "Invalid query");
        if (hit) hits.push_back(&x);
      }
      std::stable_sort(hits.begin(), hits.end(), [](auto* a, auto* b) { return a->internal > b->internal; });
      Json out{{"resultSizeEstimate", hits.size()}};
      Json list = Json::array();
      for (size_t i = offset; i < hits.size() && i < offset + size_t(max); ++i) list.push_back({{"id", hits[i]->id}, {"threadId", hits[i]->thread}});
      if (!list.empty()) out["messages"] = list;  // Gmail leaves the key out when nothing matches
      if (offset + size_t(max) < hits.size()) out["nextPageToken"] = "page-" + std::to_string(offset + size_t(max));
      json(res, out);
    });
    s.Get(base + R"(/messages/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["messages.get"];
      std::string id = req.matches[1];
      if (!hex(id)) return error(res, 400, "INVALID_ARGUMENT", "invalidArgument", "Invalid id value");
      auto* x = find(id);
      if (!x) return error(res, 404, "NOT_FOUND", "notFound", "Requested entity was not found.");
      std::vector<std::string> wanted;
      for (size_t i = 0; i < req.get_param_value_count("metadataHeaders"); ++i) wanted.push_back(req.get_param_value("metadataHeaders", i));
      std::string format = req.has_param("format") ? req.get_param_value("format") : "full";
      json(res, resource(*x, format, wanted));
    });
    s.Get(base + R"(/threads/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["threads.get"];
      std::string id = req.matches[1];
      if (!hex(id)) return error(res, 400, "INVALID_ARGUMENT", "invalidArgument", "Invalid id value");
      Json msgs = Json::array();
      std::vector<const StoredMail*> in;
      for (auto& x : mails)
        if (x.thread == id) in.push_back(&x);
      if (in.empty()) return error(res, 404, "NOT_FOUND", "notFound", "Requested entity was not found.");
      std::stable_sort(in.begin(), in.end(), [](auto* a, auto* b) { return a->internal < b->internal; });
      for (auto* x : in) msgs.push_back(resource(*x, req.has_param("format") ? req.get_param_value("format") : "full", {}));
      json(res, {{"id", id}, {"historyId", "4242"}, {"messages", msgs}});
    });
    auto accept_raw = [this](const Json& message, httplib::Response& res, std::set<std::string> labels, std::string& id) {
      std::string raw = message.value("raw", "");
      auto decoded = base64url_decode(raw);
      if (raw.empty() || !decoded) {
        error(res, 400, "INVALID_ARGUMENT", "invalidArgument", "Invalid value for ByteString");
        return false;
      }
      MimeMessage p;
      try {
        p = parse(*decoded);
      } catch (const std::exception&) {
        error(res, 400, "INVALID_ARGUMENT", "invalidArgument", "Invalid raw message");
        return false;
      }
      if (labels.count("SENT") && p.to.empty() && p.cc.empty() && p.bcc.empty()) {
        error(res, 400, "INVALID_ARGUMENT", "invalidArgument", "Recipient address required");
        return false;
      }
      std::string thread = message.value("threadId", "");
      if (!thread.empty()) {
        bool known = false;
        for (auto& x : mails) known |= x.thread == thread;
        if (!known) {
          error(res, 404, "NOT_FOUND", "notFound", "Requested entity was not found.");
          return false;
        }
      }
      if (labels.count("SENT")) sent.push_back(p);
      id = store(*decoded, std::move(labels), now_ms(), thread);
      // Gmail keeps a threadId it was given only when the headers agree (References/In-Reply-To).
      return true;
    };
    s.Post(base + "/messages/send", [this, accept_raw](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["messages.send"];
      std::string id;
      if (!accept_raw(Json::parse(req.body), res, {"SENT"}, id)) return;
      auto* x = find(id);
      json(res, {{"id", id}, {"threadId", x->thread}, {"labelIds", {"SENT"}}});
    });
    s.Post(base + "/drafts", [this, accept_raw](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["drafts.create"];
      std::string id;
      if (!accept_raw(Json::parse(req.body).value("message", Json::object()), res, {"DRAFT"}, id)) return;
      auto* x = find(id);
      json(res, {{"id", "r-" + id}, {"message", {{"id", id}, {"threadId", x->thread}, {"labelIds", {"DRAFT"}}}}});
    });
    auto change = [this](StoredMail& x, const Json& b) {
      for (auto& a : b.value("addLabelIds", std::vector<std::string>{})) x.labels.insert(a);
      for (auto& r : b.value("removeLabelIds", std::vector<std::string>{})) x.labels.erase(r);
    };
    auto labels_ok = [this](const Json& b, httplib::Response& res) {
      for (auto* k : {"addLabelIds", "removeLabelIds"})
        for (auto& a : b.value(k, std::vector<std::string>{}))
          if (!valid_label(a)) {
            error(res, 400, "INVALID_ARGUMENT", "invalidArgument", "Invalid label: " + a);
            return false;
          }
      return true;
    };
    s.Post(base + "/messages/batchModify", [this, change, labels_ok](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["messages.batchModify"];
      Json b = Json::parse(req.body);
      if (!labels_ok(b, res)) return;
      for (auto& id : b.value("ids", std::vector<std::string>{}))
        if (auto* x = find(id)) change(*x, b);
      res.status = 204;  // an empty body
    });
    s.Post(base + R"(/messages/([^/]+)/modify)", [this, change, labels_ok](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["messages.modify"];
      auto* x = find(req.matches[1]);
      if (!x) return error(res, 404, "NOT_FOUND", "notFound", "Requested entity was not found.");
      Json b = Json::parse(req.body);
      if (!labels_ok(b, res)) return;
      change(*x, b);
      json(res, resource(*x, "minimal", {}));
    });
    s.Post(base + R"(/messages/([^/]+)/trash)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard l(m);
      ++calls["messages.trash"];
      auto* x = find(req.matches[1]);
      if (!x) return error(res, 404, "NOT_FOUND", "notFound", "Requested entity was not found.");
      x->labels.insert("TRASH");
      x->labels.erase("INBOX");
      json(res, resource(*x, "minimal", {}));
    });
  }
  void fail(const std::string& how) {
    std::lock_guard l(m);
    fail_next = how;
  }
  int count(const std::string& what) {
    std::lock_guard l(m);
    return calls[what];
  }
};

struct FakeClock : http::Clock {
  std::mutex m;
  std::chrono::steady_clock::time_point t{std::chrono::hours(1000)};
  std::vector<http::Ms> sleeps;
  std::chrono::steady_clock::time_point now() override {
    std::lock_guard l(m);
    return t;
  }
  void sleep_for(http::Ms d) override {
    std::lock_guard l(m);
    sleeps.push_back(d);
    t += d;
  }
  void advance(http::Ms d) {
    std::lock_guard l(m);
    t += d;
  }
};

// The mailbox the scenario starts with: threads, an attachment, labels, non-ASCII headers.
struct Ids {
  std::string report, report_reply, invoice, digest, dinner, cafe;
};
Ids seed(FakeGmail& g) {
  const Address alex{"Alex Morgan", g.me}, ravi{"Ravi Nair", "ravi.nair@example.com"}, priya{"Priya Shah", "priya.shah@example.com"},
      billing{"Northwind Energy", "billing@northwind-energy.example"}, news{"Readly Digest", "digest@readly.example"},
      jonas{"Jonas Berg", "jonas.berg@example.com"};
  g.user_labels = {{"Label_1", "Newsletters"}, {"Label_2", "Work"}};
  Millis now = now_ms();
  auto mail = [&](Address from, std::vector<Address> to, std::string subject, std::string text, double hours_ago, std::string id) {
    MimeMessage m;
    m.from = from;
    m.to = to;
    m.subject = subject;
    m.text = text;
    m.date = now - Millis(hours_ago * kHour);
    m.message_id = id;
    return m;
  };
  Ids ids;
  auto report = mail(ravi, {alex}, "Quarterly report draft", "Could you check the revenue section by Thursday?", 50, "report-1@example.com");
  ids.report = g.deliver(report, {"INBOX", "Label_2"});
  auto reply = mail(alex, {ravi}, "Re: Quarterly report draft", "Thanks Ravi, I'll go through it tomorrow.", 48, "report-2@example.com");
  reply.in_reply_to = "report-1@example.com";
  reply.references = {"report-1@example.com"};
  ids.report_reply = g.deliver(reply, {"SENT"});
  auto invoice = mail(billing, {alex}, "Your invoice #2041", "Amount due: EUR 84.20, payable by the 5th.", 30, "inv-2041@northwind-energy.example");
  invoice.attachments.push_back({"invoice-2041.pdf", "application/pdf", std::string(3000, '\x42'), 0});
  ids.invoice = g.deliver(invoice, {"INBOX", "STARRED"});
  ids.digest = g.deliver(mail(news, {alex}, "Your weekly digest", "Balcony tomatoes & community plots.", 20, "d-7@readly.example"),
                         {"INBOX", "Label_1", "UNREAD", "CATEGORY_FORUMS"});
  ids.dinner = g.deliver(mail(priya, {alex}, "Dinner on Friday?", "Would you like to come for dinner on Friday at 7? It's at Sole.", 8, "dinner-1@example.com"),
                         {"INBOX", "UNREAD", "IMPORTANT"});
  ids.cafe = g.deliver(mail(jonas, {alex}, "Café meeting — Überblick", "Hallo Alex, the Überblick of what shipped.", 4, "cafe-1@example.com"),
                       {"INBOX", "UNREAD"});
  return ids;
}

// A server whose default mail account is the Gmail adapter on the fake, signed in as "work".
struct GmailFixture : ToolCalls {
  FakeGmail gmail;
  FakeClock clock;
  AppFixture f;
  int64_t user = f.store.user_id("local");
  auth::TokenStore tokens{f.store, auth::Sealer(std::string(32, 'K'))};
  std::shared_ptr<auth::OAuthClient> oauth;
  std::shared_ptr<http::Client> client;
  std::shared_ptr<GmailMail> adapter;
  Client c{*f.server};
  int id = 1;

  explicit GmailFixture(std::function<void(http::Policy&)> tune = nullptr) : ToolCalls(c) {
    gmail.up.sign_in(tokens, user, "google", "work");
    oauth = std::make_shared<auth::OAuthClient>(gmail.up.oauth("google"), tokens, gmail.up.policy("google"));
    auto p = gmail.up.policy("google");
    if (tune) tune(p);
    client = std::make_shared<http::Client>(p, clock);
    adapter = std::make_shared<GmailMail>(client, std::make_shared<auth::OAuthCredentials>(oauth, "google", "work"));
    f.providers.mail = {};
    f.providers.mail.add("work", adapter);
    c.initialize("2025-11-25");
  }
  std::vector<std::string> ids_of(const Json& messages) {
    std::vector<std::string> out;
    for (auto& m : messages) out.push_back(m["id"]);
    return out;
  }
};

}  // namespace

TEST_CASE("gmail: our query language becomes Gmail's q, dates in the user's zone", "[gmail][unit]") {
  auto berlin = zone("Europe/Berlin");
  CHECK(GmailMail::gmail_query("from:ravi is:unread", berlin) == "from:ravi is:unread");
  CHECK(GmailMail::gmail_query("subject:\"quarterly report\" -label:Newsletters", berlin) == "subject:\"quarterly report\" -label:Newsletters");
  CHECK(GmailMail::gmail_query("label:\"My Trips\" has:attachment in:anywhere", berlin) == "label:My-Trips has:attachment in:anywhere");
  // 2026-11-01 00:00 in Berlin (UTC+1) is 2026-10-31T23:00Z.
  CHECK(GmailMail::gmail_query("after:2026/11/01 before:2026-11-02", berlin) == "after:1793487600 before:1793574000");
  CHECK(GmailMail::gmail_query("  lake   \"night train\" ", berlin) == "lake \"night train\"");
  CHECK(GmailMail::gmail_query("", berlin).empty());
  for (const char* bad : {"before:yesterday", "is:happy", "has:wings", "in:attic", "subject:\"open", "from:"}) {
    INFO(bad);
    CHECK_THROWS_WITH(GmailMail::gmail_query(bad, berlin), Catch::StartsWith("query:"));
  }
  CHECK(gmail_scopes(true) == std::vector<std::string>{"https://www.googleapis.com/auth/gmail.readonly"});
  CHECK(gmail_scopes(false) == std::vector<std::string>{"https://www.googleapis.com/auth/gmail.modify"});
  auto p = gmail_policy();
  CHECK(p.base_url == "https://www.googleapis.com");
  CHECK(p.rate_per_second * 5 < 250);  // 5-unit calls stay under Gmail's 250 units per user per second
}

TEST_CASE("gmail: the mail scenario through the tools", "[gmail]") {
  GmailFixture x;
  auto ids = seed(x.gmail);

  // Search: operators pass through to Gmail, summaries come from format=metadata.
  Json all = x.ok("mail_search", {{"query", ""}});
  REQUIRE(all["messages"].size() == 6);
  CHECK(all["messages"][0]["id"] == ids.cafe);  // newest first
  CHECK(all["messages"][0]["subject"] == "Café meeting — Überblick");  // RFC 2047 on the wire, decoded
  CHECK(all["messages"][0]["from"] == "Jonas Berg <jonas.berg@example.com>");
  Json from = x.ok("mail_search", {{"query", "from:ravi"}});
  CHECK(x.ids_of(from["messages"]) == std::vector<std::string>{ids.report});  // the reply is from alex
  Json unread = x.ok("mail_search", {{"query", "is:unread"}});
  CHECK(x.ids_of(unread["messages"]) == std::vector<std::string>{ids.cafe, ids.dinner, ids.digest});
  for (auto& m : unread["messages"]) CHECK(m["unread"] == true);
  Json attach = x.ok("mail_search", {{"query", "has:attachment"}});
  REQUIRE(attach["messages"].size() == 1);
  CHECK(attach["messages"][0]["has_attachments"] == true);
  CHECK(attach["messages"][0]["starred"] == true);
  Json label = x.ok("mail_search", {{"query", "label:newsletters"}});
  REQUIRE(label["messages"].size() == 1);
  CHECK(label["messages"][0]["labels"] == Json{"INBOX", "Newsletters"});  // names, not Label_1; no CATEGORY_/UNREAD
  CHECK(label["messages"][0]["snippet"] == "Balcony tomatoes & community plots.");  // Gmail's &amp; undone
  CHECK(x.ok("mail_search", {{"query", "-label:Newsletters"}})["messages"].size() == 5);
  CHECK(x.ok("mail_search", {{"query", "subject:\"dinner on friday\""}})["messages"].size() == 1);
  CHECK(x.ok("mail_search", {{"query", "in:sent"}})["messages"].size() == 1);
  std::string today = providers::format_date(date::floor<date::days>(to_local(now_ms(), zone("UTC"))));
  x.ok("mail_search", {{"query", "after:" + today}});
  CHECK(!x.gmail.queries.back().empty());
  CHECK_THAT(x.gmail.queries.back(), Catch::Matches("after:[0-9]+"));  // epoch seconds, not Gmail's Pacific dates
  Json page = x.ok("mail_search", {{"query", ""}, {"max_results", 4}});
  CHECK(page["messages"].size() == 4);
  REQUIRE(page.contains("next_page_token"));
  Json rest = x.ok("mail_search", {{"query", ""}, {"max_results", 4}, {"page_token", page["next_page_token"]}});
  CHECK(rest["messages"].size() == 2);
  CHECK_FALSE(rest.contains("next_page_token"));
  int lists = x.gmail.count("messages.list");
  CHECK_THAT(x.error("mail_search", {{"query", "before:tomorrow"}}), Catch::StartsWith("query:"));
  CHECK(x.gmail.count("messages.list") == lists);  // refused here, Gmail never asked
  CHECK_THAT(x.error("mail_search", {{"query", ""}, {"page_token", "bogus"}}), Catch::StartsWith("page_token:"));

  // Read: format=full, body from the parts, attachment metadata, and a thread oldest first.
  Json invoice = x.ok("mail_read", {{"message_id", ids.invoice}});
  auto& inv = invoice["messages"][0];
  CHECK_THAT(inv["body"].get<std::string>(), Catch::Contains("EUR 84.20"));
  REQUIRE(inv["attachments"].size() == 1);
  CHECK(inv["attachments"][0]["filename"] == "invoice-2041.pdf");
  CHECK(inv["attachments"][0]["mime_type"] == "application/pdf");
  CHECK(inv["attachments"][0]["size"] == 3000);
  CHECK(inv["message_id_header"] == "inv-2041@northwind-energy.example");
  Json report = x.ok("mail_read", {{"thread_id", x.gmail.find(ids.report)->thread}});
  REQUIRE(report["messages"].size() == 2);
  CHECK(report["messages"][0]["id"] == ids.report);
  CHECK(report["messages"][1]["in_reply_to"] == "report-1@example.com");

  // Reply: threaded with the original, In-Reply-To/References set, sent as raw RFC 5322.
  Json sent = x.ok("mail_send", {{"reply_to_message_id", ids.dinner}, {"text", "We'd love to! See you at 7."}, {"bcc", {"sam@example.com"}}});
  auto& reply = sent["message"];
  CHECK(reply["subject"] == "Re: Dinner on Friday?");
  CHECK(reply["thread_id"] == x.gmail.find(ids.dinner)->thread);
  CHECK(reply["to"] == Json{"Priya Shah <priya.shah@example.com>"});
  CHECK(reply["labels"] == Json{"SENT"});
  REQUIRE(x.gmail.sent.size() == 1);
  auto& wire = x.gmail.sent[0];
  CHECK(wire.in_reply_to == "dinner-1@example.com");
  CHECK(wire.references == std::vector<std::string>{"dinner-1@example.com"});
  CHECK(wire.from.email == "alex@example.com");
  CHECK(wire.bcc.at(0).email == "sam@example.com");
  CHECK_THAT(wire.text, Catch::StartsWith("We'd love to! See you at 7."));
  Json thread = x.ok("mail_read", {{"thread_id", reply["thread_id"]}});
  CHECK(x.ids_of(thread["messages"]) == std::vector<std::string>{ids.dinner, reply["id"]});
  CHECK(thread["messages"][1]["in_reply_to"] == "dinner-1@example.com");

  Json draft = x.ok("mail_draft", {{"to", {"Ravi Nair <ravi.nair@example.com>"}}, {"subject", "Grüße"}, {"html", "<p>Draft</p>"}});
  CHECK(draft["message"]["labels"] == Json{"DRAFT"});
  CHECK(draft["message"]["subject"] == "Grüße");
  CHECK(x.gmail.count("drafts.create") == 1);

  // Modify: read, star, archive, a new label, several at once, trash.
  Json read = x.ok("mail_modify", {{"message_ids", {ids.dinner}}, {"read", true}, {"starred", true}});
  CHECK(read["messages"][0]["unread"] == false);
  CHECK(read["messages"][0]["starred"] == true);
  CHECK(x.gmail.count("messages.modify") == 1);  // one message: the 5-unit call
  Json archived = x.ok("mail_modify", {{"message_ids", {ids.dinner, ids.cafe}}, {"archive", true}, {"add_labels", {"Follow-up"}}});
  CHECK(x.gmail.count("messages.batchModify") == 1);
  for (auto& m : archived["messages"]) CHECK(m["labels"] == Json{"Follow-up"});
  auto inbox = x.ids_of(x.ok("mail_search", {{"query", "in:inbox"}})["messages"]);
  CHECK(std::find(inbox.begin(), inbox.end(), ids.dinner) == inbox.end());
  CHECK(x.ok("mail_search", {{"query", "label:Follow-up"}})["messages"].size() == 2);
  CHECK(x.ok("mail_search", {{"query", "is:starred"}})["messages"].size() == 2);
  x.ok("mail_modify", {{"message_ids", {ids.digest}}, {"trash", true}});
  CHECK(x.ok("mail_search", {{"query", "label:Newsletters"}})["messages"].empty());  // trash is left out...
  CHECK(x.ids_of(x.ok("mail_search", {{"query", "in:trash"}})["messages"]) == std::vector<std::string>{ids.digest});  // ...unless asked

  // Labels: system ones in the local order with counts from labels.get, then the user's.
  Json labels = x.ok("mail_list_labels", Json::object());
  std::vector<std::string> names;
  for (auto& l : labels["labels"]) names.push_back(l["name"]);
  CHECK(names == std::vector<std::string>{"INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "STARRED", "Follow-up", "Newsletters", "Work"});
  CHECK(labels["labels"][0]["total"] == 2);   // report and invoice: the rest archived or trashed
  CHECK(labels["labels"][0]["unread"] == 0);
  CHECK(labels["labels"][1]["total"] == 2);   // the old reply and ours
  CHECK(labels["labels"][3]["unread"] == 1);  // the trashed digest
  CHECK(labels["labels"][6]["type"] == "user");
  CHECK(labels["labels"][6]["total"] == 2);
}

TEST_CASE("gmail: unknown ids and bad input name the field, nothing changes", "[gmail]") {
  GmailFixture x;
  auto ids = seed(x.gmail);
  CHECK_THAT(x.error("mail_read", {{"message_id", "18c0000000000dead"}}), Catch::StartsWith("message_id:"));
  CHECK_THAT(x.error("mail_read", {{"message_id", "../../labels"}}), Catch::StartsWith("message_id:"));  // Gmail's 400 Invalid id value
  CHECK_THAT(x.error("mail_read", {{"thread_id", "nope"}}), Catch::StartsWith("thread_id:"));
  CHECK_THAT(x.error("mail_send", {{"text", "hi"}, {"reply_to_message_id", "18c0000000000dead"}}), Catch::StartsWith("message_id:"));
  CHECK_THAT(x.error("mail_send", {{"text", "hi"}}), Catch::StartsWith("to:"));
  CHECK_THAT(x.error("mail_send", {{"to", {"ok@example.com"}}, {"subject", "no body"}}), Catch::StartsWith("text:"));
  CHECK_THAT(x.error("mail_modify", {{"message_ids", {ids.dinner, "18c0000000000dead"}}, {"read", true}}), Catch::StartsWith("message_ids:"));
  CHECK_THAT(x.error("mail_modify", {{"message_ids", {ids.dinner}}, {"add_labels", {"SENT"}}}), Catch::StartsWith("add_labels:"));
  CHECK_THAT(x.error("mail_search", {{"query", "is:happy"}}), Catch::StartsWith("query:"));
  CHECK(x.gmail.count("messages.modify") + x.gmail.count("messages.batchModify") == 0);
  CHECK(x.gmail.count("messages.send") == 0);
  CHECK(x.gmail.find(ids.dinner)->labels.count("UNREAD") == 1);
}

TEST_CASE("gmail: faults: 429 and 500 retried, a stall, malformed JSON, an expired and a revoked token, the breaker", "[gmail][faults]") {
  GmailFixture x([](http::Policy& p) {
    p.breaker_threshold = 3;
    p.breaker_cooldown = 30s;
  });
  auto ids = seed(x.gmail);
  auto& up = x.gmail.up;

  SECTION("429 with Retry-After, then success") {
    up.inject({Fault::Status429, 2});
    CHECK(x.ok("mail_search", {{"query", "from:ravi"}})["messages"].size() == 1);
    REQUIRE_FALSE(x.clock.sleeps.empty());
    CHECK(x.clock.sleeps[0] == 2000ms);  // waited what Retry-After said
  }
  SECTION("500 on a read, then success") {
    up.inject({Fault::Status500});
    CHECK(x.ok("mail_read", {{"message_id", ids.invoice}})["messages"].size() == 1);
    CHECK(x.client->breaker() == http::BreakerState::Closed);
  }
  SECTION("a stall past the timeout on a send: said plainly, not sent twice") {
    x.ok("mail_send", {{"to", {"ravi.nair@example.com"}}, {"text", "first"}});  // the profile is known now
    int sends = x.gmail.count("messages.send");
    up.inject({Fault::Stall});
    CHECK_THAT(x.error("mail_send", {{"to", {"ravi.nair@example.com"}}, {"text", "second"}}), Catch::Contains("did not answer"));
    std::this_thread::sleep_for(400ms);  // the stalled request finishes on the fake's side
    CHECK(x.gmail.count("messages.send") <= sends + 1);  // a write that timed out is not repeated
  }
  SECTION("malformed JSON is a clear tool error") {
    up.inject({Fault::Malformed});
    CHECK_THAT(x.error("mail_list_labels", Json::object()), Catch::Contains("not JSON"));
  }
  SECTION("an expired token: exactly one refresh, then success") {
    up.inject({Fault::Expired});
    CHECK(x.ok("mail_search", {{"query", "is:starred"}})["messages"].size() == 1);
    CHECK(up.refreshes == 1);
  }
  SECTION("a revoked grant names the command that signs in again") {
    up.revoked = true;
    up.inject({Fault::Expired});
    CHECK_THAT(x.error("mail_search", {{"query", ""}}), Catch::StartsWith("account:") && Catch::Contains("concierge auth login google --account work"));
  }
  SECTION("the breaker opens after repeated failures and recovers after the cool-down") {
    for (int i = 0; i < 4; ++i) up.inject({Fault::Status500});
    x.error("mail_search", {{"query", ""}});
    CHECK(x.client->breaker() == http::BreakerState::Open);
    {
      std::lock_guard l(up.m);
      up.faults.clear();
    }
    int calls = up.api_calls;
    x.error("mail_search", {{"query", ""}});  // fails fast...
    CHECK(up.api_calls == calls);             // ...without calling
    x.clock.advance(31s);
    CHECK(x.client->breaker() == http::BreakerState::HalfOpen);
    CHECK(x.ok("mail_search", {{"query", "from:ravi"}})["messages"].size() == 1);
    CHECK(x.client->breaker() == http::BreakerState::Closed);
  }

  // Whatever happened, no token the fake issued is in the logs, the history or an error.
  store::History::Query q;
  q.user = "local";
  std::string history;
  for (int i = 0; i < 100; ++i) {
    history = x.f.history.query(q).rows.dump();
    if (x.f.history.count("local") >= size_t(x.id - 1)) break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(x.f.history.count("local") > 0);
  std::string logs;
  for (auto& l : captured_logs()) logs += l + "\n";
  std::string errors;
  for (auto& e : x.errors) errors += e + "\n";
  REQUIRE_FALSE(up.seen_tokens.empty());
  for (auto& t : up.seen_tokens) {
    INFO(t);
    CHECK(logs.find(t) == std::string::npos);
    CHECK(history.find(t) == std::string::npos);
    CHECK(errors.find(t) == std::string::npos);
  }
}

TEST_CASE("gmail: Gmail's own errors: a per-user rate limit, a Google account without Gmail", "[gmail][faults]") {
  GmailFixture x;
  seed(x.gmail);
  x.gmail.fail("rate");
  CHECK_THAT(x.error("mail_search", {{"query", ""}}), Catch::Contains("Gmail is limiting how often") && Catch::Contains("try again in a minute"));
  x.gmail.fail("nomail");
  CHECK_THAT(x.error("mail_search", {{"query", ""}}), Catch::StartsWith("account:") && Catch::Contains("no Gmail"));
  CHECK(x.ok("mail_search", {{"query", ""}})["messages"].size() == 6);
}

TEST_CASE("gmail: the fake refuses what Gmail refuses: unknown is:/has: values, bodies that are not JSON, a client taking no JSON", "[gmail][fake]") {
  GmailFixture x;
  auto [token, refresh] = x.gmail.up.issue("work");
  httplib::Client raw("127.0.0.1", x.gmail.up.port);
  httplib::Headers auth{{"Authorization", "Bearer " + token}};
  auto search = [&](const std::string& q) { return raw.Get("/gmail/v1/users/me/messages", httplib::Params{{"q", q}}, auth)->status; };
  CHECK(search("is:starred") == 200);
  CHECK(search("has:attachment") == 200);
  CHECK(search("is:happy") == 400);
  CHECK(search("has:wings") == 400);
  CHECK(raw.Post("/gmail/v1/users/me/messages/send", auth, "{\"raw\":\"x\"}", "text/plain")->status == 400);
  httplib::Headers html = auth;
  html.emplace("Accept", "text/html");
  CHECK(raw.Get("/gmail/v1/users/me/labels", html)->status == 406);
  CHECK(raw.Get("/gmail/v1/users/me/labels", auth)->status == 200);
}
