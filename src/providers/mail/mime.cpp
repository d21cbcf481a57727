#include "providers/mail/mime.hpp"

#include <gmime/gmime.h>
#include <memory>
#include <mutex>
#include <regex>
#include <stdexcept>

#include "providers/error.hpp"

namespace concierge::providers::mail {

namespace {

void init() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

struct Unref {
  void operator()(gpointer p) const {
    if (p) g_object_unref(p);
  }
};
template <class T>
using Ref = std::unique_ptr<T, Unref>;

std::string take(char* s) {  // a g_malloc'ed string
  std::string out = s ? s : "";
  g_free(s);
  return out;
}

void add_all(GMimeMessage* msg, GMimeAddressType type, const std::vector<Address>& list) {
  for (auto& a : list) g_mime_message_add_mailbox(msg, type, a.name.empty() ? nullptr : a.name.c_str(), a.email.c_str());
}

std::vector<Address> addresses(InternetAddressList* list) {
  std::vector<Address> out;
  if (!list) return out;
  for (int i = 0; i < internet_address_list_length(list); ++i) {
    InternetAddress* a = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
      const char* name = internet_address_get_name(a);
      out.push_back({name ? name : "", internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a))});
    } else if (INTERNET_ADDRESS_IS_GROUP(a)) {
      auto members = addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)));
      out.insert(out.end(), members.begin(), members.end());
    }
  }
  return out;
}

GMimeObject* text_part(const char* subtype, const std::string& text) {
  GMimeTextPart* part = g_mime_text_part_new_with_subtype(subtype);
  g_mime_text_part_set_text(part, text.c_str());  // utf-8, a transfer encoding GMime picks
  return GMIME_OBJECT(part);
}

std::string header(GMimeObject* o, const char* name) {
  const char* v = g_mime_object_get_header(o, name);
  return v ? v : "";
}

std::string strip_brackets(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return s;
}

struct Walk {
  MimeMessage* m;
};

void visit(GMimeObject*, GMimeObject* part, gpointer data) {
  auto* m = static_cast<Walk*>(data)->m;
  if (!GMIME_IS_PART(part)) return;
  GMimePart* p = GMIME_PART(part);
  GMimeContentType* ct = g_mime_object_get_content_type(part);
  std::string type = take(g_mime_content_type_get_mime_type(ct));
  if (g_mime_part_is_attachment(p) || (!GMIME_IS_TEXT_PART(part))) {
    Attachment a;
    const char* fn = g_mime_part_get_filename(p);
    a.filename = fn ? fn : "";
    a.mime_type = type;
    if (GMimeDataWrapper* content = g_mime_part_get_content(p)) {
      Ref<GMimeStream> sink(g_mime_stream_null_new());
      a.size = size_t(std::max<ssize_t>(0, g_mime_data_wrapper_write_to_stream(content, sink.get())));
    }
    m->attachments.push_back(std::move(a));
    return;
  }
  std::string body = take(g_mime_text_part_get_text(GMIME_TEXT_PART(part)));
  if (type == "text/html") {
    if (m->html.empty()) m->html = std::move(body);
  } else if (m->text.empty()) {
    m->text = std::move(body);
  }
}

}  // namespace

