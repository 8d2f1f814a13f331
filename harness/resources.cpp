#include "harness/resources.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace eeb {

namespace {

std::string gib(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

}  // namespace

uint64_t cpu_backend_bytes(const Model& m) {
  const auto& c = m.cfg;
  uint64_t total = 0;
  auto add = [&](const std::string& name) {
    if (auto it = m.tensors.find(name); it != m.tensors.end()) total += it->second.numel() * sizeof(float);
  };
  add(kEmbed);
  add(kFinalNorm);
  if (!c.tied_embeddings) add(kLmHead);
  for (int l = 0; l < c.n_layers; ++l)
    for (const char* s : {"input_layernorm.weight", "post_attention_layernorm.weight", "self_attn.q_proj.weight",
                          "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                          "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"})
      add(tn_layer(l, s));
  return total;
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
                          ") of host memory as float32, but only " + std::to_string(*available) + " bytes (" +
                          gib(*available) + ") are available (MemAvailable in /proc/meminfo)");
}

}  // namespace eeb
