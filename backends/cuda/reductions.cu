// Per-row logit statistics on the device, so only a few numbers per row cross to the host: top-2
// (lowest id first on ties, as backends/cpu/logit_stats.h), log-sum-exp in float64, target logit.
#include <climits>
#include <cmath>

#include "backends/cuda/device_common.cuh"

namespace eeb::cuda {
namespace {

constexpr int kThreads = 256;

struct Top2 {
  float v1;
  int i1;
  float v2;
  int i2;
};

// Strict order: larger value first, then lower index. The empty slot is (-inf, INT_MAX), which
// every real entry (index < INT_MAX) beats or ties only when it is itself empty.
__device__ __forceinline__ bool better(float va, int ia, float vb, int ib) {
  return va > vb || (va == vb && ia < ib);
}
__device__ __forceinline__ void push(Top2& t, float v, int i) {
  if (better(v, i, t.v1, t.i1)) {
    t.v2 = t.v1;
    t.i2 = t.i1;
    t.v1 = v;
    t.i1 = i;
  } else if (better(v, i, t.v2, t.i2)) {
    t.v2 = v;
    t.i2 = i;
  }
}
__device__ __forceinline__ Top2 empty_top2() { return {-INFINITY, INT_MAX, -INFINITY, INT_MAX}; }

__device__ __forceinline__ Top2 warp_top2(Top2 t) {
  for (int o = 16; o > 0; o >>= 1) {
    const float v1 = __shfl_xor_sync(kFullMask, t.v1, o);
    const int i1 = __shfl_xor_sync(kFullMask, t.i1, o);
    const float v2 = __shfl_xor_sync(kFullMask, t.v2, o);
    const int i2 = __shfl_xor_sync(kFullMask, t.i2, o);
    push(t, v1, i1);  // the partner's entries index disjoint elements
    push(t, v2, i2);
  }
  return t;
}

// One block per row.
__global__ void __launch_bounds__(kThreads)
    row_stats_kernel(const float* __restrict__ logits, int V, const int32_t* __restrict__ targets,
                     RowStats* __restrict__ out) {
  const int r = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float* x = logits + static_cast<size_t>(r) * V;

  Top2 t = empty_top2();
  for (int i = threadIdx.x; i < V; i += kThreads) push(t, x[i], i);
  t = warp_top2(t);
  __shared__ Top2 part[kThreads / 32];
  __shared__ Top2 best;
  if (lane == 0) part[warp] = t;
  __syncthreads();
  if (warp == 0) {
    Top2 u = lane < kThreads / 32 ? part[lane] : empty_top2();
    u = warp_top2(u);
    if (lane == 0) best = u;
  }
  __syncthreads();
  const Top2 b = best;

  const double m = b.v1;
  double sum = 0;
  for (int i = threadIdx.x; i < V; i += kThreads) sum += exp(static_cast<double>(x[i]) - m);
  sum = block_sum(sum);
  if (threadIdx.x == 0) {
    RowStats s;
    s.top1 = b.i1;
    s.top2 = b.i2 == INT_MAX ? -1 : b.i2;
    s.x1 = b.v1;
    s.x2 = b.i2 == INT_MAX ? 0.0f : b.v2;
    s.lse = m + log(sum);
    s.target = targets ? static_cast<double>(x[targets[r]]) : 0.0;
    out[r] = s;
  }
}

}  // namespace

void row_stats(const float* logits, int n, int V, const int32_t* targets, RowStats* out,
               cudaStream_t s) {
  if (n == 0) return;
  row_stats_kernel<<<n, kThreads, 0, s>>>(logits, V, targets, out);
  EEB_CUDA_CHECK_LAUNCH();
}

}  // namespace eeb::cuda
