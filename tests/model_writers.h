// Test-only writers that turn a Model (e.g. tests/random_model.h, HF convention) into model files
// of every supported format, so tests can round-trip through load_model(). Header-only.
//
//   write_safetensors(m, path, dtype)            one .safetensors file (F32 | F16 | BF16)
//   write_hf_dir(m, dir, dtype, shards)          config.json + model.safetensors, or shards + index
//   write_gguf(m, path, dtype, version, vocab)   GGUF v2/v3 (F32 | F16 | BF16 | Q8_0), llama.cpp layout:
//                                                1-D tensors stay F32; Q8_0 rows not a multiple of 32 -> F16;
//                                                architectures llama (Mistral too), qwen2, qwen3
//   write_llama2c(m, path)                       legacy llama2.c .bin (float32)
//
// GGUF (Llama family) and llama2.c store Q/K rows in interleaved-RoPE order: the writers apply
// llama.cpp's permutation so that Model::load_f32() has to undo it. Conversions are written here independently
// of the loaders: IEEE half and bfloat16 with round-to-nearest-even; Q8_0 as in llama.cpp
// (per block of 32: d = max|x| / 127, q = round(x / d), d stored as half).
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "tests/temp_dir.h"

namespace eeb::testing {


inline void write_bytes(const std::string& path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot write " + path);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}
inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) { write_bytes(path, b.data(), b.size()); }
inline void write_text(const std::string& path, const std::string& s) { write_bytes(path, s.data(), s.size()); }
inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// ---- number formats -------------------------------------------------------------------------

inline uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | 0x7e00;   // NaN
  if (ax >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to infinity
  if (ax < 0x38800000u) {                        // below 2^-14: subnormal half, unit 2^-24
    const double v = std::nearbyint(static_cast<double>(std::fabs(f)) * 16777216.0);  // ties to even
    return sign | static_cast<uint16_t>(v);
  }
  uint32_t h = ((((ax >> 23) - 127 + 15) << 10) | ((ax & 0x7fffff) >> 13));
  const uint32_t rem = ax & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // carries into the exponent correctly
  return sign | static_cast<uint16_t>(h);
}

inline uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

// Appends one Q8_0 block (f16 scale + 32 int8) for x[0..32).
inline void append_q8_0_block(std::vector<uint8_t>& out, const float* x) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f, id = d != 0 ? 1.f / d : 0.f;
  const uint16_t dh = f32_to_f16(d);
  out.push_back(static_cast<uint8_t>(dh & 0xff));
  out.push_back(static_cast<uint8_t>(dh >> 8));
  for (int j = 0; j < 32; ++j) {
    const float q = std::min(127.f, std::max(-127.f, std::round(x[j] * id)));
    out.push_back(static_cast<uint8_t>(static_cast<int8_t>(q)));
  }
}

// Encodes floats as `dt` (Q8_0 needs x.size() % 32 == 0).
inline std::vector<uint8_t> encode(const std::vector<float>& x, DType dt) {
  std::vector<uint8_t> out;
  auto put16 = [&](uint16_t h) {
    out.push_back(static_cast<uint8_t>(h & 0xff));
    out.push_back(static_cast<uint8_t>(h >> 8));
  };
  switch (dt) {
    case DType::F32:
      out.resize(x.size() * 4);
      if (!x.empty()) std::memcpy(out.data(), x.data(), out.size());
      break;
    case DType::F16: for (float v : x) put16(f32_to_f16(v)); break;
    case DType::BF16: for (float v : x) put16(f32_to_bf16(v)); break;
    case DType::Q8_0:
      if (x.size() % 32) throw std::runtime_error("Q8_0 needs a multiple of 32 values");
      for (size_t b = 0; b < x.size(); b += 32) append_q8_0_block(out, x.data() + b);
      break;
  }
  return out;
}

// ---- Q/K permutation --------------------------------------------------------------------------

inline bool is_qk_weight(const std::string& name) {
  auto ends = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends("self_attn.q_proj.weight") || ends("self_attn.k_proj.weight");
}

