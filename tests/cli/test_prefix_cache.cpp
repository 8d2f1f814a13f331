// The runner's prefix KV cache (issue 14): prefixes found by token ids, the LRU budget, and trials
// with the cache giving the numbers of the one-document path (--no-prefix-cache), with the prefix's
// work counted once and reported on its own. No assertion is on a time.
#include <catch2/catch.hpp>
#include <cmath>

#include "backends/counting.h"
#include "backends/registry.h"
#include "harness/prefix_cache.h"
#include "harness/runner.h"
#include "strategies/scoring.h"
#include "tests/random_model.h"
#include "tests/test_data.h"
#include "tokenizer/tokenizer.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

struct FakeTask : Task {
  std::string name() const override { return "fake"; }
  std::string version() const override { return "0"; }
  std::string template_text() const override { return ""; }
  std::string default_split() const override { return "dev"; }
  std::vector<Doc> load(const TaskOptions&) const override { return {}; }
};

// Two groups of documents whose contexts share a long text (a few-shot block), then their own question.
std::vector<Doc> shared_prefix_docs() {
  const char* own[] = {"the cat sat", "a dog ran far", "the ring", "singer", "a bird in the tree", "water"};
  const std::string shots[] = {"the cat sat in the tree . a dog ran far . the ring is good . ",
                               "water is bad . a bird in the tree is good . singer . "};
  std::vector<Doc> out;
  for (int g = 0; g < 2; ++g)
    for (int i = 0; i < 5; ++i) {
      Doc d;
      d.id = "g" + std::to_string(g) + ":" + std::to_string(i);
      d.group = "group" + std::to_string(g);
      d.context = shots[g] + own[(i + g) % 6] + " is";
      d.choices = {" good", " bad"};
      d.gold = i % 2;
      out.push_back(d);
    }
  return out;
}

struct Fixture {
  ModelConfig cfg = tiny_config(4, 32, 4, 2, 48, 64);
  Model model = random_model(cfg, 9);
  std::unique_ptr<Backend> b = make_backend("cpu", model, BackendOptions{});
  std::unique_ptr<Tokenizer> tok =
      Tokenizer::from_proto(sentencepiece_proto_from_vocab(small_test_vocab()), "test vocabulary");
  FakeTask task;
  TaskOptions topt;
  std::vector<Doc> ds = shared_prefix_docs();

  std::vector<SampleRecord> run(const std::string& name, const nlohmann::json& params, TrialOptions opt,
                                std::vector<MetricValue>* ms = nullptr) {
    auto s = make_strategy(name, params);
    TrialInputs in{*b, *tok, task, topt, ds, nlohmann::json::object()};
    prepare_strategy(in, *s);
    opt.quiet = true;
    std::vector<SampleRecord> out;
    run_trial(in, *s, opt, {}, [&](const SampleRecord& r) { out.push_back(r); });
    if (ms) *ms = trial_metrics(task, *s, out, cfg.n_layers, opt.seed);
    return out;
  }
};

TrialOptions untimed(bool cache, double mb = 0, int batch_docs = 1) {
  TrialOptions o;
  o.reps = 0, o.warmup = 0, o.prefix_cache = cache, o.prefix_cache_mb = mb, o.batch_docs = batch_docs;
  return o;
}

const MetricValue* find(const std::vector<MetricValue>& ms, const std::string& name) {
  for (const auto& m : ms)
    if (m.name == name && m.group.empty()) return &m;
  return nullptr;
}

// The longest common prefix, written out: what "found by token ids" means.
size_t lcp(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

TEST_CASE("the shared prefix is found by token ids, not by text", "[prefix_cache]") {
  SKIP_WITHOUT_DATA();
  auto tok = Tokenizer::from_file(shared_data() + "/models/sst-lm-12L/tokenizer.model");
  // Equal text up to "wonderful", but SentencePiece cuts the second one "▁wonder" + "fully".
  std::vector<Doc> ds(2);
  ds[0].context = "Review: the film is wonderful";
  ds[1].context = "Review: the film is wonderfully made";
  std::vector<Request> reqs;
  for (int i = 0; i < 2; ++i) {
    ds[i].choices = {" yes"};
    reqs.push_back(make_request(ds[i], i, *tok));
  }
  const size_t by_tokens = lcp(reqs[0].context, reqs[1].context);
  const size_t text_prefix_tokens = tok->encode_for_model(ds[0].context).size();
  // The example really tokenizes the common text differently (else it would test nothing).
  REQUIRE(by_tokens < text_prefix_tokens);
  auto groups = find_prefix_groups(reqs, 2);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].length == static_cast<int>(by_tokens));
  CHECK(common_token_prefix(reqs[0].context, reqs[1].context) == by_tokens);
}

