// The architecture table (model/architecture.h) and the name/shape/RoPE helpers over it.
#include "model/architecture.h"

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"

namespace eeb {
namespace {

using Shape = std::vector<int64_t>;
int64_t D(const ModelConfig& c) { return c.dim; }
int64_t Q(const ModelConfig& c) { return int64_t(c.n_heads) * c.head_dim; }
int64_t KV(const ModelConfig& c) { return int64_t(c.n_kv_heads) * c.head_dim; }

Shape s_embed(const ModelConfig& c) { return {c.vocab_size, D(c)}; }
Shape s_dim(const ModelConfig& c) { return {D(c)}; }
Shape s_wq(const ModelConfig& c) { return {Q(c), D(c)}; }
Shape s_wkv(const ModelConfig& c) { return {KV(c), D(c)}; }
Shape s_wo(const ModelConfig& c) { return {D(c), Q(c)}; }
Shape s_bq(const ModelConfig& c) { return {Q(c)}; }
Shape s_bkv(const ModelConfig& c) { return {KV(c)}; }
Shape s_head(const ModelConfig& c) { return {c.head_dim}; }
Shape s_half_head(const ModelConfig& c) { return {c.head_dim / 2}; }
Shape s_up(const ModelConfig& c) { return {c.hidden_dim, D(c)}; }
Shape s_down(const ModelConfig& c) { return {D(c), c.hidden_dim}; }
Shape s_none(const ModelConfig&) { return {}; }

bool untied(const ModelConfig& c) { return !c.tied_embeddings; }
bool biased(const ModelConfig& c) { return c.qkv_bias; }
bool normed(const ModelConfig& c) { return c.qk_norm; }
bool never(const ModelConfig&) { return false; }

// The tensors every Llama-family decoder has (Llama, Mistral, Qwen2, Qwen3 share these names).
std::vector<TensorSpec> llama_tensors() {
  return {
      {Role::Embed, false, "model.embed_tokens.weight", "token_embd.weight", s_embed, nullptr, false, Init::Embed},
      {Role::FinalNorm, false, "model.norm.weight", "output_norm.weight", s_dim, nullptr, false, Init::Norm},
      {Role::LmHead, false, "lm_head.weight", "output.weight", s_embed, untied, true, Init::Matrix},
      {Role::AttnNorm, true, "input_layernorm.weight", "attn_norm.weight", s_dim, nullptr, false, Init::Norm},
      {Role::Wq, true, "self_attn.q_proj.weight", "attn_q.weight", s_wq, nullptr, false, Init::Matrix},
      {Role::Wk, true, "self_attn.k_proj.weight", "attn_k.weight", s_wkv, nullptr, false, Init::Matrix},
      {Role::Wv, true, "self_attn.v_proj.weight", "attn_v.weight", s_wkv, nullptr, false, Init::Matrix},
      {Role::Wo, true, "self_attn.o_proj.weight", "attn_output.weight", s_wo, nullptr, false, Init::Matrix},
      {Role::FfnNorm, true, "post_attention_layernorm.weight", "ffn_norm.weight", s_dim, nullptr, false, Init::Norm},
      {Role::Wgate, true, "mlp.gate_proj.weight", "ffn_gate.weight", s_up, nullptr, false, Init::Matrix},
      {Role::Wup, true, "mlp.up_proj.weight", "ffn_up.weight", s_up, nullptr, false, Init::Matrix},
      {Role::Wdown, true, "mlp.down_proj.weight", "ffn_down.weight", s_down, nullptr, false, Init::Matrix},
      // Some conversions store the rotary inverse frequencies; they are recomputed from the config.
      {Role::Derived, true, "self_attn.rotary_emb.inv_freq", nullptr, s_none, never, true, Init::None},
  };
}

std::vector<TensorSpec> with(std::vector<TensorSpec> v, std::initializer_list<TensorSpec> more) {
  v.insert(v.end(), more);
  return v;
}

const TensorSpec kRopeFreqs{Role::RopeFreqs, false, nullptr, "rope_freqs.weight", s_half_head, never, true,
                            Init::None};

}  // namespace

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> t = {
      {"llama", "LlamaForCausalLM", "llama", true, false, false, false,
       with(llama_tensors(), {kRopeFreqs})},
      // llama.cpp converts Mistral to general.architecture = llama, so it has no GGUF form of its own.
      {"mistral", "MistralForCausalLM", nullptr, true, false, false, true, llama_tensors()},
      {"qwen2", "Qwen2ForCausalLM", "qwen2", false, true, false, false,
       with(llama_tensors(),
            {{Role::Bq, true, "self_attn.q_proj.bias", "attn_q.bias", s_bq, biased, false, Init::Bias},
             {Role::Bk, true, "self_attn.k_proj.bias", "attn_k.bias", s_bkv, biased, false, Init::Bias},
             {Role::Bv, true, "self_attn.v_proj.bias", "attn_v.bias", s_bkv, biased, false, Init::Bias}})},
      {"qwen3", "Qwen3ForCausalLM", "qwen3", false, false, true, false,
       with(llama_tensors(),
            {{Role::QNorm, true, "self_attn.q_norm.weight", "attn_q_norm.weight", s_head, normed, false, Init::Norm},
             {Role::KNorm, true, "self_attn.k_norm.weight", "attn_k_norm.weight", s_head, normed, false, Init::Norm}})},
  };
  return t;
}

const Architecture& architecture(const std::string& name) {
  return find_by_name(architectures(), name, "architecture");
}

const Architecture* architecture_for_hf_class(const std::string& cls) {
  for (const auto& a : architectures())
    if (cls == a.hf_class) return &a;
  return nullptr;
}

