#include "providers/mail/imap.hpp"
#include "common/base64.hpp"
#include "common/text.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "providers/auth/oauth.hpp"
#include "providers/error.hpp"
#include "providers/http/service.hpp"
#include "providers/http/transfer.hpp"
#include "providers/http/url.hpp"
#include "providers/ids.hpp"
#include "providers/mail/imap_wire.hpp"
#include "providers/mail/query.hpp"

namespace concierge::providers::mail {

namespace {

constexpr size_t kMaxMessage = 2 * 1024 * 1024;
const char* kSummaryFields = "FROM TO CC SUBJECT DATE MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE CONTENT-TRANSFER-ENCODING MIME-VERSION";

}  // namespace

// ---- IMAP responses (imap_wire.hpp) ---------------------------------------------------------
// Every line the server sent reaches curl's header callback, literals included, so the whole
// exchange is parsed here.

namespace imap {

bool Node::is(const char* atom) const { return kind == Atom && upper(text) == atom; }

bool Response::status() const {
  return !items.empty() && items[0].kind == Node::Atom &&
         (items[0].is("OK") || items[0].is("NO") || items[0].is("BAD") || items[0].is("BYE") || items[0].is("PREAUTH"));
}

namespace {

// BODYSTRUCTURE nests a level per multipart; a server's "((((..." must not recurse the stack away.
constexpr int kMaxDepth = 64;

struct Parser {
  const std::string& s;
  size_t i = 0;
  int depth = 0;
  bool eol() const { return i >= s.size() || s[i] == '\r' || s[i] == '\n'; }
  void skip_eol() {
    while (i < s.size() && s[i] != '\n') ++i;
    if (i < s.size()) ++i;
  }
  void skip_spaces() {
    while (i < s.size() && s[i] == ' ') ++i;
  }
  std::string atom() {
    std::string out;
    int depth = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '\r' || c == '\n') break;
      if (depth == 0 && (c == ' ' || c == '(' || c == ')')) break;
      if (c == '[') ++depth;
      if (c == ']' && depth > 0) --depth;
      out += c;
      ++i;
    }
    return out;
  }
  Node node() {
    Node n;
    char c = s[i];
    if (c == '(') {
      if (++depth > kMaxDepth) throw std::runtime_error("lists nested more than " + std::to_string(kMaxDepth) + " deep");
      ++i;
      n.kind = Node::List;
      for (;;) {
        skip_spaces();
        if (i >= s.size()) break;
        if (s[i] == ')') {
          ++i;
          break;
        }
        if (s[i] == '\r' || s[i] == '\n') {  // a broken list: end it with the line
          break;
        }
        n.items.push_back(node());
      }
      --depth;
    } else if (c == '"') {
      ++i;
      n.kind = Node::String;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        n.text += s[i++];
      }
      ++i;
    } else if (c == '{') {
      size_t close = s.find('}', i);
      size_t nl = close == std::string::npos ? std::string::npos : s.find('\n', close);
      if (nl == std::string::npos) throw std::runtime_error("a literal without its data");
      // Digits only: stoul takes "-6" as 2^64 - 6, and nl + 1 + len wrapped around backwards.
      std::string digits = s.substr(i + 1, close - i - 1);
      if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
        throw std::runtime_error("a literal without its length");
      size_t len = std::stoul(digits);
      if (len > s.size() - (nl + 1)) throw std::runtime_error("a literal cut short (a line longer than curl's buffer?)");
      n.kind = Node::String;
      n.text = s.substr(nl + 1, len);
      i = nl + 1 + len;
    } else {
      n.text = atom();
      n.kind = upper(n.text) == "NIL" ? Node::Nil : Node::Atom;
      if (n.text.empty()) ++i;  // a stray ')' or the like: step over it
    }
    return n;
  }
  Response response() {
    Response r;
    r.tag = atom();
    skip_spaces();
    while (!eol()) {
      r.items.push_back(node());
      skip_spaces();
      // Status responses carry free text after the code: keep it raw.
      if (r.items.size() == 1 && r.status()) {
        size_t end = s.find('\n', i);
        r.text = s.substr(i, end == std::string::npos ? std::string::npos : end - i);
        while (!r.text.empty() && (r.text.back() == '\r' || r.text.back() == '\n')) r.text.pop_back();
        i = end == std::string::npos ? s.size() : end;
        break;
      }
    }
    skip_eol();
    return r;
  }
};

}  // namespace

std::vector<Response> parse_responses(const std::string& stream) {
  std::vector<Response> out;
  Parser p{stream};
  while (p.i < stream.size()) out.push_back(p.response());
  return out;
}

// "[CODE a b c] text" -> {"a", "b", "c"} when the code matches.
std::vector<std::string> response_code(const std::string& text, const std::string& code) {
  if (text.size() < code.size() + 2 || text[0] != '[' || upper(text.substr(1, code.size())) != code) return {};
  std::vector<std::string> out;
  size_t close = text.find(']');
  std::string inside = text.substr(code.size() + 1, close == std::string::npos ? std::string::npos : close - code.size() - 1);
  size_t at = 0;
  while (at < inside.size()) {
    while (at < inside.size() && inside[at] == ' ') ++at;
    size_t end = inside.find(' ', at);
    if (at < inside.size()) out.push_back(inside.substr(at, end == std::string::npos ? std::string::npos : end - at));
    at = end == std::string::npos ? inside.size() : end;
  }
  return out;
}

// The server's set is untrusted: "1:4294967295" must not mean four billion UIDs (nor loop
// forever at the top of the range). We never move more than mail_modify's 100 ids at once.
constexpr size_t kMaxSetUids = 10'000;

std::vector<uint32_t> expand_set(const std::string& set) {
  auto uid = [](const std::string& text) {
    unsigned long v = std::stoul(text);
    if (v > UINT32_MAX) throw std::out_of_range("a UID out of range: " + text);
    return uint32_t(v);
  };
  std::vector<uint32_t> out;
  size_t at = 0;
  while (at < set.size()) {
    size_t comma = set.find(',', at);
    std::string part = set.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    auto colon = part.find(':');
    uint32_t a = uid(part.substr(0, colon)), b = colon == std::string::npos ? a : uid(part.substr(colon + 1));
    if (uint64_t(std::max(a, b)) - std::min(a, b) >= kMaxSetUids - out.size())
      throw std::runtime_error("a UID set of more than " + std::to_string(kMaxSetUids) + " UIDs");
    for (uint64_t u = std::min(a, b); u <= std::max(a, b); ++u) out.push_back(uint32_t(u));
    at = comma == std::string::npos ? set.size() : comma + 1;
  }
  return out;
}

