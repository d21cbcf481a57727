#include "providers/google_oauth.hpp"

#include <algorithm>

namespace concierge::providers {

auth::OAuthConfig google_oauth(std::vector<std::string> scopes) {
  std::vector<std::string> unique;
  for (auto& s : scopes)
    if (!s.empty() && std::find(unique.begin(), unique.end(), s) == unique.end()) unique.push_back(s);
  auth::OAuthConfig c;
  c.service = "google";  // the token store's key and the name in `concierge auth login google`
  c.authorize_url = "https://accounts.google.com/o/oauth2/v2/auth";
  c.token_url = "https://oauth2.googleapis.com/token";
  c.scopes = std::move(unique);
  return c;
}

}  // namespace concierge::providers
