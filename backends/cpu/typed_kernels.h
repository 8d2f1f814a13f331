// The pieces behind eeb::cpu::matmul over typed weights (weight_matrix.cpp puts them together):
//   gemv_hwy.cpp   Highway kernels, runtime-dispatched to the best SIMD target of the CPU:
//                  matrix-vector products reading BF16 / F16 / Q8_0 rows directly (decode), and the
//                  conversions to bfloat16 the GEMMs need (activations, F16 and Q8_0 weight tiles).
//   elementwise_hwy.cpp  Highway exp for the attention softmax, SwiGLU and log-sum-exp over a
//                  vocabulary row (dispatched as above).
//   gemm_dnnl.cpp  oneDNN bf16 matmul with float32 accumulation and output (prefill), primitives
//                  cached per shape; oneDNN's float32 sgemm (float32 weights, attention).
// Everything here is single-threaded: the callers split the work over OpenMP threads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/model.h"

namespace eeb::cpu::detail {

// Y[j, r] = dot(X[j, :k], W row r) + beta · Y[j, r] for j < nx (1..8), r in [r0, r1), float32
// accumulation in a fixed order (the result does not depend on how rows are split over threads).
// W rows of type t (F32, BF16, F16, Q8_0) are row_bytes apart. beta == 0: Y is not read.
void gemv_rows(DType t, const float* X, int nx, int ldx, const uint8_t* W, size_t row_bytes, int r0,
               int r1, int k, float* Y, int ldy, float beta);

// rows × k weights of type t (row_bytes apart) to bfloat16, round-to-nearest-even, packed (row
// stride k) into out.
void rows_to_bf16(DType t, const uint8_t* W, size_t row_bytes, int rows, int k, uint16_t* out);

// n floats to bfloat16, round-to-nearest-even.
void f32_to_bf16(const float* x, size_t n, uint16_t* out);

// In-place softmax of row[0, valid); row[valid, width) set to zero.
void softmax_row(float* row, int valid, int width);

// g[i] = silu(g[i]) · u[i] for i < n.
void silu_mul(float* g, const float* u, int n);

// The largest of x[0, n), n >= 1.
float max_value(const float* x, int n);

// The first i in [0, n) with x[i] == v, or -1.
int find_first(const float* x, int n, float v);

// Sum of exp(x[i] - m) over i < n (float32 exp within 1 ulp, float64 accumulation).
double sum_exp(const float* x, int n, float m);

// Name of the SIMD target the Highway kernels dispatch to on this CPU (e.g. "AVX3_DL").
const char* simd_target();

// Y[n, m] = Xb[n, k] · Wb[m, k]^T + beta · Y (row strides k, ldw, ldy; bf16 inputs, f32 out) by a
// cached oneDNN matmul primitive on `threads` OpenMP threads of its own (1: call it inside the
// caller's OpenMP partition).
void dnnl_gemm_bf16(const uint16_t* Xb, int n, int k, const uint16_t* Wb, int ldw, int m, float* Y,
                    int ldy, float beta, int threads = 1);

// C[n, m] = alpha · A[n, k] · op(B) + beta · C, row-major (op(B) = B[m, k]ᵀ when trans_b, else
// B[k, m]), float32 throughout, by oneDNN's sgemm on the calling thread only. oneDNN picks its
// kernel by the CPU's instruction sets (AVX-512 here), where Debian's OpenBLAS 0.3.21 takes a
// Zen 4/5 CPU for Haswell and runs its AVX2 kernels at about half the rate (docs/PERF.md).
void sgemm(bool trans_b, int n, int m, int k, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);

// The oneDNN implementation a primitive of this shape uses (e.g. "brg:avx512_core_bf16").
std::string dnnl_impl_name(int n, int m, int k, int threads);

}  // namespace eeb::cpu::detail
