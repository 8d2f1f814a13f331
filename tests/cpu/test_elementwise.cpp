// The Highway element-wise kernels (backends/cpu/elementwise_hwy.cpp) against float64 loops over
// std::exp, at every length from 0 to a few vectors (so the vector body and the padded tail both
// run, whatever the SIMD width), with values from the range attention and SwiGLU see and beyond.
// Highway's exp is within 1 ulp; the bound below also covers the float32 sum and the division.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/logit_stats.h"
#include "backends/cpu/typed_kernels.h"

using namespace eeb;
using namespace eeb::cpu;

TEST_CASE("softmax_row equals a float64 softmax, zeros past the valid part", "[cpu][elementwise]") {
  std::mt19937 g(3);
  std::uniform_real_distribution<float> u(-30.0f, 30.0f);
  for (int valid = 1; valid <= 70; ++valid) {
    const int width = valid + valid % 5;
    std::vector<float> row(width + 3, 7.0f);
    for (int j = 0; j < width; ++j) row[j] = u(g);
    if (valid > 3) row[2] = -1e30f;  // a masked-like score: exp underflows to 0
    const std::vector<float> in = row;
    detail::softmax_row(row.data(), valid, width);
    double m = in[0], sum = 0;
    for (int j = 0; j < valid; ++j) m = std::max(m, double(in[j]));
    for (int j = 0; j < valid; ++j) sum += std::exp(double(in[j]) - m);
    INFO("valid " << valid);
    for (int j = 0; j < valid; ++j) {
      const double want = std::exp(double(in[j]) - m) / sum;
      CHECK(std::fabs(row[j] - want) <= 1e-6 * want + 1e-12);  // absolute: float32 near 0
    }
    for (int j = valid; j < width; ++j) CHECK(row[j] == 0.0f);
    for (int j = width; j < width + 3; ++j) CHECK(row[j] == 7.0f);  // nothing written past the row
  }
}

TEST_CASE("swiglu equals silu(gate) * up in float64, any hidden size", "[cpu][elementwise]") {
  std::mt19937 g(4);
  std::uniform_real_distribution<float> u(-12.0f, 12.0f);
  for (int H = 1; H <= 70; ++H) {
    const int n = 2;
    std::vector<float> gu(static_cast<size_t>(n) * 2 * H + 1, 5.0f);
    for (size_t i = 0; i + 1 < gu.size(); ++i) gu[i] = u(g);
    gu[0] = -200.0f, gu[H] = 3.0f;  // exp(-gate) beyond float's range: silu is -0
    if (H > 1) gu[1] = 150.0f;      // exp(-gate) ~ 0: silu(g) = g
    const std::vector<float> in = gu;
    swiglu(gu.data(), n, H, 2);
    INFO("H " << H);
    for (int r = 0; r < n; ++r)
      for (int i = 0; i < H; ++i) {
        const double x = in[r * 2 * H + i], up = in[r * 2 * H + H + i];
        const double want = x / (1.0 + std::exp(-x)) * up;
        CHECK(std::isfinite(gu[r * 2 * H + i]));
        CHECK(std::fabs(gu[r * 2 * H + i] - want) <= 2e-6 * std::fabs(want) + 1e-30);
      }
    CHECK(gu.back() == 5.0f);
  }
}

TEST_CASE("logit statistics: argmax, top-2, log-softmax against float64 loops", "[cpu][elementwise]") {
  std::mt19937 g(5);
  std::uniform_real_distribution<float> u(-20.0f, 20.0f);
  for (int n : {1, 2, 3, 15, 16, 17, 33, 1000, 32000}) {
    for (int tie : {0, 1, 2}) {
      std::vector<float> x(n);
      for (auto& v : x) v = u(g);
      // Ties for the top: the lowest index wins (1: the top value twice; 2: also at index 0).
      const int hi = n / 2;
      x[hi] = 25.0f;
      if (tie >= 1 && n > 2) x[n - 1] = 25.0f;
      if (tie == 2 && n > 2) x[0] = 25.0f;
      int top1 = 0, top2 = -1;
      for (int i = 1; i < n; ++i)
        if (x[i] > x[top1]) top1 = i;
      for (int i = 0; i < n; ++i)
        if (i != top1 && (top2 < 0 || x[i] > x[top2])) top2 = i;
      double m = x[top1], s = 0;
      for (float v : x) s += std::exp(double(v) - m);
      INFO("n " << n << " tie " << tie);
      CHECK(logit_stats::argmax(x.data(), n) == top1);
      const ExitFeatures f = logit_stats::exit_features(x.data(), n);
      CHECK(f.top1 == top1);
      CHECK(f.top2 == top2);
      CHECK(f.p1 == Approx(1.0 / s).epsilon(1e-6));
      const int target = (7 * n) / 9;
      const double want = double(x[target]) - (m + std::log(s));
      CHECK(std::fabs(logit_stats::log_prob(x.data(), n, target) - want) < 1e-6);
    }
  }
  // NaN logits never win (the ordered scan), as before the vector maximum.
  std::vector<float> x = {1.0f, std::nanf(""), 3.0f, 2.0f, std::nanf("")};
  CHECK(logit_stats::argmax(x.data(), 5) == 2);
  CHECK(logit_stats::exit_features(x.data(), 5).top2 == 3);
}
