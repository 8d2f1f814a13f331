// CPU reference backend: a Llama forward pass, one layer at a time, over a block of rows, over the
// weights as stored (cpu_weights.h).
#include "backends/cpu/cpu_backend.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>

#include "backends/cpu/cpu_batch.h"
#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/cpu_weights.h"
#include "backends/cpu/weight_matrix.h"
#include "backends/cpu/logit_stats.h"
#include "core/error.h"
#include "model/architecture.h"

namespace eeb {
namespace {

std::string S(long long v) { return std::to_string(v); }
[[noreturn]] void fail(const std::string& msg) { throw Error("backend cpu: " + msg); }

class CpuHidden : public Hidden {
 public:
  CpuHidden(int n, int pos0, int dim) : Hidden(n, pos0), dim_(dim), x_(static_cast<size_t>(n) * dim) {}
  int dim() const { return dim_; }
  float* row(int r) { return x_.data() + static_cast<size_t>(r) * dim_; }
  const float* row(int r) const { return x_.data() + static_cast<size_t>(r) * dim_; }

 private:
  int dim_;
  std::vector<float> x_;
};

// Key/value buffers recycled from one cache to the next. A trial creates and drops a cache per
// document (with the prefix cache, a fork of ~10 MB per MMLU question on a dim-128 model), and
// fresh buffers cost a zero fill and a page fault per page: 17% of a cached document's time before
// the pool. Buffers are handed out uninitialised (a cache reads only positions it has written) and
// at most kKeepBytes of free ones are kept. Shared by the backend and its caches, so a cache may
// outlive the backend.
class KvBufferPool {
 public:
  struct Buffer {
    std::unique_ptr<float[]> p;
    size_t n = 0;
  };
  Buffer take(size_t n) {
    std::lock_guard<std::mutex> lock(m_);
    auto it = free_.lower_bound(n);
    // A much larger buffer would pin memory a smaller cache does not need: allocate instead.
    if (it == free_.end() || it->first > 2 * n) return {std::unique_ptr<float[]>(new float[n]), n};
    Buffer b = std::move(it->second);
    free_.erase(it);
    kept_ -= b.n;
    return b;
  }
  void give(Buffer b) {
    if (!b.p) return;
    std::lock_guard<std::mutex> lock(m_);
    if ((kept_ + b.n) * sizeof(float) > kKeepBytes) return;  // dropped: freed now
    kept_ += b.n;
    free_.emplace(b.n, std::move(b));
  }

 private:
  static constexpr size_t kKeepBytes = size_t{256} << 20;
  std::mutex m_;
  std::multimap<size_t, Buffer> free_;  // by size in floats
  size_t kept_ = 0;                     // floats in free_
};

// Per layer: keys and values of positions [0, length) in capacity × kv_dim buffers from the pool,
// taken when the layer is first written. Lengths are kept by the KVCache base.
//
// A fork (fork_cache: a document starting from a shared few-shot prefix) copies nothing: it reads
// positions [0, shared(l)) of layer l in place from its source's buffers (attention takes the two
// parts, cpu_kernels.h) and writes only its own positions. Copy on write keeps that exact: a write
// into the source below what a live fork shares first gives every fork its own copy
// (materialize), as does the source's destruction; a fork written below its shared boundary (after
// a truncate) moves the boundary down. A fork of a fork reads from the first source.
class CpuCache : public KVCache {
 public:
  CpuCache(int capacity, int n_layers, int kv_dim, std::shared_ptr<KvBufferPool> pool)
      : KVCache("backend cpu", capacity, n_layers), kv_dim_(kv_dim), pool_(std::move(pool)),
        k_(n_layers), v_(n_layers), shared_(n_layers, 0) {}
  CpuCache(const CpuCache&) = delete;
  CpuCache& operator=(const CpuCache&) = delete;
  ~CpuCache() override {
    detach_forks();
    if (base_) std::erase(base_->forks_, this);
    for (auto* bufs : {&k_, &v_})
      for (auto& b : *bufs) pool_->give(std::move(b));
  }
  int kv_dim() const { return kv_dim_; }
  // Own buffers (positions from shared(layer) on are written and read here).
  float* k(int layer) { return alloc(k_[layer]); }
  float* v(int layer) { return alloc(v_[layer]); }
  // Positions [0, shared(layer)) are read from these instead (null and 0: none).
  int shared(int layer) const { return base_ ? shared_[layer] : 0; }
  const float* shared_k(int layer) const { return base_ ? base_->k_[layer].p.get() : nullptr; }
  const float* shared_v(int layer) const { return base_ ? base_->v_[layer].p.get() : nullptr; }

