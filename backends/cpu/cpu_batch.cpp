#include "backends/cpu/cpu_batch.h"

#include <cstddef>
#include <cstring>

namespace eeb::cpu {

void attend_segments(float* qkv, int ldqkv, float* out, int ldo, std::span<const BatchSegment> segs,
                     const SegmentShape& s, AttentionScratch& scratch, int threads) {
  for (const BatchSegment& g : segs) {
    float* q = qkv + static_cast<size_t>(g.row0) * ldqkv;
    // q and k heads are adjacent in a qkv row, as in the one-sequence path.
    rope(q, g.n, ldqkv, s.n_heads + s.n_kv_heads, s.hd, g.pos0, s.cos_t, s.sin_t, threads, s.qk_interleaved);
    for (int r = 0; r < g.n; ++r) {
      const float* src = q + static_cast<size_t>(r) * ldqkv + s.q_dim;
      const size_t dst = static_cast<size_t>(g.pos0 + r) * s.kv_dim;
      std::memcpy(g.k + dst, src, sizeof(float) * s.kv_dim);
      std::memcpy(g.v + dst, src + s.kv_dim, sizeof(float) * s.kv_dim);
    }
    AttentionArgs a{q, ldqkv, g.k, g.v, s.kv_dim, out + static_cast<size_t>(g.row0) * ldo, ldo,
                    g.n, g.pos0, s.n_heads, s.n_kv_heads, s.hd, s.window};
    a.k_shared = g.k_shared, a.v_shared = g.v_shared, a.n_shared = g.n_shared;
    attention(a, scratch, threads);
  }
}

}  // namespace eeb::cpu
