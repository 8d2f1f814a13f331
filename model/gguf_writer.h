// GGUF v3 files of random-weight Llama models of a given shape and weight type, which both eebench
// and llama.cpp read (`eebench make-model`; benchmarks against llama.cpp on the same file).
//
// The file is what llama.cpp's converter writes for a Llama model: general.architecture "llama",
// the llama.* hyper-parameters, a SentencePiece-style "llama" vocabulary (<unk>, <s>, </s>, the 256
// byte tokens <0x00>..<0xFF>, then unique pieces with descending scores), tensors with llama.cpp
// names (token_embd, blk.N.attn_q, ..., output_norm, output), 2-D tensors in the requested type and
// 1-D ones (norms) in F32, 32-byte alignment. Weights are random: approximately N(0, 0.02) (the sum
// of four uniforms, so bounded at ±3.46σ: never a NaN or an overflow in F16), norms exactly 1.
//
// Values are a pure function of (seed, tensor index, element index), so tests regenerate any
// tensor, and the file is written in chunks (a 7B BF16 file is 13.5 GB: never held in memory),
// to a temporary name renamed over the target at the end.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace eeb {

struct RandomModelShape {
  std::string name;  // "tinyllama-1.1b", "llama-2-7b" or "custom"
  int dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0;
  int context_length = 2048;
  float rope_theta = 10000.f, norm_eps = 1e-5f;
  int head_dim() const { return n_heads > 0 ? dim / n_heads : 0; }
};

// "tinyllama-1.1b" (alias "1b"), "llama-2-7b" (alias "7b"), or "dim,hidden,layers,heads,kv_heads,vocab".
// Error (one line) for anything else or an inconsistent shape.
RandomModelShape random_model_shape(const std::string& spec);

// One tensor of the file, in file order: GGUF name, dims innermost first (ne0 = row length).
struct RandomTensor {
  std::string name;
  std::vector<uint64_t> ne;
  DType type = DType::F32;
  bool ones = false;       // a norm: every value 1
  uint64_t offset = 0;     // from the start of the data section
  uint64_t nbytes = 0;
  uint64_t numel() const;
};

// The tensors of a model of that shape with 2-D weights stored as `type`. Error if `type` is Q8_0
// and a row length is not a multiple of 32.
std::vector<RandomTensor> random_model_tensors(const RandomModelShape& s, DType type);

// Values [first, first + n) of tensor `index` (its position in random_model_tensors) as float32,
// before encoding to the tensor's type.
void random_tensor_values(uint64_t seed, size_t index, const RandomTensor& t, uint64_t first, uint64_t n, float* out);
inline constexpr float kRandomWeightStd = 0.02f;

// Encodes n floats (n a multiple of 32 for Q8_0) as `type` into out (dtype_bytes(type, n) bytes):
// F16 and BF16 with round-to-nearest-even, Q8_0 as llama.cpp quantises (per 32: d = max|x| / 127).
void encode_values(DType type, const float* x, uint64_t n, uint8_t* out);

// Writes the file; returns its size. threads: generator threads (0: every core). Error naming the
// path when the directory cannot be written or the disk lacks the space (checked before writing).
uint64_t write_random_gguf(const std::string& path, const RandomModelShape& s, DType type, uint64_t seed,
                           int threads = 0);

}  // namespace eeb
