// The architecture table: for each supported architecture, every tensor it has, under its role,
// its Hugging Face and GGUF names, its shape as a function of the config, and when it is needed.
// The loaders (hf.cpp, gguf.cpp), validation, the random builders and the memory estimates iterate
// this table, and the backends ask it for names; adding an architecture is one table entry plus the
// math it needs in each backend. A tensor the architecture does not list is an error, never
// silently dropped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace eeb {

enum class Role {
  Embed, FinalNorm, LmHead,                      // model-wide
  AttnNorm, Wq, Wk, Wv, Wo, Bq, Bk, Bv,          // per layer: attention
  QNorm, KNorm,                                  // per layer: Qwen3's per-head RMSNorm of q and k
  FfnNorm, Wgate, Wup, Wdown,                    // per layer: SwiGLU MLP
  RopeFreqs,                                     // GGUF only: Llama-3.1 RoPE frequency divisors
  Derived,                                       // HF only: buffers recomputed from the config (ignored)
};

// How a random builder fills a tensor (tests, benchmarks).
enum class Init { Embed, Norm, Matrix, Bias, None };

struct TensorSpec {
  Role role;
  bool per_layer;
  const char* hf;    // full HF name, or the suffix after "model.layers.N."; nullptr: none in HF files
  const char* gguf;  // full GGUF name, or the suffix after "blk.N."; nullptr: none in GGUF files
  // PyTorch-order shape ([out, in] for linear weights) the config implies.
  std::vector<int64_t> (*shape)(const ModelConfig&);
  // Whether a model of this config must have the tensor (nullptr: always). A tensor whose
  // predicate is false may still be present only where `optional` says so.
  bool (*needed)(const ModelConfig&);
  bool optional;  // may be absent (RopeFreqs) or present but unused (LmHead of a tied model)
  Init init;
};

struct Architecture {
  const char* name;       // ModelConfig::architecture: llama | mistral | qwen2 | qwen3
  const char* hf_class;   // config.json "architectures"[0]
  const char* gguf_arch;  // general.architecture; nullptr: no GGUF form
  // llama.cpp's converter permutes this architecture's Q/K rows to interleaved-RoPE order.
  bool gguf_qk_interleaved;
  bool qkv_bias;          // q/k/v projections have biases (Qwen2)
  bool qk_norm;           // per-head RMSNorm of q and k before RoPE (Qwen3)
  bool sliding_window;    // config.json "sliding_window" applies (Mistral)
  std::vector<TensorSpec> tensors;
};

const std::vector<Architecture>& architectures();
// By ModelConfig::architecture name; Error "unknown architecture 'x' (known: ...)".
const Architecture& architecture(const std::string& name);
// By config.json class / GGUF general.architecture; nullptr when unknown.
const Architecture* architecture_for_hf_class(const std::string& cls);
const Architecture* architecture_for_gguf(const std::string& arch);
// "LlamaForCausalLM, MistralForCausalLM, ..." / "llama, qwen2, ..." for refusal messages.
std::string known_hf_classes();
std::string known_gguf_archs();

// Sets cfg.architecture and the features the architecture implies (qkv_bias, qk_norm).
void set_architecture(ModelConfig& cfg, const Architecture& a);

// The Hugging Face name of a spec's tensor (layer ignored for model-wide tensors).
std::string hf_name(const TensorSpec& s, int layer);
std::string gguf_name(const TensorSpec& s, int layer);
// The HF name of `role` in cfg's architecture (what backends load); Error if it has none.
std::string tensor_name(const ModelConfig& cfg, Role role, int layer = -1);
bool tensor_needed(const TensorSpec& s, const ModelConfig& cfg);

// Which spec a file's tensor name is (layer index in *layer, -1 for model-wide); nullptr when the
// architecture has no tensor of that name. Layer indices are not range-checked here.
const TensorSpec* match_hf(const Architecture& a, const std::string& name, int* layer);
const TensorSpec* match_gguf(const Architecture& a, const std::string& name, int* layer);

// Elements of every tensor a backend loads for this config (memory estimates, FLOP counts).
uint64_t weight_elements(const ModelConfig& cfg);

// Inverse RoPE frequencies of the head_dim / 2 rotation pairs, in float64, after any scaling
// (linear, llama3 as transformers' _compute_llama3_parameters, or GGUF rope_freqs divisors).
// The default is theta^(-2i/head_dim), computed as the backends always did.
std::vector<double> rope_inv_freq(const ModelConfig& cfg);

}  // namespace eeb
