// Random-weight models of real shapes for benchmarks, filled quickly (a SplitMix64 stream; the
// values only need a sane scale).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/random_weights.h"

namespace eeb::bench {

// TinyLlama-1.1B shape (a "1B-parameter-shaped" model); EEB_BENCH_LAYERS overrides the depth.
inline ModelConfig llama_1b_config(int layers = 22) {
  if (const char* e = std::getenv("EEB_BENCH_LAYERS")) layers = std::max(1, std::atoi(e));
  ModelConfig c;
  c.dim = 2048, c.hidden_dim = 5632, c.n_layers = layers, c.n_heads = 32, c.n_kv_heads = 4;
  c.head_dim = 64, c.vocab_size = 32000, c.max_seq_len = 4096;
  return c;
}

inline Model random_model_fast(const ModelConfig& c, uint64_t seed = 1) { return random_llama(c, seed); }

}  // namespace eeb::bench