  // Called before positions [pos0, ...) of a layer are written.
  void before_write(int layer, int pos0) {
    for (const CpuCache* f : forks_)
      if (pos0 < f->shared_[layer]) {
        detach_forks();
        break;
      }
    if (base_ && pos0 < shared_[layer]) shared_[layer] = pos0;
  }

  // A fork of src holding src's positions [0, lengths[l]) of every layer.
  static std::unique_ptr<CpuCache> fork_of(const CpuCache& src, const std::vector<int>& lengths, int capacity) {
    auto out = std::make_unique<CpuCache>(capacity, src.n_layers(), src.kv_dim_, src.pool_);
    CpuCache* root = src.base_ ? src.base_ : const_cast<CpuCache*>(&src);
    out->base_ = root;
    root->forks_.push_back(out.get());
    for (int l = 0; l < src.n_layers(); ++l) {
      out->shared_[l] = std::min(lengths[l], src.base_ ? src.shared_[l] : lengths[l]);
      // What src holds in its own buffers (a fork's positions past its shared ones): copied.
      if (lengths[l] > out->shared_[l]) out->copy_positions(src, l, out->shared_[l], lengths[l]);
    }
    return out;
  }

 private:
  float* alloc(KvBufferPool::Buffer& b) {
    if (!b.p) b = pool_->take(static_cast<size_t>(capacity()) * kv_dim_);
    return b.p.get();
  }
  // Positions [from, to) of layer l, keys and values, from src's own buffers into ours.
  void copy_positions(const CpuCache& src, int l, int from, int to) {
    const size_t off = static_cast<size_t>(from) * kv_dim_, n = static_cast<size_t>(to - from) * kv_dim_;
    std::memcpy(k(l) + off, src.k_[l].p.get() + off, sizeof(float) * n);
    std::memcpy(v(l) + off, src.v_[l].p.get() + off, sizeof(float) * n);
  }
  // Copies the shared positions into this fork's own buffers and forgets the source.
  void materialize() {
    for (int l = 0; l < n_layers(); ++l)
      if (shared_[l] > 0) {
        copy_positions(*base_, l, 0, shared_[l]);
        shared_[l] = 0;
      }
    base_ = nullptr;
  }
  void detach_forks() {
    for (CpuCache* f : forks_) f->materialize();
    forks_.clear();
  }
  int kv_dim_;
  std::shared_ptr<KvBufferPool> pool_;
  std::vector<KvBufferPool::Buffer> k_, v_;
  CpuCache* base_ = nullptr;       // the source a fork reads its shared positions from
  std::vector<int> shared_;        // per layer, with base_
  std::vector<CpuCache*> forks_;   // live forks reading from this cache
};

// The matrices are separate (no fused [q; k; v] or [gate; up] copy): their products write into
// adjacent columns of one output buffer instead.
struct LayerWeights {
  cpu::WeightMatrix wq, wk, wv, wo, wgate, wup, wdown;
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> bqkv;            // [q; k; v] biases (Qwen2); empty without
  std::vector<float> q_norm, k_norm;  // per-head RMSNorm weights (Qwen3); empty without
};

class CpuBackend : public Backend {
 public:
  CpuBackend(const Model& m, const BackendOptions& opt);
  std::string name() const override { return "cpu"; }
  std::string device_description() const override { return desc_; }
  const ModelConfig& config() const override { return c_; }
  std::string dtype() const override { return dtype_; }
  std::map<std::string, HeldWeights> held_weights() const override { return held_; }


