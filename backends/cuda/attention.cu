// Causal grouped-query attention over the KV cache, float32 throughout (exp via expf, scores
// pre-scaled by 1/sqrt(head_dim) on the query).
//
// prefill_kernel<D>: grid (ceil(n / 32), n_heads), 4 warps. The block stages its 32 query rows in
//   shared memory and walks the visible keys in tiles of 32 (K and V staged in shared memory). Each
//   warp owns 8 query rows; lane j scores key t0 + j against them, and the rows keep a running max m,
//   denominator l and output o (D / 32 dims per lane) - the online softmax of FlashAttention. Plain
//   FP32 FMAs (no tensor cores): simple and exact enough for f32 parity, not the fastest.
// decode_split_kernel<D> + decode_combine_kernel<D>: grid (n_heads, n_splits, n). The visible keys of
//   each (row, head) are cut into n_splits chunks; in a chunk each warp takes 4 keys per step (the
//   lanes split the head dims, a butterfly sum gives every lane the score), the 4 warps merge in shared
//   memory and write (m, l, unnormalized o); the combine kernel merges the chunks.
// D is head_dim rounded up to 32, 64, 128 or 256; the padding dims are zero in q, k and v.
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "backends/cuda/device_common.cuh"

namespace eeb::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = 8;
constexpr int kBQ = kWarps * kRowsPerWarp;  // query rows per prefill block
constexpr int kBK = 32;                     // keys per tile (one per lane)
constexpr int kUnroll = 4;                  // keys per warp per decode step
constexpr int kKeysPerStep = kWarps * kUnroll;

template <int D>
constexpr size_t prefill_smem_bytes() {
  return sizeof(float) * (size_t(kBQ) * D + size_t(kBK) * (D + 4) + size_t(kBK) * D);
}

// Online-softmax update of one row with scores s (masked: -inf) whose tile maximum is mt. Returns
// the weight p of this lane's score and sets corr, the factor the old l and o are scaled by.
__device__ __forceinline__ float online_update(float& m, float s, float mt, float& corr) {
  const float mn = fmaxf(m, mt);
  corr = (mn == -INFINITY) ? 1.0f : expf(m - mn);  // m = -inf (first tile): corr = 0
  const float p = (s == -INFINITY) ? 0.0f : expf(s - mn);
  m = mn;
  return p;
}