std::vector<uint32_t> search_uids(const std::vector<Response>& rs) {
  std::vector<uint32_t> out;
  for (auto& r : rs)
    if (r.tag == "*" && !r.items.empty() && r.items[0].is("SEARCH"))
      for (size_t i = 1; i < r.items.size(); ++i)
        if (r.items[i].kind == Node::Atom) out.push_back(uint32_t(std::stoul(r.items[i].text)));
  return out;
}

std::map<uint32_t, std::map<std::string, Node>> fetch_items(const std::vector<Response>& rs) {
  std::map<uint32_t, std::map<std::string, Node>> out;
  for (auto& r : rs) {
    if (r.tag != "*" || r.items.size() < 3 || !r.items[1].is("FETCH") || r.items[2].kind != Node::List) continue;
    std::map<std::string, Node> data;
    auto& l = r.items[2].items;
    for (size_t i = 0; i + 1 < l.size(); i += 2) data[upper(l[i].text)] = l[i + 1];
    auto uid = data.find("UID");
    if (uid == data.end()) continue;
    auto& slot = out[uint32_t(std::stoul(uid->second.text))];
    for (auto& [k, v] : data) slot[k] = v;
  }
  return out;
}

bool has_attachment(const Node& body) {
  if (body.kind != Node::List || body.items.empty()) return false;
  if (body.items[0].kind == Node::List) {  // multipart: its parts, then the subtype and extensions
    for (auto& part : body.items) {
      if (part.kind != Node::List) break;
      if (has_attachment(part)) return true;
    }
    return false;
  }
  if (body.items[0].kind == Node::String && lower(body.items[0].text) != "text" && lower(body.items[0].text) != "multipart") return true;
  for (auto& item : body.items)
    if (item.kind == Node::List && !item.items.empty() && item.items[0].kind == Node::String && lower(item.items[0].text) == "attachment") return true;
  return false;
}

}  // namespace imap

using namespace imap;