// HF rotate-half row order -> interleaved-RoPE order (llama.cpp's convert `permute`): per head,
// HF row i goes to row 2i and HF row hd/2 + i to row 2i + 1.
inline std::vector<float> hf_to_interleaved(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t hd) {
  std::vector<float> out(w.size());
  for (int64_t h0 = 0; h0 < rows; h0 += hd)
    for (int64_t i = 0; i < hd / 2; ++i)
      for (int64_t c = 0; c < cols; ++c) {
        out[(h0 + 2 * i) * cols + c] = w[(h0 + i) * cols + c];
        out[(h0 + 2 * i + 1) * cols + c] = w[(h0 + hd / 2 + i) * cols + c];
      }
  return out;
}

// llama.cpp's converter permutes Q/K rows for the Llama family only (Qwen2/Qwen3 use NeoX RoPE).
inline bool permutes_qk(const ModelConfig& c) { return c.architecture == "llama" || c.architecture == "mistral"; }

// The tensor as floats in the order a Meta-style file stores it (Q/K interleaved for Llama).
inline std::vector<float> interleaved_f32(const Model& m, const std::string& name) {
  std::vector<float> x = m.load_f32(name);
  const TensorInfo& t = m.tensor(name);
  if (is_qk_weight(name) && permutes_qk(m.cfg))
    x = hf_to_interleaved(x, t.shape[0], t.numel() / t.shape[0], m.cfg.head_dim);
  return x;
}

// ---- safetensors / Hugging Face -------------------------------------------------------------

// Writes the named tensors of m (HF convention) into one safetensors file.
inline void write_safetensors_subset(const Model& m, const std::vector<std::string>& names, const std::string& path,
                                     DType dtype) {
  if (dtype == DType::Q8_0) throw std::runtime_error("safetensors has no Q8_0");
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<uint8_t> data;
  for (const auto& name : names) {
    const std::vector<uint8_t> bytes = encode(m.load_f32(name), dtype);
    header[name] = {{"dtype", dtype_name(dtype)},
                    {"shape", m.tensor(name).shape},
                    {"data_offsets", nlohmann::ordered_json::array({data.size(), data.size() + bytes.size()})}};
    data.insert(data.end(), bytes.begin(), bytes.end());
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';  // as the reference writer does: data starts 8-aligned
  std::vector<uint8_t> out(8);
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  write_bytes(path, out);
}

// The tensors a writer emits: everything but lm_head when the embeddings are tied.
inline std::vector<std::string> tensor_names(const Model& m) {
  std::vector<std::string> names;
  for (const auto& [name, t] : m.tensors)
    if (!(m.cfg.tied_embeddings && name == kLmHead)) names.push_back(name);
  return names;
}

inline void write_safetensors(const Model& m, const std::string& path, DType dtype) {
  write_safetensors_subset(m, tensor_names(m), path, dtype);
}

inline const char* hf_class(const ModelConfig& c) {
  if (c.architecture == "mistral") return "MistralForCausalLM";
  if (c.architecture == "qwen2") return "Qwen2ForCausalLM";
  if (c.architecture == "qwen3") return "Qwen3ForCausalLM";
  return "LlamaForCausalLM";
}

// config.json as transformers writes it for the architecture (rope_scaling and sliding_window
// included when the config uses them).
inline nlohmann::ordered_json hf_config_json(const ModelConfig& c) {
  using oj = nlohmann::ordered_json;
  oj j = {{"architectures", oj::array({hf_class(c)})},
          {"model_type", c.architecture},
          {"hidden_act", "silu"},
          {"hidden_size", c.dim},
          {"intermediate_size", c.hidden_dim},
          {"num_hidden_layers", c.n_layers},
          {"num_attention_heads", c.n_heads},
          {"num_key_value_heads", c.n_kv_heads},
          {"head_dim", c.head_dim},
          {"vocab_size", c.vocab_size},
          {"max_position_embeddings", c.max_seq_len},
          {"rms_norm_eps", c.norm_eps},
          {"rope_theta", c.rope_theta},
          {"tie_word_embeddings", c.tied_embeddings},
          {"bos_token_id", c.bos_id},
          {"eos_token_id", c.eos_id},
          {"torch_dtype", "float32"}};
  if (c.rope_type == "linear") j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.rope_factor}};
  if (c.rope_type == "llama3")
    j["rope_scaling"] = {{"factor", c.rope_factor},
                         {"high_freq_factor", c.rope_high_freq_factor},
                         {"low_freq_factor", c.rope_low_freq_factor},
                         {"original_max_position_embeddings", c.rope_original_max_pos},
                         {"rope_type", "llama3"}};
  if (c.architecture == "mistral") j["sliding_window"] = c.sliding_window > 0 ? oj(c.sliding_window) : oj(nullptr);
  if (c.architecture == "qwen2" || c.architecture == "qwen3") {
    j["use_sliding_window"] = false;
    j["sliding_window"] = c.max_seq_len;  // as Qwen configs carry it: unused without use_sliding_window
    j["max_window_layers"] = c.n_layers;
  }
  if (c.architecture == "qwen3") j["attention_bias"] = false;
  return j;
}

