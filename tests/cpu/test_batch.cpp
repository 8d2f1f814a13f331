// Backend::run_layer_batch: several independent sequences (own positions, own KV cache) through one
// layer at once must give what run_layer gives for each of them on its own (the CPU backend stacks
// their rows into one GEMM per projection, so the check is against the one-sequence path run on
// copies of the same state), for llama, Qwen2 (q/k/v bias), Qwen3 (head norms) and a Mistral
// sliding window; the counts of a batch are the sum of its sequences'; misuse is refused before
// anything runs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "backends/counting.h"
#include "backends/registry.h"
#include "core/error.h"
#include "tests/cpu/reference.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

// One sequence: `prefix` tokens already cached (run unbatched), then `n` new rows at pos0 = prefix.
struct Seq {
  int prefix, n;
};

struct State {
  std::vector<std::unique_ptr<KVCache>> kv;
  std::vector<std::unique_ptr<Hidden>> h;
};

// Caches holding each sequence's prefix, and the embedded new rows; tokens differ per sequence.
State start(Backend& b, const std::vector<Seq>& seqs) {
  State s;
  const int L = b.config().n_layers, V = b.config().vocab_size;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const auto toks = random_tokens(seqs[i].prefix + seqs[i].n, V, 100 + i);
    s.kv.push_back(b.new_cache(seqs[i].prefix + seqs[i].n + 2));
    if (seqs[i].prefix > 0) {
      auto p = b.embed(std::span(toks).first(seqs[i].prefix), 0);
      run_layers(b, 0, L, *p, *s.kv.back());
    }
    s.h.push_back(b.embed(std::span(toks).subspan(seqs[i].prefix), seqs[i].prefix));
  }
  return s;
}

std::vector<float> rows_of(Backend& b, const Hidden& h) {
  std::vector<float> out(static_cast<size_t>(h.n_tokens()) * b.config().dim);
  b.read_hidden(h, 0, h.n_tokens(), out.data());
  return out;
}

double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0, scale = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    m = std::max(m, std::fabs(double(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return m / scale;
}

// Batched vs one-by-one through every layer, then one more token per sequence (one-sequence path)
// to read back what the batch wrote into each cache; returns the largest relative difference.
double batch_vs_single(const ModelConfig& cfg, const std::vector<Seq>& seqs) {
  Model m = random_model(cfg, 11);
  auto b = make_backend("cpu", m, BackendOptions{});
  const int L = cfg.n_layers;
  State one = start(*b, seqs), bat = start(*b, seqs);
  for (int l = 0; l < L; ++l)
    for (size_t i = 0; i < seqs.size(); ++i) b->run_layer(l, *one.h[i], *one.kv[i]);
  std::vector<Hidden*> hs;
  std::vector<KVCache*> kvs;
  for (size_t i = 0; i < seqs.size(); ++i) hs.push_back(bat.h[i].get()), kvs.push_back(bat.kv[i].get());
  for (int l = 0; l < L; ++l) b->run_layer_batch(l, hs, kvs);
  double worst = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int end = seqs[i].prefix + seqs[i].n;
    for (int l = 0; l < L; ++l) {
      REQUIRE(bat.kv[i]->length(l) == end);
      REQUIRE(one.kv[i]->length(l) == end);
    }
    worst = std::max(worst, max_rel(rows_of(*b, *bat.h[i]), rows_of(*b, *one.h[i])));
    const int32_t t = 3;
    auto n1 = b->embed(std::span(&t, 1), end), n2 = b->embed(std::span(&t, 1), end);
    run_layers(*b, 0, L, *n1, *one.kv[i]);
    run_layers(*b, 0, L, *n2, *bat.kv[i]);
    worst = std::max(worst, max_rel(rows_of(*b, *n2), rows_of(*b, *n1)));
  }
  return worst;
}

// Lengths 1 (the one-row sgemv path unbatched) to 12, positions 0 to 9, one empty sequence.
const std::vector<Seq> kSeqs = {{0, 5}, {7, 1}, {2, 3}, {0, 12}, {9, 0}, {0, 1}, {4, 6}};

ModelConfig arch_config(const char* arch) {
  ModelConfig c = tiny_config(3, 32, 4, 2, 48, 64);
  c.architecture = arch;
  return c;
}

}  // namespace

TEST_CASE("run_layer_batch equals run_layer per sequence (llama, qwen2, qwen3, mistral window)") {
  ModelConfig mistral = arch_config("mistral");
  mistral.sliding_window = 4;
  for (const auto& [name, cfg] : std::vector<std::pair<const char*, ModelConfig>>{
           {"llama", arch_config("llama")}, {"qwen2 bias", arch_config("qwen2")},
           {"qwen3 head norms", arch_config("qwen3")}, {"mistral window 4", mistral}}) {
    INFO(name);
    // GEMM blocking over a different number of rows may change the last bits, no more.
    const double d = batch_vs_single(cfg, kSeqs);
    INFO("max relative difference " << d);  // about 4e-7 here: not bit-identical (sgemv vs sgemm)
    CHECK(d <= 1e-5);
  }
}

