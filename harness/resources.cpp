#include "harness/resources.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "model/architecture.h"

namespace eeb {

namespace {

std::string gib(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

}  // namespace

uint64_t cpu_backend_bytes(const Model& m) {
  return weight_elements(m.cfg) * sizeof(float);  // every tensor of the architecture table, as f32
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
