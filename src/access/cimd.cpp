#include "access/cimd.hpp"

#include <spdlog/spdlog.h>

#include "common/json_parse.hpp"
#include "common/log_text.hpp"
#include "providers/http/client.hpp"
#include "providers/http/url.hpp"

namespace concierge::access {

namespace http = providers::http;

bool is_client_document_url(const std::string& client_id) {
  return client_id.rfind("https://", 0) == 0 || client_id.rfind("http://", 0) == 0;
}

std::optional<std::string> client_document_url_problem(const std::string& url, bool allow_http_loopback) {
  auto u = http::parse_url(url);
  if (!u || !u->has_authority || u->host.empty()) return "is not an absolute URL";
  if (u->scheme == "http") {
    if (!allow_http_loopback || !http::is_loopback_host(u->host))
      return "must be https (http only on loopback with --allow-http-client-metadata)";
  } else if (u->scheme != "https") {
    return "must be an https URL";
  }
  if (u->fragment) return "has a fragment";
  if (!u->userinfo.empty()) return "carries user info";
  if (u->path.empty() || u->path == "/") return "has no path (a metadata document URL names a document)";
  for (size_t pos = 0; pos <= u->path.size();) {
    auto end = std::min(u->path.find('/', pos), u->path.size());
    auto seg = u->path.substr(pos, end - pos);
    if (seg == "." || seg == "..") return "has a dot segment";
    pos = end + 1;
  }
  return std::nullopt;
}

std::variant<RegisteredClient, std::string> client_from_document(const std::string& url, const std::string& body) {
  Json doc;
  try {
    doc = parse_json(body, 8);
  } catch (const std::exception&) {
    return "client_id: the metadata document is not JSON";
  }
  if (!doc.is_object()) return "client_id: the metadata document is not a JSON object";
  // The document speaks for the URL it is at, and no other (the draft's §4.1).
  if (!doc.contains("client_id") || !doc["client_id"].is_string() || doc["client_id"].get<std::string>() != url)
    return "client_id: the metadata document's client_id is not its own URL";
  Json metadata = doc;
  metadata.erase("client_id");
  // Registration's rules for what the document may say (public clients, safe redirect URIs).
  auto checked = check_registration(metadata);
  if (auto* e = std::get_if<RegistrationError>(&checked)) return "client_id: the metadata document's " + e->description;
  auto c = std::get<RegisteredClient>(std::move(checked));
  c.client_id = url;
  return c;
}

ClientDocuments::ClientDocuments(ClientDocumentOptions options) : options_(options) {
  http::Policy p;
  p.service = "client metadata document";
  p.connect_timeout = options_.timeout;
  p.timeout = options_.timeout;
  p.max_attempts = 1;             // the person is waiting at the authorization endpoint
  p.breaker_threshold = 1 << 30;  // one client's broken host must not close the door on others
  p.max_response_bytes = options_.max_bytes;
  p.rate_per_second = 5;
  p.burst = 20;
  p.max_budget_wait = std::chrono::milliseconds(0);
  http_ = std::make_unique<http::Client>(p);
}

ClientDocuments::~ClientDocuments() = default;

std::variant<RegisteredClient, std::string> ClientDocuments::client(const std::string& url) {
  if (auto why = client_document_url_problem(url, options_.allow_http_loopback)) return "client_id: " + log_safe(url, 200) + " " + *why;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard l(m_);
    if (auto it = cache_.find(url); it != cache_.end()) {
      if (it->second.until > now) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return it->second.client;
      }
      lru_.erase(it->second.lru);
      cache_.erase(it);
    }
  }
  http::Response r;
  try {
    http::Request req;
    req.path = url;  // the policy has no base URL: the whole URL is the path
    req.headers = {{"Accept", "application/json"}};
    r = http_->send(req);
  } catch (const std::exception& e) {
    spdlog::info("client metadata document {} not fetched: {}", log_safe(url, 200), log_safe(e.what(), 200));
    return "client_id: the metadata document could not be fetched (" + log_safe(e.what(), 200) + ")";
  }
  // Redirects are not followed: the document must be at the URL it names.
  if (r.status != 200) return "client_id: fetching the metadata document answered HTTP " + std::to_string(r.status);
  auto result = client_from_document(url, r.body);
  if (auto* c = std::get_if<RegisteredClient>(&result)) {
    std::lock_guard l(m_);
    if (!cache_.count(url)) {
      if (cache_.size() >= options_.cache_entries && !lru_.empty()) {
        cache_.erase(lru_.back());
        lru_.pop_back();
      }
      lru_.push_front(url);
      cache_.emplace(url, Entry{*c, now + options_.cache_ttl, lru_.begin()});
    }
  }
  return result;
}

}  // namespace concierge::access
