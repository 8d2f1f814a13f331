// Highway kernels over typed weight rows (see typed_kernels.h). This file is compiled once per SIMD
// target (foreach_target.h re-includes it) and HWY_DYNAMIC_DISPATCH picks the best one the CPU runs.
//
// Decode is bound by the bytes of weights read, so the matrix-vector products read the stored type
// directly and widen in registers: BF16 by a 16-bit shift, F16 by the F16C conversion, Q8_0 by
// int8 -> int32 -> float times the block's scale. x stays float32 (no activation rounding): the
// only error is float32 accumulation. Each output row is one dot product summed in a fixed order,
// so results are the same for any split of rows over threads.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/gemv_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backends/cpu/typed_kernels.h"
#include "model/half.h"

HWY_BEFORE_NAMESPACE();
namespace eeb::cpu::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr int kQ8Block = 32, kQ8Bytes = 34;  // ggml block_q8_0: f16 scale, 32 int8

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

template <DType T>
struct Half;  // the 16-bit weight types: Highway lane type and scalar conversion (tails)
template <>
struct Half<DType::BF16> {
  using Lane = hwy::bfloat16_t;
  static float scalar(uint16_t h) { return bf16_to_f32(h); }
};
template <>
struct Half<DType::F16> {
  using Lane = hwy::float16_t;
  static float scalar(uint16_t h) { return f16_to_f32(h); }
};

// The f16 scale of a Q8_0 block, widened by the CPU's conversion (F16C on x86) rather than bit
// twiddling: it is on the per-block path of the matrix-vector kernels.
HWY_INLINE float BlockScale(const uint8_t* blk) {
  const hn::CappedTag<float, 1> d1;
  const hn::Rebind<hwy::float16_t, decltype(d1)> h1;
  return hn::GetLane(hn::PromoteTo(d1, hn::LoadU(h1, reinterpret_cast<const hwy::float16_t*>(blk))));
}

// The weight stream is read once; a software prefetch 4 KiB ahead with the non-temporal hint (it
// should not evict x from L1) took the down projection (k = 11008: x is 44 KiB, near L1's 48) from
// 18 to 28 GB/s per core on the Zen 5 VM (Q8_0: 10 to 22) and did not slow the shorter rows
// (docs/PERF.md).
// Prefetches never fault, so running past the last row is harmless.
constexpr size_t kPrefetchBytes = 4096;
HWY_INLINE void prefetch_ahead(const void* p) {
  __builtin_prefetch(static_cast<const uint8_t*>(p) + kPrefetchBytes, 0, 0);
}

inline void store_y(float* y, float s, float beta) { *y = beta == 0.0f ? s : s + beta * *y; }

// R rows of X against W rows [r0, r1): each weight vector is loaded once for the R dot products.
template <DType T, int R>
void Dot16(const float* X, int ldx, const uint8_t* W, size_t rb, int r0, int r1, int k, float* Y, int ldy,
           float beta) {
  using L = typename Half<T>::Lane;
  const DF df;
  const hn::Rebind<L, DF> dh;
  const size_t N = hn::Lanes(df), K = static_cast<size_t>(k);
  for (int r = r0; r < r1; ++r) {
    const L* w = reinterpret_cast<const L*>(W + static_cast<size_t>(r) * rb);
    VF a0[R], a1[R];
    for (int j = 0; j < R; ++j) a0[j] = a1[j] = hn::Zero(df);
    size_t i = 0;
    for (; i + 2 * N <= K; i += 2 * N) {
      prefetch_ahead(w + i);
      const VF w0 = hn::PromoteTo(df, hn::LoadU(dh, w + i));
      const VF w1 = hn::PromoteTo(df, hn::LoadU(dh, w + i + N));
      for (int j = 0; j < R; ++j) {
        const float* x = X + static_cast<size_t>(j) * ldx + i;
        a0[j] = hn::MulAdd(w0, hn::LoadU(df, x), a0[j]);
        a1[j] = hn::MulAdd(w1, hn::LoadU(df, x + N), a1[j]);
      }
    }
    for (; i + N <= K; i += N) {
      const VF w0 = hn::PromoteTo(df, hn::LoadU(dh, w + i));
      for (int j = 0; j < R; ++j) a0[j] = hn::MulAdd(w0, hn::LoadU(df, X + static_cast<size_t>(j) * ldx + i), a0[j]);
    }
    const uint8_t* wb = reinterpret_cast<const uint8_t*>(w);
    for (int j = 0; j < R; ++j) {
      const float* x = X + static_cast<size_t>(j) * ldx;
      float s = hn::GetLane(hn::SumOfLanes(df, hn::Add(a0[j], a1[j])));
      for (size_t t = i; t < K; ++t) s += Half<T>::scalar(load_u16(wb + 2 * t)) * x[t];
      store_y(Y + static_cast<size_t>(j) * ldy + r, s, beta);
    }
  }
}

