// Significance tests for `eebench compare`: McNemar on paired correctness, Wilcoxon signed-rank on
// paired per-document times. Mann-Whitney U (unpaired, as Google Benchmark's tools/compare.py) is
// kept for samples that are not paired.
#pragma once
#include <string>
#include <vector>

namespace eeb {

struct TestResult {
  double p = 1;        // two-sided p-value
  double statistic = 0;  // McNemar: chi-square or the smaller discordant count; MWU: U of the first
                         // sample; Wilcoxon: min(R+, R-)
  std::string method;  // "exact" or "chi-square" / "asymptotic"
};

// McNemar's test on the discordant pairs: b = pairs correct only in the first, c = only in the
// second. Exact (two-sided binomial, p = min(1, 2 P(X <= min(b, c))), X ~ Bin(b + c, 1/2)) when
// b + c < exact_below, else chi-square with continuity correction (|b - c| - 1)^2 / (b + c), 1 dof.
// b + c = 0 gives p = 1.
TestResult mcnemar(long b, long c, long exact_below = 25);

// Two-sided Mann-Whitney U test, as scipy.stats.mannwhitneyu(x, y) with method "auto": the exact
// distribution when min(|x|, |y|) <= 8 and there are no ties; otherwise the normal approximation
// with tie correction and continuity correction. statistic = U of x (pairs x > y, ties count 1/2).
// An empty sample, or all values equal, gives p = 1.
TestResult mann_whitney(const std::vector<double>& x, const std::vector<double>& y);

// Two-sided Wilcoxon signed-rank test of the pairs (x[i], y[i]) (x and y of equal length), as
// scipy.stats.wilcoxon(x, y, zero_method='wilcox', correction=False) with mode/method "auto":
//   d = x - y; zero differences are dropped; n = the rest; mid-ranks of |d|; R+ / R- = rank sums of
//   the positive / negative d; statistic T = min(R+, R-).
//   exact (method "exact") when no difference was zero, no two |d| tie and n <= 50:
//     p = min(1, 2 P(R+ <= T)), R+ the sum of a uniformly random subset of {1..n};
//   else the normal approximation ("asymptotic"): z = (T - n(n+1)/4) / sqrt(n(n+1)(2n+1)/24 -
//     sum over tie groups (t^3 - t)/48), no continuity correction, p = 2 P(Z > |z|).
// n = 0 (every pair equal) gives p = 1. Error-free on any input of equal lengths; unequal lengths
// use the common prefix.
TestResult wilcoxon_signed_rank(const std::vector<double>& x, const std::vector<double>& y);

// Helpers, exposed for the tests.
double binomial_cdf_half(long k, long n);  // P(X <= k), X ~ Bin(n, 1/2)
double normal_sf(double z);                // P(Z > z)

}  // namespace eeb