namespace {

std::string uid_set(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::string out;
  for (size_t i = 0; i < uids.size();) {
    size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(uids[i]) + (j > i ? ":" + std::to_string(uids[j]) : "");
    i = j + 1;
  }
  return out;
}

// An IMAP quoted string. Curl sends a custom command as one line and can't wait for a literal's
// continuation, so 8-bit text goes quoted too (with CHARSET UTF-8; Dovecot and most servers
// accept it); CR and LF, which no header value holds, become spaces.
std::string quote(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '\r' || c == '\n') c = ' ';
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string to_crlf(const std::string& s) {
  std::string out;
  out.reserve(s.size() + s.size() / 40);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

// ---- one IMAP connection through curl -------------------------------------------------------

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// A command the server answered NO or BAD.
struct Refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string bearer_of(const std::string& authorization) {
  auto space = authorization.rfind(' ');
  return space == std::string::npos ? authorization : authorization.substr(space + 1);
}

std::string where(const std::string& url) {
  auto scheme = url.find("://");
  std::string rest = scheme == std::string::npos ? url : url.substr(scheme + 3);
  return rest.substr(0, rest.find('/'));
}

[[noreturn]] void transport_failure(const ImapOptions& o, const char* service, const std::string& url, CURLcode code, const char* detail) {
  std::string at = std::string("the ") + service + " server " + where(url) + " of mail account '" + o.account + "'";
  std::string why = *detail ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      throw http::Unavailable(at + " is not reachable (" + why + "); is it running, and is the address right?");
    case CURLE_OPERATION_TIMEDOUT:
      throw http::Unavailable(at + " did not answer in time (" + why + "); try again later");
    case CURLE_USE_SSL_FAILED:
      throw Error("account", at + " does not offer STARTTLS, and Concierge sends the password only encrypted: use " +
                                 lower(service) + "s:// (or a server that offers STARTTLS); for a test server on this machine, set \"allow_plaintext\": "
                                 "true under services." + lower(service) + " in the configuration");
    case CURLE_LOGIN_DENIED:
      throw Error("account", std::string(service) + " refused the sign-in of mail account '" + o.account + "' (user '" +
                                 (std::string(service) == "SMTP" && !o.smtp_username.empty() ? o.smtp_username : o.username) +
                                 "'): check its username and password" + (o.oauth ? ", or sign in again with concierge auth login" : ""));
    default:
      throw http::Unavailable(at + " failed: " + why);
  }
}

class Session {
 public:
  Session(const ImapOptions& o, const Call& call) : o_(o), user_(call.user), cancel_(call.cancel) {
    curl_init_once();
    h_ = curl_easy_init();
    m_ = curl_multi_init();
    if (!h_ || !m_) throw std::runtime_error("curl_easy_init failed");
    root_ = o_.imap_url;
    while (!root_.empty() && root_.back() == '/') root_.pop_back();
    curl_easy_setopt(h_, CURLOPT_ERRORBUFFER, err_);
    curl_easy_setopt(h_, CURLOPT_HEADERFUNCTION, &Session::on_data);
    curl_easy_setopt(h_, CURLOPT_HEADERDATA, &stream_);
    curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, &Session::discard);
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h_, CURLOPT_TIMEOUT_MS, o_.timeout_ms);
    curl_easy_setopt(h_, CURLOPT_CONNECTTIMEOUT_MS, std::min(o_.timeout_ms, 10000L));
    // Lines longer than half the buffer are clipped by curl: take the largest it allows.
    curl_easy_setopt(h_, CURLOPT_BUFFERSIZE, long(CURL_MAX_READ_SIZE));
    curl_easy_setopt(h_, CURLOPT_USE_SSL, long(o_.imap_allow_plaintext ? CURLUSESSL_TRY : CURLUSESSL_ALL));
    curl_easy_setopt(h_, CURLOPT_USERNAME, o_.username.c_str());
    if (o_.oauth) {
      bearer_ = bearer_of(o_.oauth->authorization(user_));
      curl_easy_setopt(h_, CURLOPT_XOAUTH2_BEARER, bearer_.c_str());
    } else {
      curl_easy_setopt(h_, CURLOPT_PASSWORD, o_.password.c_str());
    }
  }
  ~Session() {
    if (m_) curl_multi_cleanup(m_);
    if (h_) curl_easy_cleanup(h_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs one command; its responses (the tagged one last). NO/BAD -> Refused.
  std::vector<Response> run(const std::string& command) {
    curl_easy_setopt(h_, CURLOPT_URL, (root_ + "/").c_str());
    curl_easy_setopt(h_, CURLOPT_CUSTOMREQUEST, command.c_str());
    curl_easy_setopt(h_, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(h_, CURLOPT_NOBODY, 0L);
    return perform(command);
  }

  // APPEND through curl's upload (it always adds \Seen); the UID from APPENDUID, or 0.
  uint32_t append(const std::string& mailbox, const std::string& raw, uint32_t* validity) {
    char* escaped = curl_easy_escape(h_, mailbox.c_str(), int(mailbox.size()));
    std::string url = root_ + "/" + escaped;
    curl_free(escaped);
    Upload up{raw, 0};
    curl_easy_setopt(h_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h_, CURLOPT_CUSTOMREQUEST, nullptr);
    curl_easy_setopt(h_, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h_, CURLOPT_READFUNCTION, &Session::on_read);
    curl_easy_setopt(h_, CURLOPT_READDATA, &up);
    curl_easy_setopt(h_, CURLOPT_INFILESIZE_LARGE, curl_off_t(raw.size()));
    auto rs = perform("APPEND");
    curl_easy_setopt(h_, CURLOPT_UPLOAD, 0L);
    for (auto& r : rs)
      if (auto code = response_code(r.text, "APPENDUID"); code.size() == 2) {
        if (validity) *validity = uint32_t(std::stoul(code[0]));
        return uint32_t(std::stoul(code[1]));
      }
    return 0;
  }

  // SELECT (read-write) or EXAMINE; the mailbox's UIDVALIDITY. A missing mailbox -> Refused.
  uint32_t open(const std::string& mailbox, bool write) {
    if (selected_ == mailbox && (writable_ || !write)) return validity_;
    selected_.clear();
    auto rs = run(std::string(write ? "SELECT " : "EXAMINE ") + quote(mailbox));
    validity_ = 0;
    for (auto& r : rs)
      if (auto code = response_code(r.text, "UIDVALIDITY"); code.size() == 1) validity_ = uint32_t(std::stoul(code[0]));
    selected_ = mailbox;
    writable_ = write;
    return validity_;
  }
  void forget_selection() { selected_.clear(); }

  // Whether the server offers an extension (RFC 3501 section 7.2.1), asked once per session,
  // after login, when the list is complete.
  bool offers(const std::string& capability) {
    if (!capabilities_) {
      capabilities_.emplace();
      for (auto& r : run("CAPABILITY"))
        if (r.tag == "*" && !r.items.empty() && r.items[0].is("CAPABILITY"))
          for (size_t i = 1; i < r.items.size(); ++i) capabilities_->insert(upper(r.items[i].text));
    }
    return capabilities_->count(upper(capability)) > 0;
  }

  std::vector<uint32_t> search(const std::string& keys) {
    bool utf8 = std::any_of(keys.begin(), keys.end(), [](unsigned char c) { return c >= 0x80; });
    return search_uids(run(std::string("UID SEARCH ") + (utf8 ? "CHARSET UTF-8 " : "") + keys));
  }

  // UID FETCH: per UID, the data items by upper-cased name.
  std::map<uint32_t, std::map<std::string, Node>> fetch(const std::vector<uint32_t>& uids, const std::string& items) {
    if (uids.empty()) return {};
    return fetch_items(run("UID FETCH " + uid_set(uids) + " (" + items + ")"));
  }

 private:
  struct Upload {
    const std::string& data;
    size_t at;
  };
  static size_t on_data(char* p, size_t size, size_t n, void* ud) {
    static_cast<std::string*>(ud)->append(p, size * n);
    return size * n;
  }
  static size_t discard(char*, size_t size, size_t n, void*) { return size * n; }
  static size_t on_read(char* p, size_t size, size_t n, void* ud) {
    auto* up = static_cast<Upload*>(ud);
    size_t len = std::min(size * n, up->data.size() - up->at);
    std::memcpy(p, up->data.data() + up->at, len);
    up->at += len;
    return len;
  }

  std::vector<Response> perform(const std::string& command) {
    for (int attempt = 0;; ++attempt) {
      stream_.clear();
      err_[0] = 0;
      CURLcode code = http::perform_cancellable(h_, m_, &cancel_);
      if (code == CURLE_ABORTED_BY_CALLBACK) {
        selected_.clear();  // the connection is closed: nothing is selected on the next one
        throw Cancelled();
      }
      if (code == CURLE_LOGIN_DENIED && o_.oauth && attempt == 0) {
        // One refresh, one retry (the IMAP twin of a 401).
        bearer_ = bearer_of(o_.oauth->refresh(user_, "Bearer " + bearer_));
        curl_easy_setopt(h_, CURLOPT_XOAUTH2_BEARER, bearer_.c_str());
        continue;
      }
      if (code == CURLE_OK || code == CURLE_QUOTE_ERROR || code == CURLE_UPLOAD_FAILED || code == CURLE_REMOTE_ACCESS_DENIED) {
        auto rs = parse_responses(stream_);
        if (code != CURLE_OK) {
          std::string why = err_;
          for (auto it = rs.rbegin(); it != rs.rend(); ++it)
            if (it->tag != "*" && it->tag != "+" && it->status()) {
              why = it->text;
              break;
            }
          std::string verb = command.substr(0, command.find(' ', command.rfind("UID ", 0) == 0 ? 4 : 0));
          // Curl drops the connection after a refused command and signs in afresh on the next:
          // nothing is selected there.
          selected_.clear();
          throw Refused("the IMAP server refused " + verb + ": " + why);
        }
        return rs;
      }
      selected_.clear();
      transport_failure(o_, "IMAP", o_.imap_url, code, err_);
    }
  }

  const ImapOptions& o_;
  int64_t user_;
  CancelToken cancel_;  // the call's: a cancelled call stops the transfer (on_progress)
  CURL* h_ = nullptr;
  CURLM* m_ = nullptr;  // drives h_ (cancellable) and keeps its connection between commands
  std::string root_, stream_, bearer_;
  char err_[CURL_ERROR_SIZE] = {0};
  std::string selected_;
  bool writable_ = false;
  std::optional<std::set<std::string>> capabilities_;
  uint32_t validity_ = 0;
};

// ---- our ids, mailboxes and labels ---------------------------------------------------------

struct Ref {
  std::string mailbox;
  uint32_t validity = 0, uid = 0;
  std::string id() const { return mailbox + "/" + std::to_string(validity) + "/" + std::to_string(uid); }
};

std::optional<Ref> parse_id(const std::string& id) {
  auto b = id.rfind('/');
  if (b == std::string::npos || b == 0) return std::nullopt;
  auto a = id.rfind('/', b - 1);
  if (a == std::string::npos || a == 0) return std::nullopt;
  auto number = [](const std::string& s) -> std::optional<uint32_t> {
    if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) return std::nullopt;
    auto v = std::stoull(s);
    if (v == 0 || v > 0xFFFFFFFFull) return std::nullopt;
    return uint32_t(v);
  };
  auto v = number(id.substr(a + 1, b - a - 1)), u = number(id.substr(b + 1));
  if (!v || !u) return std::nullopt;
  return Ref{id.substr(0, a), *v, *u};
}

struct Box {
  std::string name;
  std::vector<std::string> flags;
};

std::vector<Box> list_boxes(Session& s) {
  std::vector<Box> out;
  for (auto& r : s.run("LIST \"\" \"*\"")) {
    if (r.tag != "*" || r.items.size() < 4 || !r.items[0].is("LIST")) continue;
    Box b;
    b.name = r.items[3].text;
    bool selectable = true;
    for (auto& f : r.items[1].items) {
      b.flags.push_back(f.text);
      auto u = upper(f.text);
      if (u == "\\NOSELECT" || u == "\\NONEXISTENT") selectable = false;
    }
    if (upper(b.name) == "INBOX") b.name = "INBOX";
    if (selectable) out.push_back(std::move(b));
  }
  return out;
}

class Roles {
 public:
  explicit Roles(const ImapOptions& o) : o_(o) {}
  // The label a mailbox shows as.
  std::string label(const std::string& box) const {
    if (upper(box) == "INBOX") return "INBOX";
    if (box == o_.sent) return "SENT";
    if (box == o_.drafts) return "DRAFT";
    if (box == o_.trash) return "TRASH";
    if (box == o_.spam) return "SPAM";
    return box;
  }
  // The mailbox a label or in: place names ("" for starred/unread/anywhere).
  std::string mailbox(const std::string& label) const {
    auto l = lower(label);
    if (l == "inbox") return "INBOX";
    if (l == "sent") return o_.sent;
    if (l == "draft" || l == "drafts") return o_.drafts;
    if (l == "trash") return o_.trash;
    if (l == "spam") return o_.spam;
    if (l == "starred" || l == "unread" || l == "anywhere") return "";
    return label;
  }
  bool hidden(const std::string& box) const { return box == o_.trash || box == o_.spam; }

 private:
  const ImapOptions& o_;
};

// A mailbox of LIST by a label's name, case-insensitively for the user's.
std::optional<std::string> find_box(const std::vector<Box>& boxes, const std::string& name) {
  for (auto& b : boxes)
    if (b.name == name) return b.name;
  for (auto& b : boxes)
    if (lower(b.name) == lower(name)) return b.name;
  return std::nullopt;
}

std::string thread_of(const MimeMessage& m, const std::string& fallback_id) {
  std::string root = !m.references.empty() ? m.references.front() : !m.in_reply_to.empty() ? m.in_reply_to : m.message_id;
  if (root.empty()) return "m" + base64url_encode(fallback_id);
  return "t" + base64url_encode(root);
}

bool has_flag(const std::map<std::string, Node>& data, const char* flag) {
  auto f = data.find("FLAGS");
  if (f == data.end()) return false;
  for (auto& n : f->second.items)
    if (upper(n.text) == flag) return true;
  return false;
}

// The value of a data item whose name starts with `prefix` (BODY[HEADER.FIELDS (...)]).
const Node* item(const std::map<std::string, Node>& data, const std::string& prefix) {
  for (auto& [k, v] : data)
    if (k.rfind(prefix, 0) == 0) return &v;
  return nullptr;
}

Millis internal_date(const std::map<std::string, Node>& data) {
  auto d = data.find("INTERNALDATE");
  if (d == data.end()) return 0;
  try {
    return parse("Date: " + d->second.text + "\r\n\r\n").date;
  } catch (const std::exception&) {
    return 0;
  }
}

Summary summary_of(const Ref& ref, const Roles& roles, const std::map<std::string, Node>& data, const MimeMessage& m) {
  Summary s;
  s.id = ref.id();
  s.thread_id = thread_of(m, s.id);
  s.from = m.from;
  s.to = m.to;
  s.cc = m.cc;
  s.subject = m.subject;
  s.snippet = snippet(m.text.empty() ? m.html : m.text);
  s.date = m.date ? m.date : internal_date(data);
  s.unread = !has_flag(data, "\\SEEN");
  s.starred = has_flag(data, "\\FLAGGED");
  auto bs = data.find("BODYSTRUCTURE");
  s.has_attachments = bs != data.end() ? has_attachment(bs->second) : !m.attachments.empty();
  s.labels = {roles.label(ref.mailbox)};
  return s;
}

const std::string kSummaryItems = std::string("UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (") + kSummaryFields +
                                  ")] BODY.PEEK[TEXT]<0.4096>";
const std::string kMessageItems = "UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE BODY.PEEK[]";

// Summaries of some UIDs of the open mailbox (headers and the start of the body: enough for a
// snippet without the whole message).
std::vector<Summary> summaries(Session& s, const Roles& roles, const std::string& box, uint32_t validity, const std::vector<uint32_t>& uids) {
  std::vector<Summary> out;
  for (auto& [uid, data] : s.fetch(uids, kSummaryItems)) {
    const Node* headers = item(data, "BODY[HEADER");
    const Node* text = item(data, "BODY[TEXT]");
    MimeMessage m;
    try {
      m = parse((headers ? headers->text : std::string("\r\n")) + (text ? text->text : std::string()));
    } catch (const std::exception&) {
    }
    out.push_back(summary_of({box, validity, uid}, roles, data, m));
  }
  return out;
}

std::vector<Message> messages(Session& s, const Roles& roles, const std::string& box, uint32_t validity, const std::vector<uint32_t>& uids) {
  std::vector<Message> out;
  for (auto& [uid, data] : s.fetch(uids, kMessageItems)) {
    const Node* raw = item(data, "BODY[]");
    MimeMessage m;
    try {
      if (raw) m = parse(raw->text);
    } catch (const std::exception&) {
    }
    Message msg;
    msg.summary = summary_of({box, validity, uid}, roles, data, m);
    msg.text = std::move(m.text);
    msg.html = std::move(m.html);
    msg.attachments = std::move(m.attachments);
    msg.message_id = m.message_id;
    msg.in_reply_to = m.in_reply_to;
    msg.references = m.references;
    out.push_back(std::move(msg));
  }
  return out;
}

// Provider calls: exceptions leave as tool errors only.
template <class F>
auto guarded(const ImapOptions& o, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const ToolError&) {
    throw;
  } catch (const Cancelled&) {
    throw;
  } catch (const auth::NeedsReauth& e) {
    throw NeedsConnection(e.service, e.what());
  } catch (const Refused& e) {
    throw Error("", std::string(e.what()) + " (mail account '" + o.account + "')");
  } catch (const std::exception& e) {
    throw http::Unavailable("the IMAP server of mail account '" + o.account + "' gave an answer that could not be read: " + e.what());
  }
}

