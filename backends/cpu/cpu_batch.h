// The per-sequence part of a batched layer on the CPU backend (Backend::run_layer_batch): the rows
// of several sequences are stacked into one block so that every projection is one GEMM over all
// of them; only RoPE, the KV-cache write and attention depend on a sequence's positions and cache,
// and run here, sequence by sequence, with the same kernels as the one-sequence path.
#pragma once
#include <span>

#include "backends/cpu/cpu_kernels.h"

namespace eeb::cpu {

// One sequence of a batch: rows [row0, row0 + n) of the stacked block, at positions
// [pos0, pos0 + n), with its cache's key/value buffers of this layer (capacity × kv_dim each).
// Positions [0, n_shared) are read from k_shared / v_shared instead (a fork's prefix, in place).
struct BatchSegment {
  int row0, n, pos0;
  float* k;
  float* v;
  const float* k_shared = nullptr;
  const float* v_shared = nullptr;
  int n_shared = 0;
};

struct SegmentShape {
  int q_dim, kv_dim, n_heads, n_kv_heads, hd;
  int window;            // sliding window (0: none)
  const float* cos_t;    // RoPE tables covering every segment's positions
  const float* sin_t;
  bool qk_interleaved = false;  // q/k rows in the file's interleaved-RoPE order (cpu::rope interleaved)
};

// For each segment, on its rows of qkv ([q | k | v] rows of stride ldqkv, biases and head norms
// already applied): RoPE at its own positions, its keys/values appended to its cache, and causal
// attention over that cache into its rows of out (stride ldo).
void attend_segments(float* qkv, int ldqkv, float* out, int ldo, std::span<const BatchSegment> segs,
                     const SegmentShape& s, AttentionScratch& scratch, int threads);

}  // namespace eeb::cpu
