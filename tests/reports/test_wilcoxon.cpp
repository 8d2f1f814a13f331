// Wilcoxon signed-rank test (compare's paired timing test) against independent computations: a
// textbook example with its published p-values, brute-force enumeration of sign assignments, and a
// float64 transcription of the normal approximation with tie and zero handling written here.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "reports/stat_tests.h"
#include "tests/reports/normal_tail.h"

using namespace eeb;
using eeb::testing::normal_tail;

namespace {


// scipy.stats.wilcoxon(x, y, zero_method='wilcox', correction=False, method='approx'), spelled out.
struct Approx2 {
  double T, p;
};
Approx2 reference_approx(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> d;
  for (size_t i = 0; i < x.size(); ++i)
    if (x[i] - y[i] != 0) d.push_back(x[i] - y[i]);
  const double n = double(d.size());
  double rp = 0, rm = 0;
  std::map<double, int> groups;
  for (double a : d) groups[std::fabs(a)]++;
  for (double a : d) {
    double less = 0, equal = 0;
    for (double b : d) less += std::fabs(b) < std::fabs(a), equal += std::fabs(b) == std::fabs(a);
    const double rank = less + (equal + 1) / 2;  // mid-rank
    (a > 0 ? rp : rm) += rank;
  }
  double ties = 0;
  for (auto [v, t] : groups) ties += double(t) * t * t - t;
  const double T = std::min(rp, rm);
  const double se = std::sqrt((n * (n + 1) * (2 * n + 1) - 0.5 * ties) / 24);
  const double z = (T - n * (n + 1) / 4) / se;
  return {T, 2 * normal_tail(std::fabs(z))};
}

// Two-sided exact p by enumerating all 2^n sign patterns of ranks 1..n.
double brute_exact(const std::vector<double>& d) {
  const int n = int(d.size());
  std::vector<int> rank(n);
  for (int i = 0; i < n; ++i) {
    rank[i] = 1;
    for (int j = 0; j < n; ++j) rank[i] += std::fabs(d[j]) < std::fabs(d[i]);
  }
  double rp = 0, total = 0;
  for (int i = 0; i < n; ++i) rp += d[i] > 0 ? rank[i] : 0, total += rank[i];
  const double T = std::min(rp, total - rp);
  long below = 0;
  for (long mask = 0; mask < (1L << n); ++mask) {
    long s = 0;
    for (int i = 0; i < n; ++i)
      if (mask >> i & 1) s += i + 1;
    below += s <= T;
  }
  return std::min(1.0, 2.0 * below / double(1L << n));
}

}  // namespace

TEST_CASE("Wilcoxon: Darwin's Zea mays differences (the scipy.stats.wilcoxon example)") {
  // Cross- minus self-fertilised plant heights (eighths of an inch), Fisher's Design of Experiments:
  // T = 24, exact two-sided p = 0.041259765625 (1352 / 2^15), normal approximation p = 0.040888.
  const std::vector<double> d = {6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75};
  const std::vector<double> zero(d.size(), 0.0);
  auto r = wilcoxon_signed_rank(d, zero);
  CHECK(r.method == "exact");
  CHECK(r.statistic == 24);
  CHECK(r.p == Approx(0.041259765625).epsilon(1e-12));
  CHECK(r.p == Approx(brute_exact(d)).epsilon(1e-12));
  // One extra pair with difference 0: dropped (zero_method 'wilcox'), and the approximation is used.
  auto dz = d, zz = zero;
  dz.push_back(5), zz.push_back(5);
  auto a = wilcoxon_signed_rank(dz, zz);
  CHECK(a.method == "asymptotic");
  CHECK(a.statistic == 24);
  CHECK(a.p == Approx(0.040888).epsilon(1e-4));
  CHECK(a.p == Approx(reference_approx(dz, zz).p).epsilon(1e-8));
  // Swapping the sides changes nothing two-sided.
  CHECK(wilcoxon_signed_rank(zz, dz).p == Approx(a.p).epsilon(1e-14));
}

TEST_CASE("Wilcoxon exact equals brute-force enumeration of sign assignments") {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> nd(0.3, 1.0);
  for (int n : {1, 2, 5, 9, 14}) {
    std::vector<double> x, y;
    for (int i = 0; i < n; ++i) x.push_back(nd(rng)), y.push_back(0);
    INFO("n " << n);
    auto r = wilcoxon_signed_rank(x, y);
    CHECK(r.method == "exact");
    CHECK(r.p == Approx(brute_exact(x)).epsilon(1e-12));
  }
}

TEST_CASE("Wilcoxon approximation with ties and zeros matches the float64 formula") {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int> ms(5, 40);
  for (int trial = 0; trial < 5; ++trial) {
    // Per-document times with a coarse clock (0.5 ms ticks): many equal differences and zeros.
    std::vector<double> x, y;
    const int n = 60 + 20 * trial;
    for (int i = 0; i < n; ++i) {
      const double base = ms(rng) * 0.5e-3;
      x.push_back(base);
      y.push_back(base + (int(rng() % 5) - 1) * 0.5e-3);  // -1 .. +3 ticks
    }
    auto r = wilcoxon_signed_rank(x, y);
    const auto want = reference_approx(x, y);
    INFO("trial " << trial);
    CHECK(r.method == "asymptotic");
    CHECK(r.statistic == want.T);
    CHECK(r.p == Approx(want.p).epsilon(1e-8).margin(1e-15));
  }
  // Large n without ties takes the approximation too.
  std::vector<double> x, y;
  for (int i = 0; i < 80; ++i) x.push_back(i * 1.001 + 0.5), y.push_back(i * 1.001 + (i % 3 ? 0.37 : 0.91) * (i + 1));
  auto r = wilcoxon_signed_rank(x, y);
  CHECK(r.method == "asymptotic");
  CHECK(r.p == Approx(reference_approx(x, y).p).epsilon(1e-8).margin(1e-15));
}

TEST_CASE("Wilcoxon degenerate inputs") {
  CHECK(wilcoxon_signed_rank({}, {}).p == 1.0);
  CHECK(wilcoxon_signed_rank({1, 2, 3}, {1, 2, 3}).p == 1.0);  // every pair equal
  // A consistent shift of every pair: T = 0 and a tiny p, however spread the values are.
  std::vector<double> x, y;
  for (int i = 0; i < 100; ++i) x.push_back(1.0 + 50.0 * (i % 17)), y.push_back(x.back() * 1.08);
  auto r = wilcoxon_signed_rank(y, x);
  CHECK(r.statistic == 0);
  CHECK(r.p < 1e-15);
}
