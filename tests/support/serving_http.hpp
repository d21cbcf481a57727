#pragma once
// An HttpServer on 127.0.0.1:<any free port>, run() on a thread; stopped and joined on scope exit.
#include <catch2/catch.hpp>

#include <memory>
#include <thread>

#include "server/http.hpp"

namespace concierge::test {

class ServingHttp {
 public:
  ServingHttp(Server& core, HttpOptions options) {
    options.host = "127.0.0.1";
    options.port = 0;
    http_ = std::make_unique<HttpServer>(core, std::move(options));
    port_ = http_->bind();
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { http_->run(); });
  }
  ServingHttp(const ServingHttp&) = delete;
  ServingHttp& operator=(const ServingHttp&) = delete;
  ~ServingHttp() {
    http_->stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::unique_ptr<HttpServer> http_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace concierge::test
