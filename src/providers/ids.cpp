#include "providers/ids.hpp"

#include <mutex>
#include <random>

namespace concierge::providers {

std::string random_id(size_t hex_chars) {
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string s(hex_chars, '0');
  std::lock_guard l(m);
  uint64_t bits = 0;
  for (size_t i = 0; i < hex_chars; ++i) {
    if (i % 16 == 0) bits = rng();
    s[i] = hex[bits & 15];
    bits >>= 4;
  }
  return s;
}

}  // namespace concierge::providers