 protected:
  std::unique_ptr<KVCache> do_new_cache(int capacity) override {
    return std::make_unique<CpuCache>(capacity, c_.n_layers, kv_dim_, kv_pool_);
  }
  std::unique_ptr<KVCache> do_fork_cache(const KVCache& src, const std::vector<int>& lengths,
                                         int capacity) override {
    auto* s = dynamic_cast<const CpuCache*>(&src);
    if (!s || s->kv_dim() != kv_dim_) fail("KV cache does not come from this CPU backend");
    return CpuCache::fork_of(*s, lengths, capacity);
  }
  std::unique_ptr<Hidden> do_embed(std::span<const int32_t> tokens, int pos0) override;
  void do_run_layer(int layer, Hidden& h, KVCache& kv) override;
  void do_run_layer_batch(int layer, std::span<Hidden* const> hs,
                          std::span<KVCache* const> kvs) override;
  void do_logits(const Hidden& h, int row0, int n, float* out) override;
  ExitFeatures do_exit_features(const Hidden& h, int row) override {
    row_logits_.resize(c_.vocab_size);
    do_logits(h, row, 1, row_logits_.data());
    return logit_stats::exit_features(row_logits_.data(), c_.vocab_size);
  }
  void do_read_hidden(const Hidden& h, int row0, int n, float* out) override {
    std::memcpy(out, as_cpu(h).row(row0), sizeof(float) * n * c_.dim);
  }
  std::unique_ptr<Hidden> do_slice(const Hidden& h, int row0, int n) override {
    const auto& x = as_cpu(h);
    auto out = std::make_unique<CpuHidden>(n, x.pos0() + row0, c_.dim);
    if (n > 0) std::memcpy(out->row(0), x.row(row0), sizeof(float) * n * c_.dim);
    return out;
  }
  std::unique_ptr<Hidden> do_concat(std::span<const Hidden* const> parts, int rows) override;

 private:
  const CpuHidden& as_cpu(const Hidden& h) const {
    auto* p = dynamic_cast<const CpuHidden*>(&h);
    if (!p || p->dim() != c_.dim) fail("hidden state does not come from this CPU backend");
    return *p;
  }
  CpuHidden& as_cpu(Hidden& h) const { return const_cast<CpuHidden&>(as_cpu(std::as_const(h))); }
  // Parallelism is ours (OpenMP); OpenBLAS calls run single-threaded inside it.
  static void use_threads() {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  }
  void ensure_rope(int positions);
  // The sequence's rows [row0, row0 + h.n_tokens()) of a block and its cache's buffers of this layer.
  static cpu::BatchSegment segment(int layer, int row0, const CpuHidden& h, CpuCache& kv) {
    kv.before_write(layer, h.pos0());
    return {row0, h.n_tokens(), h.pos0(), kv.k(layer), kv.v(layer),
            kv.shared_k(layer), kv.shared_v(layer), kv.shared(layer)};
  }
  void run_stacked(int layer, std::span<Hidden* const> hs, std::span<KVCache* const> kvs);
  void layer_rows(int layer, float* x, int n, std::span<const cpu::BatchSegment> segs);

  ModelConfig c_;
  int threads_ = 1, q_dim_ = 0, kv_dim_ = 0, qkv_dim_ = 0;
  std::string desc_, dtype_;
  cpu::WeightHolder weights_;  // owns what the matrices point into
  std::map<std::string, HeldWeights> held_;
  bool qk_interleaved_ = false;  // Q/K rows (hence q, k, the cached keys) in interleaved-RoPE order
  cpu::WeightMatrix embed_, lm_head_;  // the same matrix when the embeddings are tied
  std::vector<float> final_norm_;
  std::vector<LayerWeights> layers_;
  std::vector<double> inv_freq_;  // [head_dim / 2]
  std::vector<float> cos_, sin_;  // [positions, head_dim / 2]
  int rope_positions_ = 0;
  // Scratch, reused across calls.
  std::vector<float> xn_, qkv_, att_, gu_, row_logits_;
  std::vector<float> xb_;  // a batch's stacked rows
  cpu::AttentionScratch attn_;
  std::shared_ptr<KvBufferPool> kv_pool_ = std::make_shared<KvBufferPool>();
};

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos && p + 2 <= line.size()) return line.substr(p + 2);
    }
  return "unknown CPU";
}

