#include "store/preferences.hpp"
#include "store/store.hpp"
#include "tools/mail/tools.hpp"

namespace concierge::tools::mail {

Call call_of(App& app, const Json& args, RequestContext& ctx) {
  auto& provider = app.providers.mail.get(args.value("account", ""));
  return {provider, provider_call(app, args, ctx), providers::zone(app.preferences.time_zone(ctx.user()))};
}

namespace {
Json addresses(const std::vector<ml::Address>& as) {
  Json out = Json::array();
  for (auto& a : as) out.push_back(ml::format_address(a));
  return out;
}
}  // namespace

Json summary_json(const ml::Summary& s, const date::time_zone* tz) {
  return Json{{"id", s.id},           {"thread_id", s.thread_id}, {"from", ml::format_address(s.from)}, {"to", addresses(s.to)},
              {"cc", addresses(s.cc)}, {"subject", s.subject},    {"snippet", s.snippet},
              {"date", providers::format_time(s.date, tz)},       {"unread", s.unread}, {"starred", s.starred},
              {"has_attachments", s.has_attachments},             {"labels", s.labels}};
}

Json message_json(const ml::Message& m, const date::time_zone* tz, const std::string& format, size_t max_chars) {
  Json j = summary_json(m.summary, tz);
  std::string body = format == "html" && !m.html.empty() ? m.html : m.text.empty() ? m.html : m.text;
  j["body_format"] = format == "html" && !m.html.empty() ? "html" : m.text.empty() && !m.html.empty() ? "html" : "text";
  j["truncated"] = false;
  if (body.size() > max_chars) {
    size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
    j["truncated"] = true;
    body = body.substr(0, cut) + "\n[… truncated, " + std::to_string(body.size() - cut) + " more bytes]";
  }
  j["body"] = body;
  Json atts = Json::array();
  for (auto& a : m.attachments) atts.push_back({{"filename", a.filename}, {"mime_type", a.mime_type}, {"size", a.size}});
  j["attachments"] = atts;
  j["message_id_header"] = m.message_id;
  if (!m.in_reply_to.empty()) j["in_reply_to"] = m.in_reply_to;
  j["references"] = m.references;
  return j;
}

std::string summary_line(const ml::Summary& s) {
  return (s.from.name.empty() ? s.from.email : s.from.name) + ": " + (s.subject.empty() ? "(no subject)" : s.subject);
}

ml::Outgoing outgoing(const Json& args) {
  ml::Outgoing o;
  auto list = [&](const char* field) {
    std::vector<ml::Address> out;
    if (!args.contains(field)) return out;
    size_t i = 0;
    for (auto& a : args[field]) out.push_back(ml::parse_address(a.get<std::string>(), std::string(field) + "[" + std::to_string(i++) + "]"));
    return out;
  };
  o.to = list("to");
  o.cc = list("cc");
  o.bcc = list("bcc");
  o.subject = args.value("subject", "");
  o.text = args.value("text", "");
  o.html = args.value("html", "");
  o.reply_to = args.value("reply_to_message_id", "");
  return o;
}

}  // namespace concierge::tools::mail
