#pragma once
// base64url (RFC 4648 section 5, unpadded) and random bytes: ids, cursors, PKCE, signed state.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace concierge {

std::string base64url_encode(std::string_view bytes);
// nullopt for a character outside the alphabet or an impossible length.
std::optional<std::string> base64url_decode(std::string_view text);
std::string random_bytes(size_t n);  // CSPRNG (OpenSSL)

}  // namespace concierge
