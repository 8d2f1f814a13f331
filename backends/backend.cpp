// The Backend base: argument checks and KV-length bookkeeping shared by every backend (the public
// methods), the default float64 statistics over logits(), and the steady_clock timer. No backend
// is named here: the table of backends is backends/registry.cpp.
#include "backends/backend.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <fstream>

#include "backends/cpu/logit_stats.h"
#include "core/error.h"

namespace eeb {
namespace {

std::string S(long long v) { return std::to_string(v); }

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

// ---- KVCache ------------------------------------------------------------------------------------

KVCache::KVCache(std::string owner, int capacity, int n_layers)
    : owner_(std::move(owner)), cap_(capacity), len_(std::max(n_layers, 0), 0) {}

int KVCache::check_layer(int layer) const {
  if (layer < 0 || layer >= n_layers())
    throw Error(owner_ + ": KV cache layer " + S(layer) + " outside [0, " + S(n_layers()) + ")");
  return layer;
}

int KVCache::length(int layer) const { return len_[check_layer(layer)]; }

void KVCache::truncate(int layer, int n) {
  check_layer(layer);
  if (n < 0 || n > len_[layer])
    throw Error(owner_ + ": truncate(layer " + S(layer) + ", " + S(n) +
                ") outside the cached length " + S(len_[layer]));
  len_[layer] = n;
}

// ---- Backend: checks, then the implementation ---------------------------------------------------

void Backend::refuse(const std::string& msg) const { throw Error("backend " + name() + ": " + msg); }

void Backend::check_rows_(const Hidden& h, int row0, int n, const char* what) const {
  if (row0 < 0 || n < 0 || row0 > h.n_tokens() - n)
    refuse(std::string(what) + ": rows [" + S(row0) + ", " + S(static_cast<long long>(row0) + n) +
         ") outside a hidden of " + S(h.n_tokens()) + " rows");
}

std::unique_ptr<KVCache> Backend::new_cache(int capacity) {
  if (capacity <= 0) refuse("new_cache: capacity " + S(capacity) + " must be positive");
  return do_new_cache(capacity);
}

std::unique_ptr<KVCache> Backend::fork_cache(const KVCache& src, int n_positions, int capacity) {
  const int L = config().n_layers;
  if (capacity <= 0) refuse("fork_cache: capacity " + S(capacity) + " must be positive");
  if (n_positions < 0 || n_positions > capacity)
    refuse("fork_cache: " + S(n_positions) + " positions outside [0, capacity " + S(capacity) + "]");
  if (src.n_layers() != L)
    refuse("fork_cache: the source cache has " + S(src.n_layers()) + " layers, the model " + S(L));
  std::vector<int> lengths(L);
  for (int l = 0; l < L; ++l) lengths[l] = std::min(n_positions, src.length(l));
  auto out = do_fork_cache(src, lengths, capacity);
  if (!out || out->n_layers() != L || out->capacity() != capacity)
    refuse("fork_cache: the backend returned a cache of the wrong shape");
  out->len_ = lengths;
  return out;
}

std::unique_ptr<KVCache> Backend::do_fork_cache(const KVCache&, const std::vector<int>&, int) {
  refuse("fork_cache is not implemented by this backend (run with --no-prefix-cache)");
}

double Backend::kv_bytes_per_position() const {
  const ModelConfig& c = config();
  return 2.0 * sizeof(float) * c.n_kv_heads * c.head_dim;  // float32 keys and values
}

double Backend::free_memory_bytes() const {
  // Host RAM, as the kernel estimates what can be allocated without swapping.
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("MemAvailable:", 0) == 0) return std::atof(line.c_str() + 13) * 1024.0;  // kB
  return 0;
}

std::unique_ptr<Hidden> Backend::embed(std::span<const int32_t> tokens, int pos0) {
  const ModelConfig& c = config();
  if (pos0 < 0) refuse("embed: negative position " + S(pos0));
  if (tokens.size() > static_cast<size_t>(INT32_MAX / std::max(c.dim, 1)))
    refuse("embed: too many tokens");
  // Positions must lie in [0, max_position_embeddings): RoPE tables beyond the trained range would
  // give numbers no one asked for; over-long prompts are left-truncated before they get here
  // (make_request, as lm-eval does).
  const long long end = static_cast<long long>(pos0) + static_cast<long long>(tokens.size());
  if (end > c.max_seq_len)
    refuse("positions [" + S(pos0) + ", " + S(end) + ") outside the model's " + S(c.max_seq_len) +
           " positions (max_position_embeddings)");
  for (int32_t t : tokens)
    if (t < 0 || t >= c.vocab_size)
      refuse("embed: token " + S(t) + " outside the vocabulary [0, " + S(c.vocab_size) + ")");
  return do_embed(tokens, pos0);
}

void Backend::check_layer_(int layer, const Hidden& h, const KVCache& kv, const char* what) const {
  const int L = config().n_layers;
  if (layer < 0 || layer >= L)
    refuse(std::string(what) + ": layer " + S(layer) + " outside [0, " + S(L) + ")");
  if (kv.n_layers() != L)
    refuse(std::string(what) + ": the KV cache has " + S(kv.n_layers()) + " layers, the model " + S(L));
  const int n = h.n_tokens(), pos0 = h.pos0();
  if (kv.length(layer) != pos0)
    refuse(std::string(what) + "(" + S(layer) + "): hidden starts at position " + S(pos0) +
         " but the layer's KV cache holds " + S(kv.length(layer)) + " positions");
  if (static_cast<long long>(pos0) + n > kv.capacity())
    refuse(std::string(what) + "(" + S(layer) + "): positions [" + S(pos0) + ", " +
         S(static_cast<long long>(pos0) + n) + ") exceed the KV cache capacity " +
         S(kv.capacity()));
}

void Backend::run_layer(int layer, Hidden& h, KVCache& kv) {
  check_layer_(layer, h, kv, "run_layer");
  if (h.n_tokens() == 0) return;
  const int pos0 = h.pos0(), n = h.n_tokens();
  do_run_layer(layer, h, kv);
  kv.len_[layer] = pos0 + n;
}

void Backend::run_layer_batch(int layer, std::span<Hidden* const> hs,
                              std::span<KVCache* const> kvs) {
  if (hs.size() != kvs.size())
    refuse("run_layer_batch: " + S(static_cast<long long>(hs.size())) + " hiddens but " +
           S(static_cast<long long>(kvs.size())) + " KV caches");
  // Two entries sharing a cache (or a hidden) would write the same positions twice.
  std::vector<Hidden*> h;
  std::vector<KVCache*> kv;
  for (size_t i = 0; i < hs.size(); ++i) {
    if (!hs[i] || !kvs[i]) refuse("run_layer_batch: null hidden or KV cache");
    check_layer_(layer, *hs[i], *kvs[i], "run_layer_batch");
    for (size_t j = 0; j < i; ++j)
      if (hs[j] == hs[i] || kvs[j] == kvs[i])
        refuse("run_layer_batch: sequences " + S(static_cast<long long>(j)) + " and " +
               S(static_cast<long long>(i)) + " share a hidden or a KV cache");
    if (hs[i]->n_tokens() > 0) h.push_back(hs[i]), kv.push_back(kvs[i]);
  }
  if (h.empty()) return;
  do_run_layer_batch(layer, h, kv);
  for (size_t i = 0; i < h.size(); ++i) kv[i]->len_[layer] = h[i]->pos0() + h[i]->n_tokens();
}

void Backend::logits(const Hidden& h, int row0, int n, float* out) {
  check_rows_(h, row0, n, "logits");
  if (n > 0) do_logits(h, row0, n, out);
}

void Backend::token_logprobs(const Hidden& h, int row0, std::span<const int32_t> targets,
                             double* out, int32_t* argmax) {
  if (targets.size() > static_cast<size_t>(INT32_MAX)) refuse("token_logprobs: too many targets");
  const int n = static_cast<int>(targets.size());
  check_rows_(h, row0, n, "token_logprobs");
  const int V = config().vocab_size;
  for (int32_t t : targets)
    if (t < 0 || t >= V)
      refuse("token_logprobs target " + S(t) + " outside the vocabulary [0, " + S(V) + ")");
  if (n > 0) do_token_logprobs(h, row0, targets, out, argmax);
}

void Backend::candidate_logprobs(const Hidden& h, int row0, int n, std::span<const int> offsets,
                                 std::span<const int32_t> targets, double* out, int32_t* top) {
  check_rows_(h, row0, n, "candidate_logprobs");
  if (offsets.size() != static_cast<size_t>(n) + 1 || offsets[0] != 0 ||
      static_cast<size_t>(offsets[n]) != targets.size())
    refuse("candidate_logprobs: offsets must run from 0 to the " + S(static_cast<long long>(targets.size())) +
           " targets over " + S(n) + " rows");
  for (int i = 0; i < n; ++i)
    if (offsets[i + 1] < offsets[i]) refuse("candidate_logprobs: offsets decrease at row " + S(i));
  const int V = config().vocab_size;
  for (int32_t t : targets)
    if (t < 0 || t >= V)
      refuse("candidate_logprobs target " + S(t) + " outside the vocabulary [0, " + S(V) + ")");
  if (n > 0) do_candidate_logprobs(h, row0, n, offsets, targets, out, top);
}

ExitFeatures Backend::exit_features(const Hidden& h, int row) {
  check_rows_(h, row, 1, "exit_features");
  return do_exit_features(h, row);
}

void Backend::read_hidden(const Hidden& h, int row0, int n, float* out) {
  check_rows_(h, row0, n, "read_hidden");
  if (n > 0) do_read_hidden(h, row0, n, out);
}

std::unique_ptr<Hidden> Backend::slice(const Hidden& h, int row0, int n) {
  check_rows_(h, row0, n, "slice");
  return do_slice(h, row0, n);
}

std::unique_ptr<Hidden> Backend::concat(std::span<const Hidden* const> parts) {
  if (parts.empty()) refuse("concat: no parts");
  long long n = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i]) refuse("concat: null part");
    if (i > 0 && parts[i]->pos0() != parts[i - 1]->pos0() + parts[i - 1]->n_tokens())
      refuse("concat: part " + S(static_cast<long long>(i)) + " starts at position " +
           S(parts[i]->pos0()) + ", expected " +
           S(parts[i - 1]->pos0() + parts[i - 1]->n_tokens()));
    n += parts[i]->n_tokens();
  }
  if (n > INT32_MAX / std::max(config().dim, 1)) refuse("concat: too many rows");
  return do_concat(parts, static_cast<int>(n));
}

