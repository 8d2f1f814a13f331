// Reading a results database in the CLI tests: every row of a query as text (NULL as "").
#pragma once
#include <string>
#include <vector>

#include <sqlite3.h>

#include <catch2/catch.hpp>

namespace eeb::testing {

inline std::vector<std::vector<std::string>> rows(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  INFO(sql);
  REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  std::vector<std::vector<std::string>> out;
  while (sqlite3_step(s) == SQLITE_ROW) {
    std::vector<std::string> r;
    for (int i = 0; i < sqlite3_column_count(s); ++i) {
      auto t = sqlite3_column_text(s, i);
      r.push_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    out.push_back(r);
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

}  // namespace eeb::testing
