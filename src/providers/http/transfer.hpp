#pragma once
// One libcurl transfer that a cancellation stops within ~50 ms. curl_easy_perform may sleep up to
// a second between progress callbacks while the peer is silent; a multi handle's poll wakes on
// our schedule instead. The multi handle also holds the connection cache, so the caller keeps
// it beside the easy handle for as long as connections should be reused.
#include <curl/curl.h>

#include "common/cancellation.hpp"

namespace concierge::providers::http {

// The transfer's result; CURLE_ABORTED_BY_CALLBACK when `cancel` fired (the transfer was
// abandoned and its connection closed, so the peer sees the call end).
CURLcode perform_cancellable(CURL* easy, CURLM* multi, const CancelToken* cancel);

}  // namespace concierge::providers::http
