// The runner measures, strategies compute: run_trial + trial_metrics on a small random model with an
// in-memory tokenizer, checked against work counted independently (a CountingBackend around the same
// calls), the documented timing order, and the strategies' declared measures. No assertion is on a
// time: timed runs are checked only for what was recorded, never for how long it took.
#include <catch2/catch.hpp>
#include <cmath>

#include "backends/registry.h"
#include "backends/counting.h"
#include "core/error.h"
#include "harness/runner.h"
#include "strategies/decoding.h"
#include "strategies/record.h"
#include "strategies/scoring.h"
#include "tokenizer/tokenizer.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

std::unique_ptr<Tokenizer> small_tokenizer() {
  return Tokenizer::from_proto(sentencepiece_proto_from_vocab(eeb::testing::small_test_vocab()), "test vocabulary");
}

struct FakeTask : Task {
  std::string kind_;
  explicit FakeTask(std::string k) : kind_(std::move(k)) {}
  std::string name() const override { return "fake"; }
  std::string version() const override { return "0"; }
  std::string kind() const override { return kind_; }
  std::string template_text() const override { return ""; }
  std::string default_split() const override { return "dev"; }
  std::vector<Doc> load(const TaskOptions&) const override { return {}; }
};

std::vector<Doc> docs(int n) {
  const char* words[] = {"the cat sat", "a dog ran far", "the ring", "singer", "a bird in the tree", "water"};
  std::vector<Doc> out;
  for (int i = 0; i < n; ++i) {
    Doc d;
    d.id = "d:" + std::to_string(i);
    d.context = std::string(words[i % 6]) + " is";
    d.choices = {" good", " bad"};
    d.gold = i % 2;
    d.reference = "the cat";
    out.push_back(d);
  }
  return out;
}

struct Fixture {
  ModelConfig cfg;
  Model model;
  std::unique_ptr<Backend> b;
  std::unique_ptr<Tokenizer> tok = small_tokenizer();
  FakeTask task;
  TaskOptions topt;
  std::vector<Doc> ds;
  explicit Fixture(int layers, std::string kind = "multiple_choice", int n_docs = 6)
      : cfg(tiny_config(layers, 32, 4, 2, 48, 64)), model(random_model(cfg, 5)),
        b(make_backend("cpu", model, BackendOptions{})), task(std::move(kind)), ds(docs(n_docs)) {}

  // run_trial + trial_metrics as eebench run does them.
  std::vector<SampleRecord> run(Strategy& s, TrialOptions opt, std::vector<MetricValue>* metrics) {
    TrialInputs in{*b, *tok, task, topt, ds, nlohmann::json::object()};
    prepare_strategy(in, s);
    opt.quiet = true;
    std::vector<SampleRecord> out;
    run_trial(in, s, opt, {}, [&](const SampleRecord& r) { out.push_back(r); });
    if (metrics) *metrics = trial_metrics(task, s, out, cfg.n_layers, opt.seed);
    return out;
  }
};

const MetricValue* find(const std::vector<MetricValue>& ms, const std::string& name) {
  for (const auto& m : ms)
    if (m.name == name && m.group.empty()) return &m;
  return nullptr;
}

TrialOptions untimed() {
  TrialOptions o;
  o.reps = 0;
  o.warmup = 0;
  o.max_new_tokens = 6;
  return o;
}

}  // namespace

TEST_CASE("lesion: flops_speedup counts only the lesioned scoring, not the reference pass", "[runner]") {
  Fixture f(12);
  auto s = make_strategy("lesion", {{"op", "delete"}, {"layer", 5}});
  std::vector<MetricValue> ms;
  auto samples = f.run(*s, untimed(), &ms);
  // Independently: the work of scoring with and without layer 5.
  std::vector<int> plan;
  for (int l = 0; l < 12; ++l)
    if (l != 5) plan.push_back(l);
  double full = 0, les = 0;
  for (size_t i = 0; i < f.ds.size(); ++i) {
    auto req = make_request(f.ds[i], int(i), *f.tok);
    CountingBackend c1(*f.b), c2(*f.b);
    score_choices(c1, req, all_layers(12));
    score_choices(c2, req, plan);
    full += c1.count().flops, les += c2.count().flops;
    CHECK(samples[i].extra["flops"].get<double>() == c2.count().flops);
  }
  REQUIRE(find(ms, "flops_speedup"));
  CHECK(find(ms, "flops_speedup")->value == Approx(full / les).epsilon(1e-12));
  CHECK(find(ms, "flops_speedup")->value > 1.0);  // deleting a layer saves work (≈ 12/11 less the LM head)
  CHECK(find(ms, "flops_speedup")->value < 12.0 / 11.0 + 1e-9);
  // The reference analysis still ran.
  REQUIRE(find(ms, "kl"));
  CHECK(find(ms, "kl")->detail["aggregation"] == "mean");
}

