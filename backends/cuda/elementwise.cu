// Element-wise and row-wise kernels: weight conversion and random fill, embedding gather, RMSNorm,
// rotary embeddings, SwiGLU. Memory-bound; written for clarity (grid-stride loops, one block per row).
#include "backends/cuda/device_common.cuh"

namespace eeb::cuda {
namespace {

template <class T>
__global__ void convert_kernel(const float* __restrict__ src, T* __restrict__ dst, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    dst[i] = from_float<T>(src[i]);
}

__device__ __forceinline__ uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

template <class T>
__global__ void fill_random_kernel(T* __restrict__ dst, size_t n, uint64_t seed, float scale,
                                   float offset) {
  const uint64_t key = splitmix64(seed);
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    const uint64_t h = splitmix64(key ^ (i * 0xD1B54A32D192ED03ull));
    const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);  // [0, 1), 24 bits
    dst[i] = from_float<T>(offset + scale * 1.7320508f * (2.0f * u - 1.0f));
  }
}

template <class T>
__global__ void embed_kernel(const T* __restrict__ table, const int32_t* __restrict__ tokens,
                             int dim, float* __restrict__ out) {
  const int r = blockIdx.x;
  const T* src = table + static_cast<size_t>(tokens[r]) * dim;
  float* dst = out + static_cast<size_t>(r) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = to_float(src[i]);
}

// One block per row. The sum of squares is accumulated in float64 (as the CPU reference does).
template <class T>
__global__ void rmsnorm_kernel(const float* __restrict__ x, int dim, const float* __restrict__ w,
                               float eps, T* __restrict__ out) {
  const size_t base = static_cast<size_t>(blockIdx.x) * dim;
  double ss = 0;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const double v = x[base + i];
    ss += v * v;
  }
  ss = block_sum(ss);
  const float inv = static_cast<float>(1.0 / sqrt(ss / dim + static_cast<double>(eps)));
  for (int i = threadIdx.x; i < dim; i += blockDim.x)
    out[base + i] = from_float<T>(x[base + i] * inv * w[i]);
}

// One block per row; thread t handles the pair (i, i + hd/2) of one head.
__global__ void rope_kernel(float* __restrict__ x, int ld, int heads, int hd, int pos0,
                            const float* __restrict__ cos_t, const float* __restrict__ sin_t) {
  const int r = blockIdx.x, half = hd / 2;
  const float* c = cos_t + static_cast<size_t>(pos0 + r) * half;
  const float* s = sin_t + static_cast<size_t>(pos0 + r) * half;
  float* row = x + static_cast<size_t>(r) * ld;
  for (int t = threadIdx.x; t < heads * half; t += blockDim.x) {
    const int h = t / half, i = t - h * half;
    float* p = row + static_cast<size_t>(h) * hd;
    const float a = p[i], b = p[i + half];
    p[i] = a * c[i] - b * s[i];
    p[i + half] = b * c[i] + a * s[i];
  }
}

template <class T>
__global__ void swiglu_kernel(const float* __restrict__ gu, int n, int H, T* __restrict__ out) {
  const size_t total = static_cast<size_t>(n) * H;
  for (size_t idx = blockIdx.x * size_t(blockDim.x) + threadIdx.x; idx < total;
       idx += size_t(gridDim.x) * blockDim.x) {
    const size_t r = idx / H, j = idx - r * H;
    const float g = gu[r * 2 * H + j], u = gu[r * 2 * H + H + j];
    out[idx] = from_float<T>(g / (1.0f + expf(-g)) * u);
  }
}

__global__ void add_bias_kernel(float* __restrict__ x, size_t total, int ld, const float* __restrict__ b) {
  for (size_t idx = blockIdx.x * size_t(blockDim.x) + threadIdx.x; idx < total;
       idx += size_t(gridDim.x) * blockDim.x)
    x[idx] += b[idx % ld];
}

