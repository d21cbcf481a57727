#include "providers/http/transfer.hpp"

namespace concierge::providers::http {

namespace {

constexpr int kPollMs = 50;  // how often a waiting transfer looks at its token

int on_progress(void* token, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* cancel = static_cast<const CancelToken*>(token);
  return cancel && cancel->cancelled() ? 1 : 0;  // non-zero: curl aborts the transfer
}

}  // namespace

CURLcode perform_cancellable(CURL* easy, CURLM* multi, const CancelToken* cancel) {
  if (cancel && cancel->cancelled()) return CURLE_ABORTED_BY_CALLBACK;
  // While bytes flow, curl calls this often: a cancellation stops even a long download at once.
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, cancel);
  if (curl_multi_add_handle(multi, easy) != CURLM_OK) return CURLE_FAILED_INIT;
  CURLcode rc = CURLE_OK;
  bool aborted = false;
  for (int running = 1;;) {
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      rc = CURLE_FAILED_INIT;
      break;
    }
    if (!running) break;
    if (cancel && cancel->cancelled()) {
      aborted = true;
      break;
    }
    curl_multi_poll(multi, nullptr, 0, kPollMs, nullptr);
  }
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &left))
    if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) rc = msg->data.result;
  // Removed mid-transfer, the transfer is abandoned and its connection closed.
  curl_multi_remove_handle(multi, easy);
  return aborted ? CURLE_ABORTED_BY_CALLBACK : rc;
}

}  // namespace concierge::providers::http
