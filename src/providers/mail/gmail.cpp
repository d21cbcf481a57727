#include "providers/mail/gmail.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <cstring>
#include <glib.h>

#include "providers/ids.hpp"
#include "providers/mail/query.hpp"
#include "common/json_parse.hpp"
#include "common/base64.hpp"

namespace concierge::providers::mail {

namespace {

const std::string kBase = "/gmail/v1/users/me/";
// Gmail's own cap on what messages.send takes through the JSON (non-upload) endpoint is larger;
// this is the local mailbox's bound, so both refuse the same messages.
constexpr size_t kMaxMessage = 2 * 1024 * 1024;
// Our system labels, in the order the local mailbox lists them.
const std::vector<std::string> kShown{"INBOX", "SENT", "DRAFT", "TRASH", "SPAM"};
const std::vector<std::string> kListed{"INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "STARRED"};

// Ids come from the model: one path segment, whatever they contain.
std::string seg(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += char(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}


// Gmail's reasons: error.errors[].reason (v1 style) or error.details[].reason (ErrorInfo).
std::string reason(const Json& body) {
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) return "";
  const Json& e = body["error"];
  if (e.contains("errors") && e["errors"].is_array())
    for (auto& x : e["errors"])
      if (x.is_object() && !json_string(x, "reason").empty()) return json_string(x, "reason");
  if (e.contains("details") && e["details"].is_array())
    for (auto& x : e["details"])
      if (x.is_object() && !json_string(x, "reason").empty()) return json_string(x, "reason");
  return json_string(e, "status");
}

void decode(const http::Response& r, const http::Request& req) {
  Json body = parse_json(r.body);
  std::string why = reason(body), said = http::error_message(r);
  if (said.size() > 200) said = said.substr(0, 200) + "...";
  if ((r.status == 403 || r.status == 429) &&
      (why == "rateLimitExceeded" || why == "userRateLimitExceeded" || why == "RATE_LIMIT_EXCEEDED" || why == "RESOURCE_EXHAUSTED"))
    throw http::Unavailable("Gmail is limiting how often this account may call it (" + said + "); try again in a minute");
  if (r.status == 403 && (why == "dailyLimitExceeded" || why == "quotaExceeded"))
    throw http::Unavailable("Gmail's daily quota for this app is spent (" + said + "); it resets at midnight Pacific time");
  if (r.status == 400 && said.find("Mail service not enabled") != std::string::npos)
    throw Error("account", "this Google account has no Gmail (" + said + ")");
  if (r.status == 400 && lower(said).find("invalid id") != std::string::npos) throw NotFound("", said);  // a malformed id names nothing
  if (r.status == 400) {
    for (auto& [k, v] : req.query)
      if (k == "pageToken" && lower(said).find("page") != std::string::npos)
        throw Error("page_token", "not a page token from a previous search");
  }
}

std::string b64url_decode(std::string s) {
  while (!s.empty() && s.back() == '=') s.pop_back();  // Gmail's data is unpadded; tolerate padding
  std::replace(s.begin(), s.end(), '+', '-');
  std::replace(s.begin(), s.end(), '/', '_');
  return base64url_decode(s).value_or("");
}

// Gmail's snippets are HTML-escaped.
std::string unescape(const std::string& s) {
  static const std::pair<const char*, const char*> kEnt[] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool hit = false;
    if (s[i] == '&')
      for (auto& [e, c] : kEnt)
        if (s.compare(i, std::strlen(e), e) == 0) {
          out += c;
          i += std::strlen(e);
          hit = true;
          break;
        }
    if (!hit) out += s[i++];
  }
  return out;
}

// Gmail hands header values as the message has them (encoded words and all): rebuilt into a
// header block, they go through the same GMime parsing as any message.
MimeMessage headers_of(const Json& payload) {
  static const std::vector<std::string> kKeep{"from", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to", "references"};
  std::string block;
  if (payload.contains("headers"))
    for (auto& h : payload["headers"]) {
      std::string name = json_string(h, "name"), value = json_string(h, "value");
      if (std::find(kKeep.begin(), kKeep.end(), lower(name)) == kKeep.end()) continue;
      std::replace(value.begin(), value.end(), '\r', ' ');
      std::replace(value.begin(), value.end(), '\n', ' ');
      block += name + ": " + value + "\n";
    }
  block += "\n";
  try {
    return parse(block);
  } catch (const std::exception&) {
    return {};
  }
}

// A part's text in UTF-8, from the charset its Content-Type names.
std::string text_of(const Json& part) {
  std::string data = b64url_decode(json_string(part.value("body", Json::object()), "data"));
  std::string charset;
  for (auto& h : part.value("headers", Json::array())) {
    if (lower(json_string(h, "name")) != "content-type") continue;
    std::string v = lower(json_string(h, "value"));
    auto at = v.find("charset=");
    if (at == std::string::npos) break;
    charset = v.substr(at + 8);
    charset.erase(std::remove(charset.begin(), charset.end(), '"'), charset.end());
    charset = charset.substr(0, charset.find_first_of("; "));
  }
  if (charset.empty() || charset == "utf-8" || charset == "us-ascii" || g_utf8_validate(data.data(), gssize(data.size()), nullptr)) return data;
  gsize written = 0;
  gchar* out = g_convert(data.data(), gssize(data.size()), "UTF-8", charset.c_str(), nullptr, &written, nullptr);
  if (!out) return data;
  std::string s(out, written);
  g_free(out);
  return s;
}

void walk(const Json& part, Message& m) {
  std::string type = lower(json_string(part, "mimeType")), filename = json_string(part, "filename");
  const Json body = part.value("body", Json::object());
  if (type.rfind("multipart/", 0) == 0) {
    for (auto& p : part.value("parts", Json::array())) walk(p, m);
    return;
  }
  if (!filename.empty() || body.contains("attachmentId") || type.rfind("text/", 0) != 0) {
    m.attachments.push_back({filename, type, "", size_t(std::max<int64_t>(0, body.value("size", int64_t{0})))});
    return;
  }
  if (type == "text/html") {
    if (m.html.empty()) m.html = text_of(part);
  } else if (m.text.empty()) {
    m.text = text_of(part);
  }
}

bool has_attachment_parts(const Json& part) {
  std::string type = lower(json_string(part, "mimeType"));
  if (type.rfind("multipart/", 0) == 0) {
    for (auto& p : part.value("parts", Json::array()))
      if (has_attachment_parts(p)) return true;
    return false;
  }
  return !json_string(part, "filename").empty() || (!type.empty() && type.rfind("text/", 0) != 0);
}

}  // namespace

http::Policy gmail_policy() {
  http::Policy p;
  p.service = "google";  // one Google sign-in: messages and `concierge auth login google` say google
  p.base_url = "https://www.googleapis.com";
  p.connect_timeout = http::Ms(5000);
  p.timeout = http::Ms(20000);
  // Gmail's usage limits: 15,000 quota units per user per minute (250 per second, a moving
  // average). What we call costs 5 units (messages.list/get/modify/trash), 1 (labels.get/list,
  // profile), 10 (threads.get, drafts.create), 50 (batchModify), 100 (messages.send). 40 calls a
  // second of 5 units is 200 units/s, under the limit with room; a burst of 120 lets one full
  // search page (1 list + 100 gets, 505 units) go at once, which the moving average allows.
  p.rate_per_second = 40;
  p.burst = 120;
  return p;
}

std::vector<std::string> gmail_scopes(bool read_only) {
  if (read_only) return {"https://www.googleapis.com/auth/gmail.readonly"};
  return {"https://www.googleapis.com/auth/gmail.modify"};
}

GmailMail::GmailMail(std::shared_ptr<http::Client> client, std::shared_ptr<auth::Credentials> credentials)
    : api_(std::move(client), std::move(credentials), "Gmail", decode) {}

Json GmailMail::get(const Call& call, const std::string& path, std::vector<std::pair<std::string, std::string>> query,
                    const std::string& field, const std::string& what) {
  http::Request r;
  r.path = kBase + path;
  r.query = std::move(query);
  try {
    Json j = api_.call(call, std::move(r));
    return j.is_null() ? Json::object() : j;
  } catch (const NotFound&) {
    if (field.empty()) throw;
    throw NotFound(field, what);
  }
}

Json GmailMail::post(const Call& call, const std::string& path, Json body, const std::string& field, const std::string& what) {
  http::Request r;
  r.method = "POST";
  r.path = kBase + path;
  r.json = std::move(body);
  try {
    Json j = api_.call(call, std::move(r));
    return j.is_null() ? Json::object() : j;
  } catch (const NotFound&) {
    if (field.empty()) throw;
    throw NotFound(field, what);
  }
}

std::vector<GmailMail::LabelInfo> GmailMail::label_list(const Call& call, bool fresh) {
  {
    std::lock_guard l(m_);
    auto it = labels_.find(call.user);
    if (!fresh && it != labels_.end() && std::chrono::steady_clock::now() - it->second.at < std::chrono::minutes(1)) return it->second.labels;
  }
  Json j = get(call, "labels", {});
  std::vector<LabelInfo> out;
  for (auto& l : j.value("labels", Json::array())) out.push_back({json_string(l, "id"), json_string(l, "name"), lower(json_string(l, "type"))});
  std::lock_guard l(m_);
  labels_[call.user] = {std::chrono::steady_clock::now(), out};
  return out;
}

std::string GmailMail::my_address(const Call& call) {
  {
    std::lock_guard l(m_);
    if (auto it = me_.find(call.user); it != me_.end()) return it->second;
  }
  std::string email = json_string(get(call, "profile", {}), "emailAddress");
  std::lock_guard l(m_);
  me_[call.user] = email;
  return email;
}

Summary GmailMail::summary_of(const Call& call, const Json& m) {
  Summary s;
  s.id = json_string(m, "id");
  s.thread_id = json_string(m, "threadId");
  s.snippet = unescape(json_string(m, "snippet"));
  try {
    s.date = std::stoll(json_string(m, "internalDate"));
  } catch (const std::exception&) {
  }
  const Json payload = m.value("payload", Json::object());
  auto h = headers_of(payload);
  s.from = h.from;
  s.to = h.to;
  s.cc = h.cc;
  s.subject = h.subject;
  if (!s.date) s.date = h.date;
  // format=full has the parts; format=metadata only the top type, where multipart/mixed (or a
  // message that is one non-text part) is what carries attachments.
  if (payload.contains("parts")) s.has_attachments = has_attachment_parts(payload);
  else {
    std::string type = lower(json_string(payload, "mimeType"));
    s.has_attachments = type == "multipart/mixed" || (!type.empty() && type.rfind("text/", 0) != 0 && type.rfind("multipart/", 0) != 0);
  }
  std::vector<std::string> ids = m.value("labelIds", std::vector<std::string>{});
  auto known = label_list(call);
  bool refreshed = false;
  for (auto& id : ids) {
    if (id == "UNREAD") s.unread = true;
    else if (id == "STARRED") s.starred = true;
    else if (std::find(kShown.begin(), kShown.end(), id) != kShown.end()) s.labels.push_back(id);
    else if (id.rfind("CATEGORY_", 0) != 0 && id != "IMPORTANT" && id != "CHAT") {
      auto find = [&] { return std::find_if(known.begin(), known.end(), [&](auto& l) { return l.id == id; }); };
      auto it = find();
      if (it == known.end() && !refreshed) {  // a label made elsewhere since we looked
        known = label_list(call, true);
        refreshed = true;
        it = find();
      }
      if (it != known.end() && it->type == "user") s.labels.push_back(it->name);
    }
  }
  std::sort(s.labels.begin(), s.labels.end());
  return s;
}

Message GmailMail::message_of(const Call& call, const Json& m) {
  Message out;
  out.summary = summary_of(call, m);
  const Json payload = m.value("payload", Json::object());
  walk(payload, out);
  auto h = headers_of(payload);
  out.message_id = h.message_id;
  out.in_reply_to = h.in_reply_to;
  out.references = h.references;
  return out;
}

Summary GmailMail::metadata(const Call& call, const std::string& id) {
  Json m = get(call, "messages/" + seg(id),
               {{"format", "metadata"},
                {"metadataHeaders", "From"},
                {"metadataHeaders", "To"},
                {"metadataHeaders", "Cc"},
                {"metadataHeaders", "Subject"},
                {"metadataHeaders", "Date"}},
               "message_id", "no message '" + id + "'");
  return summary_of(call, m);
}

std::string GmailMail::gmail_query(const std::string& query, const date::time_zone* tz) {
  std::string q;
  for (auto& t : parse_query(query)) {
    std::string v = t.value;
    v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
    std::string term = t.negated ? "-" : "";
    if (t.op == "before" || t.op == "after") {
      // Gmail reads YYYY/MM/DD as midnight Pacific; epoch seconds say the user's midnight.
      Millis at = to_utc(LocalMs{parse_date(t.value, "query")}, tz ? tz : zone("UTC"));
      term += t.op + ":" + std::to_string(at / 1000);
    } else {
      if (t.op == "label") std::replace(v.begin(), v.end(), ' ', '-');  // Gmail's spelling of spaced label names
      bool quote = v.find_first_of(" \t():{}") != std::string::npos;
      if (t.op != "text") term += t.op + ":";
      term += quote ? "\"" + v + "\"" : v;
    }
    q += (q.empty() ? "" : " ") + term;
  }
  return q;
}

SearchPage GmailMail::search(const Call& call, const std::string& query, int max_results, const std::string& page_token,
                             const date::time_zone* tz) {
  std::string q = gmail_query(query, tz);
  std::vector<std::pair<std::string, std::string>> params{{"maxResults", std::to_string(std::clamp(max_results, 1, 100))}};
  if (!q.empty()) params.emplace_back("q", q);
  if (!page_token.empty()) params.emplace_back("pageToken", page_token);
  Json list = get(call, "messages", params);
  SearchPage page;
  page.next_page_token = json_string(list, "nextPageToken");
  for (auto& ref : list.value("messages", Json::array())) {
    try {
      page.messages.push_back(metadata(call, json_string(ref, "id")));
    } catch (const NotFound&) {
      // deleted between the list and the get: not there any more
    }
  }
  // messages.list is newest first by internal date already; keep it so even if a page mixes.
  std::stable_sort(page.messages.begin(), page.messages.end(), [](auto& a, auto& b) { return a.date > b.date; });
  return page;
}

Message GmailMail::message(const Call& call, const std::string& id) {
  if (id.empty()) throw NotFound("message_id", "no message ''");
  return message_of(call, get(call, "messages/" + seg(id), {{"format", "full"}}, "message_id", "no message '" + id + "'"));
}

std::vector<Message> GmailMail::thread(const Call& call, const std::string& id) {
  if (id.empty()) throw NotFound("thread_id", "no thread ''");
  Json t = get(call, "threads/" + seg(id), {{"format", "full"}}, "thread_id", "no thread '" + id + "'");
  std::vector<Message> out;
  for (auto& m : t.value("messages", Json::array())) out.push_back(message_of(call, m));
  if (out.empty()) throw NotFound("thread_id", "no thread '" + id + "'");
  std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.summary.date < b.summary.date; });
  return out;
}

