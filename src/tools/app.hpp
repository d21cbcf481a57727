#pragma once
// What tools, resources and prompts reach beyond the protocol: the store and what lives in it.
// main.cpp owns these; registration functions take a reference.
namespace concierge::store {
class Store;
class Preferences;
class History;
}  // namespace concierge::store
namespace concierge::providers {
class StatusBoard;
struct Providers;
}

namespace concierge {

struct App {
  store::Store& store;
  store::Preferences& preferences;
  store::History& history;
  providers::StatusBoard& status;
  providers::Providers& providers;
};

}  // namespace concierge