std::optional<std::string> opened(Session& s, const Ref& ref, bool write) {
  try {
    if (s.open(ref.mailbox, write) != ref.validity) return std::nullopt;
  } catch (const Refused&) {
    return std::nullopt;  // no such mailbox
  }
  return ref.mailbox;
}

void smtp_send(const ImapOptions& o, const std::string& from, const std::vector<std::string>& rcpts, const std::string& wire) {
  curl_init_once();
  CURL* h = curl_easy_init();
  if (!h) throw std::runtime_error("curl_easy_init failed");
  std::unique_ptr<CURL, void (*)(CURL*)> guard(h, curl_easy_cleanup);
  curl_slist* list = nullptr;
  for (auto& r : rcpts) list = curl_slist_append(list, ("<" + r + ">").c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> list_guard(list, curl_slist_free_all);
  struct Upload {
    const std::string& data;
    size_t at;
  } up{wire, 0};
  char err[CURL_ERROR_SIZE] = {0};
  std::string mail_from = "<" + from + ">";
  // Each of the SMTP username and password defaults to the IMAP one on its own: a submission
  // password of its own (CONCIERGE_SMTP_PASSWORD) goes with the IMAP username.
  const std::string& user = o.smtp_username.empty() ? o.username : o.smtp_username;
  const std::string& password = o.smtp_password.empty() ? o.password : o.smtp_password;
  std::string bearer;
  curl_easy_setopt(h, CURLOPT_URL, o.smtp_url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o.timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(o.timeout_ms, 10000L));
  curl_easy_setopt(h, CURLOPT_USE_SSL, long(o.smtp_allow_plaintext ? CURLUSESSL_TRY : CURLUSESSL_ALL));
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, list);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(wire.size()));
  curl_easy_setopt(h, CURLOPT_READDATA, &up);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, +[](char* p, size_t size, size_t n, void* ud) -> size_t {
    auto* u = static_cast<Upload*>(ud);
    size_t len = std::min(size * n, u->data.size() - u->at);
    std::memcpy(p, u->data.data() + u->at, len);
    u->at += len;
    return len;
  });
  if (!user.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, user.c_str());
    // Curl authenticates only when the server offers AUTH.
    if (o.oauth) {
      bearer = bearer_of(o.oauth->authorization(0));
      curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, bearer.c_str());
    } else {
      curl_easy_setopt(h, CURLOPT_PASSWORD, password.c_str());
    }
  }
  CURLcode code = curl_easy_perform(h);
  if (code == CURLE_OK) return;
  if (code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR || code == CURLE_WEIRD_SERVER_REPLY) {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 400) throw Error("to", "the SMTP server of mail account '" + o.account + "' refused the message: " + (err[0] ? err : curl_easy_strerror(code)));
  }
  transport_failure(o, "SMTP", o.smtp_url, code, err);
}

}  // namespace