Summary GmailMail::compose(const Call& call, const Outgoing& mail, bool send) {
  MimeMessage m;
  m.to = mail.to;
  m.cc = mail.cc;
  m.bcc = mail.bcc;  // Gmail delivers to Bcc and strips the header from what others get
  m.subject = mail.subject;
  m.text = mail.text;
  m.html = mail.html;
  m.date = now_ms();
  std::string thread_id;
  if (!mail.reply_to.empty()) {
    auto parent = message(call, mail.reply_to);
    thread_id = parent.summary.thread_id;
    m.in_reply_to = parent.message_id;
    m.references = parent.references;
    if (!parent.message_id.empty()) m.references.push_back(parent.message_id);
    if (m.to.empty()) m.to = {parent.summary.from};
    if (m.subject.empty()) m.subject = parent.summary.subject;
    if (lower(m.subject.substr(0, 3)) != "re:") m.subject = "Re: " + m.subject;
  }
  if (m.to.empty() && send) throw Error("to", "a message needs at least one recipient");
  if (m.text.empty() && m.html.empty()) throw Error("text", "a message needs a text or html body");
  m.from = {"", my_address(call)};  // Gmail puts the account's send-as name beside it
  std::string domain = m.from.email.find('@') == std::string::npos ? "mail.gmail.com" : m.from.email.substr(m.from.email.find('@') + 1);
  m.message_id = random_id(24) + "@" + domain;
  std::string raw = build(m);
  if (raw.size() > kMaxMessage) throw Error(m.html.size() > m.text.size() ? "html" : "text", "the message is larger than 2 MB");
  Json message{{"raw", base64url_encode(raw)}};
  if (!thread_id.empty()) message["threadId"] = thread_id;  // Gmail threads by this and matching Subject/References
  std::string id;
  if (send) id = json_string(post(call, "messages/send", message), "id");
  else id = json_string(post(call, "drafts", Json{{"message", message}}).value("message", Json::object()), "id");
  if (id.empty()) throw http::Unavailable("Gmail accepted the message but did not say its id");
  return metadata(call, id);
}

