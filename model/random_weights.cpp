#include "model/random_weights.h"

#include <cmath>
#include <memory>
#include <vector>

#include "core/error.h"
#include "model/architecture.h"

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
  // Every tensor the architecture needs (and lm_head even when tied, as before: benchmarks time an
  // untied head), in the order embedding, layers, the rest: the order (and so the values) this
  // builder always had. Matrices uniform ±sqrt(3 / dim) (down_proj: ±sqrt(3 / intermediate)),
  // norms around 1, biases small.
  const auto& specs = architecture(c.architecture).tensors;
  auto put = [&](const TensorSpec& spec, int l) {
    if (!spec.hf || spec.init == Init::None) return;
    if (!tensor_needed(spec, c) && spec.role != Role::LmHead) return;
    const std::vector<int64_t> shape = spec.shape(c);
    const float fan_in = float(spec.role == Role::Wdown ? c.hidden_dim : c.dim);
    switch (spec.init) {
      case Init::Embed: add(hf_name(spec, l), shape, 1.f); break;
      case Init::Norm: add(hf_name(spec, l), shape, 0.1f, 1.f); break;
      case Init::Bias: add(hf_name(spec, l), shape, 0.1f); break;
      default: add(hf_name(spec, l), shape, std::sqrt(3.f / fan_in)); break;
    }
  };
  for (const auto& spec : specs)
    if (spec.role == Role::Embed) put(spec, -1);
  for (int l = 0; l < c.n_layers; ++l)
    for (const auto& spec : specs)
      if (spec.per_layer) put(spec, l);
  for (const auto& spec : specs)
    if (!spec.per_layer && spec.role != Role::Embed) put(spec, -1);
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