ImapMail::ImapMail(ImapOptions options) : options_(std::move(options)) {
  if (options_.from.email.empty()) options_.from.email = options_.username;
  auto check = [&](bool allowed, const std::string& url, const char* service) {
    if (!allowed) return;
    auto u = http::parse_url(url);
    if (!u || !http::is_loopback_host(u->host))
      throw std::runtime_error(std::string("services.") + service + ".allow_plaintext: plaintext is allowed only for a server on this machine "
                               "(localhost, 127.0.0.1, ::1), not '" + (u ? u->host : url) + "'; remove it and use TLS");
  };
  check(options_.imap_allow_plaintext, options_.imap_url, "imap");
  check(options_.smtp_allow_plaintext, options_.smtp_url, "smtp");
}

// ---- search ----------------------------------------------------------------------------------

SearchPage ImapMail::search(const Call& call, const std::string& query, int max_results, const std::string& page_token, const date::time_zone* tz) {
  auto terms = parse_query(query);  // errors name `query` before anything is asked
  size_t offset = 0;
  if (!page_token.empty()) {
    try {
      offset = std::stoul(page_token);
    } catch (const std::exception&) {
      throw Error("page_token", "not a page token from a previous search");
    }
  }
  size_t limit = size_t(std::clamp(max_results, 1, 100));
  return guarded(options_, [&] {
    Session s(options_, call);
    Roles roles(options_);
    auto boxes = list_boxes(s);
    // Which mailboxes: label:/in: pick, negated ones drop; trash and spam only when asked.
    bool hidden_asked = false;
    std::optional<std::set<std::string>> only;
    std::set<std::string> without;
    std::vector<std::string> keys;
    std::optional<Millis> before, after;
    std::vector<std::pair<bool, Millis>> not_before, not_after;  // negated bounds, decided here
    std::optional<bool> attachment;
    for (auto& t : terms) {
      std::string v = lower(t.value);
      auto key = [&](const std::string& k) { keys.push_back(t.negated ? "NOT " + k : k); };
      if (t.op == "from") key("FROM " + quote(t.value));
      else if (t.op == "to") key("OR TO " + quote(t.value) + " CC " + quote(t.value));
      else if (t.op == "subject") key("SUBJECT " + quote(t.value));
      else if (t.op == "text") key("TEXT " + quote(t.value));
      else if (t.op == "is") key(v == "unread" ? "UNSEEN" : v == "read" ? "SEEN" : "FLAGGED");
      else if (t.op == "has") {
        attachment = !t.negated;
        if (!t.negated) keys.push_back("HEADER Content-Type multipart");
      } else if (t.op == "label" || t.op == "in") {
        if (v == "trash" || v == "spam" || v == "anywhere") hidden_asked = true;
        if (v == "anywhere") continue;
        if (v == "starred") {
          key("FLAGGED");
          continue;
        }
        if (v == "unread") {
          key("UNSEEN");
          continue;
        }
        std::string box = find_box(boxes, roles.mailbox(t.value)).value_or("\x01none");
        if (t.negated) without.insert(box);
        else if (!only) only = std::set<std::string>{box};
        else if (!only->count(box)) only = std::set<std::string>{};  // a message is in one mailbox
      } else if (t.op == "before" || t.op == "after") {
        auto day = parse_date(t.value, "query");
        Millis at = to_utc(LocalMs{day}, tz);
        // The server compares the Date header's own day: ask with two days' margin, decide here.
        if (t.negated) {
          (t.op == "before" ? not_before : not_after).push_back({true, at});
          continue;
        }
        if (t.op == "before") {
          before = before ? std::min(*before, at) : at;
          keys.push_back("SENTBEFORE " + date::format("%d-%b-%Y", day + date::days(2)));
        } else {
          after = after ? std::max(*after, at) : at;
          keys.push_back("SENTSINCE " + date::format("%d-%b-%Y", day - date::days(2)));
        }
      }
    }
    std::string search_keys;
    for (auto& k : keys) search_keys += (search_keys.empty() ? "" : " ") + k;
    if (search_keys.empty()) search_keys = "ALL";

    struct Hit {
      Ref ref;
      Millis date;
    };
    std::vector<Hit> hits;
    int searched = 0;  // progress, for a client that asked: one step per mailbox searched
    for (auto& b : boxes) {
      if (only && !only->count(b.name)) continue;
      if (without.count(b.name)) continue;
      if (!only && !hidden_asked && roles.hidden(b.name)) continue;
      if (only && !hidden_asked && roles.hidden(b.name) && !only->count(b.name)) continue;
      call.report(++searched, std::nullopt, "searching " + b.name);
      uint32_t validity = s.open(b.name, false);
      auto uids = s.search(search_keys);
      if (uids.empty()) continue;
      std::string items = "UID INTERNALDATE BODY.PEEK[HEADER.FIELDS (DATE)]";
      if (attachment) items += " BODYSTRUCTURE";
      for (auto& [uid, data] : s.fetch(uids, items)) {
        Millis date = 0;
        if (const Node* h = item(data, "BODY[HEADER")) {
          try {
            date = parse(h->text + "\r\n").date;
          } catch (const std::exception&) {
          }
        }
        if (!date) date = internal_date(data);
        if (before && date >= *before) continue;
        if (after && date < *after) continue;
        bool excluded = false;
        for (auto& [_, at] : not_before) excluded |= date < at;
        for (auto& [_, at] : not_after) excluded |= date >= at;
        if (excluded) continue;
        if (attachment) {
          auto bs = data.find("BODYSTRUCTURE");
          if ((bs != data.end() && has_attachment(bs->second)) != *attachment) continue;
        }
        hits.push_back({{b.name, validity, uid}, date});
      }
    }
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
      if (a.date != b.date) return a.date > b.date;
      if (a.ref.mailbox != b.ref.mailbox) return a.ref.mailbox < b.ref.mailbox;
      return a.ref.uid > b.ref.uid;
    });
    SearchPage page;
    if (offset >= hits.size()) return page;
    size_t end = std::min(hits.size(), offset + limit);
    if (end < hits.size()) page.next_page_token = std::to_string(end);
    // The page's summaries, one FETCH per mailbox, back in the merged order.
    std::map<std::string, std::vector<uint32_t>> by_box;
    std::map<std::string, uint32_t> validity_of;
    for (size_t i = offset; i < end; ++i) {
      by_box[hits[i].ref.mailbox].push_back(hits[i].ref.uid);
      validity_of[hits[i].ref.mailbox] = hits[i].ref.validity;
    }
    std::map<std::string, Summary> found;
    for (auto& [box, uids] : by_box) {
      s.open(box, false);
      for (auto& sum : summaries(s, roles, box, validity_of[box], uids)) found[sum.id] = std::move(sum);
    }
    for (size_t i = offset; i < end; ++i)
      if (auto it = found.find(hits[i].ref.id()); it != found.end()) page.messages.push_back(std::move(it->second));
    return page;
  });
}

