// The full description of an `eebench run`: run-wide settings plus its expansion into trials
// (model × task × strategy × parameters). Stored as JSON with the run (and the expansion, one row
// per trial, in planned_trials) so `--resume` and `--isolate` children can rebuild it exactly.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/cli.h"

namespace eeb {

// One trial: everything that differs between the trials of a run.
struct TrialSpec {
  std::string model, tokenizer;
  std::string task, data, split;
  std::vector<std::string> subjects;
  int shots = -1, limit = 0, max_new_tokens = 64;
  std::string strategy;
  nlohmann::json params = nlohmann::json::object();

  nlohmann::json to_json() const;
  static TrialSpec from_json(const nlohmann::json& j);  // Error on a malformed stored entry
  std::string label() const;                           // "strategy {params} on task (model)"
  bool same_model(const TrialSpec& o) const { return model == o.model && tokenizer == o.tokenizer; }
  bool same_docs(const TrialSpec& o) const {
    return task == o.task && data == o.data && split == o.split && subjects == o.subjects &&
           shots == o.shots && limit == o.limit;
  }
};

// Depth-relative parameters: a string "depth*F" (0 < F < 1) stands for round(F × n_layers) clamped to
// [1, n_layers − 1], so one spec (a paper's: "remove 28% of the layers", "exit at a quarter") runs on
// models of any depth. Returns params with every such value replaced; Error on a malformed one.
nlohmann::json resolve_depth_params(const nlohmann::json& params, int n_layers);

struct RunSpec {
  RunArgs args;                   // run-wide: backend, dtype, db, reps, warmup, seed, threads, ...
  std::string source = "cli";     // "cli", or the spec file it came from
  nlohmann::json file;            // the spec file's contents (as JSON), when there was one
  std::vector<TrialSpec> trials;  // the expansion, in run order (models outermost)

  nlohmann::json to_json() const;
  static RunSpec from_json(const nlohmann::json& j);  // Error on a malformed stored spec
  static RunSpec from_args(const RunArgs& a);          // one model and task; --params and --sweep expanded
};

}  // namespace eeb
