// Aggregate metrics of a trial from its per-sample records (lm-eval definitions where they exist).
#pragma once
#include <string>
#include <vector>

#include "core/records.h"
#include "strategies/strategy.h"

namespace eeb {

// Mean and its standard error (sample std, ddof = 1, over sqrt(n)) as lm-eval's mean_stderr.
void mean_stderr(const std::vector<double>& xs, double* mean, double* se);

// lm-eval's pooled_sample_stderr (lm_eval/api/metrics.py), the stderr of a group's size-weighted
// mean from its subgroups' stderrs and sizes: pooled variance sum((n_i - 1) * se_i^2 * n_i) /
// (sum n_i - k), then sqrt(pooled / sum n_i). Returns -1 (none) when sum n_i <= k.
double pooled_sample_stderr(const std::vector<double>& stderrs, const std::vector<long>& sizes);

// acc, acc_norm (overall weighted by documents; with groups also per group, acc_macro /
// acc_norm_macro = unweighted mean over groups, and the overall stderr pooled over the groups as
// lm-eval pools a group's subtasks). Only the names in `metrics` (the task's metric_list) are
// returned. Depth and cost metrics are trial_metrics' business.
std::vector<MetricValue> classification_metrics(const std::vector<SampleRecord>& samples,
                                               const std::vector<std::string>& metrics = {"acc", "acc_norm"});

// One metric per declared measure, aggregated as declared; a measure no sample has is left out.
std::vector<MetricValue> aggregate_measures(const std::vector<MeasureSpec>& specs,
                                            const std::vector<SampleRecord>& samples);

}  // namespace eeb
