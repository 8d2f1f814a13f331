// Internal to the CUDA backend (cuda_backend.cpp: construction and weights; cuda_forward.cpp: the
// forward pass and the read-outs): the backend class and the hidden states, caches and timers it
// hands out. Host C++20; kernels are reached through kernels.h.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/device.h"
#include "backends/cuda/kernels.h"
#include "core/error.h"

namespace eeb::cuda {

inline std::string S(long long v) { return std::to_string(v); }
[[noreturn]] inline void fail(const std::string& msg) { throw Error("backend cuda: " + msg); }
inline std::string gib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return b;
}

constexpr int kDecodeRows = 8;      // blocks of at most this many rows use the split-K attention
constexpr size_t kHeadBytes = 256u << 20;  // device logits buffer bound (rows per LM-head chunk)

class CudaHidden : public Hidden {
 public:
  CudaHidden(const ContextPtr& ctx, int n, int pos0, int dim)
      : Hidden(n, pos0), owner_(ctx.get()), dim_(dim),
        buf_(ctx, sizeof(float) * static_cast<size_t>(n) * dim) {}
  // The buffer holds a reference to the context, so `owner` stays unique while this hidden lives.
  const cuda::Context* owner() const { return owner_; }
  int dim() const { return dim_; }
  float* row(int r) const { return buf_.as<float>() + static_cast<size_t>(r) * dim_; }

 private:
  const cuda::Context* owner_;
  int dim_;
  DeviceBuffer buf_;
};

// Per layer: keys and values of positions [0, length) in capacity × kv_dim float buffers, allocated
// when the layer is first written. Lengths are kept by the KVCache base.
class CudaCache : public KVCache {
 public:
  CudaCache(ContextPtr ctx, int capacity, int n_layers, int kv_dim)
      : KVCache("backend cuda", capacity, n_layers), ctx_(std::move(ctx)), kv_dim_(kv_dim),
        k_(n_layers), v_(n_layers) {}
  const cuda::Context* owner() const { return ctx_.get(); }
  int kv_dim() const { return kv_dim_; }
  float* k(int layer) { return alloc(k_[layer]); }
  float* v(int layer) { return alloc(v_[layer]); }
  // fork_cache: device-to-device copies of positions [0, lengths[l]) of every layer of src,
  // ordered on the stream before any later kernel reads them.
  void copy_from(const CudaCache& src, const std::vector<int>& lengths) {
    for (int l = 0; l < n_layers(); ++l) {
      if (lengths[l] <= 0) continue;
      const size_t bytes = sizeof(float) * static_cast<size_t>(lengths[l]) * kv_dim_;
      EEB_CUDA_CHECK(cudaMemcpyAsync(k(l), src.k_[l].get(), bytes, cudaMemcpyDeviceToDevice,
                                     ctx_->stream()));
      EEB_CUDA_CHECK(cudaMemcpyAsync(v(l), src.v_[l].get(), bytes, cudaMemcpyDeviceToDevice,
                                     ctx_->stream()));
    }
  }

 private:
  float* alloc(DeviceBuffer& b) {
    if (!b.get()) b.reset(ctx_, sizeof(float) * static_cast<size_t>(capacity()) * kv_dim_);
    return b.as<float>();
  }
  ContextPtr ctx_;
  int kv_dim_;
  std::vector<DeviceBuffer> k_, v_;
};

// Device time between start() (or construction) and stop_seconds(), from events on the stream.
class CudaTimer : public RegionTimer {
 public:
  explicit CudaTimer(ContextPtr ctx) : ctx_(std::move(ctx)) {
    ctx_->activate();
    EEB_CUDA_CHECK(cudaEventCreate(&e0_));
    const cudaError_t e = cudaEventCreate(&e1_);
    if (e != cudaSuccess) cudaEventDestroy(e0_);
    EEB_CUDA_CHECK(e);
    start();
  }
  ~CudaTimer() override {
    cudaEventDestroy(e0_);
    cudaEventDestroy(e1_);
    (void)cudaGetLastError();
  }
  void start() override { EEB_CUDA_CHECK(cudaEventRecord(e0_, ctx_->stream())); }
  double stop_seconds() override {
    EEB_CUDA_CHECK(cudaEventRecord(e1_, ctx_->stream()));
    EEB_CUDA_CHECK(cudaEventSynchronize(e1_));
    float ms = 0;
    EEB_CUDA_CHECK(cudaEventElapsedTime(&ms, e0_, e1_));
    return ms * 1e-3;
  }

 private:
  ContextPtr ctx_;
  cudaEvent_t e0_ = nullptr, e1_ = nullptr;
};

