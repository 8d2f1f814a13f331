// CUDA backend vs the CPU reference backend on random models: hidden states and the logit lens after
// every layer (f32: max relative error <= 1e-4), exit features and token log-probs, bf16/f16 error and
// top-1 agreement, and the shared sst-lm-12L model.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <span>

#include "tests/cuda/cuda_test_util.h"
#include "tests/random_model.h"
#include "tests/test_data.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

struct Case {
  const char* name;
  ModelConfig cfg;
};

// Head dims 8, 16, 48 (padded to 64), 64, 128 and 256 cover every attention kernel instantiation.
std::vector<Case> cases() {
  auto tied = tiny_config(2, 32, 4, 2);
  tied.tied_embeddings = true;
  return {
      {"GQA 4/2, 3 layers, head_dim 8", tiny_config(3, 32, 4, 2)},
      {"MQA 4/1, 2 layers, head_dim 16", tiny_config(2, 64, 4, 1)},
      {"GQA 2/1, 2 layers, head_dim 48", tiny_config(2, 96, 2, 1, 80, 96)},
      {"MHA 4/4, 2 layers, head_dim 64", tiny_config(2, 256, 4, 4, 160, 128)},
      {"GQA 4/2, 2 layers, head_dim 128", tiny_config(2, 512, 4, 2, 320, 200)},
      {"MHA 1/1, 1 layer, head_dim 256", tiny_config(1, 256, 1, 1, 96, 64)},
      {"GQA 4/2, tied embeddings", tied},
  };
}

// Runs every layer over one block of n tokens on both backends, comparing after each layer.
void check_block(const Model& m, int n, uint64_t seed) {
  auto cpu = cpu_backend(m);
  auto gpu = cuda_backend(m, "f32");
  auto tokens = random_ids(n, m.cfg.vocab_size, seed);
  auto kc = cpu->new_cache(n), kg = gpu->new_cache(n);
  auto hc = cpu->embed(tokens, 0), hg = gpu->embed(tokens, 0);
  CHECK(rel_err(hidden_of(*gpu, *hg), hidden_of(*cpu, *hc)) == 0.0);
  for (int l = 0; l < m.cfg.n_layers; ++l) {
    cpu->run_layer(l, *hc, *kc);
    gpu->run_layer(l, *hg, *kg);
    INFO("n = " << n << ", after layer " << l);
    CHECK(kg->length(l) == n);
    CHECK(rel_err(hidden_of(*gpu, *hg), hidden_of(*cpu, *hc)) <= 1e-4);
    CHECK(rel_err(logits_of(*gpu, *hg), logits_of(*cpu, *hc)) <= 1e-4);
  }
}

}  // namespace

TEST_CASE("cuda f32: hidden states and the logit lens at every layer match the CPU", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  for (const auto& c : cases()) {
    INFO(c.name);
    Model m = random_model(c.cfg, 11);
    // n <= 8: split-K decode kernel; 9, 40: prefill kernel (40: 3 query blocks, 2 key tiles).
    for (int n : {1, 5, 8, 9, 40}) check_block(m, n, 100 + n);
  }
}

TEST_CASE("cuda f32: exit features and token log-probs match the CPU", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  Model m = random_model(tiny_config(3, 64, 4, 2, 96, 300), 5);
  const int n = 12, V = m.cfg.vocab_size;
  auto cpu = cpu_backend(m);
  auto gpu = cuda_backend(m, "f32");
  auto tokens = random_ids(n + 1, V, 9);
  std::vector<int32_t> in(tokens.begin(), tokens.end() - 1), targets(tokens.begin() + 1, tokens.end());
  auto kc = cpu->new_cache(n), kg = gpu->new_cache(n);
  auto hc = cpu->embed(in, 0), hg = gpu->embed(in, 0);
  for (int l = 0; l < m.cfg.n_layers; ++l) {
    cpu->run_layer(l, *hc, *kc);
    gpu->run_layer(l, *hg, *kg);
    const auto ref = logits_of(*cpu, *hc);
    for (int r = 0; r < n; ++r) {
      INFO("layer " << l << ", row " << r);
      const ExitFeatures a = gpu->exit_features(*hg, r), b = cpu->exit_features(*hc, r);
      // Ids must agree where the reference's ranking is clear (gaps 1-2 and 2-3 above 1e-3).
      std::vector<float> row(ref.begin() + static_cast<long>(r) * V,
                             ref.begin() + static_cast<long>(r + 1) * V);
      std::partial_sort(row.begin(), row.begin() + 3, row.end(), std::greater<float>());
      if (row[0] - row[1] > 1e-3f) CHECK(a.top1 == b.top1);
      if (row[0] - row[1] > 1e-3f && row[1] - row[2] > 1e-3f) CHECK(a.top2 == b.top2);
      CHECK(std::abs(a.p1 - b.p1) <= 1e-4);
      CHECK(std::abs(a.p2 - b.p2) <= 1e-4);
    }
    std::vector<double> lg(n), lc(n);
    std::vector<int32_t> ag(n), ac(n);
    gpu->token_logprobs(*hg, 0, targets, lg.data(), ag.data());
    cpu->token_logprobs(*hc, 0, targets, lc.data(), ac.data());
    for (int r = 0; r < n; ++r) {
      INFO("layer " << l << ", row " << r << ": " << lg[r] << " vs " << lc[r]);
      CHECK(std::abs(lg[r] - lc[r]) <= 1e-4 * std::max(1.0, std::abs(lc[r])));
      double margin = 0;
      row_argmax(ref, r, V, &margin);
      if (margin > 1e-3) CHECK(ag[r] == ac[r]);
    }
    // A sub-range, without argmax.
    std::vector<double> part(3);
    gpu->token_logprobs(*hg, 4, std::span(targets).subspan(4, 3), part.data());
    for (int i = 0; i < 3; ++i)
      CHECK(std::abs(part[i] - lg[4 + i]) <= 1e-5 * std::max(1.0, std::abs(lg[4 + i])));
  }
  std::vector<double> one(1);
  const int32_t bad = V;
  CHECK_THROWS_AS(gpu->token_logprobs(*hg, 0, std::span(&bad, 1), one.data()), Error);
  CHECK_THROWS_AS(gpu->token_logprobs(*hg, n, std::span(targets).first(1), one.data()), Error);
  CHECK_THROWS_AS(gpu->exit_features(*hg, n), Error);
}