// config.json plus model.safetensors (shards == 1) or model-0000i-of-0000n.safetensors + index.
inline void write_hf_dir(const Model& m, const std::string& dir, DType dtype, int shards = 1) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  write_text((fs::path(dir) / "config.json").string(), hf_config_json(m.cfg).dump(2));
  const std::vector<std::string> names = tensor_names(m);
  if (shards <= 1) {
    write_safetensors_subset(m, names, (fs::path(dir) / "model.safetensors").string(), dtype);
    return;
  }
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", 0}};
  uint64_t total = 0;
  for (int s = 0; s < shards; ++s) {
    char fname[64];
    std::snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors", s + 1, shards);
    std::vector<std::string> part;  // contiguous slices of the sorted names
    for (size_t i = names.size() * s / shards; i < names.size() * (s + 1) / shards; ++i) part.push_back(names[i]);
    for (const auto& n : part) {
      index["weight_map"][n] = fname;
      total += dtype_bytes(dtype, m.tensor(n).numel());
    }
    write_safetensors_subset(m, part, (fs::path(dir) / fname).string(), dtype);
  }
  index["metadata"]["total_size"] = total;
  write_text((fs::path(dir) / "model.safetensors.index.json").string(), index.dump(2));
}

// ---- GGUF ---------------------------------------------------------------------------------------

// Little-endian GGUF byte builder (public so tests can hand-craft bad files).
struct GgufBuilder {
  std::vector<uint8_t> b;
  enum Type : uint32_t { U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 };
  template <class T> void raw(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  void str(const std::string& s) {
    raw<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
  void header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b.insert(b.end(), {'G', 'G', 'U', 'F'});
    raw(version), raw(n_tensors), raw(n_kv);
  }
  void kv_str(const std::string& k, const std::string& v) { str(k), raw<uint32_t>(STRING), str(v); }
  void kv_u32(const std::string& k, uint32_t v) { str(k), raw<uint32_t>(U32), raw(v); }
  void kv_f32(const std::string& k, float v) { str(k), raw<uint32_t>(F32), raw(v); }
  void kv_bool(const std::string& k, bool v) { str(k), raw<uint32_t>(BOOL), raw<uint8_t>(v); }
  void tensor_info(const std::string& name, const std::vector<int64_t>& torch_shape, uint32_t type, uint64_t off) {
    str(name);
    raw<uint32_t>(static_cast<uint32_t>(torch_shape.size()));
    for (auto it = torch_shape.rbegin(); it != torch_shape.rend(); ++it) raw<uint64_t>(*it);  // ne0 first
    raw(type), raw(off);
  }
  void pad_to(uint64_t align) {
    while (b.size() % align) b.push_back(0);
  }
};

// HF name -> GGUF name ("" if the tensor has no GGUF counterpart).
inline std::string gguf_name(const std::string& hf) {
  if (hf == kEmbed) return "token_embd.weight";
  if (hf == kFinalNorm) return "output_norm.weight";
  if (hf == kLmHead) return "output.weight";
  static const std::map<std::string, std::string> blk = {
      {"input_layernorm.weight", "attn_norm.weight"},    {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},       {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},       {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},          {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"}};
  const std::string pre = "model.layers.";
  if (hf.rfind(pre, 0) != 0) return "";
  const auto dot = hf.find('.', pre.size());
  auto it = blk.find(hf.substr(dot + 1));
  return it == blk.end() ? "" : "blk." + hf.substr(pre.size(), dot - pre.size()) + "." + it->second;
}

inline uint32_t ggml_type(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q8_0: return 8;
    case DType::BF16: return 30;
  }
  return 0;
}

// The dtype a tensor is stored in, as llama.cpp's converter does: 1-D tensors (norms) stay F32,
// and under Q8_0 rows that are not a multiple of 32 fall back to F16.
inline DType gguf_tensor_dtype(const TensorInfo& t, DType want) {
  if (t.shape.size() < 2) return DType::F32;
  if (want != DType::Q8_0) return want;
  return t.shape.back() % 32 == 0 ? DType::Q8_0 : DType::F16;
}

// llama.cpp's convert_hf_to_gguf.py (LlamaModel.generate_extra_tensors) for rope_type llama3:
// per rotation pair, the divisor of its frequency (1 for short wavelengths, factor for long ones,
// 1 / ((1 - smooth) / factor + smooth) between).
inline std::vector<float> llama3_rope_freqs(const ModelConfig& c) {
  std::vector<float> out;
  const double old_len = c.rope_original_max_pos;
  const double low_wavelen = old_len / c.rope_low_freq_factor, high_wavelen = old_len / c.rope_high_freq_factor;
  for (int i = 0; i < c.head_dim; i += 2) {
    const double freq = 1.0 / std::pow(double(c.rope_theta), double(i) / c.head_dim);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.f);
    } else if (wavelen > low_wavelen) {
      out.push_back(static_cast<float>(c.rope_factor));
    } else {
      const double smooth = (old_len / wavelen - c.rope_low_freq_factor) / (c.rope_high_freq_factor - c.rope_low_freq_factor);
      out.push_back(static_cast<float>(1.0 / ((1 - smooth) / c.rope_factor + smooth)));
    }
  }
  return out;
}

