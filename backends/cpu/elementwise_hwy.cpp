// Highway kernels for the element-wise work that needs exp: the attention softmax, SwiGLU's SiLU,
// and the log-sum-exp over a vocabulary row (log-likelihoods, exit features). Compiled once per SIMD target (foreach_target.h re-includes this file) and dispatched at run
// time, as gemv_hwy.cpp. exp is Highway's (hwy/contrib/math: max error 1 ulp). On a small model the
// softmax over ~1000 cached positions per query row is a fifth of a document's time, which a
// 4-lane exp left on the table on AVX-512 hardware.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/elementwise_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <limits>

#include "backends/cpu/typed_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace eeb::cpu::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;

// The last n < lanes elements of a row go through the vector code via a padded copy (so each
// element sees the same exp, and nothing reads past the row on any target).
template <class F>
HWY_INLINE void Tail(const DF d, float* p, const float* q, size_t n, F f) {
  HWY_ALIGN float a[hn::MaxLanes(DF())] = {}, b[hn::MaxLanes(DF())] = {};
  std::copy(p, p + n, a);
  if (q) std::copy(q, q + n, b);
  hn::Store(f(hn::Load(d, a), hn::Load(d, b)), d, a);
  std::copy(a, a + n, p);
}

// In-place softmax of row[0, valid), zeros in row[valid, width).
void SoftmaxRow(float* row, int valid, int width) {
  const DF d;
  const size_t N = hn::Lanes(d), n = static_cast<size_t>(std::max(valid, 0));
  if (n > 0) {
    auto mv = hn::Set(d, row[0]);
    size_t j = 0;
    for (; j + N <= n; j += N) mv = hn::Max(mv, hn::LoadU(d, row + j));
    float m = hn::GetLane(hn::MaxOfLanes(d, mv));
    for (; j < n; ++j) m = std::max(m, row[j]);
    const auto vm = hn::Set(d, m);
    auto sv = hn::Zero(d);
    for (j = 0; j + N <= n; j += N) {
      const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, row + j), vm));
      hn::StoreU(e, d, row + j);
      sv = hn::Add(sv, e);
    }
    if (j < n) {
      const auto mask = hn::FirstN(d, n - j);
      Tail(d, row + j, nullptr, n - j, [&](auto x, auto) {
        const auto e = hn::IfThenElseZero(mask, hn::Exp(d, hn::Sub(x, vm)));
        sv = hn::Add(sv, e);
        return e;
      });
    }
    const auto inv = hn::Set(d, 1.0f / hn::GetLane(hn::SumOfLanes(d, sv)));
    for (j = 0; j + N <= n; j += N) hn::StoreU(hn::Mul(hn::LoadU(d, row + j), inv), d, row + j);
    for (; j < n; ++j) row[j] *= hn::GetLane(inv);
  }
  std::fill(row + n, row + std::max(width, valid), 0.0f);
}

// g[i] = silu(g[i]) · u[i] = g / (1 + exp(-g)) · u. exp's argument is clamped at 88 (where
// exp overflows float): silu(g) for g < -88 is -0 either way.
void SiluMul(float* g, const float* u, int n) {
  const DF d;
  const size_t N = hn::Lanes(d), K = static_cast<size_t>(std::max(n, 0));
  const auto one = hn::Set(d, 1.0f), cap = hn::Set(d, 88.0f);
  auto silu = [&](auto x) { return hn::Div(x, hn::Add(one, hn::Exp(d, hn::Min(hn::Neg(x), cap)))); };
  size_t i = 0;
  for (; i + N <= K; i += N) hn::StoreU(hn::Mul(silu(hn::LoadU(d, g + i)), hn::LoadU(d, u + i)), d, g + i);
  if (i < K) Tail(d, g + i, u + i, K - i, [&](auto x, auto y) { return hn::Mul(silu(x), y); });
}

// The largest of x[0, n), n >= 1 (NaNs: whatever the target's max does with them; callers check).
float MaxValue(const float* x, int n) {
  const DF d;
  const size_t N = hn::Lanes(d), K = static_cast<size_t>(n);
  auto mv = hn::Set(d, x[0]);
  size_t i = 0;
  for (; i + N <= K; i += N) mv = hn::Max(mv, hn::LoadU(d, x + i));
  float m = hn::GetLane(hn::MaxOfLanes(d, mv));
  for (; i < K; ++i) m = std::max(m, x[i]);
  return m;
}

// The first i in [0, n) with x[i] == v, or -1.
int FindFirst(const float* x, int n, float v) {
  const DF d;
  const size_t N = hn::Lanes(d), K = static_cast<size_t>(n);
  const auto vv = hn::Set(d, v);
  size_t i = 0;
  for (; i + N <= K; i += N) {
    const intptr_t at = hn::FindFirstTrue(d, hn::Eq(hn::LoadU(d, x + i), vv));
    if (at >= 0) return static_cast<int>(i + static_cast<size_t>(at));
  }
  for (; i < K; ++i)
    if (x[i] == v) return static_cast<int>(i);
  return -1;
}

// Sum of exp(x[i] - m) for i < n: float32 exp, float64 accumulation (each lane's exps widened), so
// the sum over a 150k-entry vocabulary loses nothing to float32 rounding.
double SumExp(const float* x, int n, float m) {
  // Half-width float vectors, so that each exp widens into one full vector of doubles.
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> d;
  const size_t N = hn::Lanes(d), K = static_cast<size_t>(n);
  const auto vm = hn::Set(d, m);
  auto s0 = hn::Zero(dd), s1 = hn::Zero(dd);
  size_t i = 0;
  for (; i + 2 * N <= K; i += 2 * N) {
    s0 = hn::Add(s0, hn::PromoteTo(dd, hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vm))));
    s1 = hn::Add(s1, hn::PromoteTo(dd, hn::Exp(d, hn::Sub(hn::LoadU(d, x + i + N), vm))));
  }
  for (; i + N <= K; i += N) s0 = hn::Add(s0, hn::PromoteTo(dd, hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vm))));
  double sum = hn::GetLane(hn::SumOfLanes(dd, hn::Add(s0, s1)));
  if (i < K) {
    HWY_ALIGN float t[hn::MaxLanes(decltype(d)())];
    std::fill(t, t + N, -std::numeric_limits<float>::infinity());  // exp(-inf) = 0 for the padding
    std::copy(x + i, x + K, t);
    sum += hn::GetLane(hn::SumOfLanes(dd, hn::PromoteTo(dd, hn::Exp(d, hn::Sub(hn::Load(d, t), vm)))));
  }
  return sum;
}

}  // namespace HWY_NAMESPACE
}  // namespace eeb::cpu::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace eeb::cpu::detail {

HWY_EXPORT(SoftmaxRow);
HWY_EXPORT(SiluMul);
HWY_EXPORT(MaxValue);
HWY_EXPORT(FindFirst);
HWY_EXPORT(SumExp);

void softmax_row(float* row, int valid, int width) { HWY_DYNAMIC_DISPATCH(SoftmaxRow)(row, valid, width); }
void silu_mul(float* g, const float* u, int n) { HWY_DYNAMIC_DISPATCH(SiluMul)(g, u, n); }
float max_value(const float* x, int n) { return HWY_DYNAMIC_DISPATCH(MaxValue)(x, n); }
int find_first(const float* x, int n, float v) { return HWY_DYNAMIC_DISPATCH(FindFirst)(x, n, v); }
double sum_exp(const float* x, int n, float m) { return HWY_DYNAMIC_DISPATCH(SumExp)(x, n, m); }

}  // namespace eeb::cpu::detail
#endif