// Q8_0: per block, p = sum q·x (float32, exact int8 -> float), then acc += scale · p; even and odd
// blocks go to two accumulators.
template <int R>
void DotQ8(const float* X, int ldx, const uint8_t* W, size_t rb, int r0, int r1, int k, float* Y, int ldy,
           float beta) {
  const DF df;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<int8_t, DF> d8;
  const int N = static_cast<int>(hn::Lanes(df));
  const int nb = k / kQ8Block, per = kQ8Block / N;  // N divides 32 on every target
  for (int r = r0; r < r1; ++r) {
    const uint8_t* row = W + static_cast<size_t>(r) * rb;
    VF a0[R], a1[R];
    for (int j = 0; j < R; ++j) a0[j] = a1[j] = hn::Zero(df);
    for (int b = 0; b < nb; ++b) {
      const uint8_t* blk = row + static_cast<size_t>(b) * kQ8Bytes;
      const int8_t* q = reinterpret_cast<const int8_t*>(blk + 2);
      prefetch_ahead(blk);
      const VF d = hn::Set(df, BlockScale(blk));
      VF qf[kQ8Block];  // only `per` used
      for (int v = 0; v < per; ++v) qf[v] = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, q + v * N)));
      const size_t off = static_cast<size_t>(b) * kQ8Block;
      for (int j = 0; j < R; ++j) {
        const float* x = X + static_cast<size_t>(j) * ldx + off;
        VF p = hn::Mul(qf[0], hn::LoadU(df, x));
        for (int v = 1; v < per; ++v) p = hn::MulAdd(qf[v], hn::LoadU(df, x + v * N), p);
        if (b & 1)
          a1[j] = hn::MulAdd(d, p, a1[j]);
        else
          a0[j] = hn::MulAdd(d, p, a0[j]);
      }
    }
    for (int j = 0; j < R; ++j)
      store_y(Y + static_cast<size_t>(j) * ldy + r, hn::GetLane(hn::SumOfLanes(df, hn::Add(a0[j], a1[j]))), beta);
  }
}

