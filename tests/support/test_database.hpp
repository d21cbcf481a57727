#pragma once
// Which database a test's store uses: SQLite in its data directory (the default), or, when the
// test runs in the PostgreSQL pass (ctest's "pg:" tests, CONCIERGE_TEST_POSTGRES naming the env
// file scripts/postgres.sh's fixture wrote), a schema of its own in that server. The same data
// directory gets the same schema, so a test that reopens its store finds its data; an empty
// directory (an in-memory store) gets a fresh one every time.
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "store/sql.hpp"

namespace concierge::test {

// The server's URL in the PostgreSQL pass, else "".
inline std::string postgres_url() {
  const char* env = std::getenv("CONCIERGE_TEST_POSTGRES");
  if (!env || !*env) return "";
  std::ifstream in(env);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("DATABASE_URL=", 0) == 0) return line.substr(13);
  throw std::runtime_error(std::string("CONCIERGE_TEST_POSTGRES: no DATABASE_URL= line in ") + env + " (did the pg_start fixture run?)");
}

inline std::string database_url(const std::filesystem::path& data_dir) {
  const std::string server = postgres_url();
  if (server.empty()) return "";
  // Random, not the pid: a later test process may be given the same pid.
  std::random_device rd;
  const std::string schema = data_dir.empty() ? "t_" + std::to_string(rd()) + "_" + std::to_string(rd())
                                              : "t_" + std::to_string(std::hash<std::string>{}(std::filesystem::absolute(data_dir).string()));
  sql::open_postgres(server, false)->exec("CREATE SCHEMA IF NOT EXISTS " + schema);
  return server + (server.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

}  // namespace concierge::test
