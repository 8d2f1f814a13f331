// Aggregate metrics of a trial from its per-sample records (lm-eval definitions where they exist).
#pragma once
#include <string>
#include <vector>

#include "core/records.h"
#include "strategies/strategy.h"

namespace eeb {

// Mean and its standard error (sample std, ddof = 1, over sqrt(n)) as lm-eval's mean_stderr.
void mean_stderr(const std::vector<double>& xs, double* mean, double* se);

// acc, acc_norm (overall weighted by documents; with groups also per group and acc_macro /
// acc_norm_macro = unweighted mean over groups), avg_layers, pruning_ratio = 1 - avg_layers / L,
// lm_head_calls, model_seconds.
std::vector<MetricValue> classification_metrics(const std::vector<SampleRecord>& samples,
                                                int n_layers);

}  // namespace eeb
