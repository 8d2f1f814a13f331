// A Backend decorator that counts the work actually executed: layer-token evaluations, attention
// span, LM-head rows, and the FLOPs they imply. Strategies run through it, so FLOPs, average layers
// and LM-head costs come from what ran, not from what a strategy claims.
#pragma once
#include "backends/backend.h"

namespace eeb {

struct WorkCount {
  double layer_tokens = 0;    // sum over run_layer calls of rows processed
  double attended = 0;        // sum over rows of attended positions (for attention FLOPs)
  double lm_head_rows = 0;    // rows pushed through final norm + LM head
  double flops = 0;           // matmul FLOPs (2 per multiply-add) of the above
  double kv_bytes_forked = 0; // keys/values a fork_cache starts from (copied, or read in place by the CPU backend): no FLOPs
  WorkCount operator-(const WorkCount& o) const {
    return {layer_tokens - o.layer_tokens, attended - o.attended, lm_head_rows - o.lm_head_rows,
            flops - o.flops, kv_bytes_forked - o.kv_bytes_forked};
  }
};

// FLOPs of one transformer block for one token attending over `attended` positions, and of one
// LM-head row, from the config.
double layer_flops_per_token(const ModelConfig& c, double attended);
double lm_head_flops_per_row(const ModelConfig& c);
// FLOPs of n consecutive rows at positions [pos0, pos0 + n) through every layer (causal: row r
// attends over pos0 + r + 1 positions); what the runner counts for a prefill of those rows.
double layers_flops(const ModelConfig& c, int pos0, int n);
// Bytes of weight matrices one decode step streams (every layer's projections and the LM head; the
// embedding row and the norms are negligible) at the given weights dtype (f32: 4 bytes, else 2).
double weight_bytes_per_token(const ModelConfig& c, const std::string& dtype);

class CountingBackend : public Backend {
 public:
  explicit CountingBackend(Backend& inner) : b_(inner) {}
  const WorkCount& count() const { return count_; }
  Backend& inner() { return b_; }

  std::string name() const override { return b_.name(); }
  std::string device_description() const override { return b_.device_description(); }
  const ModelConfig& config() const override { return b_.config(); }
  std::string dtype() const override { return b_.dtype(); }
  std::unique_ptr<RegionTimer> new_timer() override { return b_.new_timer(); }
  void synchronize() override { b_.synchronize(); }
  double free_memory_bytes() const override { return b_.free_memory_bytes(); }
  double kv_bytes_per_position() const override { return b_.kv_bytes_per_position(); }

 protected:
  // Each forwards to the inner backend's public method (which checks again: cheap, and the
  // inner backend keeps the KV lengths exactly as when called directly).
  std::unique_ptr<KVCache> do_new_cache(int capacity) override { return b_.new_cache(capacity); }
  // A copy, not a computation: zero FLOPs, its bytes counted.
  std::unique_ptr<KVCache> do_fork_cache(const KVCache& src, const std::vector<int>& lengths,
                                         int capacity) override;
  std::unique_ptr<Hidden> do_embed(std::span<const int32_t> tokens, int pos0) override {
    return b_.embed(tokens, pos0);
  }
  void do_run_layer(int layer, Hidden& h, KVCache& kv) override;
  // A batch counts as the sum of its sequences (each as do_run_layer counts it).
  void do_run_layer_batch(int layer, std::span<Hidden* const> hs,
                          std::span<KVCache* const> kvs) override;
  void do_logits(const Hidden& h, int row0, int n, float* out) override;
  void do_token_logprobs(const Hidden& h, int row0, std::span<const int32_t> targets,
                         double* out, int32_t* argmax) override;
  void do_candidate_logprobs(const Hidden& h, int row0, int n, std::span<const int> offsets,
                             std::span<const int32_t> targets, double* out, int32_t* top) override;
  ExitFeatures do_exit_features(const Hidden& h, int row) override;
  void do_read_hidden(const Hidden& h, int row0, int n, float* out) override {
    b_.read_hidden(h, row0, n, out);
  }
  std::unique_ptr<Hidden> do_slice(const Hidden& h, int row0, int n) override {
    return b_.slice(h, row0, n);
  }
  std::unique_ptr<Hidden> do_concat(std::span<const Hidden* const> parts, int) override {
    return b_.concat(parts);
  }
  std::unique_ptr<Hidden> do_stack(std::span<const Hidden* const> parts, int) override {
    return b_.stack(parts);
  }

 private:
  void add_head_rows(double n);
  void add_layer_rows(int n, int pos0);
  Backend& b_;
  WorkCount count_;
};

}  // namespace eeb
