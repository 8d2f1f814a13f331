// The SQLite results store. Schema, units and resume rules: docs/SCHEMA.md.
//
// WAL mode, synchronous=NORMAL, busy timeout 10 s, foreign keys on. Every write is one short
// transaction, so every finished sample is durable at once and several processes (shards) can write
// one database. Depends on SQLite and nlohmann-json only: the rows below are plain structs, filled
// by the harness from its own types. One ResultStore per thread (it caches prepared statements).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"  // every failure is an eeb::Error naming the database

struct sqlite3;

namespace eeb {

namespace sql {
class Stmt;
struct DbCloser { void operator()(sqlite3* db) const; };
}  // namespace sql

// One invocation of eebench (environment captured at its start). Everything a run produced hangs
// off its id. begin_run ignores id, finished_at and error; status is set to "running" and an
// empty started_at is filled with the current time.
struct RunInfo {
  int64_t id = 0;
  std::string started_at, finished_at;  // ISO 8601 UTC, e.g. 2025-01-31T12:00:00.123Z
  std::string status;                   // running | finished | failed
  std::string eebench_version, git_sha;
  bool git_dirty = false;
  std::string compiler, build_type, cpu_model;
  std::string gpu_name, gpu_uuid, gpu_driver, cuda_runtime, cublas_version;  // empty: none
  nlohmann::json library_versions = nlohmann::json::object();  // {"sqlite": "3.40.1", ...}
  std::string hostname;
  uint64_t seed = 0;
  std::string dtype;  // as requested: auto | f32 | f16 | bf16 (held: ModelRow config weights_held)
  int threads = 0;
  std::string backend, command_line;
  nlohmann::json spec = nlohmann::json::object();  // the whole run specification
  std::string error;                               // why it failed; empty otherwise
};

// Identity within a run: (path, weights_checksum); the other fields must then agree.
struct ModelRow {
  int64_t id = 0, run_id = 0;  // set by the store
  std::string path, format;    // format: hf | gguf | llama2c
  nlohmann::json config = nlohmann::json::object();
  std::string weights_checksum;
  int64_t n_params = 0;
};

// Identity within a run: every field but n_docs, which must then agree.
struct TaskRow {
  int64_t id = 0, run_id = 0;  // set by the store
  std::string name, version, split;
  int shots = 0;
  std::string template_hash;
  int limit_n = 0;  // 0: all documents
  int n_docs = 0;   // documents the task yielded
};

// Identity within a run: (name, params) as requested. What preparation decided differs per model
// and task, so it is the trial's (TrialRow::decision), not the strategy row's.
struct StrategyRow {
  int64_t id = 0, run_id = 0;  // set by the store
  std::string name;
  nlohmann::json params = nlohmann::json::object();
};

// One scored document. correct / correct_norm are derived by the store (pred == gold, null when
// gold < 0); add_sample ignores them. Non-finite loglik values are stored as "inf" / "-inf" / "nan".
struct SampleRow {
  int doc_index = 0;
  std::string doc_id, group;
  int gold = -1, pred = -1, pred_norm = -1;
  std::optional<bool> correct, correct_norm;  // read back only
  std::vector<double> loglik;
  double layers_executed = 0;  // layers run at the scoring position (mean per token for generation)
  double lm_head_calls = 0;    // extra logit-lens evaluations
  double seconds = 0;          // measured model time
  nlohmann::json extra = nlohmann::json::object();
};

struct MetricRow {
  std::string name;
  std::string group;                // "" = overall; else e.g. an MMLU subject
  double value = 0;
  std::optional<double> std_err;    // standard error; none = NULL
  int64_t n = 0;                    // samples behind the value
  nlohmann::json detail = nlohmann::json::object();
};

// A trial with its model, task and strategy rows joined.
struct TrialRow {
  int64_t id = 0, run_id = 0;
  std::string status, started_at, finished_at;  // status: running | finished | failed
  ModelRow model;
  TaskRow task;
  StrategyRow strategy;
  // What the strategy's prepare() decided for this trial (removed layers and scores, classifier and
  // its hash, resolved depth parameters, ...); {} when nothing was stored (set_trial_decision).
  nlohmann::json decision = nlohmann::json::object();
  int64_t n_samples = 0;
};

// One entry of a run's expansion (models x tasks x strategies x parameters), stored when the run
// begins. A trial that never got far enough to have a `trials` row (a child process that crashed
// while loading, say) is still here, with how it ended.
struct PlannedTrial {
  int64_t run_id = 0;
  int idx = 0;                                   // position in the expansion
  nlohmann::json spec = nlohmann::json::object();  // model, task, strategy, params, ...
  std::string status = "pending";                // pending | running | finished | failed
  std::optional<int64_t> trial_id;               // the trials row, once there is one
  std::string exit_status;  // isolated trials: "exit 0", "exit 2", "signal 9 (SIGKILL)", "timeout after 60 s"
  std::string error;        // one line: why it failed
  std::string stderr_tail;  // isolated trials: the end of the child's standard error
};

// A published number to compare against (reports/paper_targets.toml, loaded by `eebench reproduce`).
// value: the number; lower/upper: the accepted interval (either may be open); text_value: a
// non-numeric target such as a list of removed layers.
struct TargetRow {
  std::string paper, version, row_key, source;
  std::string model, task;
  nlohmann::json setting = nlohmann::json::object();
  std::string metric;
  std::optional<double> value, lower, upper;
  std::string text_value, note;
};

struct RunSummary {
  int64_t id = 0;
  std::string started_at, finished_at, status, backend, command_line;
  int64_t n_trials = 0, n_samples = 0;
};

class ResultStore {
 public:
  // Opens or creates the database (and its folder), creating or migrating the schema. Error
  // naming the path when the file is not SQLite ("not an eebench results database"), is a SQLite
  // database of some other program, or has a newer schema than this build knows.
  static ResultStore open(const std::string& path);
  ResultStore(ResultStore&&) noexcept;
  ResultStore& operator=(ResultStore&&) noexcept;
  ~ResultStore();

