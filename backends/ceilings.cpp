#include "backends/ceilings.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "core/error.h"

namespace eeb {
namespace {

template <class F>
double best_seconds(int reps, F&& f) {
  f();  // warm-up: page faults, thread pool
  double best = 1e30;
  for (int i = 0; i < std::max(1, reps); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

Ceilings measure_cpu_ceilings(int M, int N, int K, int reps, int threads) {
  Ceilings c;
  const size_t bytes = size_t(512) << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  const double s = best_seconds(reps, [&] { std::memcpy(dst.data(), src.data(), bytes); });
  c.copy_gbs = 2.0 * bytes * 1e-9 / s;
  c.copy_what = "memcpy, 512 MiB";
  std::vector<float> a(size_t(M) * K, 0.01f), w(size_t(N) * K, 0.02f), y(size_t(M) * N);
  // One sgemm on every core (the CPU backend splits its GEMMs over OpenMP threads and runs OpenBLAS
  // single-threaded inside them; the ceiling is the library's own best).
  const int before = openblas_get_num_threads();
  openblas_set_num_threads(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  // Y[M, N] = X[M, K] · W[N, K]ᵀ, as the CPU backend multiplies activations by weights.
  const double g = best_seconds(reps, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a.data(), K, w.data(), K, 0.0f, y.data(), N);
  });
  openblas_set_num_threads(before);
  c.gemm_tflops = 2.0 * M * N * K * 1e-12 / g;
  c.gemm_what = "OpenBLAS sgemm " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
  return c;
}

}  // namespace eeb
