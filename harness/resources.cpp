#include "harness/resources.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "backends/cpu/cpu_weights.h"
#include "core/error.h"

namespace eeb {

namespace {

std::string gib(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

}  // namespace

uint64_t cpu_kv_scratch_bytes(const ModelConfig& c) {
  const uint64_t kv_dim = uint64_t(c.n_kv_heads) * c.head_dim, q_dim = uint64_t(c.n_heads) * c.head_dim;
  const uint64_t ctx = uint64_t(std::min(c.max_seq_len, kEstimateContext));
  const uint64_t kv = 2 * ctx * kv_dim * c.n_layers * sizeof(float);
  const uint64_t per_row = c.dim + (q_dim + 2 * kv_dim) + q_dim + 2 * uint64_t(c.hidden_dim) + c.vocab_size;
  const uint64_t rows = uint64_t(std::min(c.max_seq_len, kEstimateBlock));
  const uint64_t rope = uint64_t(c.max_seq_len) * c.head_dim * sizeof(float);  // cos and sin tables
  return kv + rows * per_row * sizeof(float) + rope;
}

uint64_t cpu_backend_bytes(const Model& m, const std::string& dtype) {
  return cpu::held_bytes(m, dtype).total() + cpu_kv_scratch_bytes(m.cfg);
}

std::optional<uint64_t> host_memory_available(const std::string& meminfo) {
  std::ifstream f(meminfo);
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream in(line.substr(13));
    uint64_t kib = 0;
    std::string unit;
    if (in >> kib >> unit && unit == "kB") return kib * 1024;
    return std::nullopt;
  }
  return std::nullopt;
}

void check_host_memory(const Model& m, uint64_t need, std::optional<uint64_t> available) {
  if (!available || need <= *available) return;
  throw Error(m.path, "the model needs " + std::to_string(need) + " bytes (" + gib(need) +
                          ") of host memory (weights as held, KV cache and scratch), but only " + std::to_string(*available) + " bytes (" +
                          gib(*available) + ") are available (MemAvailable in /proc/meminfo)");
}

}  // namespace eeb
