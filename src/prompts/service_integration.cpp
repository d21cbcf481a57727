#include "prompts/prompt.hpp"
#include "providers/status.hpp"

namespace concierge::prompts {

namespace {
struct ServiceGuide {
  std::string name, title, domains, needs;
};
const std::vector<ServiceGuide>& guides() {
  static const std::vector<ServiceGuide> all{
      {"google", "Google (Calendar, Gmail, YouTube)", "calendar, mail, video",
       "a Google Cloud OAuth client (type Desktop app) with the Calendar, Gmail and YouTube Data APIs enabled; while the "
       "consent screen is in Testing mode Google expires refresh tokens after 7 days, so publish it for lasting access"},
      {"spotify", "Spotify", "music",
       "a Spotify app from the developer dashboard with the redirect URI http://127.0.0.1 (not localhost); playback "
       "control needs Spotify Premium and an open Spotify device"},
      {"calcom", "Cal.com", "booking", "a Cal.com API key (Settings > Developer > API keys) or an OAuth client"},
      {"caldav", "CalDAV (Nextcloud, Fastmail, iCloud, Radicale...)", "calendar",
       "the server's CalDAV URL, a user name and an app password"},
      {"imap", "IMAP and SMTP mail", "mail", "the IMAP and SMTP host names and ports, a user name and an app password (or OAuth)"},
      {"mpd", "MPD (Music Player Daemon)", "music", "the host and port of a running MPD (default 127.0.0.1:6600)"},
  };
  return all;
}
std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const auto& g : guides()) out.push_back(g.name);
  return out;
}
}  // namespace

// Walks the user through connecting one account, with the current state of their services.
PromptDefinition service_integration(App& app) {
  return PromptDefinition{
      .name = "service_integration",
      .title = "Connect a service",
      .description = "Guide the user through connecting an account (Google, Spotify, Cal.com, CalDAV, IMAP/SMTP, MPD).",
      .arguments = {PromptArgument{.name = "service", .title = "Service",
                                   .description = "google, spotify, calcom, caldav, imap or mpd", .required = true,
                                   .complete = complete_from(names())}},
      .icons = nullptr,
      .render = [&app](const std::map<std::string, std::string>& args, RequestContext& ctx) {
        const std::string& service = args.at("service");
        auto it = std::find_if(guides().begin(), guides().end(), [&](const ServiceGuide& g) { return g.name == service; });
        if (it == guides().end()) {
          std::string known;
          for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
          bad_argument("service_integration", "service", "unknown service '" + service + "' (known: " + known + ")");
        }
        std::string text =
            "Help me connect " + it->title + " to Concierge (it serves my " + it->domains + ").\n\n"
            "What I need first: " + it->needs + ".\n\n"
            "Then: the account is added with `concierge auth login " + it->name + "` in a terminal on the machine that runs "
            "Concierge (it opens the sign-in page, or prints a URL to paste on a headless machine); "
            "`concierge auth status` shows what is connected. Credentials stay on this machine, encrypted; Concierge never "
            "shows them to you or to me.\n\n"
            "The current state of my services is attached (concierge://services). Check it first: if a domain already has a "
            "healthy account, say so and ask whether I want another one. Explain one step at a time and wait for me after "
            "each; never ask me to paste a password or token into this chat.";
        return Json{{"description", "Connect " + it->title},
                    {"messages", Json::array({user_text(std::move(text)),
                                              embedded_json("concierge://services", app.status.to_json(ctx.user()))})}};
      },
      // It embeds service status only, which needs no scope (resources/services.cpp).
      .scopes = {}};
}

}  // namespace concierge::prompts
