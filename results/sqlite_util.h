// Thin RAII over sqlite3 statements (internal to results/). Every failing return code becomes
// sql::SqlError, an eeb::Error(database path, "SQLite <what>: <sqlite3_errmsg>") that keeps the code.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace eeb::sql {

class SqlError : public Error {
 public:
  SqlError(const std::string& path, const std::string& msg, int code) : Error(path, msg), code(code) {}
  int code;  // extended result code, e.g. SQLITE_CONSTRAINT_FOREIGNKEY, SQLITE_BUSY
  int primary() const { return code & 0xff; }
};

[[noreturn]] inline void fail(sqlite3* db, const std::string& path, const std::string& what) {
  const int code = db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
  throw SqlError(path, "SQLite " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"), code);
}

// Runs one or more statements that return no rows we need.
inline void exec(sqlite3* db, const std::string& path, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    throw SqlError(path, "SQLite: " + msg, sqlite3_extended_errcode(db));
  }
}

class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s_,
                           nullptr) != SQLITE_OK)
      fail(db_, path_, "prepare");
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v) { return ok(sqlite3_bind_int64(s_, i, v)); }
  Stmt& bind(int i, int v) { return ok(sqlite3_bind_int64(s_, i, v)); }
  Stmt& bind(int i, double v) { return ok(sqlite3_bind_double(s_, i, v)); }  // NaN binds as NULL
  Stmt& bind(int i, const std::string& v) {
    return ok(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Stmt& bind(int i, const char* v) { return bind(i, std::string(v)); }
  Stmt& bind(int i, std::optional<double> v) { return v ? bind(i, *v) : bind_null(i); }
  Stmt& bind(int i, std::optional<int> v) { return v ? bind(i, *v) : bind_null(i); }
  Stmt& bind_null(int i) { return ok(sqlite3_bind_null(s_, i)); }

  // true while a row is available.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, path_, "step");
  }
  void run() {
    while (step()) {
    }
  }
  // Ready for the next use: releases the read snapshot a half-read query holds.
  void reset() {
    sqlite3_reset(s_);  // its return code repeats the last step's, already reported
    sqlite3_clear_bindings(s_);
  }

  int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  double f64(int c) { return sqlite3_column_double(s_, c); }
  bool null(int c) { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::optional<double> opt_f64(int c) { return null(c) ? std::nullopt : std::optional<double>(f64(c)); }
  std::optional<int> opt_int(int c) { return null(c) ? std::nullopt : std::optional<int>(int(i64(c))); }
  std::string text(int c) {
    auto p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, c)) : "";
  }

 private:
  Stmt& ok(int rc) {
    if (rc != SQLITE_OK) fail(db_, path_, "bind");
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  std::string path_;
};

// A cached statement in use; resets it when the scope ends (also on exceptions).
class Use {
 public:
  explicit Use(Stmt& s) : s_(s) {}
  ~Use() { s_.reset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  Stmt* operator->() { return &s_; }
  Stmt& operator*() { return s_; }

 private:
  Stmt& s_;
};

}  // namespace eeb::sql
