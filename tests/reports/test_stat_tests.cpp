// McNemar and Mann-Whitney p-values against independent computations: exact binomial sums in
// integers, brute-force enumeration of rank assignments, Simpson integration of the normal density,
// and the published scipy.stats.mannwhitneyu example.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "reports/stat_tests.h"
#include "tests/reports/normal_tail.h"

using namespace eeb;
using eeb::testing::normal_tail;

namespace {


// Number of subsets of size k of {0..n-1}, called for each, by recursion.
template <class F>
void subsets(int n, int k, std::vector<int>& cur, int start, F&& f) {
  if (int(cur.size()) == k) return f(cur);
  for (int i = start; i < n; ++i) {
    cur.push_back(i);
    subsets(n, k, cur, i + 1, f);
    cur.pop_back();
  }
}

long long choose(int n, int k) {
  long long r = 1;
  for (int i = 1; i <= k; ++i) r = r * (n - k + i) / i;
  return r;
}

}  // namespace

TEST_CASE("McNemar exact p-value is the two-sided binomial tail") {
  // b = 2, c = 8: p = 2 (C(10,0) + C(10,1) + C(10,2)) / 2^10 = 112 / 1024.
  auto r = mcnemar(2, 8);
  CHECK(r.method == "exact");
  CHECK(r.p == Approx(112.0 / 1024).epsilon(1e-12));
  CHECK(mcnemar(8, 2).p == Approx(r.p).epsilon(1e-12));
  // b = 0, c = 5: 2 / 32.
  CHECK(mcnemar(0, 5).p == Approx(2.0 / 32).epsilon(1e-12));
  // Symmetric: p capped at 1.
  CHECK(mcnemar(3, 3).p == 1.0);
  CHECK(mcnemar(0, 0).p == 1.0);
  // Against an integer sum for n = 20.
  for (int b = 0; b <= 20; ++b) {
    const int c = 20 - b, k = std::min(b, c);
    long long tail = 0;
    for (int i = 0; i <= k; ++i) tail += choose(20, i);
    CHECK(mcnemar(b, c).p == Approx(std::min(1.0, 2.0 * tail / double(1 << 20))).epsilon(1e-10));
  }
}

TEST_CASE("McNemar chi-square with continuity correction for many discordant pairs") {
  // b = 30, c = 10: chi2 = (|30 - 10| - 1)^2 / 40 = 9.025, p = 2 P(Z > sqrt(9.025)).
  auto r = mcnemar(30, 10);
  CHECK(r.method == "chi-square");
  CHECK(r.statistic == Approx(9.025));
  CHECK(r.p == Approx(2 * normal_tail(std::sqrt(9.025))).epsilon(1e-6));
  CHECK(r.p == Approx(0.00266312).epsilon(1e-5));  // scipy.stats.chi2.sf(9.025, 1)
  // The planted regression of the compare tests: 30 newly wrong, 0 newly right.
  auto q = mcnemar(30, 0);
  CHECK(q.statistic == Approx(29.0 * 29.0 / 30));
  CHECK(q.p < 1e-6);
}

TEST_CASE("Mann-Whitney exact: the scipy.stats.mannwhitneyu documentation example") {
  // Males vs females (scipy docs): U1 = 17, exact two-sided p = 0.1111 (= 14 / 126).
  const std::vector<double> males = {19, 22, 16, 29, 24}, females = {20, 11, 17, 12};
  auto r = mann_whitney(males, females);
  CHECK(r.method == "exact");
  CHECK(r.statistic == 17);
  CHECK(r.p == Approx(14.0 / 126).epsilon(1e-12));
  CHECK(r.p == Approx(0.1111).margin(1e-4));
  // Swapped samples: U of the first is 20 - 17 = 3, same p.
  auto s = mann_whitney(females, males);
  CHECK(s.statistic == 3);
  CHECK(s.p == Approx(r.p).epsilon(1e-12));
}

TEST_CASE("Mann-Whitney exact p equals brute-force enumeration of rank assignments") {
  const std::vector<double> x = {1.5, 3.2, 7.7, 9.1, 11.0, 12.5}, y = {0.3, 2.2, 4.4, 5.1, 6.0, 8.8, 10.2};
  auto r = mann_whitney(x, y);
  REQUIRE(r.method == "exact");
  // U of x, counted directly.
  double u = 0;
  for (double a : x)
    for (double b : y) u += a > b;
  CHECK(r.statistic == u);
  // Under H0 every choice of which 6 of the 13 pooled ranks are x's is equally likely.
  const int n1 = 6, n = 13;
  const double mean = n1 * (n - n1) / 2.0, dev = std::fabs(u - mean);
  long long extreme = 0, total = 0;
  std::vector<int> cur;
  subsets(n, n1, cur, 0, [&](const std::vector<int>& ranks) {
    double uu = 0;  // pairs x > y: for an x at rank r, the y's below it
    for (size_t i = 0; i < ranks.size(); ++i) uu += ranks[i] - double(i);
    total++;
    extreme += uu >= mean + dev - 1e-9;
  });
  CHECK(total == choose(13, 6));
  CHECK(r.p == Approx(std::min(1.0, 2.0 * extreme / total)).epsilon(1e-12));
}

TEST_CASE("Mann-Whitney asymptotic: normal approximation with continuity correction") {
  // 20 vs 20 without ties: x = 0.5 .. 19.5, y = 10.25 .. 29.25. U_x = 55, U_y = 345.
  std::vector<double> x, y;
  for (int i = 0; i < 20; ++i) x.push_back(0.5 + i), y.push_back(10.25 + i);
  auto r = mann_whitney(x, y);
  CHECK(r.method == "asymptotic");
  CHECK(r.statistic == 55);
  const double sd = std::sqrt(20.0 * 20 * 41 / 12);
  CHECK(r.p == Approx(2 * normal_tail((345 - 200 - 0.5) / sd)).epsilon(1e-6));
  CHECK(r.p == Approx(9.27e-5).epsilon(0.01));
}

TEST_CASE("Mann-Whitney with ties: mid-ranks and tie correction") {
  const std::vector<double> x = {1, 2, 2, 3, 3, 3, 4, 5, 5, 6}, y = {2, 3, 4, 4, 5, 6, 6, 7, 7, 8, 9};
  auto r = mann_whitney(x, y);
  CHECK(r.method == "asymptotic");  // ties: never exact
  // Independent: U by pair counting (ties 1/2), tie term from the pooled value counts.
  double u = 0;
  for (double a : x)
    for (double b : y) u += a > b ? 1 : a == b ? 0.5 : 0;
  CHECK(r.statistic == Approx(u));
  std::vector<double> all = x;
  all.insert(all.end(), y.begin(), y.end());
  std::sort(all.begin(), all.end());
  double ties = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j] == all[i]) ++j;
    ties += std::pow(double(j - i), 3) - double(j - i);
    i = j;
  }
  const double n1 = 10, n2 = 11, n = 21;
  const double sd = std::sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))));
  const double big = std::max(u, n1 * n2 - u);
  CHECK(r.p == Approx(2 * normal_tail((big - n1 * n2 / 2 - 0.5) / sd)).epsilon(1e-6));
}

TEST_CASE("Mann-Whitney degenerate inputs give p = 1") {
  CHECK(mann_whitney({}, {1, 2}).p == 1.0);
  CHECK(mann_whitney({1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}).p == 1.0);
  std::vector<double> same;
  for (int i = 0; i < 50; ++i) same.push_back(0.01 + 1e-4 * (i % 13));
  CHECK(mann_whitney(same, same).p > 0.9);
}
