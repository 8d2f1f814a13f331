// CPU backend vs the float64 reference in reference.h: hidden states, logits, layer orders,
// the logit lens, token_logprobs and exit_features.
#include <catch2/catch.hpp>

#include "backends/registry.h"
#include "tests/cpu/reference.h"
#include "tests/random_model.h"
#include "tests/test_data.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

struct Case {
  const char* name;
  ModelConfig cfg;
};

std::vector<Case> cases() {
  auto tied = tiny_config(1, 32, 4, 2);
  tied.tied_embeddings = true;
  return {
      {"GQA 4/2, 3 layers, head_dim 8", tiny_config(3, 32, 4, 2)},
      {"MHA 4/4, 1 layer, head_dim 16", tiny_config(1, 64, 4, 4)},
      {"MQA 4/1, 3 layers, head_dim 16", tiny_config(3, 64, 4, 1)},
      {"GQA 4/2, tied embeddings, 1 layer", tied},
      {"GQA 4/2, 3 layers, head_dim 16, hidden 80", tiny_config(3, 64, 4, 2, 80, 96)},
  };
}

std::vector<float> read_all(Backend& b, const Hidden& h) {
  std::vector<float> v(static_cast<size_t>(h.n_tokens()) * b.config().dim);
  b.read_hidden(h, 0, h.n_tokens(), v.data());
  return v;
}

std::vector<float> all_logits(Backend& b, const Hidden& h) {
  std::vector<float> v(static_cast<size_t>(h.n_tokens()) * b.config().vocab_size);
  b.logits(h, 0, h.n_tokens(), v.data());
  return v;
}

// Runs `order` over `tokens` on the backend and checks every intermediate hidden state and the
// final logits against the reference.
void check_against_reference(const Model& m, const std::vector<int>& order, int n_tokens,
                             uint64_t seed) {
  RefModel ref(m);
  auto tokens = random_tokens(n_tokens, m.cfg.vocab_size, seed);
  auto hs = ref_hiddens(ref, tokens, order);
  auto b = make_backend("cpu", m, BackendOptions{});
  auto kv = b->new_cache(n_tokens);
  auto h = b->embed(tokens, 0);
  CHECK(rel_diff(read_all(*b, *h), hs[0]) == 0.0);
  for (size_t i = 0; i < order.size(); ++i) {
    b->run_layer(order[i], *h, *kv);
    INFO("after step " << i << " (layer " << order[i] << ")");
    CHECK(rel_diff(read_all(*b, *h), hs[i + 1]) <= 1e-4);
  }
  CHECK(rel_diff(all_logits(*b, *h), ref_logits(ref, hs.back(), n_tokens)) <= 1e-4);
}

}  // namespace

TEST_CASE("cpu backend matches the float64 reference layer by layer", "[cpu]") {
  for (const auto& c : cases()) {
    SECTION(c.name) {
      Model m = random_model(c.cfg, 7);
      check_against_reference(m, all_layers(c.cfg.n_layers), 11, 3);
    }
  }
}

TEST_CASE("cpu backend reports its identity", "[cpu]") {
  Model m = random_model(tiny_config(), 1);
  auto b = make_backend("cpu", m, BackendOptions{.threads = 2});
  CHECK(b->name() == "cpu");
  CHECK(b->dtype() == "f32");
  CHECK(b->config().dim == 32);
  CHECK(b->device_description().find("2 threads") != std::string::npos);
}

TEST_CASE("cpu backend runs layers in a custom order like the reference", "[cpu]") {
  Model m = random_model(tiny_config(3, 64, 4, 2), 11);
  SECTION("skip layer 1") { check_against_reference(m, {0, 2}, 9, 5); }
  SECTION("swap layers 0 and 1") { check_against_reference(m, {1, 0, 2}, 9, 6); }
  SECTION("last layer only") { check_against_reference(m, {2}, 9, 7); }
}