std::unique_ptr<Hidden> Backend::stack(std::span<const Hidden* const> parts) {
  if (parts.empty()) refuse("stack: no parts");
  long long n = 0;
  for (const Hidden* p : parts) {
    if (!p) refuse("stack: null part");
    n += p->n_tokens();
  }
  if (n > INT32_MAX / std::max(config().dim, 1)) refuse("stack: too many rows");
  return do_stack(parts, static_cast<int>(n));
}

// ---- defaults -----------------------------------------------------------------------------------

void Backend::do_token_logprobs(const Hidden& h, int row0, std::span<const int32_t> targets,
                                double* out, int32_t* argmax) {
  const int n = static_cast<int>(targets.size());
  const int V = config().vocab_size;
  // Bounded host memory: at most 32 rows of logits at a time.
  const int chunk = 32;
  std::vector<float> buf(static_cast<size_t>(std::min(n, chunk)) * V);
  for (int i0 = 0; i0 < n; i0 += chunk) {
    const int m = std::min(chunk, n - i0);
    do_logits(h, row0 + i0, m, buf.data());
    for (int i = 0; i < m; ++i) {
      int top = 0;
      out[i0 + i] = logit_stats::log_prob(buf.data() + static_cast<size_t>(i) * V, V,
                                          targets[i0 + i], &top);
      if (argmax) argmax[i0 + i] = top;
    }
  }
}

