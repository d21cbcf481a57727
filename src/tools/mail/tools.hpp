#pragma once
// The mail tools and what they share.
#include "providers/providers.hpp"
#include "tools/call.hpp"
#include "tools/tool.hpp"

namespace concierge::tools::mail {

namespace ml = providers::mail;

struct Call {
  ml::MailProvider& provider;
  providers::Call call;
  const date::time_zone* tz;  // the user's
};
Call call_of(App& app, const Json& args, RequestContext& ctx);

Json summary_json(const ml::Summary& s, const date::time_zone* tz);
// A whole message, its body in `format` (text or html) cut at max_chars with a marker.
Json message_json(const ml::Message& m, const date::time_zone* tz, const std::string& format, size_t max_chars);
std::string summary_line(const ml::Summary& s);  // "Ravi Nair: Quarterly report draft"
// to/cc/bcc, subject, text, html, reply_to_message_id; addresses checked naming the field.
ml::Outgoing outgoing(const Json& args);

}  // namespace concierge::tools::mail