template <int D>
__global__ void __launch_bounds__(kThreads) prefill_kernel(AttentionArgs a, float scale) {
  constexpr int C = D / 32, KS = D + 4, R = kRowsPerWarp;
  extern __shared__ float4 smem4[];  // float4: 16-byte alignment for the vector loads
  float* Qs = reinterpret_cast<float*>(smem4);  // [kBQ][D], pre-scaled
  float* Ks = Qs + kBQ * D;                     // [kBK][KS] (padded: conflict-free float4 reads)
  float* Vs = Ks + kBK * KS;                    // [kBK][D]

  const int h = blockIdx.y, g = h / (a.n_heads / a.n_kv_heads);
  const int r0 = blockIdx.x * kBQ, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const size_t qcol = size_t(h) * a.hd, kvcol = size_t(g) * a.hd;

  for (int idx = tid; idx < kBQ * D; idx += kThreads) {
    const int i = idx / D, d = idx % D, r = r0 + i;
    Qs[idx] = (r < a.n && d < a.hd) ? a.q[size_t(r) * a.ldq + qcol + d] * scale : 0.0f;
  }
  // Last key position each of this warp's rows sees (-1: row past n), and the block's key range.
  // First visible key of each row: 0, or the start of its sliding window.
  int last[R], first[R], warp_last = -1;
  #pragma unroll
  for (int i = 0; i < R; ++i) {
    const int r = r0 + warp * R + i;
    last[i] = r < a.n ? a.pos0 + r : -1;
    first[i] = a.window > 0 ? max(0, last[i] - a.window + 1) : 0;
    warp_last = max(warp_last, last[i]);
  }
  const int kend = a.pos0 + min(a.n, r0 + kBQ);

  float m[R], l[R], o[R][C];
  #pragma unroll
  for (int i = 0; i < R; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
    #pragma unroll
    for (int c = 0; c < C; ++c) o[i][c] = 0.0f;
  }

  for (int t0 = 0; t0 < kend; t0 += kBK) {
    __syncthreads();  // the previous tile is consumed (and Qs is complete before the first)
    for (int idx = tid; idx < kBK * D; idx += kThreads) {
      const int j = idx / D, d = idx % D, key = t0 + j;
      float kx = 0.0f, vx = 0.0f;
      if (key < kend && d < a.hd) {
        const size_t off = size_t(key) * a.ldkv + kvcol + d;
        kx = a.k[off];
        vx = a.v[off];
      }
      Ks[j * KS + d] = kx;
      Vs[j * D + d] = vx;
    }
    __syncthreads();
    if (t0 > warp_last) continue;  // warp-uniform: every key of the tile is after this warp's rows

    float s[R];
    #pragma unroll
    for (int i = 0; i < R; ++i) s[i] = 0.0f;
    const float4* k4 = reinterpret_cast<const float4*>(Ks + lane * KS);
#pragma unroll 4
    for (int d4 = 0; d4 < D / 4; ++d4) {
      const float4 kk = k4[d4];
      #pragma unroll
      for (int i = 0; i < R; ++i) {
        const float4 qq = reinterpret_cast<const float4*>(Qs + (warp * R + i) * D)[d4];
        s[i] += qq.x * kk.x + qq.y * kk.y + qq.z * kk.z + qq.w * kk.w;
      }
    }
    const int key = t0 + lane;
    float p[R];
    #pragma unroll
    for (int i = 0; i < R; ++i) {
      const float si = (key <= last[i] && key >= first[i]) ? s[i] : -INFINITY;
      float corr;
      p[i] = online_update(m[i], si, warp_max(si), corr);
      l[i] = l[i] * corr + warp_sum(p[i]);
      #pragma unroll
      for (int c = 0; c < C; ++c) o[i][c] *= corr;
    }
    for (int j = 0; j < kBK; ++j) {
      float vj[C];
      #pragma unroll
      for (int c = 0; c < C; ++c) vj[c] = Vs[j * D + lane + 32 * c];
      #pragma unroll
      for (int i = 0; i < R; ++i) {
        const float pj = __shfl_sync(kFullMask, p[i], j);
        #pragma unroll
        for (int c = 0; c < C; ++c) o[i][c] += pj * vj[c];
      }
    }
  }

  #pragma unroll
  for (int i = 0; i < R; ++i) {
    if (last[i] < 0) continue;
    const int r = r0 + warp * R + i;
    const float inv = 1.0f / l[i];  // l >= 1: the row's own key is visible to it
    #pragma unroll
    for (int c = 0; c < C; ++c) {
      const int d = lane + 32 * c;
      if (d < a.hd) a.out[size_t(r) * a.ldo + qcol + d] = o[i][c] * inv;
    }
  }
}

