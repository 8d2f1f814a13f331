// Float64 statistics of one row of logits: log-softmax of a target, argmax, exit features.
// Shared by the default Backend implementations (backends/backend.cpp) and the CPU backend.
#pragma once
#include <cmath>
#include <cstdint>

#include "backends/backend.h"

namespace eeb::logit_stats {

// Lowest index of the largest value.
inline int argmax(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

// log(sum_i exp(x_i - m)) + m in float64, with m = x[argmax].
inline double log_sum_exp(const float* x, int n, int top) {
  const double m = x[top];
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - m);
  return m + std::log(s);
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
  for (int i = 0; i < n; ++i)
    if (i != f.top1 && (f.top2 < 0 || x[i] > x[f.top2])) f.top2 = i;
  const double lse = log_sum_exp(x, n, f.top1);
  f.p1 = static_cast<float>(std::exp(static_cast<double>(x[f.top1]) - lse));
  if (f.top2 >= 0) f.p2 = static_cast<float>(std::exp(static_cast<double>(x[f.top2]) - lse));
  return f;
}

}  // namespace eeb::logit_stats
