// The CUDA backend: a Llama forward pass one layer at a time over a block of rows, every step on one
// stream. Layout, GEMM mapping and numerics are described in docs/CUDA.md.
#include "backends/cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "backends/cuda/device.h"
#include "backends/cuda/kernels.h"
#include "harness/error.h"

namespace eeb {
namespace {

using cuda::ContextPtr;
using cuda::DeviceBuffer;
using cuda::WType;

std::string S(long long v) { return std::to_string(v); }
[[noreturn]] void fail(const std::string& msg) { throw Error("backend cuda: " + msg); }
std::string gib(double bytes) {
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
// when the layer is first written.
class CudaCache : public KVCache {
 public:
  CudaCache(ContextPtr ctx, int capacity, int n_layers, int kv_dim)
      : ctx_(std::move(ctx)), cap_(capacity), kv_dim_(kv_dim), len_(n_layers, 0), k_(n_layers),
        v_(n_layers) {}
  int capacity() const override { return cap_; }
  int length(int layer) const override { return len_[check_layer(layer)]; }
  void truncate(int layer, int n) override {
    check_layer(layer);
    if (n < 0 || n > len_[layer])
      fail("truncate(layer " + S(layer) + ", " + S(n) + ") outside the cached length " +
           S(len_[layer]));
    len_[layer] = n;
  }
  const cuda::Context* owner() const { return ctx_.get(); }
  int n_layers() const { return static_cast<int>(len_.size()); }
  int kv_dim() const { return kv_dim_; }
  void set_length(int layer, int n) { len_[layer] = n; }
  float* k(int layer) { return alloc(k_[layer]); }
  float* v(int layer) { return alloc(v_[layer]); }

 private:
  int check_layer(int layer) const {
    if (layer < 0 || layer >= n_layers())
      fail("KV cache layer " + S(layer) + " outside [0, " + S(n_layers()) + ")");
    return layer;
  }
  float* alloc(DeviceBuffer& b) {
    if (!b.get()) b.reset(ctx_, sizeof(float) * static_cast<size_t>(cap_) * kv_dim_);
    return b.as<float>();
  }
  ContextPtr ctx_;
  int cap_, kv_dim_;
  std::vector<int> len_;
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
};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

WType parse_dtype(const std::string& d) {
  if (d == "bf16" || d.empty() || d == "auto") return WType::BF16;
  if (d == "f16" || d == "fp16") return WType::F16;
  if (d == "f32" || d == "fp32") return WType::F32;
  fail("dtype '" + d + "' is not supported (bf16, f16 or f32)");
}

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
  std::unique_ptr<KVCache> new_cache(int capacity) override {
    if (capacity <= 0) fail("new_cache: capacity " + S(capacity) + " must be positive");
    return std::make_unique<CudaCache>(ctx_, capacity, c_.n_layers, kv_dim_);
  }
  std::unique_ptr<Hidden> embed(std::span<const int32_t> tokens, int pos0) override;
  void run_layer(int layer, Hidden& h, KVCache& kv) override;
  void logits(const Hidden& h, int row0, int n, float* out) override;
  void token_logprobs(const Hidden& h, int row0, std::span<const int32_t> targets, double* out,
                      int32_t* argmax = nullptr) override;
  ExitFeatures exit_features(const Hidden& h, int row) override;
  void read_hidden(const Hidden& h, int row0, int n, float* out) override;
  std::unique_ptr<Hidden> slice(const Hidden& h, int row0, int n) override;
  std::unique_ptr<Hidden> concat(std::span<const Hidden* const> parts) override;
  std::unique_ptr<RegionTimer> new_timer() override { return std::make_unique<CudaTimer>(ctx_); }
  void synchronize() override {
    ctx_->activate();
    ctx_->sync();
  }

 private:
  cudaStream_t stream() const { return ctx_->stream(); }
  const CudaHidden& as_cuda(const Hidden& h) const {
    auto* p = dynamic_cast<const CudaHidden*>(&h);
    if (!p || p->owner() != ctx_.get() || p->dim() != c_.dim)
      fail("hidden state does not come from this CUDA backend");
    return *p;
  }
  void check_rows(const Hidden& h, int row0, int n, const char* what) const {
    if (row0 < 0 || n < 0 || row0 > h.n_tokens() - n)
      fail(std::string(what) + ": rows [" + S(row0) + ", " + S(static_cast<long long>(row0) + n) +
           ") outside a hidden of " + S(h.n_tokens()) + " rows");
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

CudaBackend::CudaBackend(const ModelConfig& cfg, const BackendOptions& opt, const Model* m,
                         uint64_t seed)
    : c_(cfg), wt_(parse_dtype(opt.dtype)), esz_(cuda::wtype_size(wt_)) {
  const std::string where = m ? m->path : "<random weights>";
  const auto& c = c_;
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers < 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
      c.head_dim <= 0 || c.head_dim % 2 != 0 || c.vocab_size <= 0 ||
      c.n_heads % c.n_kv_heads != 0)
    throw Error(where, "inconsistent model config for the CUDA backend (dims, heads, head_dim)");
  if (c.head_dim > cuda::kMaxHeadDim)
    throw Error(where, "head_dim " + S(c.head_dim) + " is above the CUDA backend's limit of " +
                           S(cuda::kMaxHeadDim));
  std::string why;
  if (!cuda_device_available(&why)) fail("no CUDA device: " + why);
  const CudaDeviceInfo info = cuda_device_info(opt.device);  // checks the index
  ctx_ = std::make_shared<cuda::Context>(opt.device);
  desc_ = info.name;
  q_dim_ = c.n_heads * c.head_dim;
  kv_dim_ = c.n_kv_heads * c.head_dim;
  qkv_dim_ = q_dim_ + 2 * kv_dim_;

  // Refuse what cannot fit: weights + the largest float32 staging tensor + 512 MiB working margin.
  const double D = c.dim, H = c.hidden_dim, V = c.vocab_size, L = c.n_layers;
  const double mats = V * D * (c.tied_embeddings ? 1 : 2) +
                      L * (qkv_dim_ * D + D * q_dim_ + 2 * H * D + D * H);
  const double weights = mats * static_cast<double>(esz_) + (2 * L + 1) * D * sizeof(float);
  const double staging = (m && wt_ != WType::F32) ? std::max({V, H, double(q_dim_)}) * D * 4 : 0;
  size_t free_b = 0, total_b = 0;
  EEB_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  if (weights + staging + 512.0 * (1 << 20) > static_cast<double>(free_b))
    throw Error(where, "the model needs " + gib(weights) + " of " + dtype() + " weights (+ " +
                           gib(staging + 512.0 * (1 << 20)) + " staging and working memory) but " +
                           info.name + " (device " + S(opt.device) + ") has " +
                           gib(static_cast<double>(free_b)) + " free of " +
                           gib(static_cast<double>(total_b)));
  load_weights(m, seed);
  ensure_rope(std::max(c.max_seq_len, 1));
  ctx_->sync();
}

// Writes `numel` values of tensor `name` at dst as type t: the model's float32 copy converted on the
// device, or (no model) random values offset + scale·u with unit-variance u.
void CudaBackend::put(const Model* m, uint64_t seed, const std::string& name, size_t numel,
                      void* dst, WType t, float scale, float offset) {
  if (!m) {
    cuda::fill_random(dst, t, numel, seed ^ fnv1a(name), scale, offset, stream());
    return;
  }
  const std::vector<float> v = m->load_f32(name);
  if (v.size() != numel)
    throw Error(m->path, "tensor " + name + " has " + S(static_cast<long long>(v.size())) +
                             " values, the config implies " + S(static_cast<long long>(numel)));
  if (t == WType::F32) {
    EEB_CUDA_CHECK(cudaMemcpyAsync(dst, v.data(), numel * sizeof(float), cudaMemcpyHostToDevice,
                                   stream()));
  } else {
    staging_.ensure(ctx_, numel * sizeof(float));
    EEB_CUDA_CHECK(cudaMemcpyAsync(staging_.get(), v.data(), numel * sizeof(float),
                                   cudaMemcpyHostToDevice, stream()));
    cuda::convert_f32(staging_.as<float>(), dst, t, numel, stream());
  }
  ctx_->sync();  // v is freed on return
}

void CudaBackend::load_weights(const Model* m, uint64_t seed) {
  const size_t D = c_.dim, H = c_.hidden_dim, V = c_.vocab_size, q = q_dim_, kv = kv_dim_;
  const float s = 1.0f / std::sqrt(static_cast<float>(D));
  auto at = [&](const DeviceBuffer& b, size_t elem) {
    return static_cast<void*>(b.as<char>() + elem * esz_);
  };
  embed_.reset(ctx_, V * D * esz_);
  put(m, seed, kEmbed, V * D, embed_.get(), wt_, 1.0f, 0.0f);
  final_norm_.reset(ctx_, D * sizeof(float));
  put(m, seed, kFinalNorm, D, final_norm_.get(), WType::F32, 0.1f, 1.0f);
  if (!c_.tied_embeddings) {
    lm_head_.reset(ctx_, V * D * esz_);
    put(m, seed, kLmHead, V * D, lm_head_.get(), wt_, s, 0.0f);
  }
  layers_.resize(c_.n_layers);
  for (int l = 0; l < c_.n_layers; ++l) {
    auto& w = layers_[l];
    auto L = [&](const char* suffix) { return tn_layer(l, suffix); };
    w.attn_norm.reset(ctx_, D * sizeof(float));
    put(m, seed, L("input_layernorm.weight"), D, w.attn_norm.get(), WType::F32, 0.1f, 1.0f);
    w.ffn_norm.reset(ctx_, D * sizeof(float));
    put(m, seed, L("post_attention_layernorm.weight"), D, w.ffn_norm.get(), WType::F32, 0.1f, 1.0f);
    w.wqkv.reset(ctx_, (q + 2 * kv) * D * esz_);
    put(m, seed, L("self_attn.q_proj.weight"), q * D, at(w.wqkv, 0), wt_, s, 0.0f);
    put(m, seed, L("self_attn.k_proj.weight"), kv * D, at(w.wqkv, q * D), wt_, s, 0.0f);
    put(m, seed, L("self_attn.v_proj.weight"), kv * D, at(w.wqkv, (q + kv) * D), wt_, s, 0.0f);
    w.wo.reset(ctx_, D * q * esz_);
    put(m, seed, L("self_attn.o_proj.weight"), D * q, w.wo.get(), wt_, s, 0.0f);
    w.wgu.reset(ctx_, 2 * H * D * esz_);
    put(m, seed, L("mlp.gate_proj.weight"), H * D, at(w.wgu, 0), wt_, s, 0.0f);
    put(m, seed, L("mlp.up_proj.weight"), H * D, at(w.wgu, H * D), wt_, s, 0.0f);
    w.wd.reset(ctx_, D * H * esz_);
    put(m, seed, L("mlp.down_proj.weight"), D * H, w.wd.get(), wt_,
        1.0f / std::sqrt(static_cast<float>(H)), 0.0f);
  }
  staging_ = DeviceBuffer();
}

// cos/sin of pos · theta^(-2i/hd) for every position below `positions`, in float64 on the host
// (bit-identical to the CPU reference's tables), then uploaded.
void CudaBackend::ensure_rope(int positions) {
  if (positions <= rope_positions_) return;
  const int half = c_.head_dim / 2;
  const int n = std::max(positions, 2 * rope_positions_);
  std::vector<float> cs(static_cast<size_t>(n) * half), sn(cs.size());
  for (int p = 0; p < n; ++p)
    for (int i = 0; i < half; ++i) {
      const double a = p * std::pow(static_cast<double>(c_.rope_theta), -2.0 * i / c_.head_dim);
      cs[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(a));
      sn[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(a));
    }
  cos_.reset(ctx_, cs.size() * sizeof(float));
  sin_.reset(ctx_, sn.size() * sizeof(float));
  EEB_CUDA_CHECK(cudaMemcpyAsync(cos_.get(), cs.data(), cs.size() * sizeof(float),
                                 cudaMemcpyHostToDevice, stream()));
  EEB_CUDA_CHECK(cudaMemcpyAsync(sin_.get(), sn.data(), sn.size() * sizeof(float),
                                 cudaMemcpyHostToDevice, stream()));
  ctx_->sync();  // the host tables are freed on return
  rope_positions_ = n;
}

// Y[n, out] (f32, row stride ldy) = X[n, in] (weight type, row stride ldx) · W[out, in]ᵀ + beta·Y.
// cuBLAS is column-major, and a row-major [r, c] matrix with row stride ld is the column-major
// [c, r] matrix with leading dimension ld. So W's buffer is column-major Wᵀ [in, out] (lda = in), X's
// is Xᵀ [in, n] (ldb = ldx), Y's is Yᵀ [out, n] (ldc = ldy), and Y = X·Wᵀ  ⇔  Yᵀ = W·Xᵀ:
//   m = out, n = n, k = in, op(A) = T on W's buffer (giving W [out, in]), op(B) = N on X's buffer.
// FP32 accumulation (CUBLAS_COMPUTE_32F); f32 weights give a plain SGEMM (no TF32).
void CudaBackend::gemm(const void* W, int out, int in, const void* X, int ldx, int n, float* Y,
                       int ldy, float beta) {
  if (n == 0) return;
  const cudaDataType_t t =
      wt_ == WType::F32 ? CUDA_R_32F : (wt_ == WType::F16 ? CUDA_R_16F : CUDA_R_16BF);
  const float alpha = 1.0f;
  EEB_CUBLAS_CHECK(cublasGemmEx(ctx_->blas(), CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &alpha, W, t,
                                in, X, t, ldx, &beta, Y, CUDA_R_32F, ldy, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT));
}

std::unique_ptr<Hidden> CudaBackend::embed(std::span<const int32_t> tokens, int pos0) {
  if (pos0 < 0) fail("embed: negative position " + S(pos0));
  if (tokens.size() > static_cast<size_t>(INT32_MAX / std::max(c_.dim, 1)))
    fail("embed: too many tokens");
  const int n = static_cast<int>(tokens.size());
  for (int32_t t : tokens)
    if (t < 0 || t >= c_.vocab_size)
      fail("embed: token " + S(t) + " outside the vocabulary [0, " + S(c_.vocab_size) + ")");
  ctx_->activate();
  auto h = new_hidden(n, pos0);
  if (n == 0) return h;
  ids_.ensure(ctx_, sizeof(int32_t) * n);
  EEB_CUDA_CHECK(cudaMemcpyAsync(ids_.get(), tokens.data(), sizeof(int32_t) * n,
                                 cudaMemcpyHostToDevice, stream()));
  cuda::embed_rows(embed_.get(), wt_, ids_.as<int32_t>(), n, c_.dim, h->row(0), stream());
  ctx_->sync();  // `tokens` may be freed on return
  return h;
}

void CudaBackend::run_layer(int layer, Hidden& hid, KVCache& kvc) {
  const auto& h = as_cuda(hid);
  auto* kvp = dynamic_cast<CudaCache*>(&kvc);
  if (!kvp || kvp->owner() != ctx_.get() || kvp->n_layers() != c_.n_layers ||
      kvp->kv_dim() != kv_dim_)
    fail("KV cache does not come from this CUDA backend");
  auto& kv = *kvp;
  if (layer < 0 || layer >= c_.n_layers)
    fail("run_layer: layer " + S(layer) + " outside [0, " + S(c_.n_layers) + ")");
  const int n = h.n_tokens(), pos0 = h.pos0();
  if (kv.length(layer) != pos0)
    fail("run_layer(" + S(layer) + "): hidden starts at position " + S(pos0) +
         " but the layer's KV cache holds " + S(kv.length(layer)) + " positions");
  if (static_cast<long long>(pos0) + n > kv.capacity())
    fail("run_layer(" + S(layer) + "): positions [" + S(pos0) + ", " +
         S(static_cast<long long>(pos0) + n) + ") exceed the KV cache capacity " +
         S(kv.capacity()));
  if (n == 0) return;
  ctx_->activate();
  ensure_rope(pos0 + n);
  const LayerWeights& w = layers_[layer];
  const int D = c_.dim, H = c_.hidden_dim, hd = c_.head_dim;
  const size_t rows = static_cast<size_t>(n);
  xin_.ensure(ctx_, rows * std::max(D, q_dim_) * esz_);
  qkv_.ensure(ctx_, rows * qkv_dim_ * sizeof(float));
  att_.ensure(ctx_, rows * q_dim_ * sizeof(float));
  gu_.ensure(ctx_, rows * 2 * H * sizeof(float));
  act_.ensure(ctx_, rows * H * esz_);
  float* x = h.row(0);
  float* qkv = qkv_.as<float>();
  float* K = kv.k(layer);
  float* V = kv.v(layer);
  const cudaStream_t s = stream();

  // Attention: x += o_proj(attention(rope(qkv(rmsnorm(x)))))
  cuda::rmsnorm(x, n, D, w.attn_norm.as<float>(), c_.norm_eps, xin_.get(), wt_, s);
  gemm(w.wqkv.get(), qkv_dim_, D, xin_.get(), D, n, qkv, qkv_dim_, 0.0f);
  cuda::rope(qkv, n, qkv_dim_, c_.n_heads + c_.n_kv_heads, hd, pos0, cos_.as<float>(),
             sin_.as<float>(), s);  // q and k heads are adjacent in a qkv row
  const size_t kvb = sizeof(float) * kv_dim_, qkvb = sizeof(float) * qkv_dim_;
  EEB_CUDA_CHECK(cudaMemcpy2DAsync(K + static_cast<size_t>(pos0) * kv_dim_, kvb, qkv + q_dim_, qkvb,
                                   kvb, rows, cudaMemcpyDeviceToDevice, s));
  EEB_CUDA_CHECK(cudaMemcpy2DAsync(V + static_cast<size_t>(pos0) * kv_dim_, kvb,
                                   qkv + q_dim_ + kv_dim_, qkvb, kvb, rows,
                                   cudaMemcpyDeviceToDevice, s));
  const cuda::AttentionArgs a{qkv, qkv_dim_, K, V, kv_dim_, att_.as<float>(), q_dim_,
                              n, pos0, c_.n_heads, c_.n_kv_heads, hd};
  if (n <= kDecodeRows) {
    const int splits = cuda::attention_decode_splits(a, ctx_->sm_count());
    partial_.ensure(ctx_, sizeof(float) * cuda::attention_decode_partial_floats(a, splits));
    cuda::attention_decode(a, splits, partial_.as<float>(), s);
  } else {
    cuda::attention_prefill(a, s);
  }
  const void* att_in = att_.get();
  if (wt_ != WType::F32) {
    cuda::convert_f32(att_.as<float>(), xin_.get(), wt_, rows * q_dim_, s);
    att_in = xin_.get();
  }
  gemm(w.wo.get(), D, q_dim_, att_in, q_dim_, n, x, D, 1.0f);

  // MLP: x += down(silu(gate(x')) · up(x')), x' = rmsnorm(x)
  cuda::rmsnorm(x, n, D, w.ffn_norm.as<float>(), c_.norm_eps, xin_.get(), wt_, s);
  gemm(w.wgu.get(), 2 * H, D, xin_.get(), D, n, gu_.as<float>(), 2 * H, 0.0f);
  cuda::swiglu(gu_.as<float>(), n, H, act_.get(), wt_, s);
  gemm(w.wd.get(), D, H, act_.get(), H, n, x, D, 1.0f);
  kv.set_length(layer, pos0 + n);
}

// Final norm + LM head of rows [row0, row0 + n) into logits_ (n × vocab float32 on the device).
void CudaBackend::head(const CudaHidden& h, int row0, int n) {
  const size_t rows = static_cast<size_t>(n);
  xin_.ensure(ctx_, rows * std::max(c_.dim, q_dim_) * esz_);
  logits_.ensure(ctx_, rows * c_.vocab_size * sizeof(float));
  cuda::rmsnorm(h.row(row0), n, c_.dim, final_norm_.as<float>(), c_.norm_eps, xin_.get(), wt_,
                stream());
  const void* W = c_.tied_embeddings ? embed_.get() : lm_head_.get();
  gemm(W, c_.vocab_size, c_.dim, xin_.get(), c_.dim, n, logits_.as<float>(), c_.vocab_size, 0.0f);
}

void CudaBackend::logits(const Hidden& hid, int row0, int n, float* out) {
  const auto& h = as_cuda(hid);
  check_rows(h, row0, n, "logits");
  ctx_->activate();
  const size_t V = c_.vocab_size;
  for (int i0 = 0; i0 < n; i0 += head_rows()) {
    const int m = std::min(head_rows(), n - i0);
    head(h, row0 + i0, m);
    EEB_CUDA_CHECK(cudaMemcpyAsync(out + static_cast<size_t>(i0) * V, logits_.get(),
                                   sizeof(float) * m * V, cudaMemcpyDeviceToHost, stream()));
    ctx_->sync();
  }
}

void CudaBackend::token_logprobs(const Hidden& hid, int row0, std::span<const int32_t> targets,
                                 double* out, int32_t* argmax) {
  const auto& h = as_cuda(hid);
  if (targets.size() > static_cast<size_t>(INT32_MAX)) fail("token_logprobs: too many targets");
  const int n = static_cast<int>(targets.size());
  check_rows(h, row0, n, "token_logprobs");
  for (int32_t t : targets)
    if (t < 0 || t >= c_.vocab_size)
      fail("token_logprobs target " + S(t) + " outside the vocabulary [0, " + S(c_.vocab_size) +
           ")");
  if (n == 0) return;
  ctx_->activate();
  ids_.ensure(ctx_, sizeof(int32_t) * n);
  EEB_CUDA_CHECK(cudaMemcpyAsync(ids_.get(), targets.data(), sizeof(int32_t) * n,
                                 cudaMemcpyHostToDevice, stream()));
  const int chunk = head_rows();
  stats_.ensure(ctx_, sizeof(cuda::RowStats) * std::min(n, chunk));
  std::vector<cuda::RowStats> st(std::min(n, chunk));
  for (int i0 = 0; i0 < n; i0 += chunk) {
    const int m = std::min(chunk, n - i0);
    head(h, row0 + i0, m);
    cuda::row_stats(logits_.as<float>(), m, c_.vocab_size, ids_.as<int32_t>() + i0,
                    stats_.as<cuda::RowStats>(), stream());
    EEB_CUDA_CHECK(cudaMemcpyAsync(st.data(), stats_.get(), sizeof(cuda::RowStats) * m,
                                   cudaMemcpyDeviceToHost, stream()));
    ctx_->sync();
    for (int i = 0; i < m; ++i) {
      out[i0 + i] = st[i].target - st[i].lse;
      if (argmax) argmax[i0 + i] = st[i].top1;
    }
  }
}

ExitFeatures CudaBackend::exit_features(const Hidden& hid, int row) {
  const auto& h = as_cuda(hid);
  check_rows(h, row, 1, "exit_features");
  ctx_->activate();
  head(h, row, 1);
  stats_.ensure(ctx_, sizeof(cuda::RowStats));
  cuda::row_stats(logits_.as<float>(), 1, c_.vocab_size, nullptr, stats_.as<cuda::RowStats>(),
                  stream());
  cuda::RowStats st{};
  EEB_CUDA_CHECK(cudaMemcpyAsync(&st, stats_.get(), sizeof st, cudaMemcpyDeviceToHost, stream()));
  ctx_->sync();
  ExitFeatures f;
  f.top1 = st.top1;
  f.top2 = st.top2;
  f.p1 = static_cast<float>(std::exp(static_cast<double>(st.x1) - st.lse));
  if (st.top2 >= 0) f.p2 = static_cast<float>(std::exp(static_cast<double>(st.x2) - st.lse));
  return f;
}

void CudaBackend::read_hidden(const Hidden& hid, int row0, int n, float* out) {
  const auto& h = as_cuda(hid);
  check_rows(h, row0, n, "read_hidden");
  if (n == 0) return;
  ctx_->activate();
  EEB_CUDA_CHECK(cudaMemcpyAsync(out, h.row(row0), sizeof(float) * n * c_.dim,
                                 cudaMemcpyDeviceToHost, stream()));
  ctx_->sync();
}

std::unique_ptr<Hidden> CudaBackend::slice(const Hidden& hid, int row0, int n) {
  const auto& h = as_cuda(hid);
  check_rows(h, row0, n, "slice");
  ctx_->activate();
  auto out = new_hidden(n, h.pos0() + row0);
  if (n > 0)
    EEB_CUDA_CHECK(cudaMemcpyAsync(out->row(0), h.row(row0), sizeof(float) * n * c_.dim,
                                   cudaMemcpyDeviceToDevice, stream()));
  return out;
}

std::unique_ptr<Hidden> CudaBackend::concat(std::span<const Hidden* const> parts) {
  if (parts.empty()) fail("concat: no parts");
  long long n = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i]) fail("concat: null part");
    as_cuda(*parts[i]);
    if (i > 0 && parts[i]->pos0() != parts[i - 1]->pos0() + parts[i - 1]->n_tokens())
      fail("concat: part " + S(static_cast<long long>(i)) + " starts at position " +
           S(parts[i]->pos0()) + ", expected " +
           S(parts[i - 1]->pos0() + parts[i - 1]->n_tokens()));
    n += parts[i]->n_tokens();
  }
  if (n > INT32_MAX / std::max(c_.dim, 1)) fail("concat: too many rows");
  ctx_->activate();
  auto out = new_hidden(static_cast<int>(n), parts[0]->pos0());
  int r = 0;
  for (const Hidden* p : parts) {
    const auto& x = as_cuda(*p);
    if (x.n_tokens() > 0)
      EEB_CUDA_CHECK(cudaMemcpyAsync(out->row(r), x.row(0), sizeof(float) * x.n_tokens() * c_.dim,
                                     cudaMemcpyDeviceToDevice, stream()));
    r += x.n_tokens();
  }
  return out;
}

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const Model& m, const BackendOptions& opt) {
  return std::make_unique<CudaBackend>(m.cfg, opt, &m, 0);
}

std::unique_ptr<Backend> make_cuda_backend_random(const ModelConfig& cfg, const BackendOptions& opt,
                                                  uint64_t seed) {
  return std::make_unique<CudaBackend>(cfg, opt, nullptr, seed);
}

}  // namespace eeb