CpuBackend::CpuBackend(const Model& m, const BackendOptions& opt)
    : c_(m.cfg), weights_(m, opt.dtype), qk_interleaved_(m.qk_interleaved) {
  if (opt.threads < 0) fail("threads " + S(opt.threads) + " must be >= 0 (0: all cores)");
  threads_ = opt.threads > 0 ? opt.threads : omp_get_num_procs();
  const auto& c = c_;
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers < 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
      c.head_dim <= 0 || c.head_dim % 2 != 0 || c.vocab_size <= 0 || c.n_heads % c.n_kv_heads != 0)
    throw Error(m.path, "inconsistent model config for the CPU backend (dims, heads, head_dim)");
  q_dim_ = c.n_heads * c.head_dim;
  kv_dim_ = c.n_kv_heads * c.head_dim;
  qkv_dim_ = q_dim_ + 2 * kv_dim_;
  const int D = c.dim, H = c.hidden_dim, V = c.vocab_size, hd = c.head_dim;
  // Tensor names come from the architecture table (model/architecture.h).
  auto T = [&](Role r, int l = -1) { return tensor_name(c, r, l); };
  auto& W = weights_;
  // Per-head vectors applied to q / k follow their rows' order.
  const int qk_order = qk_interleaved_ ? hd : 0;
  embed_ = W.matrix(T(Role::Embed), V, D);
  final_norm_ = W.vector(T(Role::FinalNorm), D);
  lm_head_ = c.tied_embeddings ? embed_ : W.matrix(T(Role::LmHead), V, D);
  layers_.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    auto& w = layers_[l];
    w.attn_norm = W.vector(T(Role::AttnNorm, l), D);
    w.ffn_norm = W.vector(T(Role::FfnNorm, l), D);
    w.wq = W.matrix(T(Role::Wq, l), q_dim_, D);
    w.wk = W.matrix(T(Role::Wk, l), kv_dim_, D);
    w.wv = W.matrix(T(Role::Wv, l), kv_dim_, D);
    if (c.qkv_bias) {
      for (auto [r, n, order] : {std::tuple{Role::Bq, q_dim_, qk_order}, std::tuple{Role::Bk, kv_dim_, qk_order},
                                 std::tuple{Role::Bv, kv_dim_, 0}}) {
        const std::vector<float> b = W.vector(T(r, l), static_cast<size_t>(n), order);
        w.bqkv.insert(w.bqkv.end(), b.begin(), b.end());
      }
    }
    if (c.qk_norm) {
      w.q_norm = W.vector(T(Role::QNorm, l), hd, qk_order);
      w.k_norm = W.vector(T(Role::KNorm, l), hd, qk_order);
    }
    w.wo = W.matrix(T(Role::Wo, l), D, q_dim_);
    w.wgate = W.matrix(T(Role::Wgate, l), H, D);
    w.wup = W.matrix(T(Role::Wup, l), H, D);
    w.wdown = W.matrix(T(Role::Wdown, l), D, H);
  }
  held_ = W.held();
  dtype_ = W.dtype_string();
  inv_freq_ = rope_inv_freq(c);
  desc_ = cpu_model_name() + ", " + S(threads_) + " threads";
  ensure_rope(std::max(c.max_seq_len, 1));
}

// cos/sin of pos · inv_freq[i] (theta^(-2i/hd) unless the config scales RoPE) for every position
// below `positions`, computed in float64.
void CpuBackend::ensure_rope(int positions) {
  if (positions <= rope_positions_) return;
  const int half = c_.head_dim / 2;
  const int n = std::max(positions, 2 * rope_positions_);
  cos_.resize(static_cast<size_t>(n) * half);
  sin_.resize(static_cast<size_t>(n) * half);
  for (int p = 0; p < n; ++p)
    for (int i = 0; i < half; ++i) {
      const double a = p * inv_freq_[i];
      cos_[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(a));
      sin_[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(a));
    }
  rope_positions_ = n;
}