template <int D>
__global__ void __launch_bounds__(kThreads)
    decode_split_kernel(AttentionArgs a, float scale, int chunk, float* __restrict__ part_o,
                        float* __restrict__ part_ml) {
  constexpr int C = D / 32;
  const int h = blockIdx.x, split = blockIdx.y, r = blockIdx.z, n_splits = gridDim.y;
  const int g = h / (a.n_heads / a.n_kv_heads), lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  // This chunk's visible keys: [split · chunk, +chunk) ∩ [first, pos], first = 0 or the window start.
  const int first = a.window > 0 ? max(0, a.pos0 + r - a.window + 1) : 0;
  const int k0 = max(split * chunk, first), k1 = min(a.pos0 + r + 1, split * chunk + chunk);
  const size_t slot = (size_t(r) * a.n_heads + h) * n_splits + split;
  float* po = part_o + slot * D;
  if (k0 >= k1) {  // block-uniform: the chunk lies after the row's position (or before its window)
    for (int d = threadIdx.x; d < D; d += kThreads) po[d] = 0.0f;
    if (threadIdx.x == 0) {
      part_ml[2 * slot] = -INFINITY;
      part_ml[2 * slot + 1] = 0.0f;
    }
    return;
  }

  float q[C], o[C];
  #pragma unroll
  for (int c = 0; c < C; ++c) {
    const int d = lane + 32 * c;
    q[c] = d < a.hd ? a.q[size_t(r) * a.ldq + size_t(h) * a.hd + d] * scale : 0.0f;
    o[c] = 0.0f;
  }
  const float* kb = a.k + size_t(g) * a.hd;
  const float* vb = a.v + size_t(g) * a.hd;
  float m = -INFINITY, l = 0.0f;
  // Keys base .. base + kUnroll - 1; `base < k1`, so the first is always visible.
  for (int base = k0 + warp * kUnroll; base < k1; base += kKeysPerStep) {
    float s[kUnroll];
    #pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float acc = 0.0f;
      if (base + u < k1) {
        const float* kr = kb + size_t(base + u) * a.ldkv;
        #pragma unroll
        for (int c = 0; c < C; ++c) {
          const int d = lane + 32 * c;
          if (d < a.hd) acc += q[c] * kr[d];
        }
      }
      s[u] = acc;
    }
    float mt = -INFINITY;
    #pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      s[u] = base + u < k1 ? warp_sum(s[u]) : -INFINITY;
      mt = fmaxf(mt, s[u]);
    }
    const float mn = fmaxf(m, mt);  // finite: s[0] is
    const float corr = expf(m - mn);
    l *= corr;
    #pragma unroll
    for (int c = 0; c < C; ++c) o[c] *= corr;
    #pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (base + u >= k1) break;
      const float p = expf(s[u] - mn);
      const float* vr = vb + size_t(base + u) * a.ldkv;
      l += p;
      #pragma unroll
      for (int c = 0; c < C; ++c) {
        const int d = lane + 32 * c;
        if (d < a.hd) o[c] += p * vr[d];
      }
    }
    m = mn;
  }

  // Merge the warps (warp 0 saw key k0, so the block maximum M is finite).
  __shared__ float sm_m[kWarps], sm_l[kWarps], sm_o[kWarps][D];
  if (lane == 0) {
    sm_m[warp] = m;
    sm_l[warp] = l;
  }
  #pragma unroll
  for (int c = 0; c < C; ++c) sm_o[warp][lane + 32 * c] = o[c];
  __syncthreads();
  float M = -INFINITY;
  #pragma unroll
  for (int w = 0; w < kWarps; ++w) M = fmaxf(M, sm_m[w]);
  for (int d = threadIdx.x; d < D; d += kThreads) {
    float acc = 0.0f;
    #pragma unroll
    for (int w = 0; w < kWarps; ++w)
      if (sm_m[w] != -INFINITY) acc += sm_o[w][d] * expf(sm_m[w] - M);
    po[d] = acc;
  }
  if (threadIdx.x == 0) {
    float L = 0.0f;
    #pragma unroll
    for (int w = 0; w < kWarps; ++w)
      if (sm_m[w] != -INFINITY) L += sm_l[w] * expf(sm_m[w] - M);
    part_ml[2 * slot] = M;
    part_ml[2 * slot + 1] = L;
  }
}

// grid (n_heads, n), D threads: thread d merges dim d over the chunks (empty ones have m = -inf; the
// chunk holding the row's own position never is).
template <int D>
__global__ void decode_combine_kernel(AttentionArgs a, int n_splits,
                                      const float* __restrict__ part_o,
                                      const float* __restrict__ part_ml) {
  const int h = blockIdx.x, r = blockIdx.y, d = threadIdx.x;
  const size_t slot0 = (size_t(r) * a.n_heads + h) * n_splits;
  float M = -INFINITY;
  for (int s = 0; s < n_splits; ++s) M = fmaxf(M, part_ml[2 * (slot0 + s)]);
  float L = 0.0f, acc = 0.0f;
  for (int s = 0; s < n_splits; ++s) {
    const float ms = part_ml[2 * (slot0 + s)];
    if (ms == -INFINITY) continue;
    const float w = expf(ms - M);
    L += part_ml[2 * (slot0 + s) + 1] * w;
    acc += part_o[(slot0 + s) * D + d] * w;
  }
  if (d < a.hd) a.out[size_t(r) * a.ldo + size_t(h) * a.hd + d] = acc / L;
}