  const std::string& path() const { return path_; }
  int schema_version();

  int64_t begin_run(const RunInfo& r);
  // Sets status (finished | failed) and finished_at; "running" reopens a run (clears both).
  void finish_run(int64_t run, const std::string& status, const std::string& error = "");
  void set_run_spec(int64_t run, const nlohmann::json& spec);
  RunInfo run(int64_t id);  // Error "no run N in <path>"
  std::vector<RunSummary> list_runs();

  // Insert-or-get: the same identity in the same run returns the existing id; the same identity
  // with different other fields is an Error.
  int64_t add_model(int64_t run, const ModelRow& m);
  int64_t add_task(int64_t run, const TaskRow& t);
  int64_t add_strategy(int64_t run, const StrategyRow& s);

  // Returns the existing trial for (run, model, task, strategy) when there is one (resume); a
  // failed or running one is marked running again. model / task / strategy must belong to run.
  int64_t begin_trial(int64_t run, int64_t model, int64_t task, int64_t strategy);
  void finish_trial(int64_t trial, const std::string& status);
  // Stores what prepare() decided for this trial (replacing what a resumed trial stored before).
  void set_trial_decision(int64_t trial, const nlohmann::json& decision);
  std::vector<TrialRow> trials(int64_t run);

  // Durable when it returns. Re-adding a stored (trial, doc_index) with the same results is a
  // no-op (the first row is kept: seconds and extra, being measurements, are not compared);
  // different results are an Error.
  void add_sample(int64_t trial, const SampleRow& s);
  std::set<int> done_samples(int64_t trial);
  std::vector<SampleRow> samples(int64_t trial);

  void put_metric(int64_t trial, const MetricRow& m);  // upsert on (trial, name, group)
  std::vector<MetricRow> metrics(int64_t trial);       // ordered by group, name

  // The run's expansion. plan_trials replaces nothing: entries already stored (resume) are kept.
  void plan_trials(int64_t run, const std::vector<nlohmann::json>& specs);
  std::vector<PlannedTrial> planned_trials(int64_t run);
  void update_planned(const PlannedTrial& p);  // status, trial_id, exit_status, error, stderr_tail

  // Paper targets: replace every row of (paper, version) with `rows` in one transaction.
  void put_targets(const std::string& paper, const std::string& version, const std::vector<TargetRow>& rows);
  std::vector<TargetRow> targets(const std::string& paper);  // every version, by row order

  std::string integrity_check();  // "ok" or SQLite's findings
  sqlite3* handle() { return db_.get(); }  // for read-only ad-hoc queries (reports)

 private:
  ResultStore();
  sql::Stmt& stmt(const char* sql);  // prepared once, cached by the literal's address
  void check_status(const std::string& status, const char* what);
  std::string path_;
  std::unique_ptr<sqlite3, sql::DbCloser> db_;  // declared before the statements: closed last
  std::unordered_map<const char*, std::unique_ptr<sql::Stmt>> cache_;
};

std::string sqlite_version();
std::string utc_now();  // ISO 8601 UTC with milliseconds

}  // namespace eeb
