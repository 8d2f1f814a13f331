// The hardware ceilings a backend's throughput is judged against, measured on the spot (in the same
// process as the throughput they judge): memory bandwidth as a large copy (bytes read + written per
// second), as a read-only stream (what decode does to the weights), and the matrix-multiply rate of
// the library the backend calls for its projections, at the weights' type.
//   cpu:  memcpy of two 512 MiB buffers; a read-only sum over 512 MiB on `threads` threads; the GEMM
//         at the weights' type: f32 OpenBLAS sgemm; bf16, f16 and q8_0 the oneDNN bf16 matmul the
//         backend computes them with (or OpenBLAS sbgemm where the OpenBLAS has it and it is faster:
//         Debian 12's has not). The f32 sgemm rate is always reported beside it (gemm_f32_*).
//   cuda: cudaMemcpy device-to-device of 1 GiB; cublasGemmEx at the weights dtype with FP32 accumulation,
//         timed with CUDA events (no read-only figure: read_gbs stays 0).
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace eeb {

struct Ceilings {
  double copy_gbs = 0;      // GB/s, read + write
  double gemm_tflops = 0;   // over the shapes measured, at the weights' type
  std::string gemm_what;    // e.g. "cuBLAS bf16 GEMM 2048x11008x4096"
  std::string copy_what;    // e.g. "device-to-device cudaMemcpy, 1 GiB"
  double read_gbs = 0;      // GB/s read (0: not measured on this backend)
  std::string read_what;
  double gemm_f32_tflops = 0;  // the f32 library GEMM on the same shapes (cpu)
  std::string gemm_f32_what;
};

// Y[M, N] = X[M, K] · W[N, K]ᵀ: M tokens, N outputs, K inputs (a prefill projection).
struct GemmShape {
  int M = 0, N = 0, K = 0;
};

// M x N x K: the GEMM shape. Error for an unknown or unavailable backend. Dispatched through the
// backend table (backends/registry.cpp). threads: CPU threads (0: every core).
Ceilings measure_ceilings(const std::string& backend, const std::string& dtype, int M, int N, int K, int reps = 5,
                          int threads = 0);
// The GEMM rate over several shapes together (sum of FLOPs / sum of the best times per shape), e.g.
// the seven projections of a layer; bandwidths as above.
Ceilings measure_ceilings(const std::string& backend, const std::string& dtype, const std::vector<GemmShape>& shapes,
                          int reps, int threads);

// The per-backend measurements behind measure_ceilings (the CUDA one exists in CUDA builds only).
Ceilings measure_cpu_ceilings(const std::string& dtype, const std::vector<GemmShape>& shapes, int reps, int threads);
Ceilings measure_cpu_ceilings(int M, int N, int K, int reps, int threads);  // f32, one shape
Ceilings measure_cuda_ceilings(const std::string& dtype, int M, int N, int K, int reps);  // backends/cuda/


}  // namespace eeb
