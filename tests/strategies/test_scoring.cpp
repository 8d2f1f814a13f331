// Strategy-level checks against the naive float64 reference forward (tests/cpu/reference.h):
// choice log-likelihoods under arbitrary layer plans, exit policies, the oracle, lesions.
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "backends/counting.h"
#include "backends/registry.h"
#include "strategies/builtin.h"
#include "strategies/scoring.h"
#include "tests/cpu/reference.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

// log-softmax of one row of reference logits.
std::vector<double> ref_logsoftmax(const Vec& logits, int row, int V) {
  std::vector<double> out(V);
  double mx = -INFINITY;
  for (int i = 0; i < V; ++i) mx = std::max(mx, logits[size_t(row) * V + i]);
  double z = 0;
  for (int i = 0; i < V; ++i) z += std::exp(logits[size_t(row) * V + i] - mx);
  for (int i = 0; i < V; ++i) out[i] = logits[size_t(row) * V + i] - mx - std::log(z);
  return out;
}

// Reference loglik of a continuation after a context, running `plan` over the whole sequence.
double ref_loglik(const RefModel& rm, const std::vector<int32_t>& ctx,
                  const std::vector<int32_t>& cont, const std::vector<int>& plan) {
  std::vector<int32_t> seq = ctx;
  seq.insert(seq.end(), cont.begin(), cont.end());
  const int n = static_cast<int>(seq.size());
  auto hs = ref_hiddens(rm, seq, plan);
  auto logits = ref_logits(rm, hs.back(), n);
  double s = 0;
  for (size_t j = 0; j < cont.size(); ++j) {
    int row = static_cast<int>(ctx.size() + j) - 1;
    s += ref_logsoftmax(logits, row, rm.c.vocab_size)[cont[j]];
  }
  return s;
}

struct Fixture {
  ModelConfig cfg = tiny_config(4, 32, 4, 2, 48, 64);
  Model model = random_model(cfg, 7);
  RefModel rm{model};
  std::unique_ptr<Backend> b = make_backend("cpu", model, BackendOptions{});
  Doc doc;
  Request req;
  Fixture() {
    doc.id = "t:0";
    doc.choices = {" a", " bb", " ccc"};
    doc.gold = 1;
    req.doc = &doc;
    req.context = random_tokens(9, cfg.vocab_size, 3);
    req.continuations = {{5}, {7, 9}, {11, 12, 13}};
  }
};

}  // namespace

TEST_CASE("score_choices equals the float64 reference for any layer plan", "[scoring]") {
  Fixture f;
  std::vector<std::vector<int>> plans = {{0, 1, 2, 3}, {0, 2, 3}, {1, 0, 2, 3}, {0, 1}, {3}};
  for (const auto& plan : plans) {
    auto s = score_choices(*f.b, f.req, plan);
    REQUIRE(s.loglik.size() == 3);
    for (int c = 0; c < 3; ++c) {
      double ref = ref_loglik(f.rm, f.req.context, f.req.continuations[c], plan);
      INFO("plan size " << plan.size() << " choice " << c);
      CHECK(s.loglik[c] == Approx(ref).margin(1e-4));
    }
  }
}

TEST_CASE("choices feeding the same tokens share one pass, and score as the float64 reference", "[scoring]") {
  Fixture f;
  // Like MMLU's " A" / " B" / " C" with a SentencePiece vocabulary: "▁" + letter, and one lone token.
  f.req.continuations = {{5}, {7, 9}, {7, 11}, {7, 9, 3}, {8, 2}, {7, 12}};
  f.doc.choices = {" a", " b", " c", " d", " e", " f"};
  const auto passes = continuation_passes(f.req);
  REQUIRE(passes.size() == 3);
  CHECK(passes[0].fed == std::vector<int32_t>{7});
  CHECK(passes[0].choices == std::vector<int>{1, 2, 5});
  CHECK(passes[1].fed == std::vector<int32_t>{7, 9});
  CHECK(passes[1].choices == std::vector<int>{3});
  CHECK(passes[2].fed == std::vector<int32_t>{8});
  const std::vector<int> plan = {0, 2, 3};
  eeb::CountingBackend cb(*f.b);
  auto s = score_choices(cb, f.req, plan);
  for (size_t c = 0; c < f.req.continuations.size(); ++c) {
    INFO("choice " << c);
    CHECK(s.loglik[c] == Approx(ref_loglik(f.rm, f.req.context, f.req.continuations[c], plan)).margin(1e-4));
  }
  // Rows: the context, then 1 + 2 + 1 fed tokens; LM head: the last context row, then one per fed token.
  CHECK(cb.count().layer_tokens == (9.0 + 4.0) * plan.size());
  CHECK(cb.count().lm_head_rows == 1.0 + 4.0);
}

