#pragma once
// One Google sign-in for every Google service the user enables (Calendar, Gmail, YouTube): the
// integrator collects each enabled adapter's least-privilege scopes (google_calendar_scopes...)
// and asks for them together, so the user consents once and one refresh token serves them all.
#include <string>
#include <vector>

#include "providers/auth/oauth.hpp"

namespace concierge::providers {

// Google's OAuth 2.0 endpoints for installed apps (authorization code + PKCE, loopback redirect).
// client_id/client_secret are filled by the integrator. Scopes are deduplicated, order kept.
auth::OAuthConfig google_oauth(std::vector<std::string> scopes);

}  // namespace concierge::providers