// GGUF of m as llama.cpp lays it out: general.architecture = llama (also for Mistral, as the
// converter does), qwen2 or qwen3; metadata under that prefix; a rope_freqs tensor for llama3 RoPE
// scaling, rope.scaling.* for linear.
inline void write_gguf(const Model& m, const std::string& path, DType dtype, int version = 3,
                       const EmbeddedVocab* vocab = nullptr) {
  const auto& c = m.cfg;
  struct Item { std::string gname; std::vector<int64_t> shape; DType dt; std::vector<uint8_t> bytes; };
  std::vector<Item> items;
  for (const auto& name : tensor_names(m)) {
    const std::string g = gguf_name(name);
    if (g.empty()) continue;
    const DType dt = gguf_tensor_dtype(m.tensor(name), dtype);
    items.push_back({g, m.tensor(name).shape, dt, encode(interleaved_f32(m, name), dt)});
  }
  if (c.rope_type == "llama3") {
    const std::vector<float> f = llama3_rope_freqs(c);
    items.push_back({"rope_freqs.weight", {int64_t(f.size())}, DType::F32, encode(f, DType::F32)});
  }
  const std::string arch = permutes_qk(c) ? "llama" : c.architecture;
  const std::string a = arch + ".";
  const bool linear = c.rope_type == "linear";
  GgufBuilder w;
  const uint64_t n_kv = 13 + (vocab ? 8 : 0) + (linear ? 2 : 0);
  w.header(static_cast<uint32_t>(version), items.size(), n_kv);
  w.kv_str("general.architecture", arch);
  w.kv_str("general.name", "eebench test model");
  w.kv_u32("general.alignment", 32);
  w.kv_u32(a + "context_length", c.max_seq_len);
  w.kv_u32(a + "embedding_length", c.dim);
  w.kv_u32(a + "block_count", c.n_layers);
  w.kv_u32(a + "feed_forward_length", c.hidden_dim);
  w.kv_u32(a + "rope.dimension_count", c.head_dim);
  w.kv_u32(a + "attention.key_length", c.head_dim);
  w.kv_u32(a + "attention.head_count", c.n_heads);
  w.kv_u32(a + "attention.head_count_kv", c.n_kv_heads);
  w.kv_f32(a + "attention.layer_norm_rms_epsilon", c.norm_eps);
  w.kv_f32(a + "rope.freq_base", c.rope_theta);
  if (linear) {
    w.kv_str(a + "rope.scaling.type", "linear");
    w.kv_f32(a + "rope.scaling.factor", static_cast<float>(c.rope_factor));
  }
  if (vocab) {
    w.kv_str("tokenizer.ggml.model", vocab->model);
    w.str("tokenizer.ggml.tokens"), w.raw<uint32_t>(GgufBuilder::ARRAY), w.raw<uint32_t>(GgufBuilder::STRING);
    w.raw<uint64_t>(vocab->tokens.size());
    for (const auto& t : vocab->tokens) w.str(t);
    w.str("tokenizer.ggml.scores"), w.raw<uint32_t>(GgufBuilder::ARRAY), w.raw<uint32_t>(GgufBuilder::F32);
    w.raw<uint64_t>(vocab->scores.size());
    for (float s : vocab->scores) w.raw(s);
    w.str("tokenizer.ggml.token_type"), w.raw<uint32_t>(GgufBuilder::ARRAY), w.raw<uint32_t>(GgufBuilder::I32);
    w.raw<uint64_t>(vocab->types.size());
    for (int32_t t : vocab->types) w.raw(t);
    w.kv_u32("tokenizer.ggml.bos_token_id", vocab->bos_id);
    w.kv_u32("tokenizer.ggml.eos_token_id", vocab->eos_id);
    w.kv_u32("tokenizer.ggml.unknown_token_id", vocab->unk_id);
    w.kv_bool("tokenizer.ggml.add_space_prefix", vocab->add_dummy_prefix);
  }
  uint64_t off = 0;
  for (const auto& it : items) {
    w.tensor_info(it.gname, it.shape, ggml_type(it.dt), off);
    off += (it.bytes.size() + 31) / 32 * 32;
  }
  w.pad_to(32);
  for (const auto& it : items) {
    w.b.insert(w.b.end(), it.bytes.begin(), it.bytes.end());
    w.pad_to(32);
  }
  write_bytes(path, w.b);
}

