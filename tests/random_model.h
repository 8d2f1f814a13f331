// Small random models of any architecture in the table, built in memory, for tests that compare against independent computations.
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model/architecture.h"
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

// A random model in the HF convention with every tensor validate_model() expects of cfg's
// architecture (model/architecture.h), in the order embedding, each layer's tensors, the rest.
inline Model random_model(const ModelConfig& cfg_in, uint64_t seed = 1) {
  Model m;
  m.path = "<random seed " + std::to_string(seed) + ">";
  m.format = "memory";
  m.cfg = cfg_in;
  set_architecture(m.cfg, architecture(cfg_in.architecture));
  const ModelConfig& cfg = m.cfg;
  std::mt19937_64 rng(seed);
  const auto& specs = architecture(cfg.architecture).tensors;
  auto put = [&](const TensorSpec& s, int l) {
    if (!s.hf || s.init == Init::None || !tensor_needed(s, cfg)) return;
    const float scale = s.role == Role::Wdown ? 1.0f / std::sqrt(float(cfg.hidden_dim))
                                              : 1.0f / std::sqrt(float(cfg.dim));
    switch (s.init) {
      case Init::Embed: add_random_tensor(m, hf_name(s, l), s.shape(cfg), rng, 1.0f); break;
      case Init::Norm: add_random_tensor(m, hf_name(s, l), s.shape(cfg), rng, 0.1f, 1.0f); break;
      case Init::Bias: add_random_tensor(m, hf_name(s, l), s.shape(cfg), rng, 0.2f); break;
      default: add_random_tensor(m, hf_name(s, l), s.shape(cfg), rng, scale); break;
    }
  };
  for (const auto& s : specs)
    if (s.role == Role::Embed) put(s, -1);
  for (int l = 0; l < cfg.n_layers; ++l)
    for (const auto& s : specs)
      if (s.per_layer) put(s, l);
  for (const auto& s : specs)
    if (!s.per_layer && s.role != Role::Embed) put(s, -1);
  return m;
}

// A 64-token SentencePiece vocabulary: control tokens, letters and a few word pieces (tests that need
// a tokenizer without shared data: Tokenizer::from_proto(sentencepiece_proto_from_vocab(v), ...)).
inline EmbeddedVocab small_test_vocab() {
  EmbeddedVocab v;
  v.tokens = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "\xe2\x96\x81the", "\xe2\x96\x81" "a", "ing", "er"};
  for (char c = 'a'; c <= 'z'; ++c) v.tokens.push_back(std::string(1, c));
  for (char c = 'A'; v.tokens.size() < 64; ++c) v.tokens.push_back(std::string(1, c));
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    v.scores.push_back(-float(i));
    v.types.push_back(i == 0 ? 2 : i < 3 ? 3 : 1);
  }
  return v;
}

}  // namespace eeb::testing
