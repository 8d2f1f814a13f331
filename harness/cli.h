// The eebench subcommands. main.cpp parses the command line (CLI11) into these structs.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace eeb {

struct RunArgs {
  std::string model, tokenizer, task, strategy = "full", params = "{}", backend = "cpu";
  std::string data = "data", split, db = "results/eebench.db", dtype = "auto";
  std::vector<std::string> subjects, sweeps;
  int shots = -1, limit = 0, threads = 0;
  int reps = 3, warmup = 2, max_new_tokens = 64;
  int batch_docs = 1;  // documents per forward pass for strategies that batch (1: one at a time)
  unsigned long seed = 1234;
  long resume = 0;  // run id to finish
  bool quiet = false;
  bool log_samples = false;  // keep each sample's full prompt, few-shot ids and token ids
  bool prefix_cache = true;  // shared context prefixes computed once (harness/prefix_cache.h)
  double prefix_cache_mb = 0;  // its budget; 0: a quarter of the backend's free memory
  std::string command_line;
  std::string spec_file;            // `eebench run SPEC.toml`: the spec describes the trials
  bool isolate = false;             // each trial in a child process (timeout, memory limit)
  double timeout_s = 0;             // isolated trials: wall-clock limit (0: none)
  long memory_limit_mb = 0;         // isolated trials: address-space limit (0: none)
  int only_trial = -1;              // internal: the child of an isolated run does this trial only
  std::set<std::string> given;      // options named on the command line (they override a spec file)
};
int cmd_run(RunArgs a);

struct RunSpec;
class ResultStore;
// Runs (run_id 0: a new run) or resumes every planned trial of spec; only_trial >= 0: that one only
// (the child of an isolated run). Trial failures are recorded and counted; a run of one trial
// rethrows its error. Sets the run's final status.
struct RunResult {
  int64_t run_id = 0;
  size_t trials = 0, failed = 0;
  std::string last_error;
};
void validate(const RunSpec& spec);  // cheap checks before any weights are loaded
RunResult execute_run(ResultStore& store, const RunSpec& spec, int64_t run_id, int only_trial = -1);

struct FetchArgs {
  std::string repo, type = "model", cache;
  std::vector<std::string> files;
  bool offline = false, quiet = false;
};
int cmd_fetch(const FetchArgs& a);

struct BenchArgs {
  std::string backend = "cpu", dtype, shape = "1b";
  int layers = 0, tokens = 512, reps = 3, threads = 0;
  bool json = false;       // JSON on stdout instead of the table
  std::string json_out;    // --json OUT: JSON into this file, the table on stdout
  // --model: throughput on a real file (harness/cli_bench_model.cpp) instead of random weights.
  std::string model;
  std::vector<int> prefill = {128, 512};
  int decode = 128, context = 0;
};
int cmd_bench(const BenchArgs& a);
int cmd_bench_model(const BenchArgs& a);  // cmd_bench with a.model set

struct ReproduceArgs {
  std::string paper, model, model_id, tokenizer, data = "data", db = "results/eebench.db", targets;
  std::string backend = "cpu", dtype = "auto";
  int limit = -1, threads = 0;
  long resume = 0;  // finish run RUN of this paper and compare again
  bool list = false, quiet = false;
  std::set<std::string> given;
  std::string command_line;
};
int cmd_reproduce(const ReproduceArgs& a);

struct LogitsArgs {
  std::string model, tokenizer, prompt, backend = "cpu", dtype = "auto";
  int top = 5, threads = 0;
  bool json = false, no_bos = false;
};
int cmd_logits(const LogitsArgs& a);

int cmd_list(const std::string& what, const std::string& db);
int cmd_show(long run, const std::string& db, bool samples);

}  // namespace eeb
