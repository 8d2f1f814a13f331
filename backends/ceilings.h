// The hardware ceilings a backend's throughput is judged against, measured on the spot (in the same
// process as the throughput they judge): memory bandwidth as a large copy (bytes read + written per
// second) and the matrix-multiply rate of the library the backend calls for its projections.
//   cpu:  memcpy of two 512 MiB buffers; OpenBLAS sgemm (float32), all threads.
//   cuda: cudaMemcpy device-to-device of 1 GiB; cublasGemmEx at the weights dtype with FP32 accumulation,
//         timed with CUDA events.
#pragma once
#include <string>

namespace eeb {

struct Ceilings {
  double copy_gbs = 0;      // GB/s, read + write
  double gemm_tflops = 0;   // best of the shapes measured
  std::string gemm_what;    // e.g. "cuBLAS bf16 GEMM 2048x11008x4096"
  std::string copy_what;    // e.g. "device-to-device cudaMemcpy, 1 GiB"
};

// M x N x K: the GEMM shape (a prefill projection: M tokens, N outputs, K inputs). Error for an
// unknown or unavailable backend. Dispatched through the backend table (backends/registry.cpp).
// threads: CPU threads for the sgemm (0: every core).
Ceilings measure_ceilings(const std::string& backend, const std::string& dtype, int M, int N, int K, int reps = 5,
                          int threads = 0);

// The per-backend measurements behind measure_ceilings (the CUDA one exists in CUDA builds only).
Ceilings measure_cpu_ceilings(int M, int N, int K, int reps, int threads);
Ceilings measure_cuda_ceilings(const std::string& dtype, int M, int N, int K, int reps);  // backends/cuda/

}  // namespace eeb
