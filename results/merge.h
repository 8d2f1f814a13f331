// Sharded runs (docs/SPECS.md, "Running on a cluster"): a run's planned trials split into N shards,
// each run into its own SQLite file beside the run's database (DB.shard-I-of-N), then folded back
// into DB by merge_shards. A shard file is an ordinary eebench database holding one run with the
// same id as the run in DB; its runs.spec is the spec of the shard's trials only, plus a "shard"
// object: {run, index, count, spec_hash, trials: [planned index in DB, ...]}. The run in DB keeps
// the whole expansion in planned_trials and {shards, spec_hash, jobs} in runs.spec → sharding.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/store.h"

namespace eeb {

// Shard i of n holds the planned trials [first, last) of a run of `trials`: contiguous blocks, so
// trials of one model (expanded next to each other) share a process and load the model once.
struct TrialRange {
  int first = 0, last = 0;
};
TrialRange shard_range(int trials, int index, int count);

std::string shard_path(const std::string& db, int index, int count);  // DB.shard-I-of-N
struct ShardFile {
  std::string path;
  int index = 0, count = 0;
};
// Every DB.shard-I-of-N file beside db (not -wal, -shm, .lock or .log), by count then index.
std::vector<ShardFile> find_shard_files(const std::string& db);

// What a shard file says about itself, read without writing to it. Error naming the file (one
// line) when it is not SQLite, fails PRAGMA integrity_check, or is not a shard.
struct ShardInfo {
  ShardFile file;
  int64_t run = 0;
  std::string spec_hash, eebench_version, hostname, status, started_at, finished_at, slurm_job;
  std::vector<int> trials;  // planned index in DB of each of the shard's planned trials
  int pending = 0, running = 0, finished = 0, failed = 0;
  int unfinished() const { return pending + running; }
};
ShardInfo read_shard(const ShardFile& f);

// Creates run `id` in a new (empty) shard database: begin_run, then the id changed to the run's id
// in DB, so `--resume RUN` and isolated children work on the shard file as on any database.
void begin_run_with_id(ResultStore& store, const RunInfo& info, int64_t id);
// Replaces the run's environment columns (host, CPU, GPU, versions) with `node`'s: the node that
// runs the shard now.
void set_run_environment(ResultStore& store, int64_t run, const RunInfo& node);
// The newest running run of db whose runs.spec → sharding has this spec hash and shard count; 0
// if none. With `create` set, one is begun (and 0 is never returned) under a write lock, so
// several shard processes starting at once agree on one run.
int64_t find_sharded_run(ResultStore& db, const std::string& spec_hash, int count, const RunInfo* create);

// Folds every shard file of `db` (only those of run `only_run` when it is not 0) into db in one
// transaction: models, tasks, strategies and trials matched by identity, every column copied by
// name (a column added by a later schema merges too), samples added once, metrics and planned
// trials updated, the run's status set from its planned trials, and one run_nodes row per shard
// with the environment it ran in. Refuses (Error, one line, nothing written) a corrupt shard, a
// shard of a run db lacks or of another spec hash or eebench version, and an unfinished shard whose
// process `is_running` says is alive. Running it again changes nothing.
struct MergeResult {
  struct Shard {
    ShardInfo info;
    int64_t trials_added = 0, samples_added = 0, rows_updated = 0;
  };
  std::vector<Shard> shards;
  std::vector<int64_t> runs;  // runs touched
};
MergeResult merge_shards(const std::string& db, int64_t only_run,
                         const std::function<bool(const ShardInfo&)>& is_running);

}  // namespace eeb