// ---- reading ---------------------------------------------------------------------------------

Message ImapMail::message(const Call& call, const std::string& id) {
  auto ref = parse_id(id);
  if (!ref) throw NotFound("message_id", "no message '" + id + "' (ids look like INBOX/<uidvalidity>/<uid>)");
  return guarded(options_, [&] {
    Session s(options_, call);
    if (!opened(s, *ref, false)) throw NotFound("message_id", "no message '" + id + "' (its mailbox is gone or was rebuilt; search again)");
    auto ms = messages(s, Roles(options_), ref->mailbox, ref->validity, {ref->uid});
    if (ms.empty()) throw NotFound("message_id", "no message '" + id + "'");
    return std::move(ms.front());
  });
}

std::vector<Message> ImapMail::thread(const Call& call, const std::string& id) {
  std::string root;
  bool single = false;
  try {
    if (id.size() < 2 || (id[0] != 't' && id[0] != 'm')) throw std::invalid_argument("prefix");
    root = base64url_decode(id.substr(1)).value();  // bad_optional_access: not ours
    single = id[0] == 'm';
  } catch (const std::exception&) {
    throw NotFound("thread_id", "no thread '" + id + "'");
  }
  if (root.empty() || root.find_first_of("\r\n") != std::string::npos) throw NotFound("thread_id", "no thread '" + id + "'");
  if (single) {
    try {
      return {message(call, root)};
    } catch (const NotFound&) {
      throw NotFound("thread_id", "no thread '" + id + "'");
    }
  }
  auto all = guarded(options_, [&] {
    Session s(options_, call);
    Roles roles(options_);
    std::vector<Message> out;
    std::string q = quote(root);
    for (auto& b : list_boxes(s)) {
      uint32_t validity = s.open(b.name, false);
      auto uids = s.search("OR OR HEADER Message-ID " + q + " HEADER References " + q + " HEADER In-Reply-To " + q);
      for (auto& m : messages(s, roles, b.name, validity, uids))
        if (m.summary.thread_id == id) out.push_back(std::move(m));  // HEADER matches substrings
    }
    return out;
  });
  if (all.empty()) throw NotFound("thread_id", "no thread '" + id + "'");
  std::stable_sort(all.begin(), all.end(), [](const Message& a, const Message& b) { return a.summary.date < b.summary.date; });
  return all;
}

