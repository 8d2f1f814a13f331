// How the CPU backend holds a model's weights (docs/ARCHITECTURE.md, "How weights are held").
//
// Every matrix (linear weights, the embedding, the LM head) is a cpu::WeightMatrix in the type the
// file stores it in (F32, BF16, F16, Q8_0), pointing straight into the model file's memory mapping:
// no second copy. `--dtype f32|bf16|f16` converts each matrix once into an owned buffer of that
// type instead (this file is the one place that converts). Only small vectors (norm weights,
// biases) are copied, as float32.
//
// Q and K rows that GGUF / llama2.c store in interleaved-RoPE order are kept in that order: the
// backend then rotates pairs (2i, 2i + 1) instead of (i, i + hd/2) (cpu::rope with interleaved = true, cpu_kernels.h). Both
// q and k carry the same per-head row permutation, so every q·k product, hence attention, is
// unchanged, and no repacked copy of Wq / Wk is needed.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/weight_matrix.h"
#include "model/model.h"

namespace eeb::cpu {

// --dtype for the CPU backend: "auto" or "" (nullopt: each matrix in its stored type), "f32",
// "bf16" or "f16" (every matrix converted to that type). Error for anything else.
std::optional<DType> parse_weight_dtype(const std::string& dtype);

// "f32", "bf16", "f16", "q8_0".
std::string held_type_name(DType t);

// Host bytes the CPU backend holds for m under `dtype`: the mapped tensors (all resident once the
// load's checksum has read them) plus the buffers it owns (conversions, copies of misaligned
// tensors, the float32 vectors). Used by the resources check before loading.
struct HeldBytes {
  uint64_t mapped = 0, owned = 0;
  uint64_t total() const { return mapped + owned; }
};
HeldBytes held_bytes(const Model& m, const std::string& dtype);

// The matrices and vectors of one model as the backend holds them, and the buffers that back them.
// Keeps the model's mappings (and in-memory buffers) alive, so the Model need not outlive it.
class WeightHolder {
 public:
  WeightHolder(const Model& m, const std::string& dtype);  // Error for an unknown dtype
  // Tensor `name` as a rows × cols matrix. Error naming the tensor and its file when its shape,
  // type or size does not fit (a Q8_0 row length not a multiple of 32, bytes missing).
  WeightMatrix matrix(const std::string& name, int rows, int cols);
  // Tensor `name` (n values) as float32. `interleave_heads` > 0: the vector holds per-head
  // weights of that head dim for rows stored in interleaved-RoPE order (reordered to match them).
  std::vector<float> vector(const std::string& name, size_t n, int interleave_heads = 0);
  // Matrices held, by held_type_name: tensors and bytes (each tensor counted once).
  const std::map<std::string, HeldWeights>& held() const { return held_; }
  // The held type when all matrices share one ("bf16"), else the types joined by '+' in order of
  // bytes held, largest first ("q8_0+f16").
  std::string dtype_string() const;

 private:
  const Model& m_;
  std::optional<DType> want_;
  std::map<std::string, HeldWeights> held_;
  std::vector<std::shared_ptr<void>> keep_;  // mappings, in-memory tensors, owned buffers
};

}  // namespace eeb::cpu