std::unique_ptr<Hidden> CpuBackend::do_embed(std::span<const int32_t> tokens, int pos0) {
  const int n = static_cast<int>(tokens.size());
  auto h = std::make_unique<CpuHidden>(n, pos0, c_.dim);
  for (int r = 0; r < n; ++r) cpu::dequantize_row(embed_, tokens[r], h->row(r));
  return h;
}

void CpuBackend::do_run_layer(int layer, Hidden& hid, KVCache& kvc) {
  auto& h = as_cpu(hid);
  auto* kv = dynamic_cast<CpuCache*>(&kvc);
  if (!kv || kv->kv_dim() != kv_dim_) fail("KV cache does not come from this CPU backend");
  const cpu::BatchSegment seg = segment(layer, 0, h, *kv);
  layer_rows(layer, h.row(0), h.n_tokens(), std::span(&seg, 1));  // in place: one sequence
}

// Transformer block `layer` over n rows at x, in place: rmsnorm, the projections, biases, head norms
// and the MLP over all rows at once; RoPE, the KV write and attention per sequence (segs, cpu_batch.h).
// One sequence (do_run_layer) or several stacked (run_stacked) run the same kernels in the same order.
void CpuBackend::layer_rows(int layer, float* x, int n, std::span<const cpu::BatchSegment> segs) {
  int end = 0;
  for (const auto& g : segs) end = std::max(end, g.pos0 + g.n);
  use_threads();
  ensure_rope(end);
  const LayerWeights& w = layers_[layer];
  const int D = c_.dim, H = c_.hidden_dim, hd = c_.head_dim;
  xn_.resize(static_cast<size_t>(n) * D);
  qkv_.resize(static_cast<size_t>(n) * qkv_dim_);
  att_.resize(static_cast<size_t>(n) * q_dim_);
  gu_.resize(static_cast<size_t>(n) * 2 * H);

  // Attention: x += o_proj(attention(rope(qkv(rmsnorm(x)))))
  cpu::rmsnorm(x, n, D, w.attn_norm.data(), c_.norm_eps, xn_.data(), threads_);
  float* qkv = qkv_.data();  // row r: [q | k | v], each product written into its columns
  cpu::matmul(xn_.data(), n, D, D, w.wq, qkv, qkv_dim_, 0.0f, threads_);
  cpu::matmul(xn_.data(), n, D, D, w.wk, qkv + q_dim_, qkv_dim_, 0.0f, threads_);
  cpu::matmul(xn_.data(), n, D, D, w.wv, qkv + q_dim_ + kv_dim_, qkv_dim_, 0.0f, threads_);
  if (!w.bqkv.empty()) cpu::add_row_bias(qkv_.data(), n, qkv_dim_, w.bqkv.data(), threads_);
  if (!w.q_norm.empty()) {  // q and k heads: RMSNorm over head_dim each, before RoPE
    cpu::head_rmsnorm(qkv_.data(), n, qkv_dim_, c_.n_heads, hd, w.q_norm.data(), c_.norm_eps, threads_);
    cpu::head_rmsnorm(qkv_.data() + q_dim_, n, qkv_dim_, c_.n_kv_heads, hd, w.k_norm.data(), c_.norm_eps,
                      threads_);
  }
  const cpu::SegmentShape shape{q_dim_, kv_dim_, c_.n_heads, c_.n_kv_heads, hd, c_.sliding_window,
                                cos_.data(), sin_.data(), qk_interleaved_};
  cpu::attend_segments(qkv_.data(), qkv_dim_, att_.data(), q_dim_, segs, shape, attn_, threads_);
  cpu::matmul(att_.data(), n, q_dim_, q_dim_, w.wo, x, D, 1.0f, threads_);

  // MLP: x += down(silu(gate(h)) * up(h)), h = rmsnorm(x)
  cpu::rmsnorm(x, n, D, w.ffn_norm.data(), c_.norm_eps, xn_.data(), threads_);
  cpu::matmul(xn_.data(), n, D, D, w.wgate, gu_.data(), 2 * H, 0.0f, threads_);  // row r: [gate | up]
  cpu::matmul(xn_.data(), n, D, D, w.wup, gu_.data() + H, 2 * H, 0.0f, threads_);
  cpu::swiglu(gu_.data(), n, H, threads_);
  cpu::matmul(gu_.data(), n, H, 2 * H, w.wdown, x, D, 1.0f, threads_);
}