TEST_CASE("reps 0 stores counts only: no time, no speedup, no interval", "[runner]") {
  Fixture f(4);
  auto s = make_strategy("static", {{"layer", 2}});
  std::vector<MetricValue> ms;
  auto samples = f.run(*s, untimed(), &ms);
  for (const auto& r : samples) {
    CHECK(std::isnan(r.seconds));
    CHECK_FALSE(r.extra.contains("t_strategy"));
    CHECK_FALSE(r.extra.contains("t_full"));
    CHECK_FALSE(r.extra.contains("timing_order"));
  }
  for (const auto& m : ms) {
    INFO(m.name);
    CHECK(m.name.rfind("time_", 0) == std::string::npos);
    CHECK(m.name != "speedup");
    CHECK(m.name != "tokens_per_second");
    CHECK_FALSE(m.detail.contains("ci95"));
  }
  CHECK(find(ms, "flops_speedup"));  // counts are still compared
  CHECK(find(ms, "agreement_with_full"));
}

TEST_CASE("timing order: ABBA within a sample, alternating first side over documents", "[runner]") {
  Fixture f(3, "multiple_choice", 8);
  auto s = make_strategy("static", {{"layer", 1}});
  for (uint64_t seed : {1234u, 7u}) {
    TrialOptions o;
    o.reps = 1, o.warmup = 0, o.seed = seed;
    auto samples = f.run(*s, o, nullptr);
    int ab = 0, ba = 0;
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto order = samples[i].extra["timing_order"].get<std::string>();
      ab += order == "AB", ba += order == "BA";
      if (i > 0) CHECK(order != samples[i - 1].extra["timing_order"].get<std::string>());
      // Even documents start with the side the seed picks.
      CHECK((order == "AB") == ((samples[i].index + seed) % 2 == 0));
    }
    CHECK(ab == 4);
    CHECK(ba == 4);
  }
  TrialOptions o;
  o.reps = 3, o.warmup = 0;
  auto samples = f.run(*s, o, nullptr);
  for (const auto& r : samples) {
    const auto order = r.extra["timing_order"].get<std::string>();
    CHECK((order == "ABBAAB" || order == "BAABBA"));
    CHECK(r.extra["t_strategy"].size() == 3);
    CHECK(r.extra["t_full"].size() == 3);
  }
}

TEST_CASE("oracle: hypothetical depth under its own names, no cost metrics", "[runner]") {
  Fixture f(4);
  auto s = make_strategy("oracle", nlohmann::json::object());
  TrialOptions o;
  o.reps = 1, o.warmup = 0;  // even when timing is asked for
  std::vector<MetricValue> ms;
  auto samples = f.run(*s, o, &ms);
  // The earliest layer after which the prediction never changes, from scoring with the first k layers.
  double sum_k = 0;
  for (size_t i = 0; i < f.ds.size(); ++i) {
    auto req = make_request(f.ds[i], int(i), *f.tok);
    std::vector<int> preds;
    for (int k = 1; k <= 4; ++k) preds.push_back(argmax_choice(score_choices(*f.b, req, first_layers(k)).loglik));
    int k = 4;
    while (k > 1 && preds[k - 2] == preds[3]) --k;
    CHECK(samples[i].extra["oracle_exit_layer"].get<int>() == k);
    CHECK(samples[i].layers_executed == 4);  // what ran
    sum_k += k;
  }
  const double mean_k = sum_k / double(f.ds.size());
  REQUIRE(find(ms, "oracle_avg_layers"));
  CHECK(find(ms, "oracle_avg_layers")->value == Approx(mean_k));
  CHECK(find(ms, "oracle_avg_layers")->detail["hypothetical"] == true);
  REQUIRE(find(ms, "oracle_pruning_ratio"));
  CHECK(find(ms, "oracle_pruning_ratio")->value == Approx(1 - mean_k / 4));
  for (const char* gone : {"avg_layers", "pruning_ratio", "speedup", "flops_speedup", "flops", "time_strategy_s",
                           "time_full_s", "exit_layer"})
    CHECK_FALSE(find(ms, gone));
}

TEST_CASE("layerskip: counted layer evaluations per generated token, no depth or pruning ratio", "[runner]") {
  Fixture f(4, "generation", 3);
  auto s = make_strategy("layerskip", {{"exit_layer", 1}, {"draft", 3}});
  std::vector<MetricValue> ms;
  auto samples = f.run(*s, untimed(), &ms);
  double lt = 0, lt_full = 0, gen = 0;
  for (size_t i = 0; i < f.ds.size(); ++i) {
    std::vector<int32_t> prompt{f.tok->bos()};
    for (int t : f.tok->encode(f.ds[i].context)) prompt.push_back(t);
    CountingBackend c1(*f.b), c2(*f.b);
    auto out = self_speculative_decode(c1, prompt, 6, f.cfg.eos_id, 1, 3);
    greedy_decode(c2, prompt, 6, f.cfg.eos_id);
    lt += c1.count().layer_tokens, lt_full += c2.count().layer_tokens, gen += double(out.tokens.size());
    CHECK(samples[i].extra["generated"].get<double>() == double(out.tokens.size()));
  }
  REQUIRE(find(ms, "layer_evals_per_token"));
  const double v = find(ms, "layer_evals_per_token")->value;
  CHECK(v == Approx(lt / gen).epsilon(1e-12));
  CHECK(v >= 4.0);  // every layer for every generated token, and more for rejected drafts
  REQUIRE(find(ms, "layer_evals_per_token_full"));
  CHECK(find(ms, "layer_evals_per_token_full")->value == Approx(lt_full / gen).epsilon(1e-12));
  CHECK(find(ms, "exact_match_full")->value == 1.0);
  CHECK(find(ms, "acceptance_rate"));
  CHECK_FALSE(find(ms, "avg_layers"));
  CHECK_FALSE(find(ms, "pruning_ratio"));
}

