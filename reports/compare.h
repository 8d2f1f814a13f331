// eebench compare BASE CANDIDATE: regression check of candidate runs against base runs.
//
// Trials are matched on model weights checksum, task (name, version, split, shots) and strategy
// (name, params). Per matched trial:
//   acc, acc_norm  paired over the documents both scored: McNemar test on the discordant pairs;
//                  a regression when the drop exceeds max_acc_drop and p < alpha;
//   time           per-sample model time (median of extra.t_strategy): change of the sum over the
//                  common documents, Wilcoxon signed-rank test over the pairs (same document in
//                  both trials); a regression when the slowdown exceeds max_slowdown and
//                  p < alpha; not compared (skipped) when the runs' hardware fingerprints (cpu_model,
//                  gpu_name, backend, threads, dtype) differ, unless force; never compared when
//                  the runs' scoring modes (spec keys prefix_cache, batch_docs) differ;
//   avg_layers, pruning_ratio  deterministic: any change is a regression.
// A base trial with no finished match in the candidate is a regression. docs/REPORTS.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "results/store.h"

namespace eeb {

struct CompareOptions {
  double max_acc_drop = 0.01;  // absolute (0.01 = one percentage point)
  double alpha = 0.05;         // significance level of both tests
  double max_slowdown = 0.05;  // relative (0.05 = 5 % slower)
  bool force = false;          // compare timings across different hardware
};

struct CompareArgs {
  std::string base, candidate;  // run ids: "7", "7,8,9" or "7-9"
  std::string db = "results/eebench.db";
  std::string base_db, candidate_db;  // override db for one side
  CompareOptions options;
  std::string junit;  // JUnit XML output file; "" = none
};

// Prints the comparison table; writes JUnit XML when asked. 1 on a regression, else 0.
int cmd_compare(const CompareArgs& a);

enum class Verdict { pass, fail, skipped };

// One trial × metric.
struct Check {
  std::string trial;   // "sst-lm-12L · sst2 v1.0 dev 0-shot · shortgpt n=2"
  std::string ids;     // "trial 5 → 17"
  std::string metric;  // acc | acc_norm | time | avg_layers | pruning_ratio | trial
  std::string base, candidate, change;  // formatted values
  double p = -1;       // p-value; < 0: no test
  std::string method;  // "McNemar exact", "Wilcoxon signed-rank asymptotic", ...
  Verdict verdict = Verdict::pass;
  std::string reason;  // why it failed or was skipped (readable, names the metric)
};

struct Comparison {
  std::vector<Check> checks;
  std::vector<std::string> notes;  // hardware differences, unmatched candidate trials, ...
  int failures() const;
  int skipped() const;
};

// Error naming the database when a run does not exist.
Comparison compare_runs(ResultStore& base, const std::vector<int64_t>& base_runs, ResultStore& candidate,
                        const std::vector<int64_t>& candidate_runs, const CompareOptions& o);

std::string comparison_table(const Comparison& c);
std::string junit_xml(const Comparison& c, const std::string& suite_name);

// "7" / "7,8,9" / "7-9" → ids. Error on anything else.
std::vector<int64_t> parse_run_list(const std::string& s);

}  // namespace eeb
