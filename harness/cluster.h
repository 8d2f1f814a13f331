// Sharded runs, Slurm job arrays, merge and status (docs/SPECS.md, "Running on a cluster").
//   eebench run SPEC --db DB --shard I/N       shard I's planned trials into DB.shard-I-of-N (cli_shard.cpp)
//   eebench run SPEC --slurm [...]             one array task per shard, submitted with sbatch (cli_slurm.cpp)
//   eebench run --resume RUN --slurm           resubmits the shards with unfinished trials
//   eebench merge [RUN] --db DB                folds the shard files into DB (cli_merge.cpp, results/merge.h)
//   eebench status RUN --db DB                 planned/finished/failed per shard, with squeue/sacct
#pragma once
#include <string>
#include <vector>

#include "harness/cli.h"
#include "harness/environment.h"
#include "results/merge.h"
#include "results/store.h"

namespace eeb {

struct RunSpec;

struct ClusterArgs {
  std::string shard;  // "I/N"
  bool slurm = false;
  std::string partition, account, time;
  int gpus_per_task = 0, max_parallel = 0, shards = 0;
  std::vector<std::string> sbatch_args;
  bool any() const { return slurm || !shard.empty(); }
};

// `eebench run` with --shard or --slurm.
int cmd_run_cluster(RunArgs a, const ClusterArgs& c);
int cmd_merge(long run, const std::string& db);
int cmd_status(long run, const std::string& db);

// ---- shared by cli_shard / cli_slurm / cli_merge ----------------------------------------------

// The run's row for spec on this node (defined in cli_run.cpp).
RunInfo run_row(const RunSpec& spec, const Environment& env);
// The spec as the flags or the spec file describe it (what cmd_run runs), validated.
RunSpec spec_from_args(RunArgs& a);
// XXH3-128 (hex) of what makes two runs the same experiment: backend, dtype, threads, reps, warmup,
// seed and the trial expansion (not the database, not how trials are isolated).
std::string spec_hash(const RunSpec& spec);
// The sub-spec of shard `index` of `count`: its trials, and runs.spec → shard saying where they come from.
RunSpec shard_spec(const RunSpec& whole, int index, int count);
nlohmann::json shard_meta(const RunSpec& whole, int64_t run, int index, int count);
// The run in DB that a sharded run of spec belongs to: begun (runs.spec → sharding, planned_trials)
// when `fresh` or when no running run of the same spec hash and shard count exists.
int64_t plan_sharded_run(ResultStore& db, const RunSpec& spec, int count, bool fresh);
// Creates shard file `index` of run `run` (Error when it exists).
void create_shard_file(const std::string& db, const RunSpec& whole, int64_t run, int index, int count);
// Whether the process in a shard's lock file (DB.shard-I-of-N.lock) is alive: same host and pid,
// or (another host) its Slurm job is still queued; an unknown other host counts as alive.
bool shard_running(const ShardInfo& s);
std::string lock_owner(const std::string& shard_file);  // "pid 12 on node3 (slurm job 7_1)", "" if no lock

}  // namespace eeb
