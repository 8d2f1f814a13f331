// The backend interface: one small vtable, layer-granular, that every strategy works through.
//
// A strategy never sees a backend's internals. It embeds tokens into a Hidden (a block of residual-
// stream rows living on the backend's device), runs any layer on it in any order, applies the final
// norm + LM head to any layer's hidden state (the logit lens), and keeps, rolls back or drops KV-cache
// entries. Early exit, layer removal, reordering and self-speculative decoding are all built from these.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/model.h"

namespace eeb {

// n_tokens consecutive positions [pos0, pos0 + n_tokens) of one sequence, dim floats each.
class Hidden {
 public:
  virtual ~Hidden() = default;
  int n_tokens() const { return n_tokens_; }
  int pos0() const { return pos0_; }

 protected:
  Hidden(int n, int pos0) : n_tokens_(n), pos0_(pos0) {}
  int n_tokens_;
  int pos0_;
};

// Per-layer key/value cache of one sequence. Layer i's cache holds positions [0, length(i)).
// The lengths live here, in the base, so that every backend checks and advances them the same
// way; a backend's cache adds only its buffers.
class KVCache {
 public:
  virtual ~KVCache() = default;
  int capacity() const { return cap_; }
  int n_layers() const { return static_cast<int>(len_.size()); }
  int length(int layer) const;  // Error for a layer outside [0, n_layers())
  // Drops positions >= n of one layer (rollback). Error unless 0 <= n <= length(layer).
  void truncate(int layer, int n);
  void truncate_all(int n, int n_layers) {
    for (int l = 0; l < n_layers; ++l)
      if (length(l) > n) truncate(l, n);
  }

 protected:
  // `owner` names the backend in error messages ("backend cpu").
  KVCache(std::string owner, int capacity, int n_layers);

 private:
  friend class Backend;  // run_layer() advances the length after the layer ran; fork_cache sets it
  int check_layer(int layer) const;
  std::string owner_;
  int cap_;
  std::vector<int> len_;
};

// Logit-lens summary of one row: what AdaInfer-style exit policies read after each layer.
struct ExitFeatures {
  int top1 = -1, top2 = -1;
  float p1 = 0, p2 = 0;  // softmax probabilities of top1 and top2
  float gap() const { return p1 - p2; }
};

// Wall-clock or device timer for a measured region (CUDA backends use events).
class RegionTimer {
 public:
  virtual ~RegionTimer() = default;
  virtual void start() = 0;
  virtual double stop_seconds() = 0;  // waits for the device
};

struct BackendOptions {
  int threads = 0;                 // 0: all cores
  // What the weights are held as: auto (the backend's default: cpu keeps each tensor in its stored
  // type, cuda converts to bf16) | f32 | bf16 | f16 (every weight converted once at load).
  std::string dtype = "auto";
  int device = 0;
};

// Weights of one type as a backend holds them (the run records these, see held_weights()).
struct HeldWeights {
  int64_t tensors = 0;
  uint64_t bytes = 0;
};

// The public methods check their arguments (row ranges, token ids, cache capacity, the run_layer
// preconditions) and keep the KV lengths, once for every backend, then call the protected do_*
// implementation with arguments already known to be valid (a template method). A backend
// implements the do_* methods; it still checks that a Hidden or KVCache is one of its own.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual std::string device_description() const = 0;  // e.g. CPU model / GPU name
  virtual const ModelConfig& config() const = 0;
  // What the weights are held as, e.g. "bf16", or "bf16+f32" when the types differ (see the backend).
  virtual std::string dtype() const = 0;
  // Held weights by type name ("bf16", "q8_0", ...): tensors and bytes. Empty: not reported.
  virtual std::map<std::string, HeldWeights> held_weights() const { return {}; }

