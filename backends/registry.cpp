// The backend table: which backends exist, what they declare, how each is made. The only file
// with EEB_HAVE_CUDA switches; adding a backend is one row here.
#include "backends/registry.h"

#include "backends/ceilings.h"
#include "backends/cpu/cpu_backend.h"
#include "core/error.h"
#include "core/registry.h"
#include "model/random_weights.h"
#ifdef EEB_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace eeb {
namespace {

struct Entry {
  BackendInfo info;
  std::unique_ptr<Backend> (*make)(const Model&, const BackendOptions&);
  std::unique_ptr<Backend> (*make_random)(const ModelConfig&, const BackendOptions&, uint64_t);
  Ceilings (*ceilings)(const std::string& dtype, const std::vector<GemmShape>& shapes, int reps, int threads);
  std::optional<DeviceIdentity> (*identity)(int device);
  const char* missing = "";  // why an unavailable backend is not in this build
};

std::unique_ptr<Backend> cpu_random(const ModelConfig& c, const BackendOptions& o, uint64_t seed) {
  return make_cpu_backend(random_llama(c, seed), o);
}
Ceilings cpu_ceil(const std::string& dtype, const std::vector<GemmShape>& shapes, int reps, int threads) {
  return measure_cpu_ceilings(dtype, shapes, reps, threads);
}

#ifdef EEB_HAVE_CUDA
// One cuBLAS measurement per shape: the copy from the first, the GEMM rate over all of them.
Ceilings cuda_ceil(const std::string& dtype, const std::vector<GemmShape>& shapes, int reps, int) {
  Ceilings c;
  double flops = 0, secs = 0;
  for (const auto& s : shapes) {
    const Ceilings one = measure_cuda_ceilings(dtype, s.M, s.N, s.K, reps);
    if (c.copy_what.empty()) c = one;
    const double f = 2.0 * s.M * s.N * s.K;
    flops += f, secs += f * 1e-12 / one.gemm_tflops;
  }
  c.gemm_tflops = flops * 1e-12 / secs;
  if (shapes.size() > 1) c.gemm_what += " (and " + std::to_string(shapes.size() - 1) + " more shapes)";
  return c;
}
std::optional<DeviceIdentity> cuda_identity(int device) {
  const CudaDeviceInfo i = cuda_device_info(device);
  return DeviceIdentity{i.name, i.uuid, i.driver, i.runtime, i.cublas};
}
#endif

const std::vector<Entry>& table() {
  static const std::vector<Entry> t = {
      {{"cpu", "weights as stored: f32, bf16, f16, q8_0 (OpenBLAS, OpenMP)", true, false, true, "f32"},
       make_cpu_backend, cpu_random, cpu_ceil, nullptr},
#ifdef EEB_HAVE_CUDA
      {{"cuda", "CUDA (cuBLAS)", true, true, false, "bf16"},
       make_cuda_backend, make_cuda_backend_random, cuda_ceil, cuda_identity},
#else
      {{"cuda", "CUDA (cuBLAS): not in this build (nvcc/cuBLAS not found at build time)", false,
        true, false, "bf16"},
       nullptr, nullptr, nullptr, nullptr,
       "this build has no CUDA support (nvcc/cuBLAS not found at build time)"},
#endif
  };
  return t;
}

// The entry named `name` (core/registry.h's "unknown backend" message otherwise).
const Entry& find_entry(const std::string& name) {
  std::vector<BackendInfo> infos = list_backends();
  const BackendInfo& i = find_by_name(infos, name, "backend");
  return table()[static_cast<size_t>(&i - infos.data())];
}

// ... and refuses entries not compiled into this build.
const Entry& available(const std::string& name) {
  const Entry& e = find_entry(name);
  if (!e.info.available)
    throw Error("backend " + name + ": " + e.missing);
  return e;
}

}  // namespace

std::vector<BackendInfo> list_backends() {
  std::vector<BackendInfo> v;
  for (const auto& e : table()) v.push_back(e.info);
  return v;
}

BackendInfo backend_info(const std::string& name) { return find_entry(name).info; }

std::unique_ptr<Backend> make_backend(const std::string& name, const Model& model,
                                      const BackendOptions& opt) {
  return available(name).make(model, opt);
}

std::unique_ptr<Backend> make_backend_random(const std::string& name, const ModelConfig& c,
                                             const BackendOptions& opt, uint64_t seed) {
  return available(name).make_random(c, opt, seed);
}

Ceilings measure_ceilings(const std::string& backend, const std::string& dtype, int M, int N, int K,
                          int reps, int threads) {
  return measure_ceilings(backend, dtype, std::vector<GemmShape>{{M, N, K}}, reps, threads);
}

Ceilings measure_ceilings(const std::string& backend, const std::string& dtype, const std::vector<GemmShape>& shapes,
                          int reps, int threads) {
  if (shapes.empty()) throw Error("ceilings: no GEMM shape given");
  for (const auto& s : shapes)
    if (s.M <= 0 || s.N <= 0 || s.K <= 0) throw Error("ceilings: GEMM shape must be positive");
  return available(backend).ceilings(dtype, shapes, reps, threads);
}

std::optional<DeviceIdentity> backend_device_identity(const std::string& name, int device) {
  const Entry& e = find_entry(name);
  if (!e.info.available || !e.identity) return std::nullopt;
  return e.identity(device);
}

}  // namespace eeb