// ---- sending and drafts ----------------------------------------------------------------------

namespace {

struct Composed {
  MimeMessage m;
  std::string raw;
};

Composed compose(ImapMail& box, const Call& call, const Outgoing& mail, bool sending) {
  const auto& o = box.options();
  Composed c;
  auto& m = c.m;
  m.from = o.from;
  m.to = mail.to;
  m.cc = mail.cc;
  m.bcc = mail.bcc;
  m.subject = mail.subject;
  m.text = mail.text;
  m.html = mail.html;
  m.date = now_ms();
  auto at = m.from.email.find('@');
  m.message_id = random_id(24) + "@" + (at == std::string::npos ? std::string("concierge.local") : m.from.email.substr(at + 1));
  if (!mail.reply_to.empty()) {
    auto parent = box.message(call, mail.reply_to);  // NotFound naming message_id
    m.in_reply_to = parent.message_id;
    m.references = parent.references;
    if (!parent.message_id.empty()) m.references.push_back(parent.message_id);
    if (m.to.empty()) m.to = {parent.summary.from};
    if (m.subject.empty()) m.subject = parent.summary.subject;
    if (lower(m.subject.substr(0, 3)) != "re:") m.subject = "Re: " + m.subject;
  }
  if (m.to.empty() && sending) throw Error("to", "a message needs at least one recipient");
  if (m.text.empty() && m.html.empty()) throw Error("text", "a message needs a text or html body");
  c.raw = to_crlf(build(m));
  if (c.raw.size() > kMaxMessage) throw Error(m.html.size() > m.text.size() ? "html" : "text", "the message is larger than 2 MB");
  return c;
}

// The summary of a message just APPENDed (by APPENDUID, else by its Message-ID).
Summary appended(Session& s, const ImapOptions& o, const std::string& box, uint32_t uid, uint32_t validity, const std::string& message_id) {
  uint32_t v = s.open(box, true);
  if (!uid || validity != v) {
    auto uids = s.search("HEADER Message-ID " + quote(message_id));
    if (uids.empty()) throw std::runtime_error("the appended message is not in " + box);
    uid = uids.back();
  }
  auto sums = summaries(s, Roles(o), box, v, {uid});
  if (sums.empty()) throw std::runtime_error("the appended message is not in " + box);
  return sums.front();
}

}  // namespace

std::string ImapMail::append(const Call& call, const std::string& mailbox, const std::string& raw, bool seen, bool flagged) {
  return guarded(options_, [&] {
    Session s(options_, call);
    uint32_t validity = 0;
    uint32_t uid = s.append(mailbox, to_crlf(raw), &validity);
    if (!uid) throw std::runtime_error("the server did not say the new message's UID (no UIDPLUS)");
    s.open(mailbox, true);
    if (!seen) s.run("UID STORE " + std::to_string(uid) + " -FLAGS.SILENT (\\Seen)");
    if (flagged) s.run("UID STORE " + std::to_string(uid) + " +FLAGS.SILENT (\\Flagged)");
    return Ref{mailbox, validity, uid}.id();
  });
}

Summary ImapMail::send(const Call& call, const Outgoing& mail) {
  auto c = compose(*this, call, mail, true);
  return guarded(options_, [&] {
    std::vector<std::string> rcpts;
    for (auto* list : {&c.m.to, &c.m.cc, &c.m.bcc})
      for (auto& a : *list) rcpts.push_back(a.email);
    MimeMessage wire = c.m;
    wire.bcc.clear();  // Bcc recipients stay unseen by the others
    smtp_send(options_, options_.from.email, rcpts, to_crlf(build(wire)));
    // The sent copy (with Bcc) in the sent folder, \Seen as curl's APPEND files it.
    Session s(options_, call);
    uint32_t validity = 0;
    uint32_t uid = s.append(options_.sent, c.raw, &validity);
    return appended(s, options_, options_.sent, uid, validity, c.m.message_id);
  });
}

Summary ImapMail::draft(const Call& call, const Outgoing& mail) {
  auto c = compose(*this, call, mail, false);
  return guarded(options_, [&] {
    Session s(options_, call);
    uint32_t validity = 0;
    uint32_t uid = s.append(options_.drafts, c.raw, &validity);
    auto sum = appended(s, options_, options_.drafts, uid, validity, c.m.message_id);
    s.run("UID STORE " + std::to_string(parse_id(sum.id)->uid) + " +FLAGS.SILENT (\\Draft)");
    return sum;
  });
}

// ---- changes ---------------------------------------------------------------------------------