TEST_CASE("logit lens: logits of an intermediate layer's hidden", "[cpu]") {
  Model m = random_model(tiny_config(3, 32, 4, 2), 13);
  RefModel ref(m);
  const int n = 8;
  auto tokens = random_tokens(n, m.cfg.vocab_size, 9);
  auto hs = ref_hiddens(ref, tokens, {0, 1, 2});
  auto b = make_backend("cpu", m, BackendOptions{});
  auto kv = b->new_cache(n);
  auto h = b->embed(tokens, 0);
  for (int l = 0; l < 3; ++l) {
    b->run_layer(l, *h, *kv);
    INFO("layer " << l);
    CHECK(rel_diff(all_logits(*b, *h), ref_logits(ref, hs[l + 1], n)) <= 1e-4);
    // A row range of the logits equals the same rows of the full logits.
    std::vector<float> part(2 * m.cfg.vocab_size);
    b->logits(*h, 3, 2, part.data());
    auto full = ref_logits(ref, hs[l + 1], n);
    CHECK(rel_diff(part, Vec(full.begin() + 3 * m.cfg.vocab_size,
                             full.begin() + 5 * m.cfg.vocab_size)) <= 1e-4);
  }
}

TEST_CASE("token_logprobs and exit_features match a float64 log-softmax of the reference", "[cpu]") {
  auto cfg = tiny_config(2, 32, 4, 2, 48, 200);
  Model m = random_model(cfg, 17);
  RefModel ref(m);
  const int n = 10, V = cfg.vocab_size;
  auto tokens = random_tokens(n, V, 21);
  auto hs = ref_hiddens(ref, tokens, {0, 1});
  auto b = make_backend("cpu", m, BackendOptions{});
  auto kv = b->new_cache(n);
  auto h = b->embed(tokens, 0);
  run_layers(*b, 0, 2, *h, *kv);

  // Each row scores a different target: logprobs of rows 2..9.
  Vec lg = ref_logits(ref, hs.back(), n);
  std::vector<int32_t> targets = random_tokens(8, V, 23);
  std::vector<double> lp(8);
  std::vector<int32_t> am(8, -1);
  b->token_logprobs(*h, 2, targets, lp.data(), am.data());
  for (int i = 0; i < 8; ++i) {
    const double* row = &lg[static_cast<size_t>(2 + i) * V];
    double mx = *std::max_element(row, row + V), s = 0;
    for (int j = 0; j < V; ++j) s += std::exp(row[j] - mx);
    const double want = row[targets[i]] - mx - std::log(s);
    INFO("row " << 2 + i);
    CHECK(std::abs(lp[i] - want) <= 1e-4);
    CHECK(am[i] == std::max_element(row, row + V) - row);
  }
  // Without argmax output.
  std::vector<double> lp2(8);
  b->token_logprobs(*h, 2, targets, lp2.data());
  CHECK(lp2 == lp);

  for (int r = 0; r < n; ++r) {
    const double* row = &lg[static_cast<size_t>(r) * V];
    std::vector<int> idx(V);
    for (int j = 0; j < V; ++j) idx[j] = j;
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int c) { return row[a] > row[c]; });
    double s = 0;
    for (int j = 0; j < V; ++j) s += std::exp(row[j] - row[idx[0]]);
    ExitFeatures f = b->exit_features(*h, r);
    INFO("row " << r);
    CHECK(f.top1 == idx[0]);
    CHECK(f.top2 == idx[1]);
    CHECK(std::abs(f.p1 - 1.0 / s) <= 1e-5);
    CHECK(std::abs(f.p2 - std::exp(row[idx[1]] - row[idx[0]]) / s) <= 1e-5);
    CHECK(f.gap() == Approx(f.p1 - f.p2));
  }
}

TEST_CASE("cpu backend on the shared sst-lm-12L model matches the reference", "[cpu][data]") {
  SKIP_WITHOUT_DATA();
  Model m = load_model(shared_data() + "/models/sst-lm-12L");
  REQUIRE(m.cfg.n_layers == 12);
  REQUIRE(m.cfg.n_kv_heads == 2);
  for (const auto& [name, t] : m.tensors) REQUIRE(t.dtype == DType::F32);
  check_against_reference(m, all_layers(12), 24, 31);
}

TEST_CASE("cpu backend on the shared llama2.c stories260K model matches the reference", "[cpu][data]") {
  // The reference applies interleaved RoPE to the Q/K rows as stored; the backend sees them
  // converted to rotate-half by Model::load_f32. Tied embeddings, GQA 8/4.
  SKIP_WITHOUT_DATA();
  Model m = load_model(shared_data() + "/models/stories260K/stories260K.bin");
  REQUIRE(m.qk_interleaved);
  REQUIRE(m.cfg.tied_embeddings);
  check_against_reference(m, all_layers(m.cfg.n_layers), 20, 37);
}
