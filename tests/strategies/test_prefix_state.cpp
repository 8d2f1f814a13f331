// The prefix KV cache at the strategy level (issue 14): scoring from a fork of a computed prefix
// gives the log-likelihoods and predictions of computing the whole context, for every strategy that
// declares a prefix plan, against both the one-document path and the float64 reference forward.
#include <catch2/catch.hpp>
#include <cmath>

#include "backends/counting.h"
#include "backends/registry.h"
#include "core/error.h"
#include "strategies/builtin.h"
#include "strategies/scoring.h"
#include "tests/cpu/reference.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

// Reference loglik of a continuation after a context, the whole sequence through `plan` in float64.
double ref_loglik(const RefModel& rm, const std::vector<int32_t>& ctx, const std::vector<int32_t>& cont,
                  const std::vector<int>& plan) {
  std::vector<int32_t> seq = ctx;
  seq.insert(seq.end(), cont.begin(), cont.end());
  auto hs = ref_hiddens(rm, seq, plan);
  auto logits = ref_logits(rm, hs.back(), static_cast<int>(seq.size()));
  const int V = rm.c.vocab_size;
  double s = 0;
  for (size_t j = 0; j < cont.size(); ++j) {
    const size_t row = ctx.size() + j - 1;
    double mx = -INFINITY, z = 0;
    for (int v = 0; v < V; ++v) mx = std::max(mx, logits[row * V + v]);
    for (int v = 0; v < V; ++v) z += std::exp(logits[row * V + v] - mx);
    s += logits[row * V + cont[j]] - mx - std::log(z);
  }
  return s;
}

struct Fixture {
  ModelConfig cfg = tiny_config(4, 32, 4, 2, 48, 64);
  Model model = random_model(cfg, 11);
  RefModel rm{model};
  std::unique_ptr<Backend> b = make_backend("cpu", model, BackendOptions{});
  static constexpr int P = 12;  // shared prefix length
  std::vector<Doc> docs;
  std::vector<Request> reqs;
  Fixture() {
    const auto prefix = random_tokens(P, cfg.vocab_size, 5);
    docs.resize(4);
    for (int d = 0; d < 4; ++d) {
      docs[d].id = "t:" + std::to_string(d);
      docs[d].choices = {" a", " bb", " ccc"};
      docs[d].gold = d % 3;
    }
    for (int d = 0; d < 4; ++d) {
      Request r;
      r.index = d;
      r.doc = &docs[d];
      r.context = prefix;
      const auto suffix = random_tokens(1 + d, cfg.vocab_size, 100 + d);  // 1..4 tokens of its own
      r.context.insert(r.context.end(), suffix.begin(), suffix.end());
      r.continuations = {{5}, {7, 9}, {11, 12, 13}};
      reqs.push_back(r);
    }
  }
  std::span<const int32_t> prefix_tokens(int n = P) const {
    return std::span<const int32_t>(reqs[0].context).first(n);
  }
};

void check_same(const SampleRecord& a, const SampleRecord& b) {
  REQUIRE(a.loglik.size() == b.loglik.size());
  for (size_t c = 0; c < a.loglik.size(); ++c) CHECK(std::fabs(a.loglik[c] - b.loglik[c]) < 1e-4);
  CHECK(a.pred == b.pred);
  CHECK(a.pred_norm == b.pred_norm);
  CHECK(a.layers_executed == b.layers_executed);
}

}  // namespace

TEST_CASE("score_choices from a prefix equals the float64 reference for any in-order plan", "[prefix]") {
  Fixture f;
  const std::vector<std::vector<int>> plans = {{0, 1, 2, 3}, {0, 2, 3}, {1, 0, 2, 3}, {0, 1}};
  for (const auto& plan : plans) {
    auto pre = compute_prefix(*f.b, f.prefix_tokens(), plan);
    for (const auto& req : f.reqs) {
      auto s = score_choices(*f.b, req, plan, pre.get());
      for (size_t c = 0; c < req.continuations.size(); ++c) {
        INFO("plan size " << plan.size() << " doc " << req.index << " choice " << c);
        CHECK(s.loglik[c] == Approx(ref_loglik(f.rm, req.context, req.continuations[c], plan)).margin(1e-4));
      }
    }
  }
}