void Backend::do_run_layer_batch(int layer, std::span<Hidden* const> hs,
                                 std::span<KVCache* const> kvs) {
  for (size_t i = 0; i < hs.size(); ++i) do_run_layer(layer, *hs[i], *kvs[i]);
}

void Backend::do_candidate_logprobs(const Hidden& h, int row0, int n, std::span<const int> offsets,
                                    std::span<const int32_t> targets, double* out, int32_t* top) {
  const int V = config().vocab_size;
  const int chunk = 32;  // bounded host memory, as do_token_logprobs
  std::vector<float> buf(static_cast<size_t>(std::min(n, chunk)) * V);
  for (int i0 = 0; i0 < n; i0 += chunk) {
    const int m = std::min(chunk, n - i0);
    do_logits(h, row0 + i0, m, buf.data());
    for (int i = 0; i < m; ++i) {
      const float* x = buf.data() + static_cast<size_t>(i) * V;
      const int best = logit_stats::argmax(x, V);
      const double lse = logit_stats::log_sum_exp(x, V, best);
      for (int j = offsets[i0 + i]; j < offsets[i0 + i + 1]; ++j) out[j] = static_cast<double>(x[targets[j]]) - lse;
      if (top) top[i0 + i] = best;
    }
  }
}

ExitFeatures Backend::do_exit_features(const Hidden& h, int row) {
  std::vector<float> buf(config().vocab_size);
  do_logits(h, row, 1, buf.data());
  return logit_stats::exit_features(buf.data(), config().vocab_size);
}

std::unique_ptr<RegionTimer> Backend::new_timer() { return std::make_unique<SteadyTimer>(); }

}  // namespace eeb
