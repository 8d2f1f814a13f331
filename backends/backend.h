// The backend interface: one small vtable, layer-granular, that every strategy works through.
//
// A strategy never sees a backend's internals. It embeds tokens into a Hidden (a block of residual-
// stream rows living on the backend's device), runs any layer on it in any order, applies the final
// norm + LM head to any layer's hidden state (the logit lens), and keeps, rolls back or drops KV-cache
// entries. Early exit, layer removal, reordering and self-speculative decoding are all built from these.
#pragma once
#include <cstdint>
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
class KVCache {
 public:
  virtual ~KVCache() = default;
  virtual int capacity() const = 0;
  virtual int length(int layer) const = 0;
  // Drops positions >= n of one layer (rollback). n <= length(layer).
  virtual void truncate(int layer, int n) = 0;
  void truncate_all(int n, int n_layers) {
    for (int l = 0; l < n_layers; ++l)
      if (length(l) > n) truncate(l, n);
  }
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
  std::string dtype = "f32";       // f32 | bf16 | f16 (what the weights are held as)
  int device = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual std::string device_description() const = 0;  // e.g. CPU model / GPU name
  virtual const ModelConfig& config() const = 0;
  virtual std::string dtype() const = 0;

  virtual std::unique_ptr<KVCache> new_cache(int capacity) = 0;
  // Token embeddings for positions [pos0, pos0 + tokens.size()).
  virtual std::unique_ptr<Hidden> embed(std::span<const int32_t> tokens, int pos0) = 0;
  // Runs transformer block `layer` (weights index) over h in place, attending over the cached
  // positions of that layer plus h's own rows (causally), and appends h's keys/values to the
  // cache. Requires kv.length(layer) == h.pos0().
  virtual void run_layer(int layer, Hidden& h, KVCache& kv) = 0;
  // Final norm + LM head for rows [row0, row0 + n) of h, into out (n × vocab, row-major).
  virtual void logits(const Hidden& h, int row0, int n, float* out) = 0;
  // log p(targets[i] | row row0 + i) for i in [0, targets.size()), computed in float64 on the host
  // or on the device; only the results cross. If argmax is non-null, argmax[i] receives the
  // row's top-1 token (lowest id on ties), so greedy checks cost no extra LM-head evaluation.
  virtual void token_logprobs(const Hidden& h, int row0, std::span<const int32_t> targets,
                              double* out, int32_t* argmax = nullptr);
  // Logit-lens exit features of one row.
  virtual ExitFeatures exit_features(const Hidden& h, int row);
  // Host copy of the raw residual rows [row0, row0 + n) (n × dim).
  virtual void read_hidden(const Hidden& h, int row0, int n, float* out) = 0;
  // New Hidden with rows [row0, row0 + n) of h (positions follow).
  virtual std::unique_ptr<Hidden> slice(const Hidden& h, int row0, int n) = 0;
  // Rows of several Hiddens stacked in order; their positions must be consecutive.
  virtual std::unique_ptr<Hidden> concat(std::span<const Hidden* const> parts) = 0;

  virtual std::unique_ptr<RegionTimer> new_timer();  // default: steady_clock
  virtual void synchronize() {}
};

struct BackendInfo {
  std::string name;
  std::string description;
  bool available;
};
std::vector<BackendInfo> list_backends();
// Creates a backend by name ("cpu", "cuda"); throws Error for unknown or unavailable names.
std::unique_ptr<Backend> make_backend(const std::string& name, const Model& model,
                                      const BackendOptions& opt);

// A backend holding random weights of shape `c` (benchmarks): cpu from random_llama() (float32 on the
// host), cuda generated on the device (no host copy). Error for unknown or unavailable names.
std::unique_ptr<Backend> make_backend_random(const std::string& name, const ModelConfig& c,
                                             const BackendOptions& opt, uint64_t seed);

// Every backend's embed() starts with this: positions [pos0, pos0 + n) must lie in [0,
// max_position_embeddings). RoPE tables beyond the trained range would give numbers no one asked
// for; over-long prompts are left-truncated before they get here (make_request, as lm-eval does).
void check_positions(const Backend& b, int pos0, int n);

// Convenience: run layers [first, last) in order.
inline void run_layers(Backend& b, int first, int last, Hidden& h, KVCache& kv) {
  for (int l = first; l < last; ++l) b.run_layer(l, h, kv);
}

}  // namespace eeb