namespace {

// A lossless strategy that is not: full-depth greedy with the last token changed.
class NotLossless : public Strategy {
 public:
  std::string name() const override { return "not_lossless"; }
  bool lossless() const override { return true; }
  SampleRecord score(RunContext&, const Request&) override { throw Error("generation only"); }
  SampleRecord generate(RunContext& ctx, const Request& req, int max_new) override {
    auto out = greedy_decode(ctx.backend, req.context, max_new, -1);
    out.tokens.back() = (out.tokens.back() + 1) % ctx.backend.config().vocab_size;
    SampleRecord r;
    r.index = req.index, r.doc_id = req.doc->id;
    r.extra["tokens"] = out.tokens;
    return r;
  }
};

// A strategy from outside harness/, registered at run time: full-depth scoring plus declared measures.
class Halves : public Strategy {
 public:
  std::string name() const override { return "test_halves"; }
  std::vector<MeasureSpec> measures() const override {
    return {{"half_index", Aggregation::mean, "index / 2"},
            {"index_total", Aggregation::sum, "sum of indices", "index"},
            {"even_share", Aggregation::ratio_of_sums, "even documents / documents", "even", "one"}};
  }
  SampleRecord score(RunContext& ctx, const Request& req) override {
    const int L = ctx.backend.config().n_layers;
    auto r = make_record(req, score_choices(ctx.backend, req, all_layers(L)), L);
    r.extra["half_index"] = req.index / 2.0;
    r.extra["index"] = req.index;
    r.extra["even"] = req.index % 2 == 0 ? 1 : 0;
    r.extra["one"] = 1;
    return r;
  }
};

}  // namespace

TEST_CASE("a lossless strategy whose output differs fails the trial, naming the document", "[runner]") {
  Fixture f(3, "generation", 2);
  NotLossless s;
  CHECK_THROWS_WITH(f.run(s, untimed(), nullptr), Catch::Contains("document d:0") && Catch::Contains("lossless"));
}

TEST_CASE("a strategy registered outside harness/ runs and its declared measures are aggregated", "[runner]") {
  static bool registered = false;
  if (!registered) {
    register_strategy({"test_halves", "test strategy", [](const nlohmann::json&) { return std::make_unique<Halves>(); }});
    registered = true;
  }
  CHECK_THROWS_WITH(register_strategy({"test_halves", "again", [](const nlohmann::json&) { return std::make_unique<Halves>(); }}),
                    Catch::Contains("already exists"));
  Fixture f(3, "multiple_choice", 5);
  auto s = make_strategy("test_halves", nlohmann::json::object());
  std::vector<MetricValue> ms;
  f.run(*s, untimed(), &ms);
  // Indices 0..4.
  REQUIRE(find(ms, "half_index"));
  CHECK(find(ms, "half_index")->value == Approx((0 + 0.5 + 1 + 1.5 + 2) / 5));
  CHECK(find(ms, "half_index")->stderr_ > 0);
  CHECK(find(ms, "index_total")->value == 10);
  CHECK(find(ms, "even_share")->value == Approx(3.0 / 5));
  CHECK(find(ms, "flops_speedup")->value == Approx(1.0));  // full depth scoring against full depth
  CHECK(find(ms, "avg_layers")->value == 3);
}

TEST_CASE("the baseline trait: full runs no baseline next to itself", "[runner]") {
  Fixture f(3);
  auto s = make_strategy("full", nlohmann::json::object());
  std::vector<MetricValue> ms;
  auto samples = f.run(*s, untimed(), &ms);
  for (const auto& r : samples) {
    CHECK_FALSE(r.extra.contains("full_pred"));
    CHECK_FALSE(r.extra.contains("flops_full"));
  }
  CHECK_FALSE(find(ms, "flops_speedup"));
  CHECK_FALSE(find(ms, "agreement_with_full"));
  CHECK(find(ms, "pruning_ratio")->value == 0);
}

TEST_CASE("log-samples keeps the prompt tokens", "[runner]") {
  Fixture f(3, "multiple_choice", 2);
  auto s = make_strategy("full", nlohmann::json::object());
  auto o = untimed();
  o.log_samples = true;
  auto samples = f.run(*s, o, nullptr);
  auto req = make_request(f.ds[1], 1, *f.tok);
  CHECK(samples[1].extra["context_tokens"].get<std::vector<int32_t>>() == req.context);
  CHECK(samples[1].extra["continuation_tokens"].get<std::vector<std::vector<int32_t>>>() == req.continuations);
  CHECK_FALSE(f.run(*s, untimed(), nullptr)[0].extra.contains("context_tokens"));
}