  // Error unless capacity > 0.
  std::unique_ptr<KVCache> new_cache(int capacity);
  // A new cache of `capacity` positions holding positions [0, min(n_positions, src.length(l))) of
  // every layer l of src (a shared prefix computed once, forked per document), as if copied: the
  // fork and src are independent from then on (a backend may share the positions in place with copy
  // on write: the CPU backend does). src is left as it was. Error unless src has the model's
  // layers, 0 <= n_positions <= capacity and capacity > 0. No FLOPs (CountingBackend counts the
  // bytes forked).
  std::unique_ptr<KVCache> fork_cache(const KVCache& src, int n_positions, int capacity);
  // Bytes of memory free for caches where this backend keeps them (host RAM: MemAvailable; a GPU:
  // its free device memory); 0 when unknown. Sizes the prefix cache's default budget.
  virtual double free_memory_bytes() const;
  // Bytes one position of one layer takes in a KV cache (keys and values).
  virtual double kv_bytes_per_position() const;
  // Token embeddings for positions [pos0, pos0 + tokens.size()). Error for a negative pos0 or a
  // token outside the vocabulary.
  std::unique_ptr<Hidden> embed(std::span<const int32_t> tokens, int pos0);
  // Runs transformer block `layer` (weights index) over h in place, attending over the cached
  // positions of that layer plus h's own rows (causally), and appends h's keys/values to the
  // cache. Requires 0 <= layer < n_layers, kv.length(layer) == h.pos0() and the rows to fit the
  // cache's capacity; an empty h is a no-op.
  void run_layer(int layer, Hidden& h, KVCache& kv);
  // Several independent sequences through block `layer` at once: the same as run_layer(layer,
  // *hs[i], *kvs[i]) for every i (each sequence its own positions and cache), but a backend may
  // compute all their rows together (the CPU backend: one GEMM per projection over the stacked
  // rows, attention per sequence). Every pair is checked as run_layer checks it, the caches and
  // hiddens must be distinct, and nothing runs when one fails; empty hiddens are skipped.
  void run_layer_batch(int layer, std::span<Hidden* const> hs, std::span<KVCache* const> kvs);
  // Final norm + LM head for rows [row0, row0 + n) of h, into out (n × vocab, row-major).
  void logits(const Hidden& h, int row0, int n, float* out);
  // log p(targets[i] | row row0 + i) for i in [0, targets.size()), computed in float64 on the host
  // or on the device; only the results cross. If argmax is non-null, argmax[i] receives the
  // row's top-1 token (lowest id on ties), so greedy checks cost no extra LM-head evaluation.
  void token_logprobs(const Hidden& h, int row0, std::span<const int32_t> targets, double* out,
                      int32_t* argmax = nullptr);
  // Several candidate next tokens per row, one LM-head row each however many candidates (the
  // choices of a question that share what comes before their differing token): for i < n,
  // out[j] = log p(targets[j] | row row0 + i) for j in [offsets[i], offsets[i + 1]) (offsets has
  // n + 1 entries, non-decreasing from 0 to targets.size()). If top is non-null, top[i] receives
  // row i's top-1 token.
  void candidate_logprobs(const Hidden& h, int row0, int n, std::span<const int> offsets,
                          std::span<const int32_t> targets, double* out, int32_t* top = nullptr);
  // Logit-lens exit features of one row.
  ExitFeatures exit_features(const Hidden& h, int row);
  // Host copy of the raw residual rows [row0, row0 + n) (n × dim).
  void read_hidden(const Hidden& h, int row0, int n, float* out);
  // New Hidden with rows [row0, row0 + n) of h (positions follow).
  std::unique_ptr<Hidden> slice(const Hidden& h, int row0, int n);
  // Rows of several Hiddens stacked in order; their positions must be consecutive.
  std::unique_ptr<Hidden> concat(std::span<const Hidden* const> parts);
  // Rows of several Hiddens stacked in order whatever their positions (e.g. the last context row of
  // each document of a batch), for the read-outs only (logits, token_logprobs, exit_features,
  // read_hidden): one LM-head GEMM over rows of different sequences. Its positions are nominal
  // (it starts at parts[0]'s), so it is not an input for run_layer.
  std::unique_ptr<Hidden> stack(std::span<const Hidden* const> parts);

  virtual std::unique_ptr<RegionTimer> new_timer();  // default: steady_clock
  virtual void synchronize() {}

 protected:
  // Called with checked arguments only (see the public methods).
  virtual std::unique_ptr<KVCache> do_new_cache(int capacity) = 0;
  // A new cache of `capacity` positions whose layer l holds src's positions [0, lengths[l])
  // (lengths[l] <= src.length(l), <= capacity), independent of src; the base sets the lengths.
  // Default: Error (a backend without it cannot use the prefix cache).
  virtual std::unique_ptr<KVCache> do_fork_cache(const KVCache& src, const std::vector<int>& lengths,
                                                 int capacity);
  virtual std::unique_ptr<Hidden> do_embed(std::span<const int32_t> tokens, int pos0) = 0;
  // h has at least one row; the base sets kv.length(layer) to pos0 + rows afterwards.
  virtual void do_run_layer(int layer, Hidden& h, KVCache& kv) = 0;
  // hs, kvs: same size >= 1, checked pairs, every h non-empty; the base advances the lengths.
  // Default: do_run_layer on each pair in order.
  virtual void do_run_layer_batch(int layer, std::span<Hidden* const> hs,
                                  std::span<KVCache* const> kvs);
  virtual void do_logits(const Hidden& h, int row0, int n, float* out) = 0;  // n >= 1
  // Default: float64 log-softmax over do_logits(), 32 rows at a time.
  virtual void do_token_logprobs(const Hidden& h, int row0, std::span<const int32_t> targets,
                                 double* out, int32_t* argmax);
  // Default: float64 log-softmax over do_logits(), 32 rows at a time. n >= 1, offsets checked.
  virtual void do_candidate_logprobs(const Hidden& h, int row0, int n, std::span<const int> offsets,
                                     std::span<const int32_t> targets, double* out, int32_t* top);
  virtual ExitFeatures do_exit_features(const Hidden& h, int row);  // default: over do_logits()
  virtual void do_read_hidden(const Hidden& h, int row0, int n, float* out) = 0;  // n >= 1
  virtual std::unique_ptr<Hidden> do_slice(const Hidden& h, int row0, int n) = 0;
  // parts: non-empty, non-null, consecutive positions, at most INT32_MAX rows in all.
  virtual std::unique_ptr<Hidden> do_concat(std::span<const Hidden* const> parts, int rows) = 0;
  // parts as for do_concat but of any positions. Default: do_concat (the CPU and CUDA backends copy
  // rows and read only parts[0]'s position).
  virtual std::unique_ptr<Hidden> do_stack(std::span<const Hidden* const> parts, int rows) {
    return do_concat(parts, rows);
  }

 private:
  [[noreturn]] void refuse(const std::string& msg) const;
  void check_rows_(const Hidden& h, int row0, int n, const char* what) const;
  void check_layer_(int layer, const Hidden& h, const KVCache& kv, const char* what) const;
};

// Convenience: run layers [first, last) in order.
inline void run_layers(Backend& b, int first, int last, Hidden& h, KVCache& kv) {
  for (int l = first; l < last; ++l) b.run_layer(l, h, kv);
}

}  // namespace eeb
