// Helpers for the CUDA backend tests: the no-device skip guard and comparisons against the CPU
// reference backend. The tests compile in every build; without CUDA (build or device) they skip.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "backends/registry.h"
#include "core/error.h"
#ifdef EEB_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#include "tests/skip.h"
#endif

namespace eeb::testing {

inline bool cuda_ready(std::string* why) {
#ifdef EEB_HAVE_CUDA
  return eeb::cuda_device_available(why);
#else
  *why = "this build has no CUDA backend (nvcc/cuBLAS not found at configure time)";
  return false;
#endif
}

inline std::unique_ptr<Backend> cuda_backend(const Model& m, const std::string& dtype) {
  BackendOptions o;
  o.dtype = dtype;
  return make_backend("cuda", m, o);
}
inline std::unique_ptr<Backend> cpu_backend(const Model& m) {
  return make_backend("cpu", m, BackendOptions{});
}

inline std::vector<int32_t> random_ids(int n, int vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> d(0, vocab - 1);
  std::vector<int32_t> v(n);
  for (auto& t : v) t = d(rng);
  return v;
}

inline std::vector<float> hidden_of(Backend& b, const Hidden& h) {
  std::vector<float> v(static_cast<size_t>(h.n_tokens()) * b.config().dim);
  b.read_hidden(h, 0, h.n_tokens(), v.data());
  return v;
}
inline std::vector<float> logits_of(Backend& b, const Hidden& h) {
  std::vector<float> v(static_cast<size_t>(h.n_tokens()) * b.config().vocab_size);
  b.logits(h, 0, h.n_tokens(), v.data());
  return v;
}

// max |a - b| / max |b|: the error relative to the reference's scale (element-wise relative error is
// meaningless near zero). Infinity for a size mismatch or a non-finite value in a.
inline double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / std::max(scale, 1e-30);
}
inline double max_abs_err(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
  return d;
}

// Row `r` of an n × V matrix: index of the largest value (lowest on ties) and its margin over the
// runner-up.
inline int row_argmax(const std::vector<float>& x, int r, int V, double* margin = nullptr) {
  const float* p = x.data() + static_cast<size_t>(r) * V;
  int best = 0;
  for (int i = 1; i < V; ++i)
    if (p[i] > p[best]) best = i;
  if (margin) {
    double second = -INFINITY;
    for (int i = 0; i < V; ++i)
      if (i != best) second = std::max(second, static_cast<double>(p[i]));
    *margin = p[best] - second;
  }
  return best;
}

}  // namespace eeb::testing

// Every CUDA test starts with this guard (ctest reports the case as skipped: tests/skip.h).
#define SKIP_WITHOUT_CUDA()                                                            \
  do {                                                                                 \
    std::string eeb_why_;                                                              \
    if (!eeb::testing::cuda_ready(&eeb_why_)) EEB_SKIP("no CUDA device: " << eeb_why_); \
  } while (0)
