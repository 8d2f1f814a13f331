// Resource limits checked before a model is put on a backend, so that a model too large for this
// machine is refused with a one-line error instead of being killed by the kernel's OOM killer.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "model/model.h"

namespace eeb {

// What the CPU backend needs besides the weights: a KV cache (float32) of kEstimateContext
// positions (or max_seq_len when shorter) in every layer, the activations of a block of
// kEstimateBlock rows (x, qkv, attention, gate|up, logits) and the RoPE tables.
inline constexpr int kEstimateContext = 4096, kEstimateBlock = 512;
uint64_t cpu_kv_scratch_bytes(const ModelConfig& c);

// Host memory the CPU backend needs for m held as `dtype` (auto | f32 | bf16 | f16): the weights as
// it holds them (mapped tensors, conversions and vectors: cpu::held_bytes) plus cpu_kv_scratch_bytes.
// Error for an unknown dtype.
uint64_t cpu_backend_bytes(const Model& m, const std::string& dtype);

// MemAvailable from a /proc/meminfo-style file, in bytes; nullopt when it cannot be read.
std::optional<uint64_t> host_memory_available(const std::string& meminfo = "/proc/meminfo");

// Throws Error(m.path, ...) with both numbers when `need` bytes exceed `available`; an unknown
// amount available (nullopt) refuses nothing.
void check_host_memory(const Model& m, uint64_t need, std::optional<uint64_t> available);

}  // namespace eeb