TEST_CASE("run_layer_batch: a batch of one is exactly run_layer") {
  CHECK(batch_vs_single(arch_config("llama"), {{3, 4}}) == 0);
}

TEST_CASE("run_layer_batch counts the sum of its sequences") {
  ModelConfig cfg = arch_config("mistral");
  cfg.sliding_window = 4;
  Model m = random_model(cfg, 3);
  auto inner = make_backend("cpu", m, BackendOptions{});
  CountingBackend one(*inner), bat(*inner);
  State s1 = start(*inner, kSeqs), s2 = start(*inner, kSeqs);
  std::vector<Hidden*> hs;
  std::vector<KVCache*> kvs;
  for (size_t i = 0; i < kSeqs.size(); ++i) {
    one.run_layer(0, *s1.h[i], *s1.kv[i]);
    hs.push_back(s2.h[i].get()), kvs.push_back(s2.kv[i].get());
  }
  bat.run_layer_batch(0, hs, kvs);
  double rows = 0;
  for (const auto& q : kSeqs) rows += q.n;
  CHECK(bat.count().layer_tokens == rows);
  CHECK(bat.count().layer_tokens == one.count().layer_tokens);
  CHECK(bat.count().attended == one.count().attended);
  CHECK(bat.count().flops == one.count().flops);
}

TEST_CASE("run_layer_batch refuses misuse before running anything") {
  Model m = random_model(arch_config("llama"), 3);
  auto b = make_backend("cpu", m, BackendOptions{});
  State s = start(*b, {{0, 2}, {0, 3}});
  std::vector<Hidden*> hs = {s.h[0].get(), s.h[1].get()};
  std::vector<KVCache*> kvs = {s.kv[0].get(), s.kv[1].get()};
  CHECK_THROWS_WITH(b->run_layer_batch(1, hs, std::span(kvs).first(1)), Catch::Contains("2 hiddens but 1 KV caches"));
  std::vector<KVCache*> same = {kvs[0], kvs[0]};
  CHECK_THROWS_WITH(b->run_layer_batch(1, hs, same), Catch::Contains("share a hidden or a KV cache"));
  b->run_layer_batch(0, hs, kvs);
  CHECK(s.kv[0]->length(0) == 2);
  CHECK(s.kv[1]->length(0) == 3);
  // A fresh sequence next to one whose layer-0 cache already holds its rows: refused whole, so the
  // fresh one's cache is not advanced either.
  State t = start(*b, {{0, 2}});
  std::vector<Hidden*> mixed = {t.h[0].get(), s.h[1].get()};
  std::vector<KVCache*> mixed_kv = {t.kv[0].get(), s.kv[1].get()};
  CHECK_THROWS_WITH(b->run_layer_batch(0, mixed, mixed_kv),
                    Catch::Contains("run_layer_batch(0): hidden starts at position 0 but the layer's KV cache holds 3"));
  CHECK(t.kv[0]->length(0) == 0);
  CHECK(s.kv[1]->length(0) == 3);
}

TEST_CASE("stack: rows of different sequences for one LM-head call") {
  Model m = random_model(arch_config("llama"), 3);
  auto inner = make_backend("cpu", m, BackendOptions{});
  CountingBackend b(*inner);
  State s = start(b, {{0, 2}, {5, 1}, {3, 3}});
  std::vector<const Hidden*> parts = {s.h[0].get(), s.h[1].get(), s.h[2].get()};
  CHECK_THROWS_WITH(b.concat(parts), Catch::Contains("expected 2"));  // positions do not follow
  auto st = b.stack(parts);
  REQUIRE(st->n_tokens() == 6);
  const int V = m.cfg.vocab_size;
  std::vector<float> all(6 * V), one;
  b.logits(*st, 0, 6, all.data());
  int row = 0;
  for (const Hidden* p : parts) {
    one.resize(static_cast<size_t>(p->n_tokens()) * V);
    b.logits(*p, 0, p->n_tokens(), one.data());
    std::vector<float> got(all.begin() + row * V, all.begin() + (row + p->n_tokens()) * V);
    CHECK(max_rel(got, one) <= 1e-5);
    row += p->n_tokens();
  }
  CHECK_THROWS_WITH(b.stack({}), Catch::Contains("stack: no parts"));
  std::vector<const Hidden*> with_null = {s.h[0].get(), nullptr};
  CHECK_THROWS_WITH(b.stack(with_null), Catch::Contains("stack: null part"));
}
