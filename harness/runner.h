// Runs one strategy over a task's documents and measures it honestly:
//  - every call goes through a CountingBackend, so FLOPs, layer evaluations and LM-head rows are
//    what actually executed;
//  - unless the strategy is `full`, the full-depth baseline runs on the same sample, interleaved
//    with the strategy (order alternating per repetition), after warm-up samples that are not
//    recorded; speedup = sum of per-sample median baseline times / strategy times, with a
//    bootstrap confidence interval;
//  - generation outputs are compared token by token with full-depth greedy decoding.
#pragma once
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "harness/metrics.h"
#include "strategies/strategy.h"
#include "tasks/task.h"

namespace eeb {

struct TrialOptions {
  int reps = 3;             // timed repetitions per sample (0: untimed baseline, counts only)
  int warmup = 2;           // samples run untimed first and not recorded
  int max_new_tokens = 64;  // generation tasks
  uint64_t seed = 1234;
  bool quiet = false;
  std::string label;        // progress label
};

struct TrialInputs {
  Backend& backend;
  const Tokenizer& tokenizer;
  const Task& task;
  const TaskOptions& task_options;
  const std::vector<Doc>& docs;
  nlohmann::json run_spec;
};

// Calls strategy.prepare(); returns the strategy's parameters afterwards (what gets stored).
nlohmann::json prepare_strategy(TrialInputs& in, Strategy& s);

// Scores every document whose index is not in `done`; each finished sample goes to `sink` at once.
void run_trial(TrialInputs& in, Strategy& s, const TrialOptions& opt, const std::set<int>& done,
               const std::function<void(const SampleRecord&)>& sink);

// Metrics of a finished trial from all of its samples.
std::vector<MetricValue> trial_metrics(const Task& task, const std::vector<SampleRecord>& samples,
                                       int n_layers, uint64_t seed);

}  // namespace eeb
