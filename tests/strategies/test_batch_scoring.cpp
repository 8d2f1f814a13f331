// Several documents per forward pass (strategies/batch_scoring.h): Strategy::score_batch of the
// strategies that batch (full, static, lesion, shortgpt/angular) must give, per request, what
// score() gives for that request alone: log-likelihoods within 1e-5 (the batched GEMMs may change
// the last bits), the same predictions, greedy flags and depth; the counted work is the same.
#include <catch2/catch.hpp>

#include <cmath>

#include "backends/counting.h"
#include "backends/registry.h"
#include "core/error.h"
#include "model/model.h"
#include "strategies/batch_scoring.h"
#include "strategies/builtin.h"
#include "tasks/task.h"
#include "tests/cpu/reference.h"
#include "tests/random_model.h"
#include "tests/test_data.h"
#include "tokenizer/tokenizer.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

struct NoTask : Task {
  std::string name() const override { return "x"; }
  std::string version() const override { return "0"; }
  std::string template_text() const override { return ""; }
  std::string default_split() const override { return ""; }
  std::vector<Doc> load(const TaskOptions&) const override { return {}; }
};

void check_same(const std::vector<SampleRecord>& got, const std::vector<SampleRecord>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("request " << i);
    CHECK(got[i].index == want[i].index);
    CHECK(got[i].doc_id == want[i].doc_id);
    REQUIRE(got[i].loglik.size() == want[i].loglik.size());
    for (size_t c = 0; c < got[i].loglik.size(); ++c)
      CHECK(std::fabs(got[i].loglik[c] - want[i].loglik[c]) <= 1e-5 * std::max(1.0, std::fabs(want[i].loglik[c])));
    CHECK(got[i].is_greedy == want[i].is_greedy);
    CHECK(got[i].pred == want[i].pred);
    CHECK(got[i].pred_norm == want[i].pred_norm);
    CHECK(got[i].layers_executed == want[i].layers_executed);
    CHECK(got[i].lm_head_calls == want[i].lm_head_calls);
    CHECK(got[i].extra == want[i].extra);
  }
}

// Requests of different context lengths, 1 to 4 choices of 1 to 4 tokens, one partially scored.
struct Synthetic {
  ModelConfig cfg = tiny_config(4, 32, 4, 2, 48, 64);
  Model model = random_model(cfg, 5);
  std::unique_ptr<Backend> b = make_backend("cpu", model, BackendOptions{});
  std::vector<Doc> docs;
  std::vector<Request> reqs;
  Synthetic() {
    const std::vector<int> ctx_len = {9, 3, 17, 1, 12, 6, 20};
    docs.resize(ctx_len.size());
    for (size_t i = 0; i < ctx_len.size(); ++i) {
      const int n_choices = 1 + static_cast<int>(i % 4);
      docs[i].id = "d" + std::to_string(i);
      docs[i].gold = 0;
      Request r;
      r.index = static_cast<int>(i);
      r.doc = &docs[i];
      r.context = random_tokens(ctx_len[i], cfg.vocab_size, 40 + i);
      for (int c = 0; c < n_choices; ++c) {
        docs[i].choices.push_back(" " + std::string(c + 1, 'a'));
        r.continuations.push_back(random_tokens(1 + (c + static_cast<int>(i)) % 4, cfg.vocab_size, 90 + 7 * i + c));
      }
      if (i == 2) r.unscored.assign(n_choices, 1);  // partial scoring: first token conditioned on
      reqs.push_back(std::move(r));
    }
  }
};

}  // namespace

TEST_CASE("score_choices_batch equals score_choices per request, any plan", "[batch]") {
  Synthetic s;
  for (const std::vector<int>& plan : std::vector<std::vector<int>>{{0, 1, 2, 3}, {2, 0, 3}, {1}}) {
    auto got = score_choices_batch(*s.b, s.reqs, plan);
    REQUIRE(got.size() == s.reqs.size());
    for (size_t i = 0; i < s.reqs.size(); ++i) {
      auto want = score_choices(*s.b, s.reqs[i], plan);
      INFO("request " << i << ", plan of " << plan.size());
      REQUIRE(got[i].loglik.size() == want.loglik.size());
      for (size_t c = 0; c < want.loglik.size(); ++c) CHECK(got[i].loglik[c] == Approx(want.loglik[c]).epsilon(1e-5));
      CHECK(got[i].is_greedy == want.is_greedy);
    }
  }
}

TEST_CASE("score_batch of full, static and lesion equals score per request", "[batch]") {
  Synthetic s;
  NoTask task;
  for (const auto& [name, params] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"full", {}}, {"static", {{"layer", 2}}}, {"static", {{"layer", 4}}},
           {"lesion", {{"op", "delete"}, {"layer", 1}}}, {"lesion", {{"op", "swap"}, {"layer", 0}}}}) {
    INFO(name << " " << params.dump());
    auto st = make_strategy(name, params);
    CHECK(st->batches_documents());
    RunContext ctx{*s.b, nullptr, {}};
    st->prepare(ctx, task, TaskOptions{});
    std::vector<SampleRecord> want;
    for (const auto& r : s.reqs) want.push_back(st->score(ctx, r));
    // Counted the same: a batch's work is the sum of its documents'.
    CountingBackend c1(*s.b), c2(*s.b);
    RunContext ctx1{c1, nullptr, {}}, ctx2{c2, nullptr, {}};
    for (const auto& r : s.reqs) st->score(ctx1, r);
    check_same(st->score_batch(ctx2, s.reqs), want);
    CHECK(c2.count().layer_tokens == c1.count().layer_tokens);
    CHECK(c2.count().lm_head_rows == c1.count().lm_head_rows);
    CHECK(c2.count().flops == Approx(c1.count().flops).epsilon(1e-12));
    // Any split into batches gives the same.
    check_same(st->score_batch(ctx, std::span(s.reqs).first(3)), std::vector(want.begin(), want.begin() + 3));
  }
}

