#include "model/random_weights.h"

#include <cmath>
#include <memory>
#include <vector>

#include "core/error.h"

namespace eeb {
namespace {

void fill(std::vector<float>& v, uint64_t seed, float scale, float offset) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& f : v) {
    x += 0x9E3779B97F4A7C15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    f = offset + scale * (static_cast<float>(z >> 40) / float(1 << 24) * 2.f - 1.f);
  }
}

}  // namespace

Model random_llama(const ModelConfig& c, uint64_t seed) {
  Model m;
  m.path = "<random " + std::to_string(c.n_layers) + " layers>";
  m.format = "memory";
  m.cfg = c;
  uint64_t k = seed;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float scale, float offset = 0) {
    uint64_t n = 1;
    for (auto d : shape) n *= uint64_t(d);
    auto buf = std::make_shared<std::vector<float>>(n);
    fill(*buf, ++k, scale, offset);
    TensorInfo t;
    t.name = name, t.dtype = DType::F32, t.shape = shape, t.file = "<memory>";
    t.data = reinterpret_cast<const uint8_t*>(buf->data());
    t.nbytes = n * 4;
    m.tensors[name] = t;
    m.keepalive.push_back(buf);
  };
  const int64_t D = c.dim, H = c.hidden_dim, q = int64_t(c.n_heads) * c.head_dim,
                kv = int64_t(c.n_kv_heads) * c.head_dim;
  const float s = std::sqrt(3.f / D);
  add(kEmbed, {c.vocab_size, D}, 1.f);
  for (int l = 0; l < c.n_layers; ++l) {
    add(tn_layer(l, "input_layernorm.weight"), {D}, 0.1f, 1.f);
    add(tn_layer(l, "self_attn.q_proj.weight"), {q, D}, s);
    add(tn_layer(l, "self_attn.k_proj.weight"), {kv, D}, s);
    add(tn_layer(l, "self_attn.v_proj.weight"), {kv, D}, s);
    add(tn_layer(l, "self_attn.o_proj.weight"), {D, q}, s);
    add(tn_layer(l, "post_attention_layernorm.weight"), {D}, 0.1f, 1.f);
    add(tn_layer(l, "mlp.gate_proj.weight"), {H, D}, s);
    add(tn_layer(l, "mlp.up_proj.weight"), {H, D}, s);
    add(tn_layer(l, "mlp.down_proj.weight"), {D, H}, std::sqrt(3.f / H));
  }
  add(kFinalNorm, {D}, 0.1f, 1.f);
  add(kLmHead, {c.vocab_size, D}, s);
  return m;
}

ModelConfig shape_config(const std::string& name) {
  ModelConfig c;
  c.vocab_size = 32000, c.max_seq_len = 4096;
  if (name == "7b") {
    c.dim = 4096, c.hidden_dim = 11008, c.n_layers = 32, c.n_heads = 32, c.n_kv_heads = 32, c.head_dim = 128;
  } else if (name == "1b") {
    c.dim = 2048, c.hidden_dim = 5632, c.n_layers = 22, c.n_heads = 32, c.n_kv_heads = 4, c.head_dim = 64;
  } else if (name == "tiny") {
    c.dim = 256, c.hidden_dim = 688, c.n_layers = 4, c.n_heads = 8, c.n_kv_heads = 4, c.head_dim = 32;
    c.vocab_size = 4096;
  } else {
    throw Error("unknown model shape '" + name + "' (known: 7b, 1b, tiny)");
  }
  return c;
}

}  // namespace eeb