// A batch of sequences (Backend::run_layer_batch): groups of at most kBatchRows stacked rows (a
// longer sequence alone), so scratch stays bounded; a group of one is the one-sequence path.
void CpuBackend::do_run_layer_batch(int layer, std::span<Hidden* const> hs,
                                    std::span<KVCache* const> kvs) {
  constexpr long kBatchRows = 1024;  // GEMM throughput is flat well below this many rows
  size_t i = 0;
  while (i < hs.size()) {
    size_t j = i + 1;
    long rows = hs[i]->n_tokens();
    while (j < hs.size() && rows + hs[j]->n_tokens() <= kBatchRows) rows += hs[j++]->n_tokens();
    if (j == i + 1) do_run_layer(layer, *hs[i], *kvs[i]);
    else run_stacked(layer, hs.subspan(i, j - i), kvs.subspan(i, j - i));
    i = j;
  }
}

// Several sequences: their rows copied into one block, layer_rows over it, copied back.
void CpuBackend::run_stacked(int layer, std::span<Hidden* const> hs, std::span<KVCache* const> kvs) {
  std::vector<cpu::BatchSegment> segs;
  int n = 0;
  for (size_t i = 0; i < hs.size(); ++i) {
    auto& h = as_cpu(*hs[i]);
    auto* kv = dynamic_cast<CpuCache*>(kvs[i]);
    if (!kv || kv->kv_dim() != kv_dim_) fail("KV cache does not come from this CPU backend");
    segs.push_back(segment(layer, n, h, *kv));
    n += h.n_tokens();
  }
  const int D = c_.dim;
  xb_.resize(static_cast<size_t>(n) * D);
  float* x = xb_.data();
  for (size_t i = 0; i < hs.size(); ++i)
    std::memcpy(x + static_cast<size_t>(segs[i].row0) * D, as_cpu(*hs[i]).row(0),
                sizeof(float) * segs[i].n * D);
  layer_rows(layer, x, n, segs);
  for (size_t i = 0; i < hs.size(); ++i)
    std::memcpy(as_cpu(*hs[i]).row(0), x + static_cast<size_t>(segs[i].row0) * D,
                sizeof(float) * segs[i].n * D);
}

void CpuBackend::do_logits(const Hidden& hid, int row0, int n, float* out) {
  const auto& h = as_cpu(hid);
  use_threads();
  xn_.resize(static_cast<size_t>(n) * c_.dim);
  cpu::rmsnorm(h.row(row0), n, c_.dim, final_norm_.data(), c_.norm_eps, xn_.data(), threads_);
  cpu::matmul(xn_.data(), n, c_.dim, c_.dim, lm_head_, out, c_.vocab_size, 0.0f, threads_);
}

std::unique_ptr<Hidden> CpuBackend::do_concat(std::span<const Hidden* const> parts, int rows) {
  for (const Hidden* p : parts) as_cpu(*p);
  auto out = std::make_unique<CpuHidden>(rows, parts[0]->pos0(), c_.dim);
  int r = 0;
  for (const Hidden* p : parts) {
    const auto& x = as_cpu(*p);
    if (x.n_tokens() > 0)
      std::memcpy(out->row(r), x.row(0), sizeof(float) * x.n_tokens() * c_.dim);
    r += x.n_tokens();
  }
  return out;
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const Model& model, const BackendOptions& opt) {
  return std::make_unique<CpuBackend>(model, opt);
}

}  // namespace eeb