template <int R>
void DotRows(DType t, const float* X, int ldx, const uint8_t* W, size_t rb, int r0, int r1, int k, float* Y,
             int ldy, float beta) {
  switch (t) {
    case DType::BF16: return Dot16<DType::BF16, R>(X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
    case DType::F16: return Dot16<DType::F16, R>(X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
    case DType::Q8_0: return DotQ8<R>(X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
    case DType::F32: break;  // F32 goes to OpenBLAS (weight_matrix.cpp)
  }
}

void GemvRows(DType t, const float* X, int nx, int ldx, const uint8_t* W, size_t rb, int r0, int r1, int k,
              float* Y, int ldy, float beta) {
  switch (nx) {
    case 1: return DotRows<1>(t, X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
    case 2: return DotRows<2>(t, X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
    case 3: return DotRows<3>(t, X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
    case 4: return DotRows<4>(t, X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
    case 5: return DotRows<5>(t, X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
    case 6: return DotRows<6>(t, X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
    case 7: return DotRows<7>(t, X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
    default: return DotRows<8>(t, X, ldx, W, rb, r0, r1, k, Y, ldy, beta);
  }
}

// float32 -> bfloat16 bits, round to nearest even (finite inputs).
HWY_INLINE hn::Vec<hn::Rebind<uint16_t, DF>> RoundBF16(VF v) {
  const DF df;
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<uint16_t, DF> d16;
  auto u = hn::BitCast(du, v);
  const auto lsb = hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1u));
  u = hn::Add(u, hn::Add(hn::Set(du, 0x7FFFu), lsb));
  (void)df;
  return hn::DemoteTo(d16, hn::BitCast(di, hn::ShiftRight<16>(u)));
}

inline uint16_t round_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

void F32ToBF16(const float* x, size_t n, uint16_t* out) {
  const DF df;
  const hn::Rebind<uint16_t, DF> d16;
  const size_t N = hn::Lanes(df);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(RoundBF16(hn::LoadU(df, x + i)), d16, out + i);
  for (; i < n; ++i) out[i] = round_bf16(x[i]);
}

void RowsToBF16(DType t, const uint8_t* W, size_t rb, int rows, int k, uint16_t* out) {
  const DF df;
  const hn::Rebind<uint16_t, DF> d16;
  const hn::Rebind<hwy::float16_t, DF> dh;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<int8_t, DF> d8;
  const size_t N = hn::Lanes(df), K = static_cast<size_t>(k);
  for (int r = 0; r < rows; ++r) {
    const uint8_t* row = W + static_cast<size_t>(r) * rb;
    uint16_t* o = out + static_cast<size_t>(r) * K;
    switch (t) {
      case DType::BF16:
        std::memcpy(o, row, 2 * K);
        break;
      case DType::F32:
        F32ToBF16(reinterpret_cast<const float*>(row), K, o);
        break;
      case DType::F16: {
        const auto* h = reinterpret_cast<const hwy::float16_t*>(row);
        size_t i = 0;
        for (; i + N <= K; i += N) hn::StoreU(RoundBF16(hn::PromoteTo(df, hn::LoadU(dh, h + i))), d16, o + i);
        for (; i < K; ++i) o[i] = round_bf16(f16_to_f32(load_u16(row + 2 * i)));
        break;
      }
      case DType::Q8_0:
        for (size_t b = 0; b < K / kQ8Block; ++b) {
          const uint8_t* blk = row + b * kQ8Bytes;
          const VF d = hn::Set(df, f16_to_f32(load_u16(blk)));
          const int8_t* q = reinterpret_cast<const int8_t*>(blk + 2);
          for (size_t v = 0; v < kQ8Block; v += N)
            hn::StoreU(RoundBF16(hn::Mul(d, hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, q + v))))), d16,
                       o + b * kQ8Block + v);
        }
        break;
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace eeb::cpu::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace eeb::cpu::detail {

HWY_EXPORT(GemvRows);
HWY_EXPORT(RowsToBF16);
HWY_EXPORT(F32ToBF16);

void gemv_rows(DType t, const float* X, int nx, int ldx, const uint8_t* W, size_t row_bytes, int r0, int r1,
               int k, float* Y, int ldy, float beta) {
  HWY_DYNAMIC_DISPATCH(GemvRows)(t, X, nx, ldx, W, row_bytes, r0, r1, k, Y, ldy, beta);
}

void rows_to_bf16(DType t, const uint8_t* W, size_t row_bytes, int rows, int k, uint16_t* out) {
  HWY_DYNAMIC_DISPATCH(RowsToBF16)(t, W, row_bytes, rows, k, out);
}

void f32_to_bf16(const float* x, size_t n, uint16_t* out) { HWY_DYNAMIC_DISPATCH(F32ToBF16)(x, n, out); }

const char* simd_target() {
  int64_t t = hwy::SupportedTargets() & HWY_TARGETS;
  t &= -t;  // lower bits are the better targets
  return hwy::TargetName(t);
}

}  // namespace eeb::cpu::detail
#endif
