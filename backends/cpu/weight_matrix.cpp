// Reference implementation of the typed matrix product: dequantise a block of weight rows into a
// float32 scratch and hand it to OpenBLAS. Correct for every type; the fast kernels replace it.
#include "backends/cpu/weight_matrix.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "backends/cpu/cpu_kernels.h"

namespace eeb::cpu {

void dequantize_row(const WeightMatrix& W, int r, float* out) {
  dequantize(W.type, W.row(r), static_cast<uint64_t>(W.cols), out);
}

void matmul(const float* X, int n, int k, int ldx, const WeightMatrix& W, float* Y, int ldy, float beta,
            int threads) {
  const int m = W.rows;
  if (n <= 0 || m <= 0) return;
  if (W.type == DType::F32) {
    matmul(X, n, k, ldx, reinterpret_cast<const float*>(W.data), m, Y, ldy, beta, threads);
    return;
  }
  constexpr int kBlock = 64;  // weight rows dequantised at a time
  const int blocks = (m + kBlock - 1) / kBlock;
#pragma omp parallel num_threads(std::max(1, std::min(threads, blocks)))
  {
    std::vector<float> w(static_cast<size_t>(kBlock) * k);
#pragma omp for schedule(static)
    for (int b = 0; b < blocks; ++b) {
      const int r0 = b * kBlock, rn = std::min(kBlock, m - r0);
      for (int r = 0; r < rn; ++r) dequantize_row(W, r0 + r, w.data() + static_cast<size_t>(r) * k);
      matmul(X, n, k, ldx, w.data(), rn, Y + r0, ldy, beta, 1);
    }
  }
}

}  // namespace eeb::cpu
