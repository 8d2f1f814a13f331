// The CPU backend's building blocks: one screen each, float32, row-major.
// All parallelism is OpenMP: the libraries (oneDNN's sgemm, OpenBLAS's sgemv) run single-threaded
// inside OpenMP threads (one thread pool, no contention between two pools on the same cores).
#pragma once
#include <vector>

namespace eeb::cpu {

// Y[n, m] = X[n, k] · W[m, k]^T + beta · Y (W in the Hugging Face [out, in] layout).
// oneDNN sgemm for a block of rows, OpenBLAS sgemv for a single row (OpenBLAS set to one thread).
void matmul(const float* X, int n, int k, int ldx, const float* W, int m, float* Y, int ldy,
            float beta, int threads);

// out[r] = x[r] / sqrt(mean(x[r]²) + eps) * w for n rows of dim floats.
void rmsnorm(const float* x, int n, int dim, const float* w, float eps, float* out, int threads);

// x[r] += b for n rows of dim floats (row stride ld).
void add_row_bias(float* x, int n, int ld, const float* b, int threads);

// In place, for n rows (stride ld) of `heads` heads of hd floats: each head h ← h / sqrt(mean(h²) +
// eps) * w (Qwen3's q_norm / k_norm).
void head_rmsnorm(float* x, int n, int ld, int heads, int hd, const float* w, float eps, int threads);

// Rotary embedding, Hugging Face rotate-half convention, on n rows of `heads` heads of hd floats
// (row stride ld). Row r is at position pos0 + r; cos/sin tables hold hd/2 values per position.
// interleaved: each head holds its rotation pairs at (2i, 2i + 1) instead (interleaved-RoPE order,
// as GGUF / llama2.c store Q and K rows, which the CPU backend keeps as stored).
void rope(float* x, int n, int ld, int heads, int hd, int pos0, const float* cos_t,
          const float* sin_t, int threads, bool interleaved = false);

// gu holds n rows of [gate (H) | up (H)]; the gate half is replaced by silu(gate) * up.
void swiglu(float* gu, int n, int H, int threads);

// Causal grouped-query attention of a block of n rows at positions [pos0, pos0 + n) over keys and
// values [0, pos0 + n) (the block's own keys/values are already in k, v).
struct AttentionArgs {
  const float* q;  // [n, n_heads * hd], row stride ldq, rotary already applied
  int ldq;
  const float* k;  // [pos0 + n, n_kv_heads * hd] (the cache), row stride ldkv
  const float* v;
  int ldkv;
  float* out;      // [n, n_heads * hd], row stride ldo
  int ldo;
  int n, pos0, n_heads, n_kv_heads, hd;
  int window = 0;  // > 0: the query at position p sees keys in (p - window, p] (Mistral)
  // Positions [0, n_shared) are read from these instead of k, v (same row stride): a forked
  // prefix's keys/values, in place.
  const float* k_shared = nullptr;
  const float* v_shared = nullptr;
  int n_shared = 0;
};
struct AttentionScratch {
  std::vector<float> q, s, o;  // per thread
};
void attention(const AttentionArgs& a, AttentionScratch& scratch, int threads);

}  // namespace eeb::cpu