struct LayerWeights {
  DeviceBuffer attn_norm, ffn_norm;  // float32
  DeviceBuffer wqkv, wo, wgu, wd;    // weight type; wqkv = [q; k; v], wgu = [gate; up] (rows)
  DeviceBuffer bqkv;                 // float32 [q; k; v] biases (Qwen2); empty without
  DeviceBuffer q_norm, k_norm;       // float32 [head_dim] (Qwen3); empty without
};

class CudaBackend : public Backend {
 public:
  // From a model (m non-null) or random weights from `seed` (m null).
  CudaBackend(const ModelConfig& cfg, const BackendOptions& opt, const Model* m, uint64_t seed);

  std::string name() const override { return "cuda"; }
  std::string device_description() const override { return desc_; }
  const ModelConfig& config() const override { return c_; }
  std::string dtype() const override {
    return wt_ == WType::F32 ? "f32" : (wt_ == WType::F16 ? "f16" : "bf16");
  }
  std::unique_ptr<RegionTimer> new_timer() override { return std::make_unique<CudaTimer>(ctx_); }
  void synchronize() override {
    ctx_->activate();
    ctx_->sync();
  }
  // Free device memory (where KV caches live), not host RAM.
  double free_memory_bytes() const override {
    ctx_->activate();
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
      (void)cudaGetLastError();
      return 0;
    }
    return static_cast<double>(free_b);
  }

 protected:
  std::unique_ptr<KVCache> do_new_cache(int capacity) override {
    return std::make_unique<CudaCache>(ctx_, capacity, c_.n_layers, kv_dim_);
  }
  std::unique_ptr<KVCache> do_fork_cache(const KVCache& src, const std::vector<int>& lengths,
                                         int capacity) override {
    auto* s = dynamic_cast<const CudaCache*>(&src);
    if (!s || s->owner() != ctx_.get() || s->kv_dim() != kv_dim_)
      fail("KV cache does not come from this CUDA backend");
    ctx_->activate();
    auto out = std::make_unique<CudaCache>(ctx_, capacity, c_.n_layers, kv_dim_);
    out->copy_from(*s, lengths);
    return out;
  }
  std::unique_ptr<Hidden> do_embed(std::span<const int32_t> tokens, int pos0) override;
  void do_run_layer(int layer, Hidden& h, KVCache& kv) override;
  void do_logits(const Hidden& h, int row0, int n, float* out) override;
  void do_token_logprobs(const Hidden& h, int row0, std::span<const int32_t> targets, double* out,
                         int32_t* argmax) override;
  ExitFeatures do_exit_features(const Hidden& h, int row) override;
  void do_read_hidden(const Hidden& h, int row0, int n, float* out) override;
  std::unique_ptr<Hidden> do_slice(const Hidden& h, int row0, int n) override;
  std::unique_ptr<Hidden> do_concat(std::span<const Hidden* const> parts, int rows) override;
 private:
  cudaStream_t stream() const { return ctx_->stream(); }
  const CudaHidden& as_cuda(const Hidden& h) const {
    auto* p = dynamic_cast<const CudaHidden*>(&h);
    if (!p || p->owner() != ctx_.get() || p->dim() != c_.dim)
      fail("hidden state does not come from this CUDA backend");
    return *p;
  }
  std::unique_ptr<CudaHidden> new_hidden(int n, int pos0) {
    return std::make_unique<CudaHidden>(ctx_, n, pos0, c_.dim);
  }
  void put(const Model* m, uint64_t seed, const std::string& name, size_t numel, void* dst,
           WType t, float scale, float offset);
  void load_weights(const Model* m, uint64_t seed);
  void ensure_rope(int positions);
  void gemm(const void* W, int out, int in, const void* X, int ldx, int n, float* Y, int ldy,
            float beta);
  void head(const CudaHidden& h, int row0, int n);
  int head_rows() const {
    return static_cast<int>(std::clamp<size_t>(kHeadBytes / (sizeof(float) * c_.vocab_size), 1, 512));
  }

  ModelConfig c_;
  WType wt_;
  size_t esz_;
  int q_dim_ = 0, kv_dim_ = 0, qkv_dim_ = 0;
  ContextPtr ctx_;
  std::string desc_;
  DeviceBuffer embed_, final_norm_, lm_head_;  // lm_head_ empty when tied to embed_
  std::vector<LayerWeights> layers_;
  DeviceBuffer cos_, sin_;  // [positions, head_dim / 2] float32
  int rope_positions_ = 0;
  // Scratch, grown on demand and reused.
  DeviceBuffer xin_, qkv_, att_, gu_, act_, logits_, ids_, stats_, partial_, staging_;
};

}  // namespace eeb::cuda
