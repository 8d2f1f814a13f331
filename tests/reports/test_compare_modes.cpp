// eebench compare across scoring modes (issue 14): runs with and without the prefix cache, or with
// different --batch-docs, measure different things per sample, so their times are never compared;
// their accuracy and depth still are.
#include <catch2/catch.hpp>

#include "reports/compare.h"
#include "report_fixtures.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

const Check* find(const Comparison& c, const std::string& metric) {
  for (const auto& k : c.checks)
    if (k.metric == metric) return &k;
  return nullptr;
}

Comparison compare_modes(const nlohmann::json& base_spec, const nlohmann::json& cand_spec, double cand_time_scale,
                         bool force = false) {
  TempDir tmp;
  const std::string db = tmp.file("r.db");
  ResultStore s = ResultStore::open(db);
  Hardware a, b;
  a.spec = base_spec, b.spec = cand_spec;
  const int64_t base = add_run(s, a);
  add_trial(s, base, {}, make_samples(200));
  const int64_t cand = add_run(s, b);
  add_trial(s, cand, {}, make_samples(200, 12, cand_time_scale));
  CompareOptions o;
  o.force = force;
  return compare_runs(s, {base}, s, {cand}, o);
}

}  // namespace

TEST_CASE("compare: timings across prefix-cache modes are refused, accuracy still compared") {
  // The candidate is 5x faster per sample (its samples are suffixes): not a result to compare.
  for (bool force : {false, true}) {
    Comparison c = compare_modes({{"prefix_cache", false}}, {{"prefix_cache", true}}, 0.2, force);
    const Check* t = find(c, "time");
    REQUIRE(t);
    CHECK(t->verdict == Verdict::skipped);
    CHECK(t->reason.find("scoring modes differ") != std::string::npos);
    CHECK(t->reason.find("prefix_cache off vs on") != std::string::npos);
    REQUIRE(find(c, "acc"));
    CHECK(find(c, "acc")->verdict == Verdict::pass);
    CHECK(find(c, "avg_layers")->verdict == Verdict::pass);
    CHECK(c.failures() == 0);
    CHECK_FALSE(c.notes.empty());
  }
  // A run stored before the key existed ran without the cache.
  CHECK(find(compare_modes(nlohmann::json::object(), {{"prefix_cache", true}}, 1.0), "time")->verdict ==
        Verdict::skipped);
  CHECK(find(compare_modes(nlohmann::json::object(), {{"prefix_cache", false}}, 1.0), "time")->verdict ==
        Verdict::pass);
}

TEST_CASE("compare: timings across batch_docs are refused; equal modes are compared") {
  Comparison c = compare_modes({{"prefix_cache", true}, {"batch_docs", 1}}, {{"prefix_cache", true}, {"batch_docs", 8}}, 1.0);
  REQUIRE(find(c, "time"));
  CHECK(find(c, "time")->verdict == Verdict::skipped);
  CHECK(find(c, "time")->reason.find("batch_docs 1 vs 8") != std::string::npos);
  // Same modes: a slowdown is still caught.
  Comparison same = compare_modes({{"prefix_cache", true}, {"batch_docs", 4}}, {{"prefix_cache", true}, {"batch_docs", 4}}, 1.5);
  CHECK(find(same, "time")->verdict == Verdict::fail);
}
