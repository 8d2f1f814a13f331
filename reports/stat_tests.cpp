#include "reports/stat_tests.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace eeb {

double normal_sf(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

double binomial_cdf_half(long k, long n) {
  if (k < 0) return 0;
  if (k >= n) return 1;
  double sum = 0;
  const double base = std::lgamma(n + 1.0) - n * std::log(2.0);
  for (long i = 0; i <= k; ++i) sum += std::exp(base - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0));
  return std::min(1.0, sum);
}

TestResult mcnemar(long b, long c, long exact_below) {
  TestResult r;
  const long n = b + c;
  if (n <= 0) {
    r.method = "exact";
    return r;
  }
  if (n < exact_below) {
    r.method = "exact";
    r.statistic = static_cast<double>(std::min(b, c));
    r.p = std::min(1.0, 2 * binomial_cdf_half(std::min(b, c), n));
    return r;
  }
  r.method = "chi-square";
  const double d = std::max(0.0, std::fabs(double(b - c)) - 1.0);
  r.statistic = d * d / n;
  r.p = std::erfc(std::sqrt(r.statistic / 2));  // chi-square survival function, 1 dof
  return r;
}

namespace {

// P(U >= u) under H0 for sample sizes m, n (no ties): counts of orderings by U, by the recurrence
// f(m, n, k) = f(m-1, n, k-n) + f(m, n-1, k) (the largest value is an x, beating all n y's, or a y).
double exact_sf(long u, int m, int n) {
  const int K = m * n;
  // f[a][k] for a = 0..m x's and the current number of y's.
  std::vector<std::vector<double>> f(m + 1, std::vector<double>(K + 1, 0.0));
  for (int a = 0; a <= m; ++a) f[a][0] = 1;  // zero y's: U = 0 in one way
  for (int y = 1; y <= n; ++y)
    for (int a = 1; a <= m; ++a)  // f[a] holds y-1 y's; f[a-1] already holds y y's
      for (int k = a * y; k >= y; --k) f[a][k] += f[a - 1][k - y];
  double total = 0, tail = 0;
  for (int k = 0; k <= K; ++k) {
    total += f[m][k];
    if (k >= u) tail += f[m][k];
  }
  return tail / total;
}

}  // namespace

TestResult mann_whitney(const std::vector<double>& x, const std::vector<double>& y) {
  TestResult r;
  r.method = "asymptotic";
  const size_t n1 = x.size(), n2 = y.size();
  if (n1 == 0 || n2 == 0) return r;
  // Mid-ranks of the pooled sample.
  std::vector<std::pair<double, int>> all;
  for (double v : x) all.push_back({v, 0});
  for (double v : y) all.push_back({v, 1});
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first < b.first; });
  const size_t n = all.size();
  double r1 = 0, tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && all[j].first == all[i].first) ++j;
    const double t = double(j - i), rank = (i + 1 + j) / 2.0;  // mean of ranks i+1 .. j
    if (t > 1) ties = true, tie_term += t * t * t - t;
    for (size_t k = i; k < j; ++k)
      if (all[k].second == 0) r1 += rank;
    i = j;
  }
  const double u1 = r1 - n1 * (n1 + 1) / 2.0, u2 = double(n1) * n2 - u1;
  r.statistic = u1;
  const double u = std::max(u1, u2);
  const size_t small = std::min(n1, n2), big = std::max(n1, n2);
  if (small <= 8 && !ties && small * big <= 20000) {
    r.method = "exact";
    r.p = std::min(1.0, 2 * exact_sf(std::lround(u), int(small), int(big)));
    return r;
  }
  const double mu = n1 * n2 / 2.0;
  const double var = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (double(n) * (n - 1.0)));
  if (!(var > 0)) return r;  // every value equal
  const double z = (u - mu - 0.5) / std::sqrt(var);
  r.p = std::clamp(2 * normal_sf(z), 0.0, 1.0);
  return r;
}

namespace {

// P(R+ <= t) for n untied nonzero differences: R+ is the sum of a subset of {1..n}, each of the
// 2^n subsets equally likely; counts by subset sum (exact in a double up to n = 50: 2^50 < 2^53).
double signed_rank_cdf(long t, int n) {
  const long K = long(n) * (n + 1) / 2;
  std::vector<double> f(size_t(K) + 1, 0.0);
  f[0] = 1;
  for (int r = 1; r <= n; ++r)
    for (long k = long(r) * (r + 1) / 2; k >= r; --k) f[size_t(k)] += f[size_t(k - r)];
  double total = 0, below = 0;
  for (long k = 0; k <= K; ++k) {
    total += f[size_t(k)];
    if (k <= t) below += f[size_t(k)];
  }
  return below / total;
}

}  // namespace

TestResult wilcoxon_signed_rank(const std::vector<double>& x, const std::vector<double>& y) {
  TestResult r;
  r.method = "asymptotic";
  const size_t m = std::min(x.size(), y.size());
  std::vector<double> d;
  bool zeros = false;
  for (size_t i = 0; i < m; ++i) {
    const double v = x[i] - y[i];
    if (v == 0) zeros = true;
    else if (std::isfinite(v)) d.push_back(v);  // a NaN time is no evidence either way
  }
  const size_t n = d.size();
  if (n == 0) return r;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return std::fabs(d[a]) < std::fabs(d[b]); });
  double r_plus = 0, r_minus = 0, tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && std::fabs(d[order[j]]) == std::fabs(d[order[i]])) ++j;
    const double t = double(j - i), rank = (i + 1 + j) / 2.0;  // mean of ranks i+1 .. j
    if (t > 1) ties = true, tie_term += t * t * t - t;
    for (size_t k = i; k < j; ++k) (d[order[k]] > 0 ? r_plus : r_minus) += rank;
    i = j;
  }
  const double T = std::min(r_plus, r_minus);
  r.statistic = T;
  if (!zeros && !ties && n <= 50) {
    r.method = "exact";
    r.p = std::min(1.0, 2 * signed_rank_cdf(std::lround(T), int(n)));
    return r;
  }
  const double nn = double(n);
  const double var = nn * (nn + 1) * (2 * nn + 1) / 24 - tie_term / 48;
  if (!(var > 0)) return r;
  const double z = (T - nn * (nn + 1) / 4) / std::sqrt(var);
  r.p = std::clamp(2 * normal_sf(std::fabs(z)), 0.0, 1.0);
  return r;
}

}  // namespace eeb
