// Default Backend methods (float64 statistics over logits(), steady_clock timer) and the registry.
#include "backends/backend.h"

#include <algorithm>
#include <chrono>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/logit_stats.h"
#include "model/random_weights.h"
#include "core/error.h"

namespace eeb {

#ifdef EEB_HAVE_CUDA
// Defined by the CUDA backend (backends/cuda/).
extern std::unique_ptr<Backend> make_cuda_backend(const Model& model, const BackendOptions& opt);
extern std::unique_ptr<Backend> make_cuda_backend_random(const ModelConfig& cfg, const BackendOptions& opt,
                                                         uint64_t seed);
#endif

namespace {

void check_rows(const Backend& b, const Hidden& h, int row0, int n, const char* what) {
  if (row0 < 0 || n < 0 || row0 > h.n_tokens() - n)
    throw Error("backend " + b.name() + ": " + what + " rows [" + std::to_string(row0) + ", " +
                std::to_string(static_cast<long long>(row0) + n) + ") outside a hidden of " +
                std::to_string(h.n_tokens()) + " rows");
}

class SteadyTimer : public RegionTimer {
 public:
  void start() override { t0_ = std::chrono::steady_clock::now(); }
  double stop_seconds() override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

}  // namespace

void Backend::token_logprobs(const Hidden& h, int row0, std::span<const int32_t> targets,
                             double* out, int32_t* argmax) {
  const int n = static_cast<int>(targets.size());
  check_rows(*this, h, row0, n, "token_logprobs");
  const int V = config().vocab_size;
  for (int32_t t : targets)
    if (t < 0 || t >= V)
      throw Error("backend " + name() + ": token_logprobs target " + std::to_string(t) +
                  " outside the vocabulary [0, " + std::to_string(V) + ")");
  // Bounded host memory: at most 32 rows of logits at a time.
  const int chunk = 32;
  std::vector<float> buf(static_cast<size_t>(std::min(n, chunk)) * V);
  for (int i0 = 0; i0 < n; i0 += chunk) {
    const int m = std::min(chunk, n - i0);
    logits(h, row0 + i0, m, buf.data());
    for (int i = 0; i < m; ++i) {
      int top = 0;
      out[i0 + i] = logit_stats::log_prob(buf.data() + static_cast<size_t>(i) * V, V,
                                          targets[i0 + i], &top);
      if (argmax) argmax[i0 + i] = top;
    }
  }
}

ExitFeatures Backend::exit_features(const Hidden& h, int row) {
  check_rows(*this, h, row, 1, "exit_features");
  std::vector<float> buf(config().vocab_size);
  logits(h, row, 1, buf.data());
  return logit_stats::exit_features(buf.data(), config().vocab_size);
}

std::unique_ptr<RegionTimer> Backend::new_timer() { return std::make_unique<SteadyTimer>(); }

void check_positions(const Backend& b, int pos0, int n) {
  const long long end = static_cast<long long>(pos0) + n, limit = b.config().max_seq_len;
  if (pos0 < 0 || n < 0 || end > limit)
    throw Error("backend " + b.name() + ": positions [" + std::to_string(pos0) + ", " +
                std::to_string(end) + ") outside the model's " + std::to_string(limit) +
                " positions (max_position_embeddings)");
}

std::vector<BackendInfo> list_backends() {
  std::vector<BackendInfo> v;
  v.push_back({"cpu", "float32 reference (OpenBLAS sgemm, OpenMP)", true});
#ifdef EEB_HAVE_CUDA
  v.push_back({"cuda", "CUDA (cuBLAS)", true});
#else
  v.push_back({"cuda", "CUDA (cuBLAS): not in this build (nvcc/cuBLAS not found at build time)",
               false});
#endif
  return v;
}

std::unique_ptr<Backend> make_backend(const std::string& name, const Model& model,
                                      const BackendOptions& opt) {
  if (name == "cpu") return make_cpu_backend(model, opt);
  if (name == "cuda") {
#ifdef EEB_HAVE_CUDA
    return make_cuda_backend(model, opt);
#else
    throw Error("backend cuda: this build has no CUDA support (nvcc/cuBLAS not found at build time)");
#endif
  }
  std::string known;
  for (const auto& b : list_backends()) known += (known.empty() ? "" : ", ") + b.name;
  throw Error("unknown backend '" + name + "' (known: " + known + ")");
}

}  // namespace eeb

namespace eeb {

std::unique_ptr<Backend> make_backend_random(const std::string& name, const ModelConfig& c,
                                             const BackendOptions& opt, uint64_t seed) {
  if (name == "cpu") return make_cpu_backend(random_llama(c, seed), opt);
  if (name == "cuda") {
#ifdef EEB_HAVE_CUDA
    return make_cuda_backend_random(c, opt, seed);
#else
    throw Error("backend cuda: this build has no CUDA backend (nvcc/cuBLAS not found when it was configured)");
#endif
  }
  throw Error("unknown backend '" + name + "' (known: cpu, cuda)");
}

}  // namespace eeb