TEST_CASE("every strategy with a prefix plan scores the same from a prefix as from scratch", "[prefix]") {
  Fixture f;
  const int L = f.cfg.n_layers;
  auto task = make_task("sst2");  // lesion and static check their parameters in prepare; no data read
  TaskOptions topt;
  std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"full", {}},
      {"static", {{"layer", 2}}},
      {"confidence", {{"tau", 0.05}}},  // exits at different layers per document
      {"confidence", {{"tau", 0.2}}},
      {"lesion", {{"op", "delete"}, {"layer", 1}}},
      {"lesion", {{"op", "swap"}, {"layer", 1}}},
      {"oracle", {}},
  };
  for (const auto& [name, params] : cases) {
    INFO(name << " " << params.dump());
    auto s = make_strategy(name, params);
    RunContext ctx{*f.b, nullptr, {}};
    s->prepare(ctx, *task, topt);
    const auto plan = s->prefix_plan(L);
    REQUIRE(plan.has_value());
    // Exit strategies run layers 0, 1, ... at the context: their prefix must hold those layers.
    if (name == "static") CHECK(*plan == eeb::first_layers(2));
    if (name == "confidence" || name == "oracle" || name == "full") CHECK(*plan == eeb::all_layers(L));
    for (int P : {Fixture::P, 3}) {
      auto pre = compute_prefix(*f.b, f.prefix_tokens(P), *plan);
      for (const auto& req : f.reqs) {
        ctx.prefix = nullptr;
        const SampleRecord a = s->score(ctx, req);
        ctx.prefix = pre.get();
        const SampleRecord b = s->score(ctx, req);
        check_same(a, b);
        if (a.extra.contains("exit_layer")) CHECK(a.extra["exit_layer"] == b.extra["exit_layer"]);
      }
    }
  }
}

TEST_CASE("a prefix leaving a document only its last token still scores that position", "[prefix]") {
  Fixture f;
  const auto& req = f.reqs[3];
  const int n = static_cast<int>(req.context.size());
  const auto plan = eeb::all_layers(f.cfg.n_layers);
  auto pre = compute_prefix(*f.b, std::span<const int32_t>(req.context).first(n - 1), plan);
  const ChoiceScores a = score_choices(*f.b, req, plan);
  const ChoiceScores b = score_choices(*f.b, req, plan, pre.get());
  for (size_t c = 0; c < a.loglik.size(); ++c) CHECK(std::fabs(a.loglik[c] - b.loglik[c]) < 1e-4);
}

TEST_CASE("a prefix that does not fit the document or the plan is refused", "[prefix]") {
  Fixture f;
  const auto plan = eeb::all_layers(f.cfg.n_layers);
  const auto& req = f.reqs[0];  // P + 1 context tokens
  // The whole context: no scoring position left to compute.
  auto whole = compute_prefix(*f.b, req.context, plan);
  CHECK_THROWS_AS(score_choices(*f.b, req, plan, whole.get()), Error);
  // Other tokens.
  std::vector<int32_t> other(f.prefix_tokens().begin(), f.prefix_tokens().end());
  other[3] = (other[3] + 1) % f.cfg.vocab_size;
  auto wrong = compute_prefix(*f.b, other, plan);
  CHECK_THROWS_AS(score_choices(*f.b, req, plan, wrong.get()), Error);
  // Computed through a plan the document's plan does not begin with (another layer order).
  auto swapped = compute_prefix(*f.b, f.prefix_tokens(), {1, 0, 2, 3});
  CHECK_THROWS_AS(score_choices(*f.b, req, plan, swapped.get()), Error);
  auto shallow = compute_prefix(*f.b, f.prefix_tokens(), {0, 1});
  CHECK_THROWS_AS(score_choices(*f.b, req, plan, shallow.get()), Error);
  CHECK_NOTHROW(score_choices(*f.b, req, std::vector<int>{0}, shallow.get()));
}

TEST_CASE("fork_cache copies the prefix, leaves the source as it was, and costs no FLOPs", "[prefix]") {
  Fixture f;
  CountingBackend cb(*f.b);
  const int L = f.cfg.n_layers;
  auto src = f.b->new_cache(20);
  auto h = f.b->embed(f.prefix_tokens(), 0);
  run_layers(*f.b, 0, 2, *h, *src);  // layers 0 and 1 hold 12 positions, 2 and 3 none
  const WorkCount before = cb.count();
  auto fork = cb.fork_cache(*src, 8, 16);
  const WorkCount w = cb.count() - before;
  CHECK(w.flops == 0);
  CHECK(w.layer_tokens == 0);
  CHECK(w.kv_bytes_forked == 2 * 8 * f.b->kv_bytes_per_position());
  CHECK(fork->capacity() == 16);
  CHECK(fork->length(0) == 8);
  CHECK(fork->length(1) == 8);
  CHECK(fork->length(2) == 0);
  CHECK(src->length(0) == 12);
  CHECK_THROWS_AS(cb.fork_cache(*src, 17, 16), Error);
  CHECK_THROWS_AS(cb.fork_cache(*src, -1, 16), Error);
  (void)L;
  // The fork continues exactly where computing 8 positions from scratch would.
  auto fresh = f.b->new_cache(16);
  auto h8 = f.b->embed(f.prefix_tokens(8), 0);
  run_layers(*f.b, 0, 2, *h8, *fresh);
  auto tail = f.b->embed(f.prefix_tokens().subspan(8), 8);
  auto tail2 = f.b->slice(*tail, 0, tail->n_tokens());
  run_layers(*f.b, 0, 2, *tail, *fork);
  run_layers(*f.b, 0, 2, *tail2, *fresh);
  std::vector<float> x(static_cast<size_t>(4) * f.cfg.dim), y(x.size());
  f.b->read_hidden(*tail, 0, 4, x.data());
  f.b->read_hidden(*tail2, 0, 4, y.data());
  for (size_t i = 0; i < x.size(); ++i) CHECK(x[i] == Approx(y[i]).margin(1e-5));
}
