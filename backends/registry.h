// The backends this build knows, their declared properties, and the factories. Callers ask these
// properties ("does it hold the weights in host memory?", "is it a GPU?") instead of comparing
// backend names; backends/registry.cpp is the one place that knows which backends exist and holds
// every EEB_HAVE_CUDA switch.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace eeb {

struct BackendInfo {
  std::string name;
  std::string description;
  bool available = false;              // compiled into this build
  bool is_gpu = false;                 // runs on an accelerator (device memory, device timers)
  bool weights_in_host_memory = false; // holds the weights in host memory (check host RAM)
  std::string default_bench_dtype;     // what `eebench bench` uses when --dtype is not given
};
// Every backend eebench knows, available in this build or not, in a stable order (cpu first).
std::vector<BackendInfo> list_backends();
// The entry named `name`; Error "unknown backend 'x' (known: cpu, cuda)" otherwise.
BackendInfo backend_info(const std::string& name);

// Creates a backend by name ("cpu", "cuda"); throws Error for unknown or unavailable names.
std::unique_ptr<Backend> make_backend(const std::string& name, const Model& model,
                                      const BackendOptions& opt);

// A backend holding random weights of shape `c` (benchmarks): cpu from random_llama() (float32 on the
// host), cuda generated on the device (no host copy). Error for unknown or unavailable names.
std::unique_ptr<Backend> make_backend_random(const std::string& name, const ModelConfig& c,
                                             const BackendOptions& opt, uint64_t seed);

// Identity of the accelerator a GPU backend would run on (for the run's environment record);
// nullopt for host backends and for backends not in this build.
struct DeviceIdentity {
  std::string name, uuid, driver, runtime, blas;
};
std::optional<DeviceIdentity> backend_device_identity(const std::string& name, int device);

}  // namespace eeb