Summary GmailMail::send(const Call& call, const Outgoing& mail) { return compose(call, mail, true); }
Summary GmailMail::draft(const Call& call, const Outgoing& mail) { return compose(call, mail, false); }

std::vector<Summary> GmailMail::modify(const Call& call, const std::vector<std::string>& ids, const Change& change) {
  auto system_id = [](const std::string& name) -> std::string {
    std::string u = upper(name);
    if (u == "DRAFTS") u = "DRAFT";
    for (const char* s : {"INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "STARRED", "UNREAD", "IMPORTANT"})
      if (u == s) return u;
    return "";
  };
  for (auto* list : {&change.add_labels, &change.remove_labels})
    for (auto& l : *list) {
      auto c = system_id(l);
      if (c == "SENT" || c == "DRAFT") throw Error(list == &change.add_labels ? "add_labels" : "remove_labels", c + " is set by sending or drafting, not by hand");
    }
  // All or nothing: every id must name a message before anything changes.
  for (auto& id : ids) {
    if (id.empty()) throw NotFound("message_ids", "no message ''");
    get(call, "messages/" + seg(id), {{"format", "minimal"}}, "message_ids", "no message '" + id + "'");
  }
  std::vector<std::string> add, remove;
  auto known = label_list(call);
  auto user_label = [&](const std::string& name) -> std::string {
    for (auto& l : known)
      if (l.type == "user" && lower(l.name) == lower(name)) return l.id;
    return "";
  };
  for (auto& l : change.add_labels) {
    std::string id = system_id(l);
    if (id.empty()) id = user_label(l);
    if (id.empty()) {  // as the local mailbox does: a new label comes into being
      Json made = post(call, "labels", Json{{"name", l}, {"labelListVisibility", "labelShow"}, {"messageListVisibility", "show"}});
      id = json_string(made, "id");
      known = label_list(call, true);
    }
    add.push_back(id);
  }
  for (auto& l : change.remove_labels) {
    std::string id = system_id(l);
    if (id.empty()) id = user_label(l);
    if (!id.empty()) remove.push_back(id);  // a label that doesn't exist is on no message
  }
  if (change.read) (*change.read ? remove : add).push_back("UNREAD");
  if (change.starred) (*change.starred ? add : remove).push_back("STARRED");
  if (change.archive) remove.push_back("INBOX");
  if (!add.empty() || !remove.empty()) {
    Json body{{"addLabelIds", add}, {"removeLabelIds", remove}};
    if (ids.size() == 1) post(call, "messages/" + seg(ids[0]) + "/modify", body, "message_ids", "no message '" + ids[0] + "'");  // 5 units
    else if (!ids.empty()) {
      body["ids"] = ids;  // 50 units for up to 1000 ids
      post(call, "messages/batchModify", body);
    }
  }
  if (change.trash)
    for (auto& id : ids) post(call, "messages/" + seg(id) + "/trash", Json::object(), "message_ids", "no message '" + id + "'");
  std::vector<Summary> out;
  for (auto& id : ids) out.push_back(metadata(call, id));
  return out;
}

std::vector<Label> GmailMail::labels(const Call& call) {
  auto all = label_list(call, true);
  std::vector<Label> out;
  auto counted = [&](const LabelInfo& l, const std::string& name, const std::string& type) {
    Json j = get(call, "labels/" + seg(l.id), {});  // labels.list has no counts
    out.push_back({name, type, j.value("messagesTotal", 0), j.value("messagesUnread", 0)});
  };
  for (auto& s : kListed)
    for (auto& l : all)
      if (l.id == s) counted(l, s, "system");
  std::vector<LabelInfo> mine;
  for (auto& l : all)
    if (l.type == "user") mine.push_back(l);
  std::sort(mine.begin(), mine.end(), [](auto& a, auto& b) { return a.name < b.name; });
  for (auto& l : mine) counted(l, l.name, "user");
  return out;
}

}  // namespace concierge::providers::mail
