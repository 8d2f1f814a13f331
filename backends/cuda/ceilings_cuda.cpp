// CUDA ceilings (backends/ceilings.h): device-to-device copy bandwidth and the cuBLAS GEMM rate at
// the weights dtype, both timed with CUDA events on the legacy default stream.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>

#include "backends/ceilings.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/event_seconds.h"
#include "core/error.h"

namespace eeb {
namespace {

// Frees device buffers on every path (errors are exceptions).
struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) { EEB_CUDA_CHECK(cudaMalloc(&p, bytes)); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

struct Cublas {
  cublasHandle_t h = nullptr;
  Cublas() { EEB_CUBLAS_CHECK(cublasCreate(&h)); }
  ~Cublas() { cublasDestroy(h); }
};

}  // namespace

Ceilings measure_cuda_ceilings(const std::string& dtype, int M, int N, int K, int reps) {
  Ceilings c;
  {
    const size_t bytes = size_t(1) << 30;
    DeviceBuffer src(bytes), dst(bytes);
    EEB_CUDA_CHECK(cudaMemset(src.p, 1, bytes));
    EEB_CUDA_CHECK(cudaMemcpy(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice));  // warm-up
    double best = 1e30;
    for (int i = 0; i < std::max(1, reps) * 4; ++i)
      best = std::min(best, cuda_event_seconds([&] {
                        EEB_CUDA_CHECK(cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, 0));
                      }));
    c.copy_gbs = 2.0 * bytes * 1e-9 / best;
    c.copy_what = "device-to-device cudaMemcpy, 1 GiB";
  }
  cudaDataType_t t = CUDA_R_16BF;
  size_t esz = 2;
  if (dtype == "f16") t = CUDA_R_16F;
  else if (dtype == "f32") t = CUDA_R_32F, esz = 4;
  else if (dtype != "bf16" && dtype != "" && dtype != "auto") throw Error("ceilings: unknown cuda dtype '" + dtype + "'");
  DeviceBuffer w(size_t(N) * K * esz), x(size_t(M) * K * esz), y(size_t(M) * N * 4);
  EEB_CUDA_CHECK(cudaMemset(w.p, 0x3c, size_t(N) * K * esz));  // small finite values in every dtype
  EEB_CUDA_CHECK(cudaMemset(x.p, 0x3c, size_t(M) * K * esz));
  Cublas h;
  const float alpha = 1.0f, beta = 0.0f;
  // Y[M, N] = X[M, K] · W[N, K]ᵀ in the backend's layout: column-major (T, N), m = N, n = M.
  auto gemm = [&] {
    EEB_CUBLAS_CHECK(cublasGemmEx(h.h, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, w.p, t, K, x.p, t, K, &beta, y.p,
                                  CUDA_R_32F, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  };
  gemm();  // warm-up: heuristics, workspace
  double best = 1e30;
  for (int i = 0; i < std::max(1, reps); ++i)
    best = std::min(best, cuda_event_seconds([&] {
                      for (int j = 0; j < 10; ++j) gemm();
                    }) / 10);
  c.gemm_tflops = 2.0 * M * N * K * 1e-12 / best;
  c.gemm_what = "cuBLAS " + std::string(dtype.empty() || dtype == "auto" ? "bf16" : dtype) + " GEMM " +
                std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) + " (FP32 accumulation)";
  return c;
}

}  // namespace eeb
