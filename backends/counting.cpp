#include "backends/counting.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace eeb {

double layer_flops_per_token(const ModelConfig& c, double attended) {
  const double D = c.dim, H = c.hidden_dim, q = double(c.n_heads) * c.head_dim,
               kv = double(c.n_kv_heads) * c.head_dim;
  const double proj = D * q + 2 * D * kv + q * D + 3 * D * H;  // q,k,v,o + gate,up,down
  const double attn = 2 * q * attended;                         // scores + weighted sum of values
  return 2 * (proj + attn);
}

double lm_head_flops_per_row(const ModelConfig& c) { return 2.0 * c.vocab_size * c.dim; }

double layers_flops(const ModelConfig& c, int pos0, int n) {
  double f = 0;
  for (int r = 0; r < n; ++r) f += layer_flops_per_token(c, pos0 + r + 1);
  return f * c.n_layers;
}

double weight_bytes_per_token(const ModelConfig& c, const std::string& dtype) {
  const double D = c.dim, H = c.hidden_dim, q = double(c.n_heads) * c.head_dim, kv = double(c.n_kv_heads) * c.head_dim;
  const double esz = dtype == "f32" ? 4 : 2;
  return esz * (c.n_layers * (D * (q + 2 * kv) + q * D + 3 * D * H) + double(c.vocab_size) * D);
}

void CountingBackend::do_run_layer(int layer, Hidden& h, KVCache& kv) {
  const int n = h.n_tokens(), p0 = h.pos0();
  b_.run_layer(layer, h, kv);
  add_layer_rows(n, p0);
}

void CountingBackend::do_run_layer_batch(int layer, std::span<Hidden* const> hs,
                                         std::span<KVCache* const> kvs) {
  std::vector<std::pair<int, int>> rows;  // (n, pos0) before the layer ran
  for (const Hidden* h : hs) rows.emplace_back(h->n_tokens(), h->pos0());
  b_.run_layer_batch(layer, hs, kvs);
  for (auto [n, p0] : rows) add_layer_rows(n, p0);
}

// n rows at positions [p0, p0 + n) through one layer.
void CountingBackend::add_layer_rows(int rows, int pos0) {
  const double n = rows, p0 = pos0;
  // Row r attends over positions [0, p0 + r]: sum = n * p0 + n (n + 1) / 2; under a sliding
  // window W over at most W of them.
  const int W = b_.config().sliding_window;
  double att = n * p0 + n * (n + 1) / 2;
  if (W > 0) {
    att = 0;
    for (int r = 0; r < rows; ++r) att += std::min<double>(p0 + r + 1, W);
  }
  count_.layer_tokens += n;
  count_.attended += att;
  const auto& c = b_.config();
  count_.flops += n * layer_flops_per_token(c, 0) + 2 * 2.0 * c.n_heads * c.head_dim * att;
}

std::unique_ptr<KVCache> CountingBackend::do_fork_cache(const KVCache& src,
                                                       const std::vector<int>& lengths, int capacity) {
  double positions = 0;
  for (int n : lengths) positions += n;
  count_.kv_bytes_forked += positions * b_.kv_bytes_per_position();
  // The inner backend derives the same lengths from src (each is min(n, src.length(l))).
  int n = 0;
  for (int x : lengths) n = std::max(n, x);
  return b_.fork_cache(src, n, capacity);
}

void CountingBackend::add_head_rows(double n) {
  count_.lm_head_rows += n;
  count_.flops += n * lm_head_flops_per_row(b_.config());
}

void CountingBackend::do_logits(const Hidden& h, int row0, int n, float* out) {
  add_head_rows(n);
  b_.logits(h, row0, n, out);
}

void CountingBackend::do_token_logprobs(const Hidden& h, int row0, std::span<const int32_t> targets,
                                     double* out, int32_t* argmax) {
  add_head_rows(static_cast<double>(targets.size()));
  b_.token_logprobs(h, row0, targets, out, argmax);
}

void CountingBackend::do_candidate_logprobs(const Hidden& h, int row0, int n, std::span<const int> offsets,
                                            std::span<const int32_t> targets, double* out, int32_t* top) {
  add_head_rows(n);  // one LM-head row per row, however many candidates
  b_.candidate_logprobs(h, row0, n, offsets, targets, out, top);
}

ExitFeatures CountingBackend::do_exit_features(const Hidden& h, int row) {
  add_head_rows(1);
  return b_.exit_features(h, row);
}

}  // namespace eeb
