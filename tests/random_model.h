// Small random Llama models built in memory, for tests that compare against independent computations.
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model/model.h"

namespace eeb::testing {

inline ModelConfig tiny_config(int n_layers = 3, int dim = 32, int n_heads = 4, int n_kv_heads = 2,
                               int hidden = 48, int vocab = 64) {
  ModelConfig c;
  c.dim = dim;
  c.hidden_dim = hidden;
  c.n_layers = n_layers;
  c.n_heads = n_heads;
  c.n_kv_heads = n_kv_heads;
  c.head_dim = dim / n_heads;
  c.vocab_size = vocab;
  c.max_seq_len = 128;
  c.rope_theta = 10000.f;
  c.norm_eps = 1e-5f;
  return c;
}

// Adds an F32 tensor with N(0, scale) entries (norm weights: 1 + N(0, scale)).
inline void add_random_tensor(Model& m, const std::string& name, std::vector<int64_t> shape,
                              std::mt19937_64& rng, float scale, float offset = 0.f) {
  uint64_t n = 1;
  for (auto d : shape) n *= static_cast<uint64_t>(d);
  auto buf = std::make_shared<std::vector<float>>(n);
  std::normal_distribution<float> nd(0.f, scale);
  for (auto& x : *buf) x = offset + nd(rng);
  TensorInfo t;
  t.name = name;
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  t.data = reinterpret_cast<const uint8_t*>(buf->data());
  t.nbytes = n * sizeof(float);
  t.file = "<memory>";
  m.tensors[name] = t;
  m.keepalive.push_back(buf);
}

// A random model in the HF convention with every tensor validate_llama() expects.
inline Model random_model(const ModelConfig& cfg, uint64_t seed = 1) {
  Model m;
  m.path = "<random seed " + std::to_string(seed) + ">";
  m.format = "memory";
  m.cfg = cfg;
  std::mt19937_64 rng(seed);
  const int64_t D = cfg.dim, H = cfg.hidden_dim, hd = cfg.head_dim;
  const int64_t q = cfg.n_heads * hd, kv = cfg.n_kv_heads * hd;
  const float s = 1.0f / std::sqrt(static_cast<float>(D));
  add_random_tensor(m, kEmbed, {cfg.vocab_size, D}, rng, 1.0f);
  for (int l = 0; l < cfg.n_layers; ++l) {
    auto L = [&](const char* suf) { return "model.layers." + std::to_string(l) + "." + suf; };
    add_random_tensor(m, L("input_layernorm.weight"), {D}, rng, 0.1f, 1.0f);
    add_random_tensor(m, L("self_attn.q_proj.weight"), {q, D}, rng, s);
    add_random_tensor(m, L("self_attn.k_proj.weight"), {kv, D}, rng, s);
    add_random_tensor(m, L("self_attn.v_proj.weight"), {kv, D}, rng, s);
    add_random_tensor(m, L("self_attn.o_proj.weight"), {D, q}, rng, s);
    add_random_tensor(m, L("post_attention_layernorm.weight"), {D}, rng, 0.1f, 1.0f);
    add_random_tensor(m, L("mlp.gate_proj.weight"), {H, D}, rng, s);
    add_random_tensor(m, L("mlp.up_proj.weight"), {H, D}, rng, s);
    add_random_tensor(m, L("mlp.down_proj.weight"), {D, H}, rng, 1.0f / std::sqrt(float(H)));
  }
  add_random_tensor(m, kFinalNorm, {D}, rng, 0.1f, 1.0f);
  if (!cfg.tied_embeddings) add_random_tensor(m, kLmHead, {cfg.vocab_size, D}, rng, s);
  return m;
}

}  // namespace eeb::testing
