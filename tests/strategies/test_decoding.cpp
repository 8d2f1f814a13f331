// Self-speculative decoding must be token-identical to full-depth greedy decoding; greedy decoding
// must equal the float64 reference's argmax chain; lesion KL and layer-similarity scores must equal
// independent computations.
#include <catch2/catch.hpp>
#include <cmath>

#include "backends/registry.h"
#include "strategies/builtin.h"
#include "strategies/calibration.h"
#include "strategies/decoding.h"
#include "tests/cpu/reference.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

TEST_CASE("greedy decoding follows the reference argmax chain", "[decoding]") {
  auto cfg = tiny_config(3, 32, 4, 2, 48, 64);
  auto model = random_model(cfg, 11);
  RefModel rm(model);
  auto b = make_backend("cpu", model, BackendOptions{});
  auto prompt = random_tokens(6, cfg.vocab_size, 5);
  auto out = greedy_decode(*b, prompt, 8, /*eos=*/-1);
  REQUIRE(out.tokens.size() == 8);
  std::vector<int32_t> seq = prompt;
  for (int i = 0; i < 8; ++i) {
    auto hs = ref_hiddens(rm, seq, testing::all_layers(3));
    auto lg = ref_logits(rm, hs.back(), static_cast<int>(seq.size()));
    const double* row = &lg[(seq.size() - 1) * cfg.vocab_size];
    int top = static_cast<int>(std::max_element(row, row + cfg.vocab_size) - row);
    CHECK(out.tokens[i] == top);
    seq.push_back(top);
  }
}

TEST_CASE("self-speculative output is token-identical to greedy for every E and d", "[decoding]") {
  for (uint64_t seed : {1, 2, 3}) {
    auto cfg = tiny_config(4, 32, 4, 2, 48, 48);
    auto model = random_model(cfg, seed);
    auto b = make_backend("cpu", model, BackendOptions{});
    auto prompt = random_tokens(5, cfg.vocab_size, seed + 100);
    for (int eos : {-1, 3}) {
      auto ref = greedy_decode(*b, prompt, 20, eos);
      for (int E = 1; E < 4; ++E)
        for (int d : {1, 2, 3, 5}) {
          auto sp = self_speculative_decode(*b, prompt, 20, eos, E, d);
          INFO("seed " << seed << " eos " << eos << " E " << E << " d " << d);
          CHECK(sp.tokens == ref.tokens);
          CHECK(sp.accepted <= sp.drafted);
          CHECK(sp.verify_steps > 0);
        }
    }
  }
}

TEST_CASE("self-speculative decoding with a draft equal to the verifier accepts everything", "[decoding]") {
  // With layers E..L-1 zeroed (o_proj and down_proj = 0) they add nothing to the residual stream,
  // so the draft equals the full model and every drafted token must be accepted.
  auto cfg = tiny_config(4, 32, 4, 2, 48, 48);
  auto model = random_model(cfg, 9);
  for (int l = 2; l < 4; ++l)
    for (const char* w : {"self_attn.o_proj.weight", "mlp.down_proj.weight"}) {
      auto& t = model.tensors.at("model.layers." + std::to_string(l) + "." + w);
      auto buf = std::make_shared<std::vector<float>>(t.numel(), 0.f);
      t.data = reinterpret_cast<const uint8_t*>(buf->data());
      model.keepalive.push_back(buf);
    }
  auto b = make_backend("cpu", model, BackendOptions{});
  auto prompt = random_tokens(4, cfg.vocab_size, 1);
  auto sp = self_speculative_decode(*b, prompt, 16, -1, 2, 3);
  CHECK(sp.tokens == greedy_decode(*b, prompt, 16, -1).tokens);
  CHECK(sp.accepted == sp.drafted);
  // Lossless speculation runs every layer for every generated token after the first (which comes
  // from the prompt pass): no fewer layer-token evaluations than greedy's 4 per token.
  CHECK(sp.layer_evals >= 4L * (static_cast<long>(sp.tokens.size()) - 1));
}

