#include "core/stats.h"

#include <algorithm>
#include <random>

#include "core/error.h"

namespace eeb {

double median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  const size_t n = xs.size();
  return n % 2 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
}

RatioCI bootstrap_ratio(const std::vector<double>& num, const std::vector<double>& den,
                        int resamples, double level, uint64_t seed) {
  if (num.size() != den.size()) throw Error("bootstrap_ratio: unpaired samples");
  RatioCI r;
  const size_t n = num.size();
  if (n == 0) return r;
  double sn = 0, sd = 0;
  for (size_t i = 0; i < n; ++i) sn += num[i], sd += den[i];
  r.ratio = sd > 0 ? sn / sd : 0;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<double> stats;
  stats.reserve(resamples);
  for (int b = 0; b < resamples; ++b) {
    double a = 0, c = 0;
    for (size_t i = 0; i < n; ++i) {
      size_t j = pick(rng);
      a += num[j];
      c += den[j];
    }
    if (c > 0) stats.push_back(a / c);
  }
  std::sort(stats.begin(), stats.end());
  if (stats.empty()) return r;
  const double alpha = (1 - level) / 2;
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * (stats.size() - 1) + 0.5);
    return stats[std::min(i, stats.size() - 1)];
  };
  r.lo = at(alpha);
  r.hi = at(1 - alpha);
  return r;
}

}  // namespace eeb