// Calls f(std::integral_constant<int, D>) for the padded head dim D of hd.
template <class F>
void with_head_dim(int hd, F&& f) {
  if (hd <= 32) f(std::integral_constant<int, 32>{});
  else if (hd <= 64) f(std::integral_constant<int, 64>{});
  else if (hd <= 128) f(std::integral_constant<int, 128>{});
  else if (hd <= kMaxHeadDim) f(std::integral_constant<int, 256>{});
  else throw Error("backend cuda: head_dim " + std::to_string(hd) + " above the supported " +
                   std::to_string(kMaxHeadDim));
}

int padded_head_dim(int hd) {
  int D = 0;
  with_head_dim(hd, [&](auto dc) { D = decltype(dc)::value; });
  return D;
}

float attention_scale(int hd) { return 1.0f / std::sqrt(static_cast<float>(hd)); }

int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

int decode_chunk(const AttentionArgs& a, int n_splits) {
  return ceil_div(ceil_div(a.pos0 + a.n, n_splits), kKeysPerStep) * kKeysPerStep;
}

}  // namespace

void attention_prefill(const AttentionArgs& a, cudaStream_t s) {
  if (a.n == 0) return;
  const dim3 grid(ceil_div(a.n, kBQ), a.n_heads);
  with_head_dim(a.hd, [&](auto dc) {
    constexpr int D = decltype(dc)::value;
    constexpr size_t bytes = prefill_smem_bytes<D>();
    if (bytes > 48 * 1024)
      EEB_CUDA_CHECK(cudaFuncSetAttribute(prefill_kernel<D>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(bytes)));
    prefill_kernel<D><<<grid, kThreads, bytes, s>>>(a, attention_scale(a.hd));
  });
  EEB_CUDA_CHECK_LAUNCH();
}

int attention_decode_splits(const AttentionArgs& a, int sm_count) {
  const int kend = a.pos0 + a.n;
  const int most = std::max(1, std::min(ceil_div(kend, 64), 4096));  // chunks of >= 64 keys
  const long long rows = static_cast<long long>(a.n_heads) * std::max(a.n, 1);
  const int want = static_cast<int>(std::max(1LL, 4LL * std::max(sm_count, 1) / rows));
  const int splits = std::min(want, most);
  return ceil_div(kend, decode_chunk(a, splits));  // drop splits left empty by the rounding
}

size_t attention_decode_partial_floats(const AttentionArgs& a, int n_splits) {
  return static_cast<size_t>(a.n) * a.n_heads * n_splits * (padded_head_dim(a.hd) + 2);
}

void attention_decode(const AttentionArgs& a, int n_splits, float* partial, cudaStream_t s) {
  if (a.n == 0) return;
  if (n_splits < 1 || n_splits > 65535 || a.n > 65535)
    throw Error("backend cuda: attention_decode: " + std::to_string(a.n) + " rows, " +
                std::to_string(n_splits) + " splits outside the grid limits");
  const int chunk = decode_chunk(a, n_splits);
  with_head_dim(a.hd, [&](auto dc) {
    constexpr int D = decltype(dc)::value;
    float* part_o = partial;
    float* part_ml = partial + static_cast<size_t>(a.n) * a.n_heads * n_splits * D;
    decode_split_kernel<D><<<dim3(a.n_heads, n_splits, a.n), kThreads, 0, s>>>(
        a, attention_scale(a.hd), chunk, part_o, part_ml);
    EEB_CUDA_CHECK_LAUNCH();
    decode_combine_kernel<D><<<dim3(a.n_heads, a.n), D, 0, s>>>(a, n_splits, part_o, part_ml);
  });
  EEB_CUDA_CHECK_LAUNCH();
}

}  // namespace eeb::cuda