// One warp per (row, head): blockIdx.x = row · heads + head.
__global__ void head_rmsnorm_kernel(float* __restrict__ x, int ld, int heads, int hd,
                                    const float* __restrict__ w, float eps) {
  const int r = blockIdx.x / heads, h = blockIdx.x - r * heads;
  float* p = x + static_cast<size_t>(r) * ld + static_cast<size_t>(h) * hd;
  double ss = 0;
  for (int i = threadIdx.x; i < hd; i += 32) ss += static_cast<double>(p[i]) * p[i];
  ss = warp_sum(ss);
  const float inv = static_cast<float>(1.0 / sqrt(ss / hd + static_cast<double>(eps)));
  for (int i = threadIdx.x; i < hd; i += 32) p[i] = p[i] * inv * w[i];
}

int row_block(int width) { return width >= 1024 ? 256 : (width >= 256 ? 128 : 32); }

}  // namespace

void convert_f32(const float* src, void* dst, WType t, size_t n, cudaStream_t s) {
  if (n == 0) return;
  EEB_DISPATCH_WTYPE(t, convert_kernel<T><<<grid_for(n, 256), 256, 0, s>>>(
                            src, static_cast<T*>(dst), n));
  EEB_CUDA_CHECK_LAUNCH();
}

void fill_random(void* dst, WType t, size_t n, uint64_t seed, float scale, float offset,
                 cudaStream_t s) {
  if (n == 0) return;
  EEB_DISPATCH_WTYPE(t, fill_random_kernel<T><<<grid_for(n, 256), 256, 0, s>>>(
                            static_cast<T*>(dst), n, seed, scale, offset));
  EEB_CUDA_CHECK_LAUNCH();
}

void embed_rows(const void* table, WType t, const int32_t* tokens, int n, int dim, float* out,
                cudaStream_t s) {
  if (n == 0) return;
  EEB_DISPATCH_WTYPE(t, embed_kernel<T><<<n, row_block(dim), 0, s>>>(
                            static_cast<const T*>(table), tokens, dim, out));
  EEB_CUDA_CHECK_LAUNCH();
}

void rmsnorm(const float* x, int n, int dim, const float* w, float eps, void* out, WType t,
             cudaStream_t s) {
  if (n == 0) return;
  EEB_DISPATCH_WTYPE(t, rmsnorm_kernel<T><<<n, row_block(dim), 0, s>>>(
                            x, dim, w, eps, static_cast<T*>(out)));
  EEB_CUDA_CHECK_LAUNCH();
}

void rope(float* x, int n, int ld, int heads, int hd, int pos0, const float* cos_t,
          const float* sin_t, cudaStream_t s) {
  if (n == 0) return;
  rope_kernel<<<n, row_block(heads * hd / 2), 0, s>>>(x, ld, heads, hd, pos0, cos_t, sin_t);
  EEB_CUDA_CHECK_LAUNCH();
}

void add_bias_rows(float* x, int n, int ld, const float* b, cudaStream_t s) {
  const size_t total = static_cast<size_t>(n) * ld;
  if (total == 0) return;
  add_bias_kernel<<<grid_for(total, 256), 256, 0, s>>>(x, total, ld, b);
  EEB_CUDA_CHECK_LAUNCH();
}

void head_rmsnorm(float* x, int n, int ld, int heads, int hd, const float* w, float eps,
                  cudaStream_t s) {
  if (n == 0 || heads == 0) return;
  head_rmsnorm_kernel<<<n * heads, 32, 0, s>>>(x, ld, heads, hd, w, eps);
  EEB_CUDA_CHECK_LAUNCH();
}

void swiglu(const float* gu, int n, int H, void* out, WType t, cudaStream_t s) {
  const size_t total = static_cast<size_t>(n) * H;
  if (total == 0) return;
  EEB_DISPATCH_WTYPE(t, swiglu_kernel<T><<<grid_for(total, 256), 256, 0, s>>>(
                            gu, n, H, static_cast<T*>(out)));
  EEB_CUDA_CHECK_LAUNCH();
}

}  // namespace eeb::cuda
