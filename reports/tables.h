// The report's tables as text cells, shared by the Markdown and HTML renderers. Internal to reports/.
#pragma once
#include <string>
#include <vector>

#include "reports/report_data.h"

namespace eeb {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

// One row per run: when, status, version, git, backend, dtype, threads, CPU, GPU, command.
Table runs_table(const ReportData& d);
// One row per trial: model, task, strategy, n and the main metrics (columns with no value in any
// trial are left out). Accuracies in percent with their standard errors, speedup with its 95% CI.
Table metrics_table(const ReportData& d);
// The remaining overall metrics: one row per trial, one column per metric name (sorted).
Table other_metrics_table(const ReportData& d);
// Points on the accuracy / average-layers Pareto front, per model × task.
Table pareto_table(const ReportData& d);
// Runs made by `eebench reproduce`: each paper target next to what was measured (targets table +
// the verdicts stored in the run's spec). Empty when no run is a reproduction.
Table paper_table(ResultStore& store, const ReportData& d);
// What each trial's strategy decided in prepare (trials.decision): removed layers, the classifier's
// hash, resolved parameters. One row per trial with a decision; long score vectors and the
// classifier's weights are left to `eebench export`.
Table decisions_table(const ReportData& d);
// One trial's decision as short text: "removed=[9,10] scores=(12 values)".
std::string decision_summary(const nlohmann::json& decision);
// Planned trials that did not finish (isolated children that crashed, timed out or ran out of
// memory; trials stopped by an error): run, trial, what it was, how it ended.
Table failed_trials_table(ResultStore& store, const ReportData& d);

}  // namespace eeb
