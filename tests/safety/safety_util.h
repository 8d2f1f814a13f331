// Helpers for the safety tests: eebench as a child process (fork/exec, killable) and read-only
// queries on its results database through an independent SQLite connection.
#pragma once
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli/cli_util.h"

namespace eeb::testing {

// `eebench args...` with stdout and stderr going to `log`; returns the child's pid.
inline pid_t spawn_eebench(const std::vector<std::string>& args, const std::string& log) {
  const std::string bin = eebench_bin();
  std::vector<char*> argv{const_cast<char*>(bin.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);  // or the child's freopen flushes the parent's buffered output a second time
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (!std::freopen(log.c_str(), "w", stdout) || ::dup2(::fileno(stdout), 2) < 0) ::_exit(126);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for the child; its exit code, or 128 + signal.
inline int wait_child(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) throw std::runtime_error("waitpid failed");
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// True once the child has exited (then *code is set); never blocks.
inline bool child_exited(pid_t pid, int* code) {
  int st = 0;
  if (::waitpid(pid, &st, WNOHANG) != pid) return false;
  *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return true;
}

inline std::string read_file(const std::string& path) {
  std::string s;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
  }
  return s;
}

// A connection that never creates the file (throws when it does not exist), closed at scope exit.
struct DbConn {
  sqlite3* h = nullptr;
  explicit DbConn(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      sqlite3_close(h);
      throw std::runtime_error("cannot open " + path);
    }
    sqlite3_busy_timeout(h, 10000);
  }
  ~DbConn() { sqlite3_close(h); }
  DbConn(const DbConn&) = delete;
  DbConn& operator=(const DbConn&) = delete;
  // Runs sql, calling row(stmt) for each result row; throws on any SQLite error.
  template <class F> void each(const std::string& sql, F row) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(h));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(h));
  }
};

// Rows of a query as text (NULL -> "NULL").
inline std::vector<std::vector<std::string>> query_rows(const std::string& db, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  DbConn(db).each(sql, [&](sqlite3_stmt* st) {
    std::vector<std::string> r;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      r.push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
    rows.push_back(std::move(r));
  });
  return rows;
}

// First column of every row as a double, exactly as stored.
inline std::vector<double> query_doubles(const std::string& db, const std::string& sql) {
  std::vector<double> out;
  DbConn(db).each(sql, [&](sqlite3_stmt* st) { out.push_back(sqlite3_column_double(st, 0)); });
  return out;
}

inline std::string query1(const std::string& db, const std::string& sql) {
  auto rows = query_rows(db, sql);
  return rows.empty() || rows[0].empty() ? "" : rows[0][0];
}

// Sample rows stored so far; 0 while the database or its schema does not exist yet.
inline long stored_samples(const std::string& db) {
  if (!std::filesystem::exists(db)) return 0;
  try {
    return std::stol(query1(db, "SELECT count(*) FROM samples"));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace eeb::testing
