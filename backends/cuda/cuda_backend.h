// The CUDA backend ("cuda"): weights resident on one GPU as bf16 (default), f16 or f32, float32
// activations and KV cache, cuBLAS (FP32 accumulation) for every projection and the LM head, own
// kernels for RMSNorm, RoPE, SwiGLU, attention and the logit statistics. See docs/CUDA.md.
//
// This header is plain C++ (no CUDA headers): tests, benches and backends/backend.cpp include it.
// It exists only in builds with EEB_HAVE_CUDA.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "backends/backend.h"

namespace eeb {

// Converts the model's weights once (Model::load_f32, then to opt.dtype on the device); `m` need not
// outlive the backend. opt.dtype: "bf16" | "f16" | "f32" ("" or "auto": bf16); opt.device: CUDA
// device index; opt.threads is ignored. Throws Error when no device is usable, for an unknown dtype,
// an unsupported config (head_dim > 256, odd head_dim, ...) or when the weights do not fit the
// device's free memory (the message gives both numbers).
std::unique_ptr<Backend> make_cuda_backend(const Model& m, const BackendOptions& opt);

// A backend with random weights (uniform, the scales of tests/random_model.h) generated directly on
// the device from `seed`: no host copy of the weights, for benchmarks of full-size shapes.
std::unique_ptr<Backend> make_cuda_backend_random(const ModelConfig& cfg, const BackendOptions& opt,
                                                  uint64_t seed);

struct CudaDeviceInfo {
  std::string name, uuid, driver, runtime, cublas;
  size_t total_mem = 0, free_mem = 0;  // bytes
  int sm = 0;                          // compute capability, e.g. 90
};

// True when the CUDA runtime finds at least one device; otherwise false with the reason in *why
// (when non-null). Never throws.
bool cuda_device_available(std::string* why);
// Name, UUID (GPU-xxxxxxxx-...), driver (NVML driver version when libnvidia-ml is present, and the
// CUDA driver API version), runtime and cuBLAS versions, memory and compute capability of a device.
// Throws Error when the device cannot be queried.
CudaDeviceInfo cuda_device_info(int device);

}  // namespace eeb