std::string build(const MimeMessage& m) {
  init();
  Ref<GMimeMessage> msg(g_mime_message_new(TRUE));
  add_all(msg.get(), GMIME_ADDRESS_TYPE_FROM, {m.from});
  add_all(msg.get(), GMIME_ADDRESS_TYPE_TO, m.to);
  add_all(msg.get(), GMIME_ADDRESS_TYPE_CC, m.cc);
  add_all(msg.get(), GMIME_ADDRESS_TYPE_BCC, m.bcc);
  g_mime_message_set_subject(msg.get(), m.subject.c_str(), "utf-8");
  GDateTime* date = g_date_time_new_from_unix_utc(m.date / 1000);
  g_mime_message_set_date(msg.get(), date);
  g_date_time_unref(date);
  g_mime_message_set_message_id(msg.get(), m.message_id.c_str());
  if (!m.in_reply_to.empty()) g_mime_object_set_header(GMIME_OBJECT(msg.get()), "In-Reply-To", ("<" + m.in_reply_to + ">").c_str(), nullptr);
  if (!m.references.empty()) {
    std::string refs;
    for (auto& r : m.references) refs += (refs.empty() ? "<" : " <") + r + ">";
    g_mime_object_set_header(GMIME_OBJECT(msg.get()), "References", refs.c_str(), nullptr);
  }
  Ref<GMimeObject> body;
  if (!m.text.empty() && !m.html.empty()) {
    GMimeMultipart* alt = g_mime_multipart_new_with_subtype("alternative");
    Ref<GMimeObject> t(text_part("plain", m.text)), h(text_part("html", m.html));
    g_mime_multipart_add(alt, t.get());
    g_mime_multipart_add(alt, h.get());
    body.reset(GMIME_OBJECT(alt));
  } else {
    body.reset(text_part(m.html.empty() ? "plain" : "html", m.html.empty() ? m.text : m.html));
  }
  if (!m.attachments.empty()) {
    GMimeMultipart* mixed = g_mime_multipart_new_with_subtype("mixed");
    g_mime_multipart_add(mixed, body.get());
    for (auto& a : m.attachments) {
      auto slash = a.mime_type.find('/');
      std::string type = slash == std::string::npos ? "application" : a.mime_type.substr(0, slash);
      std::string sub = slash == std::string::npos ? "octet-stream" : a.mime_type.substr(slash + 1);
      Ref<GMimePart> part(g_mime_part_new_with_type(type.c_str(), sub.c_str()));
      g_mime_part_set_filename(part.get(), a.filename.c_str());
      Ref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(a.data.data(), a.data.size()));
      Ref<GMimeDataWrapper> content(g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
      g_mime_part_set_content(part.get(), content.get());
      g_mime_part_set_content_encoding(part.get(), GMIME_CONTENT_ENCODING_BASE64);
      g_mime_multipart_add(mixed, GMIME_OBJECT(part.get()));
    }
    body.reset(GMIME_OBJECT(mixed));
  }
  g_mime_message_set_mime_part(msg.get(), body.get());
  return take(g_mime_object_to_string(GMIME_OBJECT(msg.get()), nullptr));
}

MimeMessage parse(const std::string& raw) {
  init();
  Ref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  Ref<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  Ref<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!msg) throw std::runtime_error("not an RFC 5322 message");
  MimeMessage m;
  auto from = addresses(g_mime_message_get_from(msg.get()));
  if (!from.empty()) m.from = from.front();
  m.to = addresses(g_mime_message_get_to(msg.get()));
  m.cc = addresses(g_mime_message_get_cc(msg.get()));
  m.bcc = addresses(g_mime_message_get_bcc(msg.get()));
  const char* subject = g_mime_message_get_subject(msg.get());
  m.subject = subject ? subject : "";
  if (GDateTime* d = g_mime_message_get_date(msg.get())) m.date = g_date_time_to_unix(d) * 1000;
  const char* id = g_mime_message_get_message_id(msg.get());
  m.message_id = id ? id : "";
  m.in_reply_to = strip_brackets(header(GMIME_OBJECT(msg.get()), "In-Reply-To"));
  if (GMimeReferences* refs = g_mime_references_parse(nullptr, header(GMIME_OBJECT(msg.get()), "References").c_str())) {
    for (int i = 0; i < g_mime_references_length(refs); ++i) m.references.push_back(g_mime_references_get_message_id(refs, i));
    g_mime_references_free(refs);
  }
  Walk w{&m};
  g_mime_message_foreach(msg.get(), visit, &w);
  return m;
}

Address parse_address(const std::string& text, const std::string& field) {
  init();
  static const std::regex email(R"([^@\s<>(),;:"\[\]]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)");
  auto bad = [&] { return Error(field, "'" + text + "' is not an email address (name@example.com or Name <name@example.com>)"); };
  if (text.empty() || text.size() > 320 || text.find_first_of("\r\n") != std::string::npos) throw bad();
  InternetAddressList* list = internet_address_list_parse(nullptr, text.c_str());
  if (!list) throw bad();
  Ref<InternetAddressList> owned(list);
  auto all = addresses(list);
  if (all.size() != 1 || !std::regex_match(all[0].email, email)) throw bad();
  return all[0];
}

std::string format_address(const Address& a) { return a.name.empty() ? a.email : a.name + " <" + a.email + ">"; }

}  // namespace concierge::providers::mail