TEST_CASE("exit strategies that decide per document keep the one-by-one default", "[batch]") {
  Synthetic s;
  auto st = make_strategy("confidence", {{"tau", 0.5}});
  CHECK_FALSE(st->batches_documents());
  RunContext ctx{*s.b, nullptr, {}};
  std::vector<SampleRecord> want;
  for (const auto& r : s.reqs) want.push_back(st->score(ctx, r));
  auto got = st->score_batch(ctx, s.reqs);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i].loglik == want[i].loglik);  // the same calls: bit for bit
}

TEST_CASE("score_batch refuses an empty continuation before running a layer", "[batch]") {
  Synthetic s;
  s.reqs[3].continuations[0].clear();
  CountingBackend c(*s.b);
  CHECK_THROWS_WITH(score_choices_batch(c, s.reqs, std::vector<int>{0, 1}),
                    Catch::Contains("request 3: empty continuation"));
  CHECK(c.count().layer_tokens == 0);
}

TEST_CASE("score_batch of shortgpt and full on sst2 with the shared model equals score", "[batch][data]") {
  SKIP_WITHOUT_DATA();
  const std::string data = shared_data();
  Model m = load_model(data + "/models/sst-lm-12L");
  auto tok = Tokenizer::for_model(m);
  auto b = make_backend("cpu", m, BackendOptions{});
  auto task = make_task("sst2");
  TaskOptions opt;
  opt.data_dir = data + "/datasets";
  opt.limit = 10;
  auto docs = task->load(opt);
  REQUIRE(docs.size() == 10);
  std::vector<Request> reqs;
  for (size_t i = 0; i < docs.size(); ++i)
    reqs.push_back(make_request(docs[i], static_cast<int>(i), *tok, true, m.cfg.max_seq_len));
  RunContext ctx{*b, tok.get(), nlohmann::json::object()};
  for (const auto& [name, params] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"full", {}}, {"shortgpt", {{"n", 3}, {"calib_size", 4}}}, {"angular", {{"n", 2}, {"calib_size", 4}}}}) {
    INFO(name);
    auto st = make_strategy(name, params);
    CHECK(st->batches_documents());
    st->prepare(ctx, *task, opt);
    std::vector<SampleRecord> want;
    for (const auto& r : reqs) want.push_back(st->score(ctx, r));
    check_same(st->score_batch(ctx, reqs), want);
  }
}

TEST_CASE("score_choices_batch from cached prefixes (a fork of their KV cache) equals from scratch", "[batch]") {
  Synthetic s;
  const std::vector<int> plan = {0, 2, 3};
  auto want = score_choices_batch(*s.b, s.reqs, plan);
  // Each request but the second starts from a prefix holding the first half of its context, run
  // through a plan that begins with `plan` (what the runner's prefix cache holds).
  std::vector<std::unique_ptr<PrefixState>> held(s.reqs.size());
  std::vector<const PrefixState*> prefixes(s.reqs.size(), nullptr);
  std::vector<int> longer = plan;
  longer.push_back(1);
  for (size_t i = 0; i < s.reqs.size(); ++i) {
    const auto& r = s.reqs[i];
    const int p = static_cast<int>(r.context.size()) / 2;
    if (i == 1 || p == 0) continue;
    held[i] = compute_prefix(*s.b, std::span(r.context).first(p), i % 2 ? longer : plan);
    prefixes[i] = held[i].get();
  }
  double rows = 0;  // only the uncached context rows and the continuations run
  for (size_t i = 0; i < s.reqs.size(); ++i) {
    rows += static_cast<double>(s.reqs[i].context.size()) - (held[i] ? held[i]->length() : 0);
    for (const auto& c : s.reqs[i].continuations) rows += static_cast<double>(c.size()) - 1;
  }
  CountingBackend c(*s.b);
  auto got = score_choices_batch(c, s.reqs, plan, prefixes);
  CHECK(c.count().layer_tokens == rows * static_cast<double>(plan.size()));
  for (size_t i = 0; i < s.reqs.size(); ++i)
    for (size_t k = 0; k < want[i].loglik.size(); ++k) {
      INFO("request " << i << " choice " << k);
      CHECK(got[i].loglik[k] == Approx(want[i].loglik[k]).epsilon(1e-5));
      CHECK(got[i].is_greedy[k] == want[i].is_greedy[k]);
    }
  // A prefix as long as the whole context (the scoring position must stay the document's), or one
  // run through another plan, is refused before any layer runs.
  auto whole = compute_prefix(*s.b, s.reqs[0].context, plan);
  std::vector<const PrefixState*> bad(s.reqs.size(), nullptr);
  bad[0] = whole.get();
  CHECK_THROWS_WITH(score_choices_batch(*s.b, s.reqs, plan, bad), Catch::Contains("not a proper prefix"));
  auto other = compute_prefix(*s.b, std::span(s.reqs[0].context).first(1), std::vector<int>{1, 0});
  bad[0] = other.get();
  CHECK_THROWS_WITH(score_choices_batch(*s.b, s.reqs, plan, bad), Catch::Contains("not a leading part"));
  CHECK_THROWS_WITH(score_choices_batch(*s.b, s.reqs, plan, std::span(prefixes).first(1)),
                    Catch::Contains("1 prefixes for"));
}