std::vector<Summary> ImapMail::modify(const Call& call, const std::vector<std::string>& ids, const Change& change) {
  Roles roles(options_);
  std::optional<bool> read = change.read, starred = change.starred;
  std::optional<std::string> target;  // the mailbox to move everything to
  bool trash = change.trash;
  std::set<std::string> removed;      // labels whose mailbox messages leave (for the archive)
  for (auto& l : change.add_labels) {
    auto u = upper(l);
    if (u == "SENT" || u == "DRAFT" || u == "DRAFTS") throw Error("add_labels", u + " is set by sending or drafting, not by hand");
    if (u == "STARRED") starred = true;
    else if (u == "UNREAD") read = false;
    else if (u == "TRASH") trash = true;
    else {
      std::string box = roles.mailbox(l);
      if (target && *target != box) throw Error("add_labels", "on IMAP a message is in one mailbox (folder): add one label at a time");
      target = box;
    }
  }
  for (auto& l : change.remove_labels) {
    auto u = upper(l);
    if (u == "SENT" || u == "DRAFT" || u == "DRAFTS") throw Error("remove_labels", u + " is set by sending or drafting, not by hand");
    if (u == "STARRED") starred = false;
    else if (u == "UNREAD") read = true;
    else removed.insert(lower(roles.mailbox(l)));
  }
  std::vector<Ref> refs;
  for (auto& id : ids) {
    auto r = parse_id(id);
    if (!r) throw NotFound("message_ids", "no message '" + id + "'");
    refs.push_back(*r);
  }
  return guarded(options_, [&] {
    Session s(options_, call);
    auto boxes = list_boxes(s);
    // Everything must exist before anything changes.
    std::map<std::string, std::vector<uint32_t>> by_box;
    for (auto& r : refs) by_box[r.mailbox];
    for (auto& [box, uids] : by_box) {
      std::vector<uint32_t> wanted;
      for (auto& r : refs)
        if (r.mailbox == box) wanted.push_back(r.uid);
      std::optional<std::string> ok;
      for (auto& r : refs)
        if (r.mailbox == box) {
          ok = opened(s, r, true);
          if (!ok) throw NotFound("message_ids", "no message '" + r.id() + "' (its mailbox is gone or was rebuilt; search again)");
          break;
        }
      auto present = s.search("UID " + uid_set(wanted));
      for (auto& r : refs)
        if (r.mailbox == box && std::find(present.begin(), present.end(), r.uid) == present.end())
          throw NotFound("message_ids", "no message '" + r.id() + "'");
      uids = wanted;
    }
    if (target && *target != "INBOX" && !find_box(boxes, *target) && *target != options_.trash) {
      s.run("CREATE " + quote(*target));
      s.run("SUBSCRIBE " + quote(*target));
      boxes = list_boxes(s);
    }
    if (target) target = find_box(boxes, *target).value_or(*target);
    auto dest_of = [&](const std::string& box) -> std::string {
      std::string dest;
      if (trash) dest = options_.trash;
      else if (target) dest = *target;
      else if ((change.archive && box == "INBOX") || removed.count(lower(box))) dest = options_.archive;
      return dest == box ? "" : dest;
    };
    // Without MOVE (RFC 6851) and UIDPLUS (RFC 4315), leaving a mailbox takes a plain EXPUNGE
    // (RFC 3501 section 6.4.3), which removes every message marked \Deleted there, another
    // client's too: only when ours are the only ones; otherwise refused before anything changes.
    // (Someone marking one between this check and the EXPUNGE is not excluded; RFC 4315 exists
    // for that.)
    if (!s.offers("MOVE") && !s.offers("UIDPLUS"))
      for (auto& entry : by_box) {  // not a structured binding: clang 14 can't capture one in the lambda below
        const auto& box = entry.first;
        const auto& uids = entry.second;
        if (dest_of(box).empty()) continue;
        s.open(box, true);
        auto marked = s.search("DELETED");
        std::erase_if(marked, [&](uint32_t u) { return std::find(uids.begin(), uids.end(), u) != uids.end(); });
        if (!marked.empty())
          throw Error("message_ids", "the IMAP server of mail account '" + options_.account + "' has neither MOVE nor UIDPLUS, so moving out of " +
                                         box + " takes an EXPUNGE that would also remove the " + std::to_string(marked.size()) +
                                         " other message(s) marked \\Deleted there; expunge or undelete them in a mail client first (nothing was changed)");
      }
    std::map<std::string, std::string> moved;  // old id -> new id
    for (auto& [box, uids] : by_box) {
      uint32_t validity = s.open(box, true);
      std::string set = uid_set(uids);
      std::string add, remove;
      if (read) (*read ? add : remove) += "\\Seen ";
      if (starred) (*starred ? add : remove) += "\\Flagged ";
      if (!add.empty()) s.run("UID STORE " + set + " +FLAGS.SILENT (" + add.substr(0, add.size() - 1) + ")");
      if (!remove.empty()) s.run("UID STORE " + set + " -FLAGS.SILENT (" + remove.substr(0, remove.size() - 1) + ")");
      std::string dest = dest_of(box);
      if (dest.empty()) continue;
      std::vector<Response> rs;
      if (s.offers("MOVE")) {
        rs = s.run("UID MOVE " + set + " " + quote(dest));
      } else {
        // RFC 6851 section 3.3's equivalent: copy, mark \Deleted, expunge: just these with
        // UID EXPUNGE (RFC 4315 section 2.1), else the whole mailbox's, checked above.
        rs = s.run("UID COPY " + set + " " + quote(dest));
        s.run("UID STORE " + set + " +FLAGS.SILENT (\\Deleted)");
        s.run(s.offers("UIDPLUS") ? "UID EXPUNGE " + set : "EXPUNGE");
      }
      for (auto& r : rs)
        if (auto code = response_code(r.text, "COPYUID"); code.size() == 3) {
          auto from = expand_set(code[1]), to = expand_set(code[2]);
          for (size_t i = 0; i < from.size() && i < to.size(); ++i)
            moved[Ref{box, validity, from[i]}.id()] = Ref{dest, uint32_t(std::stoul(code[0])), to[i]}.id();
        }
    }
    s.forget_selection();
    std::vector<Summary> out;
    for (auto& r : refs) {
      auto it = moved.find(r.id());
      Ref now = it != moved.end() ? *parse_id(it->second) : r;
      s.open(now.mailbox, false);
      auto sums = summaries(s, roles, now.mailbox, now.validity, {now.uid});
      if (!sums.empty()) out.push_back(std::move(sums.front()));
    }
    return out;
  });
}

// ---- labels ----------------------------------------------------------------------------------

std::vector<Label> ImapMail::labels(const Call& call) {
  return guarded(options_, [&] {
    Session s(options_, call);
    Roles roles(options_);
    auto boxes = list_boxes(s);
    std::map<std::string, Label> system;
    for (const char* name : {"INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "STARRED"}) system[name] = {name, "system", 0, 0};
    std::vector<Label> user_labels;
    for (auto& b : boxes) {
      Label l{roles.label(b.name), "user", 0, 0};
      for (auto& r : s.run("STATUS " + quote(b.name) + " (MESSAGES UNSEEN)"))
        if (r.tag == "*" && r.items.size() >= 3 && r.items[0].is("STATUS") && r.items.back().kind == Node::List) {
          auto& kv = r.items.back().items;
          for (size_t i = 0; i + 1 < kv.size(); i += 2) {
            if (kv[i].is("MESSAGES")) l.total = std::stoi(kv[i + 1].text);
            if (kv[i].is("UNSEEN")) l.unread = std::stoi(kv[i + 1].text);
          }
        }
      if (!roles.hidden(b.name)) {
        s.open(b.name, false);
        system["STARRED"].total += int(s.search("FLAGGED").size());
        system["STARRED"].unread += int(s.search("FLAGGED UNSEEN").size());
      }
      if (auto it = system.find(l.name); it != system.end()) {
        it->second.total = l.total;
        it->second.unread = l.unread;
      } else {
        user_labels.push_back(l);
      }
    }
    std::vector<Label> out;
    for (const char* name : {"INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "STARRED"}) out.push_back(system[name]);
    std::sort(user_labels.begin(), user_labels.end(), [](const Label& a, const Label& b) { return a.name < b.name; });
    out.insert(out.end(), user_labels.begin(), user_labels.end());
    return out;
  });
}

}  // namespace concierge::providers::mail
