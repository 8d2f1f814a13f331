// The CUDA backend: construction (config checks, the memory check, weights converted or generated
// on the device, RoPE tables) and the factories. The forward pass is in cuda_forward.cpp; layout,
// GEMM mapping and numerics are described in docs/CUDA.md.
#include <cmath>
#include <vector>

#include "backends/cuda/cuda_backend_impl.h"
#include "model/architecture.h"

namespace eeb {
namespace cuda {
namespace {

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

}  // namespace

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
  auto T = [&](Role r, int l = -1) { return tensor_name(c_, r, l); };  // model/architecture.h
  embed_.reset(ctx_, V * D * esz_);
  put(m, seed, T(Role::Embed), V * D, embed_.get(), wt_, 1.0f, 0.0f);
  final_norm_.reset(ctx_, D * sizeof(float));
  put(m, seed, T(Role::FinalNorm), D, final_norm_.get(), WType::F32, 0.1f, 1.0f);
  if (!c_.tied_embeddings) {
    lm_head_.reset(ctx_, V * D * esz_);
    put(m, seed, T(Role::LmHead), V * D, lm_head_.get(), wt_, s, 0.0f);
  }
  layers_.resize(c_.n_layers);
  for (int l = 0; l < c_.n_layers; ++l) {
    auto& w = layers_[l];
    w.attn_norm.reset(ctx_, D * sizeof(float));
    put(m, seed, T(Role::AttnNorm, l), D, w.attn_norm.get(), WType::F32, 0.1f, 1.0f);
    w.ffn_norm.reset(ctx_, D * sizeof(float));
    put(m, seed, T(Role::FfnNorm, l), D, w.ffn_norm.get(), WType::F32, 0.1f, 1.0f);
    w.wqkv.reset(ctx_, (q + 2 * kv) * D * esz_);
    put(m, seed, T(Role::Wq, l), q * D, at(w.wqkv, 0), wt_, s, 0.0f);
    put(m, seed, T(Role::Wk, l), kv * D, at(w.wqkv, q * D), wt_, s, 0.0f);
    put(m, seed, T(Role::Wv, l), kv * D, at(w.wqkv, (q + kv) * D), wt_, s, 0.0f);
    if (c_.qkv_bias) {  // float32, like the norms
      w.bqkv.reset(ctx_, (q + 2 * kv) * sizeof(float));
      auto* b = w.bqkv.as<float>();
      put(m, seed, T(Role::Bq, l), q, b, WType::F32, 0.1f, 0.0f);
      put(m, seed, T(Role::Bk, l), kv, b + q, WType::F32, 0.1f, 0.0f);
      put(m, seed, T(Role::Bv, l), kv, b + q + kv, WType::F32, 0.1f, 0.0f);
    }
    if (c_.qk_norm) {
      const size_t hd = c_.head_dim;
      w.q_norm.reset(ctx_, hd * sizeof(float));
      put(m, seed, T(Role::QNorm, l), hd, w.q_norm.get(), WType::F32, 0.1f, 1.0f);
      w.k_norm.reset(ctx_, hd * sizeof(float));
      put(m, seed, T(Role::KNorm, l), hd, w.k_norm.get(), WType::F32, 0.1f, 1.0f);
    }
    w.wo.reset(ctx_, D * q * esz_);
    put(m, seed, T(Role::Wo, l), D * q, w.wo.get(), wt_, s, 0.0f);
    w.wgu.reset(ctx_, 2 * H * D * esz_);
    put(m, seed, T(Role::Wgate, l), H * D, at(w.wgu, 0), wt_, s, 0.0f);
    put(m, seed, T(Role::Wup, l), H * D, at(w.wgu, H * D), wt_, s, 0.0f);
    w.wd.reset(ctx_, D * H * esz_);
    put(m, seed, T(Role::Wdown, l), D * H, w.wd.get(), wt_,
        1.0f / std::sqrt(static_cast<float>(H)), 0.0f);
  }
  staging_ = DeviceBuffer();
}

// cos/sin of pos · inv_freq[i] (model/architecture.h rope_inv_freq: RoPE scaling included) for
// every position below `positions`, in float64 on the host (bit-identical to the CPU reference's
// tables), then uploaded.
void CudaBackend::ensure_rope(int positions) {
  if (positions <= rope_positions_) return;
  const int half = c_.head_dim / 2;
  const int n = std::max(positions, 2 * rope_positions_);
  std::vector<float> cs(static_cast<size_t>(n) * half), sn(cs.size());
  const std::vector<double> inv_freq = rope_inv_freq(c_);
  for (int p = 0; p < n; ++p)
    for (int i = 0; i < half; ++i) {
      const double a = p * inv_freq[i];
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

}  // namespace cuda

std::unique_ptr<Backend> make_cuda_backend(const Model& m, const BackendOptions& opt) {
  return std::make_unique<cuda::CudaBackend>(m.cfg, opt, &m, 0);
}

std::unique_ptr<Backend> make_cuda_backend_random(const ModelConfig& cfg, const BackendOptions& opt,
                                                  uint64_t seed) {
  return std::make_unique<cuda::CudaBackend>(cfg, opt, nullptr, seed);
}

}  // namespace eeb
