// The PostgreSQL side of the database seam (store/sql.hpp) rewrites every statement's `?` and
// `?N` parameters as `$K`, skipping quotes and comments. The statements are the code's own, but
// the mail search builds its WHERE from a client's query, so the rewriter meets text shaped by
// clients: it must never crash, leave a parameter behind, or number beyond what it reports.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store/sql.hpp"

using namespace concierge;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string sql(reinterpret_cast<const char*>(data), size);
  std::vector<int> numbering;
  const std::string out = sql::postgres_parameters(sql, &numbering);
  int most = 0;
  for (int k : numbering) most = std::max(most, k);
  // Every $K written is one the numbering knows (outside quotes; a `$` of the input may be any).
  for (size_t i = 0; i + 1 < out.size(); ++i)
    if (out[i] == '$' && out[i + 1] >= '0' && out[i + 1] <= '9' && sql.find('$') == std::string::npos) {
      int k = 0;
      for (size_t j = i + 1; j < out.size() && out[j] >= '0' && out[j] <= '9' && k < 1'000'000; ++j) k = k * 10 + (out[j] - '0');
      if (k < 1 || k > most) __builtin_trap();
    }
  (void)sql::postgres_ddl(sql.substr(0, 4096));
  (void)sql::redact_url(sql.substr(0, 4096));
  return 0;
}
