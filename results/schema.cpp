#include "results/schema.h"

#include <string>
#include <vector>

#include "results/sqlite_util.h"

namespace eeb::sql {
namespace {

// Version 1. Text columns that identify something are NOT NULL (SQLite's UNIQUE treats NULLs as
// distinct); JSON columns hold nlohmann::json::dump() text.
constexpr const char* kSchemaV1 = R"SQL(
CREATE TABLE schema_version (
  version INTEGER PRIMARY KEY,
  applied_at TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '');
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  eebench_version TEXT NOT NULL DEFAULT '',
  git_sha TEXT NOT NULL DEFAULT '',
  git_dirty INTEGER NOT NULL DEFAULT 0,
  compiler TEXT NOT NULL DEFAULT '',
  build_type TEXT NOT NULL DEFAULT '',
  cpu_model TEXT NOT NULL DEFAULT '',
  gpu_name TEXT NOT NULL DEFAULT '',
  gpu_uuid TEXT NOT NULL DEFAULT '',
  gpu_driver TEXT NOT NULL DEFAULT '',
  cuda_runtime TEXT NOT NULL DEFAULT '',
  cublas_version TEXT NOT NULL DEFAULT '',
  library_versions TEXT NOT NULL DEFAULT '{}',
  hostname TEXT NOT NULL DEFAULT '',
  seed INTEGER NOT NULL DEFAULT 0,
  dtype TEXT NOT NULL DEFAULT '',
  threads INTEGER NOT NULL DEFAULT 0,
  backend TEXT NOT NULL DEFAULT '',
  command_line TEXT NOT NULL DEFAULT '',
  spec TEXT NOT NULL DEFAULT '{}',
  error TEXT);
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  format TEXT NOT NULL,
  config TEXT NOT NULL DEFAULT '{}',
  weights_checksum TEXT NOT NULL,
  n_params INTEGER NOT NULL,
  UNIQUE (run_id, path, weights_checksum),
  UNIQUE (id, run_id));
CREATE TABLE tasks (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  split TEXT NOT NULL,
  shots INTEGER NOT NULL,
  template_hash TEXT NOT NULL,
  limit_n INTEGER NOT NULL,
  n_docs INTEGER NOT NULL,
  UNIQUE (run_id, name, version, split, shots, template_hash, limit_n),
  UNIQUE (id, run_id));
CREATE TABLE strategies (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  params TEXT NOT NULL,
  resolved TEXT NOT NULL DEFAULT '{}',
  UNIQUE (run_id, name, params),
  UNIQUE (id, run_id));
CREATE TABLE trials (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  model_id INTEGER NOT NULL,
  task_id INTEGER NOT NULL,
  strategy_id INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  started_at TEXT NOT NULL,
  finished_at TEXT,
  UNIQUE (run_id, model_id, task_id, strategy_id),
  FOREIGN KEY (model_id, run_id) REFERENCES models(id, run_id) ON DELETE CASCADE,
  FOREIGN KEY (task_id, run_id) REFERENCES tasks(id, run_id) ON DELETE CASCADE,
  FOREIGN KEY (strategy_id, run_id) REFERENCES strategies(id, run_id) ON DELETE CASCADE);
CREATE INDEX trials_model ON trials(model_id, run_id);
CREATE INDEX trials_task ON trials(task_id, run_id);
CREATE INDEX trials_strategy ON trials(strategy_id, run_id);
CREATE TABLE samples (
  trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  doc_index INTEGER NOT NULL CHECK (doc_index >= 0),
  doc_id TEXT NOT NULL,
  grp TEXT NOT NULL DEFAULT '',
  gold INTEGER NOT NULL,
  pred INTEGER NOT NULL,
  pred_norm INTEGER NOT NULL,
  correct INTEGER,
  correct_norm INTEGER,
  loglik TEXT NOT NULL DEFAULT '[]',
  layers_executed REAL,
  lm_head_calls REAL,
  seconds REAL,
  extra TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (trial_id, doc_index));
CREATE TABLE metrics (
  trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL,
  stderr REAL,
  n INTEGER NOT NULL DEFAULT 0,
  grp TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (trial_id, name, grp));
)SQL";

// Upgrades from version `to - 1` to `to`, run in order inside the opening write transaction.
// Append one entry per schema change (and bump kSchemaVersion, and docs/SCHEMA.md).
struct Migration {
  int to;
  const char* sql;
};
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> m = {
      {2, R"SQL(
CREATE TABLE planned_trials (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL CHECK (idx >= 0),
  spec TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'finished', 'failed')),
  trial_id INTEGER REFERENCES trials(id) ON DELETE SET NULL,
  exit_status TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  stderr_tail TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, idx));