TEST_CASE("cuda bf16/f16: error against the CPU reference and top-1 agreement", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  Model m = random_model(tiny_config(4, 128, 4, 2, 256, 512), 21);
  const int n = 48, V = m.cfg.vocab_size;
  auto tokens = random_ids(n, V, 4);
  auto cpu = cpu_backend(m);
  auto kc = cpu->new_cache(n);
  auto hc = cpu->embed(tokens, 0);
  std::vector<std::vector<float>> ref;  // logit lens after each layer
  for (int l = 0; l < m.cfg.n_layers; ++l) {
    cpu->run_layer(l, *hc, *kc);
    ref.push_back(logits_of(*cpu, *hc));
  }
  for (const char* dt : {"bf16", "f16"}) {
    auto gpu = cuda_backend(m, dt);
    REQUIRE(gpu->dtype() == dt);
    auto kg = gpu->new_cache(n);
    auto hg = gpu->embed(tokens, 0);
    for (int l = 0; l < m.cfg.n_layers; ++l) {
      gpu->run_layer(l, *hg, *kg);
      const auto got = logits_of(*gpu, *hg);
      const double rel = rel_err(got, ref[l]), abs_err = max_abs_err(got, ref[l]);
      int agree = 0, clear = 0, clear_agree = 0;
      for (int r = 0; r < n; ++r) {
        double margin = 0;
        const int want = row_argmax(ref[l], r, V, &margin);
        const bool same = row_argmax(got, r, V) == want;
        agree += same;
        if (margin > 2 * abs_err) {  // the error cannot flip this row
          ++clear;
          clear_agree += same;
        }
      }
      WARN(dt << " layer " << l << ": logits max relative error " << rel << ", max abs error "
              << abs_err << ", top-1 agreement " << agree << "/" << n << " (" << clear_agree << "/"
              << clear << " rows with a margin > 2 x abs error)");
      CHECK(rel <= (std::string(dt) == "bf16" ? 0.05 : 0.01));
      CHECK(clear_agree == clear);
      CHECK(agree >= n * 3 / 4);
    }
  }
}

TEST_CASE("cuda: shared sst-lm-12L model matches the CPU backend", "[cuda][data]") {
  SKIP_WITHOUT_CUDA();
  SKIP_WITHOUT_DATA();
  Model m = load_model(shared_data() + "/models/sst-lm-12L");
  const int n = 40, V = m.cfg.vocab_size;
  auto tokens = random_ids(n, V, 77);
  tokens[0] = m.cfg.bos_id;
  auto cpu = cpu_backend(m);
  auto gpu = cuda_backend(m, "f32");
  auto bf = cuda_backend(m, "bf16");
  auto kc = cpu->new_cache(n), kg = gpu->new_cache(n), kb = bf->new_cache(n);
  auto hc = cpu->embed(tokens, 0), hg = gpu->embed(tokens, 0), hb = bf->embed(tokens, 0);
  for (int l = 0; l < m.cfg.n_layers; ++l) {
    cpu->run_layer(l, *hc, *kc);
    gpu->run_layer(l, *hg, *kg);
    bf->run_layer(l, *hb, *kb);
    const auto ref = logits_of(*cpu, *hc);
    INFO("layer " << l);
    CHECK(rel_err(logits_of(*gpu, *hg), ref) <= 1e-4);
    if (l == m.cfg.n_layers - 1) {
      const auto got = logits_of(*bf, *hb);
      int agree = 0;
      for (int r = 0; r < n; ++r) agree += row_argmax(got, r, V) == row_argmax(ref, r, V);
      WARN("sst-lm-12L bf16: final logits max relative error " << rel_err(got, ref)
           << ", top-1 agreement " << agree << "/" << n);
      CHECK(agree >= n * 3 / 4);
    }
  }
}
