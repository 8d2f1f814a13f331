// Helpers for the results-store tests: a private temporary folder and filled-in rows.
#pragma once
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "results/store.h"
#include "tests/temp_dir.h"

namespace eeb::testing {


// Runs SQL on a raw connection (to build foreign databases or inspect ours independently).
inline void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("open " + path);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error(msg);
}

// First column of the first row of a query on the store's own connection, as text.
inline std::string query1(ResultStore& s, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(s.handle(), sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    throw std::runtime_error(sqlite3_errmsg(s.handle()));
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return out;
}

inline SampleRow make_sample(int i, int n_choices = 4) {
  SampleRow r;
  r.doc_index = i;
  r.doc_id = "test:" + std::to_string(i);
  r.group = i % 2 ? "anatomy" : "astronomy";
  r.gold = i % n_choices;
  r.pred = (i * 7) % n_choices;
  r.pred_norm = (i * 3) % n_choices;
  for (int c = 0; c < n_choices; c++) r.loglik.push_back(-0.1 * (c + 1) - 1e-3 * i);
  r.layers_executed = 10 + i % 23;
  r.lm_head_calls = i % 5;
  r.seconds = 0.001 * (i % 17 + 1);
  r.extra = {{"exit_layer", 10 + i % 23}, {"t_strategy", {0.25, 0.5}}};
  return r;
}

struct Fixture {
  int64_t run = 0, model = 0, task = 0, strategy = 0;
};

// One run with one model, one task and `n_strategies` strategies (params {"k": i}).
inline Fixture make_fixture(ResultStore& s, int n_strategies = 1) {
  Fixture f;
  RunInfo r;
  r.eebench_version = "0.1.0";
  r.backend = "cpu";
  r.command_line = "eebench run --task mmlu";
  f.run = s.begin_run(r);
  f.model = s.add_model(f.run, ModelRow{0, 0, "/models/tiny", "hf", {{"n_layers", 32}}, "xxh:1234", 1000});
  f.task = s.add_task(f.run, TaskRow{0, 0, "mmlu", "1", "test", 5, "abc", 0, 100});
  for (int i = 0; i < n_strategies; i++) f.strategy = s.add_strategy(f.run, StrategyRow{0, 0, "exits", {{"k", i}}});
  return f;
}

}  // namespace eeb::testing
