// Resource limits checked before a model is put on a backend, so that a model too large for this
// machine is refused with a one-line error instead of being killed by the kernel's OOM killer.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "model/model.h"

namespace eeb {

// Host memory the CPU backend holds for m: every tensor it keeps (embedding, LM head unless tied,
// final norm, every layer's weights) as float32, whatever the stored dtype.
uint64_t cpu_backend_bytes(const Model& m);

// MemAvailable from a /proc/meminfo-style file, in bytes; nullopt when it cannot be read.
std::optional<uint64_t> host_memory_available(const std::string& meminfo = "/proc/meminfo");

// Throws Error(m.path, ...) with both numbers when `need` bytes exceed `available`; an unknown
// amount available (nullopt) refuses nothing.
void check_host_memory(const Model& m, uint64_t need, std::optional<uint64_t> available);

}  // namespace eeb