TEST_CASE("candidate_logprobs: several tokens per row from one LM-head row, as token_logprobs", "[scoring]") {
  Fixture f;
  auto h = f.b->embed(f.req.context, 0);
  auto kv = f.b->new_cache(16);
  for (int l = 0; l < f.cfg.n_layers; ++l) f.b->run_layer(l, *h, *kv);
  const std::vector<int> offsets = {0, 3, 3, 5};  // row 1 has no candidate
  const std::vector<int32_t> targets = {1, 9, 30, 4, 4};
  std::vector<double> lp(targets.size());
  std::vector<int32_t> top(3);
  eeb::CountingBackend cb(*f.b);
  cb.candidate_logprobs(*h, 2, 3, offsets, targets, lp.data(), top.data());
  CHECK(cb.count().lm_head_rows == 3.0);
  for (int i = 0; i < 3; ++i)
    for (int j = offsets[i]; j < offsets[i + 1]; ++j) {
      double want;
      int32_t want_top;
      const int32_t t = targets[j];
      f.b->token_logprobs(*h, 2 + i, std::span(&t, 1), &want, &want_top);
      CHECK(lp[j] == Approx(want).margin(1e-6));  // LM-head rows in one GEMM vs one at a time: last bits
      CHECK(top[i] == want_top);
    }
  const std::vector<int> bad = {0, 4, 3, 5};
  CHECK_THROWS_WITH(f.b->candidate_logprobs(*h, 2, 3, bad, targets, lp.data()), Catch::Contains("offsets decrease"));
  CHECK_THROWS_WITH(f.b->candidate_logprobs(*h, 2, 3, std::vector<int>{0, 1, 2}, targets, lp.data()),
                    Catch::Contains("offsets must run"));
  const std::vector<int32_t> outside = {1, 9, 30, 4, 64};
  CHECK_THROWS_WITH(f.b->candidate_logprobs(*h, 2, 3, offsets, outside, lp.data()), Catch::Contains("outside the vocabulary"));
  CHECK_THROWS(f.b->candidate_logprobs(*h, 8, 3, offsets, targets, lp.data()));  // rows past the hidden
}

TEST_CASE("per_exit_logliks equals scoring with the first k layers", "[scoring]") {
  Fixture f;
  auto per = per_exit_logliks(*f.b, f.req);
  REQUIRE(per.size() == 4);
  for (int k = 1; k <= 4; ++k)
    for (int c = 0; c < 3; ++c)
      CHECK(per[k - 1][c] ==
            Approx(ref_loglik(f.rm, f.req.context, f.req.continuations[c], testing::all_layers(k))).margin(1e-4));
}

TEST_CASE("is_greedy flags agree with the reference argmax", "[scoring]") {
  Fixture f;
  // Make choice 0 the reference's greedy token after the context.
  auto hs = ref_hiddens(f.rm, f.req.context, testing::all_layers(4));
  auto logits = ref_logits(f.rm, hs.back(), static_cast<int>(f.req.context.size()));
  auto lp = ref_logsoftmax(logits, static_cast<int>(f.req.context.size()) - 1, f.cfg.vocab_size);
  int top = static_cast<int>(std::max_element(lp.begin(), lp.end()) - lp.begin());
  f.req.continuations[0] = {top};
  f.req.continuations[1] = {(top + 1) % f.cfg.vocab_size};
  auto s = score_choices(*f.b, f.req, testing::all_layers(4));
  CHECK(s.is_greedy[0]);
  CHECK_FALSE(s.is_greedy[1]);
}

TEST_CASE("acc and acc_norm predictions follow lm-eval's definitions", "[scoring]") {
  // acc_norm divides by the continuation's length in bytes.
  std::vector<double> ll = {-3.0, -4.0};
  std::vector<std::string> ch = {" a", " longer"};
  CHECK(argmax_choice(ll) == 0);
  CHECK(argmax_choice_norm(ll, ch) == 1);  // -1.5 vs -0.571
  CHECK(argmax_choice({-1.0, -1.0}) == 0);  // first on ties
}