// ---- llama2.c -----------------------------------------------------------------------------------

// Legacy (version 0) llama2.c checkpoint; head_dim must be dim / n_heads.
inline void write_llama2c(const Model& m, const std::string& path) {
  const auto& c = m.cfg;
  if (c.head_dim * c.n_heads != c.dim) throw std::runtime_error("llama2.c needs head_dim == dim / n_heads");
  std::vector<float> f;
  auto add = [&](const std::string& name) {
    const auto x = interleaved_f32(m, name);
    f.insert(f.end(), x.begin(), x.end());
  };
  auto per_layer = [&](const char* suffix) {
    for (int l = 0; l < c.n_layers; ++l) add(tn_layer(l, suffix));
  };
  add(kEmbed);
  per_layer("input_layernorm.weight");
  per_layer("self_attn.q_proj.weight");
  per_layer("self_attn.k_proj.weight");
  per_layer("self_attn.v_proj.weight");
  per_layer("self_attn.o_proj.weight");
  per_layer("post_attention_layernorm.weight");
  per_layer("mlp.gate_proj.weight");  // w1
  per_layer("mlp.down_proj.weight");  // w2
  per_layer("mlp.up_proj.weight");    // w3
  add(kFinalNorm);
  const int half = c.head_dim / 2;  // freq_cis_real then freq_cis_imag, [seq_len, head_dim/2]
  for (int part = 0; part < 2; ++part)
    for (int p = 0; p < c.max_seq_len; ++p)
      for (int i = 0; i < half; ++i) {
        const double a = p * std::pow(double(c.rope_theta), -2.0 * i / c.head_dim);
        f.push_back(static_cast<float>(part == 0 ? std::cos(a) : std::sin(a)));
      }
  if (!c.tied_embeddings) add(kLmHead);
  const int32_t hdr[7] = {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                          c.tied_embeddings ? c.vocab_size : -c.vocab_size, c.max_seq_len};
  std::vector<uint8_t> out(sizeof hdr + f.size() * 4);
  std::memcpy(out.data(), hdr, sizeof hdr);
  std::memcpy(out.data() + sizeof hdr, f.data(), f.size() * 4);
  write_bytes(path, out);
}

}  // namespace eeb::testing
