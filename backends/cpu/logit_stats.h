// Statistics of one row of logits: log-softmax of a target, argmax, exit features. Shared by the
// default Backend implementations (backends/backend.cpp) and the CPU backend. The maximum and the
// sum of exponentials run vectorised (typed_kernels.h: float32 exp within 1 ulp, float64 sums); they
// are on every scored row and every exit check (bench_exit: the check within 3% of a layer).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "backends/backend.h"
#include "backends/cpu/typed_kernels.h"

namespace eeb::logit_stats {

// Lowest index of the largest value among x[0, n) other than `skip` (-1: none): the vector maximum,
// then the first index holding it; a NaN maximum falls back to the ordered scan (NaNs never win).
inline int argmax(const float* x, int n, int skip = -1) {
  const bool skipping = skip >= 0 && skip < n;
  if (n <= (skipping ? 1 : 0)) return -1;
  float m;
  if (!skipping) {
    m = cpu::detail::max_value(x, n);
  } else if (skip == 0 || skip == n - 1) {
    m = cpu::detail::max_value(x + (skip == 0), n - 1);
  } else {
    m = std::max(cpu::detail::max_value(x, skip), cpu::detail::max_value(x + skip + 1, n - skip - 1));
  }
  // The first index holding m, passing over `skip` (which may hold m too).
  int at = cpu::detail::find_first(x, n, m);
  if (at >= 0 && at == skip) {
    at = cpu::detail::find_first(x + skip + 1, n - skip - 1, m);
    if (at >= 0) at += skip + 1;
  }
  if (at >= 0) return at;
  int best = -1;
  for (int i = 0; i < n; ++i)
    if (i != skip && (best < 0 || x[i] > x[best])) best = i;
  return best;
}

// log(sum_i exp(x_i - m)) + m, with m = x[top] (the sum in float64).
inline double log_sum_exp(const float* x, int n, int top) {
  return static_cast<double>(x[top]) + std::log(cpu::detail::sum_exp(x, n, x[top]));
}

inline double log_prob(const float* x, int n, int target, int* top_out = nullptr) {
  const int top = argmax(x, n);
  if (top_out) *top_out = top;
  return static_cast<double>(x[target]) - log_sum_exp(x, n, top);
}

// top1/top2 are the two largest entries (lowest id first on ties); p1/p2 their softmax probabilities.
inline ExitFeatures exit_features(const float* x, int n) {
  ExitFeatures f;
  if (n <= 0) return f;
  f.top1 = argmax(x, n);
  if (n > 1) f.top2 = argmax(x, n, f.top1);
  const double lse = log_sum_exp(x, n, f.top1);
  f.p1 = static_cast<float>(std::exp(static_cast<double>(x[f.top1]) - lse));
  if (f.top2 >= 0) f.p2 = static_cast<float>(std::exp(static_cast<double>(x[f.top2]) - lse));
  return f;
}

}  // namespace eeb::logit_stats