const Architecture* architecture_for_gguf(const std::string& arch) {
  for (const auto& a : architectures())
    if (a.gguf_arch && arch == a.gguf_arch) return &a;
  return nullptr;
}

std::string known_hf_classes() {
  std::vector<std::string> v;
  for (const auto& a : architectures()) v.push_back(a.hf_class);
  return join(v, ", ");
}

std::string known_gguf_archs() {
  std::vector<std::string> v;
  for (const auto& a : architectures())
    if (a.gguf_arch) v.push_back(a.gguf_arch);
  return join(v, ", ");
}

void set_architecture(ModelConfig& cfg, const Architecture& a) {
  cfg.architecture = a.name;
  cfg.qkv_bias = a.qkv_bias;
  cfg.qk_norm = a.qk_norm;
  if (!a.sliding_window) cfg.sliding_window = 0;
}

std::string hf_name(const TensorSpec& s, int layer) {
  return s.per_layer ? "model.layers." + std::to_string(layer) + "." + s.hf : std::string(s.hf);
}

std::string gguf_name(const TensorSpec& s, int layer) {
  return s.per_layer ? "blk." + std::to_string(layer) + "." + s.gguf : std::string(s.gguf);
}

std::string tensor_name(const ModelConfig& cfg, Role role, int layer) {
  for (const auto& s : architecture(cfg.architecture).tensors)
    if (s.role == role && s.hf) return hf_name(s, layer);
  throw Error("architecture " + cfg.architecture + " has no tensor of role " +
              std::to_string(static_cast<int>(role)));
}

bool tensor_needed(const TensorSpec& s, const ModelConfig& cfg) { return !s.needed || s.needed(cfg); }

namespace {

// Splits "<prefix><digits>.<suffix>" into layer and suffix; false if `name` has another form.
bool split_layer(const std::string& name, const std::string& prefix, int* layer, std::string* suffix) {
  if (name.rfind(prefix, 0) != 0) return false;
  const auto dot = name.find('.', prefix.size());
  if (dot == std::string::npos) return false;
  const std::string num = name.substr(prefix.size(), dot - prefix.size());
  if (num.empty() || num.size() > 6 || num.find_first_not_of("0123456789") != std::string::npos) return false;
  *layer = std::stoi(num);
  *suffix = name.substr(dot + 1);
  return true;
}

template <class Get>
const TensorSpec* match(const Architecture& a, const std::string& name, const std::string& prefix, int* layer,
                        Get get) {
  std::string suffix;
  int l = -1;
  const bool layered = split_layer(name, prefix, &l, &suffix);
  for (const auto& s : a.tensors) {
    const char* n = get(s);
    if (!n) continue;
    if (s.per_layer ? (layered && suffix == n) : name == n) {
      *layer = s.per_layer ? l : -1;
      return &s;
    }
  }
  return nullptr;
}

}  // namespace

const TensorSpec* match_hf(const Architecture& a, const std::string& name, int* layer) {
  return match(a, name, "model.layers.", layer, [](const TensorSpec& s) { return s.hf; });
}

const TensorSpec* match_gguf(const Architecture& a, const std::string& name, int* layer) {
  return match(a, name, "blk.", layer, [](const TensorSpec& s) { return s.gguf; });
}

uint64_t weight_elements(const ModelConfig& cfg) {
  uint64_t total = 0;
  for (const auto& s : architecture(cfg.architecture).tensors) {
    if (!s.hf || !tensor_needed(s, cfg)) continue;
    uint64_t n = 1;
    for (int64_t d : s.shape(cfg)) n *= static_cast<uint64_t>(std::max<int64_t>(d, 0));
    total += s.per_layer ? n * static_cast<uint64_t>(std::max(cfg.n_layers, 0)) : n;
  }
  return total;
}

std::vector<double> rope_inv_freq(const ModelConfig& c) {
  const int half = c.head_dim / 2;
  std::vector<double> f(half > 0 ? half : 0);
  for (int i = 0; i < half; ++i) f[i] = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.head_dim);
  if (!c.rope_freq_factors.empty()) {
    if (static_cast<int>(c.rope_freq_factors.size()) != half)
      throw Error("rope_freqs has " + std::to_string(c.rope_freq_factors.size()) + " values, head_dim / 2 is " +
                  std::to_string(half));
    for (int i = 0; i < half; ++i) f[i] /= c.rope_freq_factors[i];
    return f;
  }
  if (c.rope_type == "linear") {
    for (auto& x : f) x /= c.rope_factor;
  } else if (c.rope_type == "llama3") {
    // transformers' _compute_llama3_parameters: long wavelengths are divided by `factor`, short ones
    // kept, and the band between smoothly interpolated.
    const double old_len = c.rope_original_max_pos;
    const double low_wavelen = old_len / c.rope_low_freq_factor;
    const double high_wavelen = old_len / c.rope_high_freq_factor;
    for (auto& x : f) {
      const double wavelen = 2 * std::numbers::pi / x;
      const double scaled = wavelen > low_wavelen ? x / c.rope_factor : x;
      const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
      if (medium) {
        const double smooth = (old_len / wavelen - c.rope_low_freq_factor) /
                              (c.rope_high_freq_factor - c.rope_low_freq_factor);
        x = (1 - smooth) * scaled / c.rope_factor + smooth * scaled;
      } else {
        x = scaled;
      }
    }
  } else if (c.rope_type != "default") {
    throw Error("rope type '" + c.rope_type + "' is not supported (default, linear, llama3 are)");
  }
  return f;
}

}  // namespace eeb
