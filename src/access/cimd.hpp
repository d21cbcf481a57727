#pragma once
// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client_id that
// is an https URL names a JSON document the client publishes; fetching it replaces registration.
// Fetched with the project's HTTP client (libcurl): no redirects followed (a 3xx is refused),
// a size cap, a timeout, one attempt; good documents cached for a while, in a bounded cache.
#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <variant>

#include "access/authorization_server.hpp"

namespace concierge::providers::http {
class Client;
}

namespace concierge::access {

struct ClientDocumentOptions {
  bool allow_http_loopback = false;      // serve --allow-http-client-metadata (tests)
  size_t max_bytes = 5 * 1024;           // the draft suggests 5 KB: a document is a few members
  std::chrono::milliseconds timeout{5000};
  std::chrono::seconds cache_ttl{600};
  size_t cache_entries = 1000;
};

// A client_id that is meant as a metadata document URL (an http(s) URL): registered ids never are.
bool is_client_document_url(const std::string& client_id);

// Why this URL can't be a client_id document, or nullopt: https (http only on loopback when
// allowed), a path, no fragment, no user info, no dot segments.
std::optional<std::string> client_document_url_problem(const std::string& url, bool allow_http_loopback);

// The client a document describes, or why not (for the error page: starts with "client_id: ").
// Checks: a JSON object, its client_id equal to the URL, redirect_uris as for registration,
// token_endpoint_auth_method "none" (public clients only).
std::variant<RegisteredClient, std::string> client_from_document(const std::string& url, const std::string& body);

class ClientDocuments {
 public:
  explicit ClientDocuments(ClientDocumentOptions options);
  ~ClientDocuments();
  // The client, fetched or cached, or why not. Thread-safe; blocks for one fetch at most.
  std::variant<RegisteredClient, std::string> client(const std::string& url);

 private:
  struct Entry {
    RegisteredClient client;
    std::chrono::steady_clock::time_point until;
    std::list<std::string>::iterator lru;
  };
  ClientDocumentOptions options_;
  std::unique_ptr<providers::http::Client> http_;
  std::mutex m_;
  std::unordered_map<std::string, Entry> cache_;
  std::list<std::string> lru_;  // most recent first
};

}  // namespace concierge::access
