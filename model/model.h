// The one internal model description every loader produces and every backend consumes.
//
// Tensors keep Hugging Face names and PyTorch shapes ([out, in] for linear weights) no matter which
// file format they came from. Loaders for formats that store Q/K rows in the interleaved-RoPE order
// (GGUF from llama.cpp's converter, llama2.c) set `qk_interleaved`; `load_f32()` undoes that
// permutation so backends only ever see the Hugging Face rotate-half convention.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/mapped_file.h"

namespace eeb {

enum class DType { F32, F16, BF16, Q8_0 };
const char* dtype_name(DType t);
// Bytes taken by `n` elements (n must be a multiple of 32 for Q8_0).
uint64_t dtype_bytes(DType t, uint64_t n);
// Converts `n` elements stored as `t` at `p` to float32 (n a multiple of 32 for Q8_0).
void dequantize(DType t, const uint8_t* p, uint64_t n, float* out);

struct ModelConfig {
  std::string architecture = "llama";  // a name in the architecture table (model/architecture.h)
  int dim = 0;           // hidden_size
  int hidden_dim = 0;    // intermediate_size
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int max_seq_len = 0;   // max_position_embeddings
  float rope_theta = 10000.f;
  float norm_eps = 1e-5f;
  bool tied_embeddings = false;
  int bos_id = 1, eos_id = 2;
  // Features the architecture implies (set_architecture in model/architecture.h).
  bool qkv_bias = false;   // q/k/v projections have biases (Qwen2)
  bool qk_norm = false;    // per-head RMSNorm of q and k before RoPE (Qwen3)
  // Mistral's sliding window as transformers applies it: the query at position p attends keys at
  // positions k with p - sliding_window < k <= p. 0: unlimited.
  int sliding_window = 0;
  // RoPE scaling (config.json rope_scaling, GGUF rope.scaling.* and rope_freqs); see rope_inv_freq().
  std::string rope_type = "default";  // default | linear | llama3
  double rope_factor = 1, rope_low_freq_factor = 1, rope_high_freq_factor = 4;
  int rope_original_max_pos = 8192;
  std::vector<float> rope_freq_factors;  // GGUF rope_freqs: inverse frequency i is divided by [i]
};

struct TensorInfo {
  std::string name;            // Hugging Face name, e.g. model.layers.3.self_attn.q_proj.weight
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // PyTorch order: outermost first
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  std::string file;            // for error messages
  uint64_t numel() const;
};

// A vocabulary embedded in the model file (GGUF tokenizer.ggml.*): SentencePiece (model llama) or
// byte-level BPE (model gpt2, with merges and pre).
struct EmbeddedVocab {
  std::string model = "llama";        // tokenizer.ggml.model
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;         // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  int unk_id = 0, bos_id = 1, eos_id = 2;
  bool add_dummy_prefix = true;       // tokenizer.ggml.add_space_prefix (default true for llama)
  std::vector<std::string> merges;    // tokenizer.ggml.merges ("left right", rank order; gpt2)
  std::string pre;                    // tokenizer.ggml.pre (gpt2: llama-bpe, qwen2, gpt2, ...)
  int add_bos = -1;                   // tokenizer.ggml.add_bos_token: -1 absent, 0 false, 1 true
  bool empty() const { return tokens.empty(); }
};

struct Model {
  std::string path;    // what the user named
  std::string format;  // hf | gguf | llama2c
  ModelConfig cfg;
  bool qk_interleaved = false;
  std::map<std::string, TensorInfo> tensors;
  std::vector<std::shared_ptr<MappedFile>> files;  // keep the mappings alive
  // Tokenizer that came with the model, if any: a SentencePiece model file next to the weights
  // (HF tokenizer.model) or a vocabulary embedded in the file (GGUF).
  std::string tokenizer_model_path;
  EmbeddedVocab vocab;
  // Owned buffers that TensorInfo::data may point into (models built in memory, converted tensors).
  std::vector<std::shared_ptr<void>> keepalive;
  std::string weights_checksum;  // xxh3-64 hex over every tensor's name, dtype, shape and bytes

  const TensorInfo& tensor(const std::string& name) const;  // throws Error naming the model path
  // Dequantized float32 copy in the HF convention ([out, in], rotate-half Q/K rows).
  std::vector<float> load_f32(const std::string& name) const;
  // Total bytes of the tensors as stored.
  uint64_t stored_bytes() const;
  // Error naming the file when any mapped file changed on disk since it was mapped (MappedFile::
  // check_unchanged): backends may compute straight from the mappings.
  void check_files_unchanged() const;
};

// Canonical tensor names.
std::string tn_layer(int layer, const char* suffix);  // e.g. tn_layer(3, "self_attn.q_proj.weight")
inline constexpr const char* kEmbed = "model.embed_tokens.weight";
inline constexpr const char* kFinalNorm = "model.norm.weight";
inline constexpr const char* kLmHead = "lm_head.weight";

// Checks the config and that every tensor the architecture (model/architecture.h) needs is present
// with the shape cfg implies, and that no tensor is one the architecture does not know.
void validate_model(const Model& m);
// Computes and stores m.weights_checksum.
void compute_checksum(Model& m);

// Loads a model from an HF directory, a .gguf file or a llama2.c .bin (format detected from the
// path). Every offset, size and count is checked against the file before data is touched.
Model load_model(const std::string& path);

}  // namespace eeb
