// Runs one strategy over a task's documents and measures it; strategies compute, the runner measures:
//  - every strategy call goes through a CountingBackend, so FLOPs, layer evaluations and LM-head rows
//    are what actually executed; Strategy::reference (analysis against full depth) runs on the
//    un-counted backend, untimed;
//  - the runner times each score()/generate() call with the backend's RegionTimer, around exactly
//    that call; unless the strategy is the baseline (or hypothetical), the full-depth baseline runs
//    on the same sample, interleaved: per sample the repetitions go ABBA... (A = strategy,
//    B = baseline), and which side goes first alternates per document (seeded), recorded in
//    extra.timing_order; warm-up samples run first and are not recorded; speedup = sum of
//    per-sample median baseline times / strategy times, with a bootstrap confidence interval;
//  - reps = 0 runs each side once, untimed: counts only (no time, no speedup);
//  - generation outputs are compared token by token with full-depth greedy decoding; a lossless
//    strategy whose output differs fails the trial;
//  - with the prefix cache, each shared prefix is computed once per side (strategy, baseline) through
//    that side's prefix_plan(), timed and counted on its own, and its cost is spread over the
//    documents that use it (extra.prefix_seconds / prefix_flops, and *_full for the baseline): the
//    per-sample times and FLOPs are then each document's own suffix work, and the prefix's are
//    reported beside them (prefix_* metrics, speedup_with_prefix), never folded into one sample;
//  - trial_metrics aggregates what every trial gets plus the measures the strategy declares.
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
  int reps = 3;             // timed repetitions per sample (0: untimed, counts only)
  int warmup = 2;           // samples run untimed first and not recorded
  int max_new_tokens = 64;  // generation tasks
  uint64_t seed = 1234;     // which side is timed first on even documents; the bootstrap
  bool quiet = false;
  bool log_samples = false; // keep each sample's prompt tokens (lm-eval's --log_samples)
  int batch_docs = 1;       // > 1: up to this many documents per score_batch call (runner_batch.h)
  std::string label;        // progress label
  // The prefix KV cache (harness/prefix_cache.h): multiple-choice documents sharing a context prefix
  // start from one computed copy, for strategies that declare a prefix_plan() (and their baseline
  // with its own). Off: every document computes its whole context (the one-document path).
  bool prefix_cache = true;
  double prefix_cache_mb = 0;  // its budget; 0: a quarter of the backend's free memory
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

// Metrics of a finished trial from all of its samples: accuracy (or generation quality), depth
// (unless the strategy says it has none), the strategy's declared measures, counted work and, when
// timed, times and speedups.
std::vector<MetricValue> trial_metrics(const Task& task, const Strategy& s,
                                       const std::vector<SampleRecord>& samples, int n_layers,
                                       uint64_t seed);

// --log-samples: what the model was given for this sample, so prompts can be diffed against
// another harness.
void log_sample(const Request& req, SampleRecord& r);

}  // namespace eeb
