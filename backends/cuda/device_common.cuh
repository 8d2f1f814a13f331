// Device helpers shared by the .cu files: element-type conversion, warp/block reductions, WType
// dispatch. CUDA C++17 only.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"

namespace eeb::cuda {

template <class T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

inline constexpr unsigned kFullMask = 0xffffffffu;

// Butterfly (xor) reductions: every lane ends with the same, bitwise identical, result.
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// Contains __syncthreads: call from all threads of the block.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  T t = lane < nw ? part[lane] : T(0);
  return warp_sum(t);
}

// Grid size for a grid-stride loop over n elements.
inline unsigned grid_for(size_t n, int block) {
  size_t g = (n + block - 1) / block;
  if (g < 1) g = 1;
  return static_cast<unsigned>(g > 65535u * 16 ? 65535u * 16 : g);
}

}  // namespace eeb::cuda

// Runs the statement(s) after `wt` with `T` aliased to the element type of a WType value.
#define EEB_DISPATCH_WTYPE(wt, ...)                                                   \
  do {                                                                                \
    switch (wt) {                                                                     \
      case ::eeb::cuda::WType::F32: { using T = float; __VA_ARGS__; break; }          \
      case ::eeb::cuda::WType::F16: { using T = __half; __VA_ARGS__; break; }         \
      case ::eeb::cuda::WType::BF16: { using T = __nv_bfloat16; __VA_ARGS__; break; } \
    }                                                                                 \
  } while (0)