TEST_CASE("static exit runs exactly k layers and scores from layer k", "[exits]") {
  Fixture f;
  for (int k = 1; k <= 4; ++k) {
    auto s = make_strategy("static", {{"layer", k}});
    TaskOptions to;
    RunContext ctx{*f.b, nullptr, {}};
    auto r = s->score(ctx, f.req);
    CHECK(r.layers_executed == k);
    CHECK(r.lm_head_calls == 0);
    for (int c = 0; c < 3; ++c)
      CHECK(r.loglik[c] ==
            Approx(ref_loglik(f.rm, f.req.context, f.req.continuations[c], testing::all_layers(k))).margin(1e-4));
  }
}

TEST_CASE("confidence exit stops at the first layer whose reference top prob reaches tau", "[exits]") {
  Fixture f;
  const int n = static_cast<int>(f.req.context.size());
  auto hs = ref_hiddens(f.rm, f.req.context, testing::all_layers(4));
  std::vector<double> p1(4);
  for (int k = 1; k <= 4; ++k) {
    auto lp = ref_logsoftmax(ref_logits(f.rm, hs[k], n), n - 1, f.cfg.vocab_size);
    p1[k - 1] = std::exp(*std::max_element(lp.begin(), lp.end()));
  }
  for (double tau : {0.01, p1[1] - 1e-6, 0.999}) {
    int expect = 4;
    for (int k = 1; k < 4; ++k)
      if (p1[k - 1] >= tau) { expect = k; break; }
    auto s = make_strategy("confidence", {{"tau", tau}});
    RunContext ctx{*f.b, nullptr, {}};
    auto r = s->score(ctx, f.req);
    INFO("tau " << tau);
    CHECK(r.layers_executed == expect);
    CHECK(r.lm_head_calls == std::min(expect, 3));
  }
}

TEST_CASE("oracle exit layer is the earliest layer after which predictions never change", "[exits]") {
  Fixture f;
  std::vector<int> preds;
  for (int k = 1; k <= 4; ++k) {
    std::vector<double> ll;
    for (int c = 0; c < 3; ++c)
      ll.push_back(ref_loglik(f.rm, f.req.context, f.req.continuations[c], testing::all_layers(k)));
    preds.push_back(argmax_choice(ll));
  }
  int expect = 4;
  while (expect > 1 && preds[expect - 2] == preds[3]) --expect;
  auto s = make_strategy("oracle", nlohmann::json::object());
  RunContext ctx{*f.b, nullptr, {}};
  auto r = s->score(ctx, f.req);
  CHECK(r.extra["oracle_exit_layer"].get<int>() == expect);
  CHECK(r.extra["oracle_pruning_ratio"].get<double>() == Approx(1 - expect / 4.0));
  CHECK(r.layers_executed == 4);  // what ran: the exit layer is hypothetical
  CHECK(r.pred == preds[3]);
  CHECK(r.extra["layer_preds"].get<std::vector<int>>() == preds);
  CHECK(s->hypothetical());
}

TEST_CASE("strategy traits replace name comparisons", "[registry]") {
  CHECK(make_strategy("full", {})->is_baseline());
  CHECK_FALSE(make_strategy("oracle", {})->is_baseline());
  CHECK(make_strategy("layerskip", {})->lossless());
  CHECK_FALSE(make_strategy("layerskip", {})->reports_depth());
  CHECK_FALSE(make_strategy("static", {{"layer", 1}})->lossless());
  CHECK(make_strategy("static", {{"layer", 1}})->reports_depth());
  // Every declared ratio has a denominator; every name is unique within a strategy.
  for (const auto& info : strategy_registry()) {
    nlohmann::json p = info.name == "static" || info.name == "lesion" ? nlohmann::json{{"layer", 1}} : nlohmann::json::object();
    auto st = make_strategy(info.name, p);
    std::set<std::string> names;
    for (const auto& m : st->measures()) {
      INFO(info.name << " " << m.name);
      CHECK(names.insert(m.name).second);
      CHECK(!m.description.empty());
      if (m.aggregation == Aggregation::ratio_of_sums) CHECK(!m.denominator.empty());
    }
  }
}

TEST_CASE("registry rejects unknown strategies and parameters", "[registry]") {
  CHECK_THROWS_WITH(make_strategy("nope", {}), Catch::Contains("known: full"));
  CHECK_THROWS_WITH(make_strategy("confidence", {{"tua", 0.5}}), Catch::Contains("unknown parameter 'tua'"));
  CHECK_THROWS_WITH(make_strategy("static", {}), Catch::Contains("layer"));
  CHECK_THROWS_WITH(make_strategy("lesion", {{"op", "cut"}, {"layer", 1}}), Catch::Contains("delete"));
  CHECK_THROWS(make_strategy("confidence", {{"tau", 1.5}}));
}
