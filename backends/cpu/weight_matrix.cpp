// The typed matrix product: which kernel multiplies what (the kernels are in typed_kernels.h).
//   F32 weights       OpenBLAS sgemm / sgemv (cpu_kernels.cpp), as before.
//   n < gemm_min_rows (decode, short blocks) Highway matrix-vector kernels reading BF16 / F16 / Q8_0
//                     rows as stored, float32 activations: bound by the weight bytes read.
//   otherwise         (prefill) activations rounded to bf16 once, oneDNN bf16 matmul with float32
//                     accumulation and output. BF16 weights are used in place by one oneDNN call on
//                     all threads (its brgemm kernel and partition were the fastest measured); F16
//                     and Q8_0 weights are converted to bf16 a tile of rows at a time (the tile
//                     stays in cache), each thread converting and multiplying its own rows (one
//                     parallel region per call: a oneDNN call per tile on all threads was 2-10x
//                     slower on the loaded 2-core machine, docs/PERF.md).
// Partitions are fixed by the shape and thread count, so the result depends only on those.
#include "backends/cpu/weight_matrix.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/typed_kernels.h"

namespace eeb::cpu {
namespace {

// From this many rows on the GEMM (one pass over the weights, bf16 arithmetic) beats the GEMV kernel,
// which reads the weights once per 8 rows and is compute-bound beyond 2-4 rows (bench_weight_matmul
// on the 7B gate|up matrix, docs/PERF.md). F16 / Q8_0 GEMMs pay the tile conversion too.
int gemm_min_rows(DType t) { return t == DType::BF16 ? 8 : 16; }
// F16 / Q8_0 weight rows converted to bf16 per GEMM call: about 256 KiB of bf16 (fits the L2
// beside the activations) but at least 64 rows so each oneDNN call has enough columns.
int tile_rows(int k) { return std::max(64, (256 << 10) / (2 * k) / 16 * 16); }

// Thread t of nt takes rows [m0, m1): contiguous, starting at multiples of `align`.
void split(int m, int t, int nt, int align, int& m0, int& m1) {
  const int per = (m / nt + align - 1) / align * align;
  m0 = std::min(m, t * per);
  m1 = t == nt - 1 ? m : std::min(m, m0 + per);
}

void gemv(const float* X, int n, int k, int ldx, const WeightMatrix& W, float* Y, int ldy, float beta,
          int threads) {
  const int m = W.rows, parts = std::max(1, std::min(threads, m / 16));
#pragma omp parallel num_threads(parts) if (parts > 1)
  {
    int m0, m1;
    split(m, omp_get_thread_num(), omp_get_num_threads(), 16, m0, m1);
    if (m1 > m0)
      for (int j = 0; j < n; j += 8)
        detail::gemv_rows(W.type, X + static_cast<size_t>(j) * ldx, std::min(8, n - j), ldx, W.data,
                          W.row_bytes(), m0, m1, k, Y + static_cast<size_t>(j) * ldy, ldy, beta);
  }
}

void gemm(const float* X, int n, int k, int ldx, const WeightMatrix& W, float* Y, int ldy, float beta,
          int threads) {
  const int m = W.rows, parts = std::max(1, std::min(threads, m / 64));
  thread_local std::vector<uint16_t> xb;  // the caller's thread: shared with the team below
  xb.resize(static_cast<size_t>(n) * k);
  uint16_t* Xb = xb.data();
  const int T = tile_rows(k);
  if (W.type == DType::BF16) {  // one oneDNN call on all threads: its brgemm kernel, its partition
#pragma omp parallel for num_threads(std::max(1, threads)) if (threads > 1 && n > 1) schedule(static)
    for (int j = 0; j < n; ++j)
      detail::f32_to_bf16(X + static_cast<size_t>(j) * ldx, k, Xb + static_cast<size_t>(j) * k);
    detail::dnnl_gemm_bf16(Xb, n, k, reinterpret_cast<const uint16_t*>(W.data), k, m, Y, ldy, beta,
                           std::max(1, threads));
    return;
  }
#pragma omp parallel num_threads(parts) if (parts > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int j0, j1;
    split(n, t, nt, 1, j0, j1);
    for (int j = j0; j < j1; ++j)
      detail::f32_to_bf16(X + static_cast<size_t>(j) * ldx, k, Xb + static_cast<size_t>(j) * k);
#pragma omp barrier
    int m0, m1;
    split(m, t, nt, 64, m0, m1);
    if (m1 > m0) {
      thread_local std::vector<uint16_t> tile;  // this team member's own
      tile.resize(static_cast<size_t>(T) * k);
      for (int r0 = m0; r0 < m1; r0 += T) {
        const int rn = std::min(T, m1 - r0);
        detail::rows_to_bf16(W.type, W.row(r0), W.row_bytes(), rn, k, tile.data());
        detail::dnnl_gemm_bf16(Xb, n, k, tile.data(), k, rn, Y + r0, ldy, beta, 1);
      }
    }
  }
}

}  // namespace

void dequantize_row(const WeightMatrix& W, int r, float* out) {
  dequantize(W.type, W.row(r), static_cast<uint64_t>(W.cols), out);
}

void matmul(const float* X, int n, int k, int ldx, const WeightMatrix& W, float* Y, int ldy, float beta,
            int threads) {
  if (n <= 0 || W.rows <= 0) return;
  if (W.type == DType::F32)
    matmul(X, n, k, ldx, reinterpret_cast<const float*>(W.data), W.rows, Y, ldy, beta, threads);
  else if (n < gemm_min_rows(W.type))
    gemv(X, n, k, ldx, W, Y, ldy, beta, threads);
  else
    gemm(X, n, k, ldx, W, Y, ldy, beta, threads);
}

std::string matmul_method(const WeightMatrix& W, int n, int threads) {
  if (W.type == DType::F32) return n == 1 ? "OpenBLAS sgemv" : "OpenBLAS sgemm";
  if (n < gemm_min_rows(W.type)) return std::string("highway ") + detail::simd_target() + " gemv " + dtype_name(W.type);
  const bool bf16 = W.type == DType::BF16;  // see gemm(): the shape and threads oneDNN gets
  std::string s = std::string("oneDNN bf16 matmul (") +
                  detail::dnnl_impl_name(n, bf16 ? W.rows : std::min(W.rows, tile_rows(W.cols)), W.cols,
                                         bf16 ? threads : 1) + ")";
  if (W.type != DType::BF16) s += std::string(", ") + dtype_name(W.type) + " tiles -> bf16";
  return s;
}

void matmul_reference(const float* X, int n, int k, int ldx, const WeightMatrix& W, float* Y, int ldy,
                      float beta, int threads) {
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