CREATE TABLE targets (
  paper TEXT NOT NULL,
  version TEXT NOT NULL,
  row_key TEXT NOT NULL,
  source TEXT NOT NULL,
  model TEXT NOT NULL DEFAULT '',
  task TEXT NOT NULL DEFAULT '',
  setting TEXT NOT NULL DEFAULT '{}',
  metric TEXT NOT NULL,
  value REAL,
  lower REAL,
  upper REAL,
  text_value TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  loaded_at TEXT NOT NULL,
  PRIMARY KEY (paper, version, row_key));
)SQL"},
      // What prepare() decided belongs to the trial: one strategy row (name, params) serves every
      // model and task of a run, and each trial's decision overwrote the previous one there. Older
      // trials get their strategy row's `resolved`, marked when several trials shared that row (it
      // then holds the last prepared trial's decision, not necessarily theirs). strategies.resolved
      // stays for old readers; version 3 no longer writes it.
      {3, R"SQL(
ALTER TABLE trials ADD COLUMN decision TEXT NOT NULL DEFAULT '{}';
UPDATE trials SET decision = (SELECT
    CASE WHEN (SELECT count(*) FROM trials o WHERE o.strategy_id = g.id) > 1 AND g.resolved <> '{}'
         THEN json_set(g.resolved, '$.migrated_from',
                       'strategies.resolved, shared by ' || (SELECT count(*) FROM trials o WHERE o.strategy_id = g.id) ||
                       ' trials: the last prepared one''s decision')
         ELSE g.resolved END
  FROM strategies g WHERE g.id = trials.strategy_id);
-- One environment row per node that ran a shard of the run (eebench merge; docs/SPECS.md).
CREATE TABLE run_nodes (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  shard INTEGER NOT NULL,
  shards INTEGER NOT NULL,
  hostname TEXT NOT NULL DEFAULT '',
  cpu_model TEXT NOT NULL DEFAULT '',
  gpu_name TEXT NOT NULL DEFAULT '',
  gpu_uuid TEXT NOT NULL DEFAULT '',
  gpu_driver TEXT NOT NULL DEFAULT '',
  cuda_runtime TEXT NOT NULL DEFAULT '',
  cublas_version TEXT NOT NULL DEFAULT '',
  library_versions TEXT NOT NULL DEFAULT '{}',
  eebench_version TEXT NOT NULL DEFAULT '',
  git_sha TEXT NOT NULL DEFAULT '',
  git_dirty INTEGER NOT NULL DEFAULT 0,
  compiler TEXT NOT NULL DEFAULT '',
  build_type TEXT NOT NULL DEFAULT '',
  command_line TEXT NOT NULL DEFAULT '',
  started_at TEXT NOT NULL DEFAULT '',
  finished_at TEXT,
  status TEXT NOT NULL DEFAULT '',
  slurm_job TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, shard, shards));
)SQL"}};
  return m;
}

struct State {
  int64_t app_id = 0;
  int version = 0;
  int64_t tables = 0;
};

int64_t pragma_int(sqlite3* db, const std::string& path, const char* sql) {
  Stmt s(db, sql, path);
  if (!s.step()) throw Error(path, std::string("SQLite: no result from ") + sql);
  return s.i64(0);
}

State read_state(sqlite3* db, const std::string& path) {
  State st;
  st.app_id = pragma_int(db, path, "PRAGMA application_id");
  st.version = static_cast<int>(pragma_int(db, path, "PRAGMA user_version"));
  st.tables = pragma_int(db, path, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
  return st;
}

// true: empty, needs creating. false: an eebench database (perhaps older). Else throws.
bool classify(const State& st, const std::string& path) {
  if (st.app_id == 0 && st.version == 0 && st.tables == 0) return true;
  if (st.app_id != kApplicationId)
    throw Error(path, "not an eebench results database (a SQLite database of another program)");
  if (st.version > kSchemaVersion)
    throw Error(path, "results database schema version " + std::to_string(st.version) +
                          " is newer than this eebench supports (" + std::to_string(kSchemaVersion) + ")");
  if (st.version < 1) throw Error(path, "not an eebench results database (no schema version)");
  return false;
}

void record_version(sqlite3* db, const std::string& path, int version, const char* note) {
  Stmt s(db, "INSERT INTO schema_version(version, applied_at, note) VALUES(?, strftime('%Y-%m-%dT%H:%M:%fZ'), ?)",
         path);
  s.bind(1, version).bind(2, std::string(note)).run();
  exec(db, path, ("PRAGMA user_version = " + std::to_string(version)).c_str());
}

}  // namespace

void ensure_schema(sqlite3* db, const std::string& path) {
  // The common case needs no write lock. Anything else is judged only under the lock: the three
  // reads of read_state are separate statements, so a process creating the database meanwhile can
  // make them disagree (application_id still 0, tables already there) and look like another program.
  State st = read_state(db, path);
  if (st.app_id == kApplicationId && st.version == kSchemaVersion) return;
  exec(db, path, "BEGIN IMMEDIATE");
  try {
    st = read_state(db, path);  // another process may have created or migrated it meanwhile
    if (classify(st, path)) {
      exec(db, path, kSchemaV1);
      exec(db, path, ("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
      record_version(db, path, 1, "created");
      st.version = 1;
    }
    for (const Migration& m : migrations()) {
      if (m.to <= st.version) continue;
      exec(db, path, m.sql);
      record_version(db, path, m.to, "migrated");
      st.version = m.to;
    }
    if (st.version != kSchemaVersion)
      throw Error(path, "no migration of the results schema from version " + std::to_string(st.version));
    exec(db, path, "COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace eeb::sql
