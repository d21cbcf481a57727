// Gmail serves the mail domain: CONCIERGE_MAIL_PROVIDER=google.
#include "providers/google_oauth.hpp"
#include "providers/mail/gmail.hpp"
#include "providers/registry.hpp"

namespace concierge::providers::mail {
namespace {
const bool registered = register_adapter<MailProvider>(
    {.domain = "mail",
     .provider = "google",
     .sign_in = "google",
     .oauth = [](bool read_only, const ServiceConfig&) { return google_oauth(gmail_scopes(read_only)); }},
    [](AdapterContext& ctx) {
      auto client = ctx.http_client("gmail", gmail_policy(), "google");
      return Connected<MailProvider>{std::make_shared<GmailMail>(client, ctx.credentials), client};
    });
}  // namespace
}  // namespace concierge::providers::mail
