// The CUDA backend's own kernels, behind plain C++17 launchers (no CUDA types but cudaStream_t), so
// the C++20 backend class (cuda_backend.cpp, compiled by g++) can call them. Implementations:
// elementwise.cu, attention.cu, reductions.cu. Every launcher checks the launch and throws
// eeb::Error on failure; execution errors surface at the next synchronizing call.
//
// Conventions: row-major, float32 activations; `void*` buffers hold the weight element type WType.
// Sizes are validated by the caller (the backend); launchers do not re-check them.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace eeb::cuda {

enum class WType { F32, F16, BF16 };
inline size_t wtype_size(WType t) { return t == WType::F32 ? 4 : 2; }

// ---- elementwise.cu -------------------------------------------------------------------------

// dst[i] = src[i] rounded to t (round-to-nearest-even), i < n.
void convert_f32(const float* src, void* dst, WType t, size_t n, cudaStream_t s);
// dst[i] = offset + scale·u_i, u_i uniform on [-√3, √3] (unit variance) from a hash of (seed, i).
void fill_random(void* dst, WType t, size_t n, uint64_t seed, float scale, float offset,
                 cudaStream_t s);
// out[r, :] = table[tokens[r], :] as float32 (tokens already validated), r < n.
void embed_rows(const void* table, WType t, const int32_t* tokens, int n, int dim, float* out,
                cudaStream_t s);
// out[r] = x[r] / sqrt(mean(x[r]²) + eps) · w, written as t; n rows of dim (sum of squares in f64).
void rmsnorm(const float* x, int n, int dim, const float* w, float eps, void* out, WType t,
             cudaStream_t s);
// Rotate-half rotary embedding in place on n rows (stride ld) of `heads` heads of hd floats; row r is
// position pos0 + r; cos_t/sin_t hold hd/2 values per position.
void rope(float* x, int n, int ld, int heads, int hd, int pos0, const float* cos_t,
          const float* sin_t, cudaStream_t s);
// x[r, i] += b[i] for n rows of ld floats (the q/k/v biases of Qwen2).
void add_bias_rows(float* x, int n, int ld, const float* b, cudaStream_t s);
// In place on n rows (stride ld) of `heads` heads of hd floats: each head ← head / sqrt(mean(head²)
// + eps) · w (Qwen3's q_norm / k_norm; sum of squares in float64, as the CPU backend).
void head_rmsnorm(float* x, int n, int ld, int heads, int hd, const float* w, float eps,
                  cudaStream_t s);
// gu: n rows of [gate (H) | up (H)] float32; out[r, j] = silu(gate) · up, written as t.
void swiglu(const float* gu, int n, int H, void* out, WType t, cudaStream_t s);

// ---- attention.cu ---------------------------------------------------------------------------

// Causal grouped-query attention of n query rows at positions [pos0, pos0 + n) over the cached
// keys/values [0, pos0 + n) (the block's own keys/values already stored), or over the last
// `window` of them when window > 0. Query head h reads
// kv head h / (n_heads / n_kv_heads). head_dim <= kMaxHeadDim.
inline constexpr int kMaxHeadDim = 256;
struct AttentionArgs {
  const float* q;  // [n, n_heads·hd] rows, stride ldq, rotary applied
  int ldq;
  const float* k;  // [pos0 + n, n_kv_heads·hd] rows, stride ldkv
  const float* v;
  int ldkv;
  float* out;      // [n, n_heads·hd] rows, stride ldo
  int ldo;
  int n, pos0, n_heads, n_kv_heads, hd;
  int window = 0;  // > 0: the query at position p sees keys in (p - window, p] (Mistral)
};
// Flash-style kernel: blocks of 32 query rows × one head, 32-key tiles in shared memory, online
// softmax, FP32 FMAs. For any n; used for blocks (prefill).
void attention_prefill(const AttentionArgs& a, cudaStream_t s);
// Split-K (flash-decoding) kernel for a few rows over a long cache: the keys of each (row, head)
// are cut into n_splits chunks reduced independently, then combined. `partial` must hold
// attention_decode_partial_floats(a, n_splits) floats.
int attention_decode_splits(const AttentionArgs& a, int sm_count);
size_t attention_decode_partial_floats(const AttentionArgs& a, int n_splits);
void attention_decode(const AttentionArgs& a, int n_splits, float* partial, cudaStream_t s);

// ---- reductions.cu --------------------------------------------------------------------------

// Per row of logits: the two largest entries (lowest id first on ties; top2 = -1 when V == 1),
// log-sum-exp in float64, and the target's logit when targets is non-null.
struct RowStats {
  int32_t top1, top2;
  float x1, x2;     // logits of top1, top2
  double lse;       // log Σ exp(x)
  double target;    // logit of targets[r] (0 without targets)
};
void row_stats(const float* logits, int n, int V, const int32_t* targets, RowStats* out,
               cudaStream_t s);

}  // namespace eeb::cuda
