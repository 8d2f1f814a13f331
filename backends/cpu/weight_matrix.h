// A weight matrix as the CPU backend holds it: in the type it was stored in (F32, BF16, F16, Q8_0),
// usually pointing straight into the model file's memory mapping, never converted to a second copy.
// The matrix products over it are the only place that knows how each type is multiplied.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/model.h"

namespace eeb::cpu {

// rows × cols, row-major, Hugging Face [out, in] layout; row r starts at data + r * row_bytes().
struct WeightMatrix {
  DType type = DType::F32;
  const uint8_t* data = nullptr;
  int rows = 0, cols = 0;
  size_t row_bytes() const { return static_cast<size_t>(dtype_bytes(type, static_cast<uint64_t>(cols))); }
  const uint8_t* row(int r) const { return data + static_cast<size_t>(r) * row_bytes(); }
  size_t bytes() const { return row_bytes() * static_cast<size_t>(rows); }
};

// Y[n, m] = X[n, k] · W^T + beta · Y with W.rows = m, W.cols = k (row strides ldx, ldy), accumulated
// in float32. Deterministic for a given thread count. OpenBLAS must be set to one thread.
void matmul(const float* X, int n, int k, int ldx, const WeightMatrix& W, float* Y, int ldy, float beta,
            int threads);

// How matmul multiplies n rows by W of this shape on `threads` threads on this CPU, e.g.
// "highway AVX3 gemv BF16" or
// "oneDNN bf16 matmul (brg:avx512_core_bf16), F16 tiles -> bf16" (benchmarks and logs).
std::string matmul_method(const WeightMatrix& W, int n, int threads = 1);

// The reference product: weight rows dequantised to float32, OpenBLAS sgemm (float activations).
// Slower for typed weights; kept for tests and benchmarks to compare against.
void matmul_reference(const float* X, int n, int k, int ldx, const WeightMatrix& W, float* Y, int ldy,
                      float beta, int threads);

// Row r of W as float32 (embedding lookup).
void dequantize_row(const WeightMatrix& W, int r, float* out);

}  // namespace eeb::cpu
