// Statistics for honest comparisons.
#pragma once
#include <cstdint>
#include <vector>

namespace eeb {

double median(std::vector<double> xs);

// Ratio of sums sum(num) / sum(den) over paired samples, with a percentile bootstrap confidence
// interval (resampling the pairs, `resamples` times, deterministic for a seed).
struct RatioCI {
  double ratio = 0, lo = 0, hi = 0;
};
RatioCI bootstrap_ratio(const std::vector<double>& num, const std::vector<double>& den,
                        int resamples = 2000, double level = 0.95, uint64_t seed = 1);

}  // namespace eeb