TEST_CASE("prefix groups: consecutive requests of a group, each keeping its last token", "[prefix_cache]") {
  std::vector<Doc> ds(5);
  std::vector<Request> reqs(5);
  const std::vector<std::vector<int32_t>> ctx = {
      {1, 5, 6, 7, 8}, {1, 5, 6, 7, 9, 9}, {1, 5, 6, 7}, {1, 5, 6, 7, 8}, {1, 2}};
  const char* group[] = {"a", "a", "a", "b", "c"};
  for (int i = 0; i < 5; ++i) {
    ds[i].group = group[i];
    reqs[i].doc = &ds[i];
    reqs[i].context = ctx[i];
  }
  auto g = find_prefix_groups(reqs, 2);
  REQUIRE(g.size() == 3);
  CHECK(g[0].begin == 0);
  CHECK(g[0].end == 3);
  CHECK(g[0].length == 3);  // common prefix 4 tokens, but {1,5,6,7} must keep its last one
  CHECK(g[1].length == 0);  // a group of one: nothing to share
  CHECK(g[2].length == 0);
}

TEST_CASE("a document sharing nothing (a truncated context) runs alone, the rest keep their prefix", "[prefix_cache]") {
  std::vector<Doc> ds(5);
  std::vector<Request> reqs(5);
  const std::vector<std::vector<int32_t>> ctx = {
      {1, 5, 6, 7, 8, 3}, {1, 5, 6, 7, 8, 4}, {9, 9, 9, 9}, {1, 5, 6, 7, 8, 2}, {1, 5, 6, 7, 8, 5}};
  for (int i = 0; i < 5; ++i) {
    ds[i].group = "a";
    reqs[i].doc = &ds[i];
    reqs[i].context = ctx[i];
  }
  auto g = find_prefix_groups(reqs, 2);
  REQUIRE(g.size() == 3);
  CHECK(g[0].begin == 0);
  CHECK(g[0].end == 2);
  CHECK(g[0].length == 5);
  CHECK(g[1].length == 0);
  CHECK(g[2].begin == 3);
  CHECK(g[2].length == 5);
}

TEST_CASE("the prefix cache evicts least recently used entries to stay within its budget", "[prefix_cache]") {
  ModelConfig cfg = tiny_config(2, 32, 4, 2, 48, 64);
  Model model = random_model(cfg, 3);
  auto b = make_backend("cpu", model, BackendOptions{});
  auto make = [&](int32_t first) {
    std::vector<int32_t> toks = {first, 3, 4, 5};
    return std::shared_ptr<const PrefixState>(compute_prefix(*b, toks, {0, 1}));
  };
  auto p1 = make(1), p2 = make(2), p3 = make(3);
  const double one = prefix_bytes(*p1, *b);
  CHECK(one == 4 * 2 * b->kv_bytes_per_position());
  PrefixCache c(2.5 * one);
  c.insert(0, p1, one);
  c.insert(0, p2, one);
  CHECK(c.find(0, {0, 1}, p1->tokens));  // p1 now the most recently used
  c.insert(0, p3, one);                 // evicts p2
  CHECK(c.size() == 2);
  CHECK(c.evictions() == 1);
  CHECK(c.bytes() <= 2.5 * one);
  CHECK(c.find(0, {0, 1}, p1->tokens));
  CHECK_FALSE(c.find(0, {0, 1}, p2->tokens));
  CHECK(c.find(0, {0, 1}, p3->tokens));
  // The key is (side, plan, tokens).
  CHECK_FALSE(c.find(1, {0, 1}, p1->tokens));
  CHECK_FALSE(c.find(0, {0}, p1->tokens));
  // Larger than the whole budget: not kept.
  PrefixCache tiny(0.5 * one);
  tiny.insert(0, p1, one);
  CHECK(tiny.size() == 0);
  CHECK(tiny.bytes() == 0);
}