TEST_CASE("block influence and angular distances equal an independent computation", "[calibration]") {
  auto cfg = tiny_config(4, 32, 4, 2, 48, 64);
  auto model = random_model(cfg, 4);
  RefModel rm(model);
  auto b = make_backend("cpu", model, BackendOptions{});
  std::vector<std::vector<int32_t>> seqs = {random_tokens(7, 64, 1), random_tokens(5, 64, 2)};
  auto sim = measure_layer_similarity(*b, seqs);
  const int D = cfg.dim;
  auto cosine = [&](const Vec& a, const Vec& c, size_t off) {
    double ab = 0, aa = 0, cc = 0;
    for (int i = 0; i < D; ++i) ab += a[off + i] * c[off + i], aa += a[off + i] * a[off + i], cc += c[off + i] * c[off + i];
    return ab / std::sqrt(aa * cc);
  };
  std::vector<double> bi(4, 0);
  std::vector<std::vector<double>> ang(5, std::vector<double>(5, 0));
  double tokens = 0;
  for (const auto& s : seqs) {
    auto hs = ref_hiddens(rm, s, testing::all_layers(4));
    for (int l = 0; l < 4; ++l)
      for (size_t t = 0; t < s.size(); ++t) bi[l] += 1 - cosine(hs[l], hs[l + 1], t * D);
    tokens += s.size();
    for (int n = 0; n <= 4; ++n)
      for (int l = 0; l + n <= 4; ++l)
        ang[n][l] += std::acos(std::min(1.0, cosine(hs[l], hs[l + n], (s.size() - 1) * D))) / M_PI / 2;
  }
  for (int l = 0; l < 4; ++l) CHECK(sim.block_influence[l] == Approx(bi[l] / tokens).margin(1e-5));
  for (int n = 1; n <= 4; ++n)
    for (int l = 0; l + n <= 4; ++l) CHECK(sim.angular[n][l] == Approx(ang[n][l]).margin(1e-4));
  // Removal choices follow the scores.
  auto low = lowest_bi_layers(sim.block_influence, 2);
  std::vector<int> idx = {0, 1, 2, 3};
  std::sort(idx.begin(), idx.end(), [&](int x, int y) { return bi[x] < bi[y]; });
  std::vector<int> expect = {idx[0], idx[1]};
  std::sort(expect.begin(), expect.end());
  CHECK(low == expect);
  int best = best_angular_block(sim, 2);
  for (int l = 0; l + 2 <= 4; ++l) CHECK(ang[2][best] <= ang[2][l] + 1e-9);
}

TEST_CASE("lesion KL and top-1 agreement equal the reference's", "[lesion]") {
  auto cfg = tiny_config(4, 32, 4, 2, 48, 64);
  auto model = random_model(cfg, 8);
  RefModel rm(model);
  auto b = make_backend("cpu", model, BackendOptions{});
  Doc doc;
  doc.id = "x";
  doc.choices = {" a", " b"};
  doc.gold = 0;
  Request req;
  req.doc = &doc;
  req.context = random_tokens(8, 64, 9);
  req.continuations = {{1}, {2}};
  const int n = 8, V = 64;
  auto dist = [&](const std::vector<int>& plan) {
    auto hs = ref_hiddens(rm, req.context, plan);
    auto lg = ref_logits(rm, hs.back(), n);
    std::vector<double> lp(V);
    double mx = *std::max_element(lg.begin() + (n - 1) * V, lg.begin() + n * V), z = 0;
    for (int i = 0; i < V; ++i) z += std::exp(lg[(n - 1) * V + i] - mx);
    for (int i = 0; i < V; ++i) lp[i] = lg[(n - 1) * V + i] - mx - std::log(z);
    return lp;
  };
  auto full = dist({0, 1, 2, 3});
  for (std::string op : {"delete", "swap"}) {
    for (int layer = 0; layer < 3; ++layer) {
      std::vector<int> plan = {0, 1, 2, 3};
      if (op == "delete") plan.erase(plan.begin() + layer);
      else std::swap(plan[layer], plan[layer + 1]);
      auto les = dist(plan);
      double kl = 0;
      for (int i = 0; i < V; ++i) kl += std::exp(full[i]) * (full[i] - les[i]);
      auto s = make_strategy("lesion", {{"op", op}, {"layer", layer}});
      RunContext ctx{*b, nullptr, {}};
      Task* no_task = nullptr;
      (void)no_task;
      struct NoTask : Task {
        std::string name() const override { return "x"; }
        std::string version() const override { return "0"; }
        std::string template_text() const override { return ""; }
        std::string default_split() const override { return ""; }
        std::vector<Doc> load(const TaskOptions&) const override { return {}; }
      } t;
      s->prepare(ctx, t, TaskOptions{});
      auto r = s->score(ctx, req);
      CHECK_FALSE(r.extra.contains("kl"));  // analysis is reference work, outside the measured call
      s->reference(ctx, req, r);
      INFO(op << " " << layer);
      CHECK(r.extra["kl"].get<double>() == Approx(kl).margin(1e-5));
      int top_full = int(std::max_element(full.begin(), full.end()) - full.begin());
      int top_les = int(std::max_element(les.begin(), les.end()) - les.begin());
      CHECK(r.extra["top1_agree"].get<int>() == (top_full == top_les ? 1 : 0));
      CHECK(r.layers_executed == (op == "delete" ? 3 : 4));
    }
  }
}
