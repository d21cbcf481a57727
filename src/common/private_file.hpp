#pragma once
#include <filesystem>
#include <string>

namespace concierge {

// `content` written to `path` (mode 0600) unless a file is there already, whole or not at all;
// returns what the file holds afterwards: this content, or what another process wrote first.
// Throws naming the path; `what` names the file in errors ("the token key").
std::string create_private_file(const std::filesystem::path& path, const std::string& content, const std::string& what);

}  // namespace concierge
