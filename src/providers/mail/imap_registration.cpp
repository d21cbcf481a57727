// IMAP and SMTP serve the mail domain: CONCIERGE_MAIL_PROVIDER=imap, with CONCIERGE_IMAP_* for
// reading and CONCIERGE_SMTP_* for sending.
#include <stdexcept>

#include "providers/mail/imap.hpp"
#include "providers/mail/mime.hpp"
#include "providers/registry.hpp"

namespace concierge::providers::mail {
namespace {
const bool registered = register_adapter<MailProvider>(
    {.domain = "mail",
     .provider = "imap",
     // allow_plaintext: a test server on this machine (the adapter refuses it for others).
     .services = {{.name = "imap", .allow_plaintext = true}, {.name = "smtp", .allow_plaintext = true}}},
    [](AdapterContext& ctx) {
      auto &sc = ctx.service("imap"), &smtp = ctx.service("smtp");
      if (sc.base_url.empty()) throw std::runtime_error("mail is set to imap: set CONCIERGE_IMAP_BASE_URL (imaps://host or imap://host:port)");
      ImapOptions o;
      o.imap_url = sc.base_url;
      o.smtp_url = smtp.base_url;
      o.username = sc.username;
      o.password = sc.password;
      o.smtp_username = smtp.username;
      o.smtp_password = smtp.password;
      o.imap_allow_plaintext = sc.allow_plaintext;
      o.smtp_allow_plaintext = smtp.allow_plaintext;
      // "Alice Example <alice@example.org>" or a bare address; the SMTP service's `from` also counts.
      if (auto from = !sc.from.empty() ? sc.from : smtp.from; !from.empty()) {
        try {
          o.from = parse_address(from, "from");
        } catch (const Error& e) {
          throw std::runtime_error(std::string(sc.from.empty() ? "CONCIERGE_SMTP_FROM" : "CONCIERGE_IMAP_FROM") + " (services." +
                                   (sc.from.empty() ? "smtp" : "imap") + ".from): " + e.what());
        }
      }
      return Connected<MailProvider>{std::make_shared<ImapMail>(o)};
    });
}  // namespace
}  // namespace concierge::providers::mail