TEST_CASE("trials with the prefix cache give the one-document path's numbers, any budget", "[prefix_cache]") {
  Fixture f;
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"full", {}},
      {"static", {{"layer", 2}}},
      {"confidence", {{"tau", 0.1}}},
      {"lesion", {{"op", "swap"}, {"layer", 1}}},
  };
  for (const auto& [name, params] : cases) {
    INFO(name);
    auto off = f.run(name, params, untimed(false));
    // Default budget; one far below one prefix (recomputed per document). One document at a time,
    // and batches of 3 (which straddle the two groups: each document starts from its own prefix).
    for (auto [mb, batch] : {std::pair{0.0, 1}, std::pair{1e-4, 1}, std::pair{0.0, 3}, std::pair{1e-4, 3}}) {
      INFO("budget MiB " << mb << ", batch " << batch);
      auto on = f.run(name, params, untimed(true, mb, batch));
      REQUIRE(on.size() == off.size());
      for (size_t i = 0; i < on.size(); ++i) {
        REQUIRE(on[i].loglik.size() == off[i].loglik.size());
        for (size_t c = 0; c < on[i].loglik.size(); ++c) CHECK(std::fabs(on[i].loglik[c] - off[i].loglik[c]) < 1e-4);
        CHECK(on[i].pred == off[i].pred);
        CHECK(on[i].layers_executed == off[i].layers_executed);
        CHECK(on[i].extra.value("prefix_tokens", 0) > 0);
        CHECK_FALSE(off[i].extra.contains("prefix_tokens"));
        if (off[i].extra.contains("full_pred")) CHECK(on[i].extra["full_pred"] == off[i].extra["full_pred"]);
      }
    }
  }
}

TEST_CASE("a prefix's work is counted once per computation, beside the documents' own", "[prefix_cache]") {
  Fixture f;
  const int L = f.cfg.n_layers;
  // Independently: the groups' prefixes through all layers, and each document from scratch.
  std::vector<Request> reqs;
  for (size_t i = 0; i < f.ds.size(); ++i) reqs.push_back(make_request(f.ds[i], int(i), *f.tok));
  double prefix_once = 0, whole = 0;
  for (int g = 0; g < 2; ++g) {
    size_t common = reqs[5 * g].context.size();
    size_t shortest = common;
    for (int i = 1; i < 5; ++i) {
      common = std::min(common, lcp(reqs[5 * g].context, reqs[5 * g + i].context));
      shortest = std::min(shortest, reqs[5 * g + i].context.size());
    }
    common = std::min(common, shortest - 1);
    REQUIRE(common > 10);  // the fixture really shares a few-shot block
    CountingBackend cb(*f.b);
    compute_prefix(cb, std::span<const int32_t>(reqs[5 * g].context).first(common), all_layers(L));
    prefix_once += cb.count().flops;
  }
  for (const auto& r : reqs) {
    CountingBackend cb(*f.b);
    score_choices(cb, r, all_layers(L));
    whole += cb.count().flops;
  }
  for (auto [mb, batch] : {std::pair{0.0, 1}, std::pair{1e-4, 1}, std::pair{0.0, 4}, std::pair{1e-4, 4}}) {
    INFO("budget MiB " << mb << ", batch " << batch);
    std::vector<MetricValue> ms;
    auto on = f.run("full", {}, untimed(true, mb, batch), &ms);
    double doc_flops = 0;
    for (const auto& r : on) doc_flops += r.extra["flops"].get<double>();
    REQUIRE(find(ms, "prefix_flops"));
    // Kept: each group's prefix once. Tiny budget: recomputed for every document.
    const double expect = mb > 0 ? prefix_once * 5 : prefix_once;
    CHECK(find(ms, "prefix_flops")->value == Approx(expect).epsilon(1e-9));
    // The documents' own work is the one-document path's less the prefix rows (5 documents a group):
    // attention over the cached positions stays theirs.
    CHECK(doc_flops == Approx(whole - 5 * prefix_once).epsilon(1e-9));
  }
}

TEST_CASE("timed trials with the prefix cache report its time apart and a speedup with it", "[prefix_cache]") {
  Fixture f;
  TrialOptions o;
  o.reps = 1, o.warmup = 0, o.prefix_cache = true;
  o.batch_docs = GENERATE(1, 4);
  INFO("batch " << o.batch_docs);
  std::vector<MetricValue> ms;
  auto samples = f.run("static", {{"layer", 2}}, o, &ms);
  double shares = 0;
  for (const auto& r : samples) {
    CHECK(r.extra.contains("prefix_seconds"));
    CHECK(r.extra.contains("prefix_seconds_full"));
    shares += r.extra["prefix_seconds"].get<double>();
  }
  REQUIRE(find(ms, "prefix_seconds"));
  CHECK(find(ms, "prefix_seconds")->value == Approx(shares));
  CHECK(find(ms, "speedup"));
  CHECK(find(ms, "speedup_with_prefix"));
  CHECK(find(ms, "documents_per_second"));
  CHECK(find(ms, "speedup")->detail["prefix_cache"].get<std::string>().rfind("on", 0) == 0);
}
