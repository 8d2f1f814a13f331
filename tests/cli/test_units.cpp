// Harness building blocks: sweep expansion, speedup statistics, ROUGE, metrics.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "harness/metrics.h"
#include "core/stats.h"
#include "harness/sweep.h"
#include "tasks/rouge.h"

using namespace eeb;

TEST_CASE("sweeps expand to the cartesian product", "[sweep]") {
  auto v = expand_sweep({{"tau", 0.5}}, {"n=0:2", "op=delete,swap"});
  REQUIRE(v.size() == 6);
  CHECK(v[0] == nlohmann::json({{"tau", 0.5}, {"n", 0}, {"op", "delete"}}));
  CHECK(v[5] == nlohmann::json({{"tau", 0.5}, {"n", 2}, {"op", "swap"}}));
  CHECK(expand_sweep({}, {"t=0.5,0.9"})[1]["t"] == 0.9);
  CHECK(expand_sweep({}, {}).size() == 1);
  CHECK_THROWS_WITH(expand_sweep({}, {"n"}), Catch::Contains("KEY="));
  CHECK_THROWS_WITH(expand_sweep({}, {"n=3:1"}), Catch::Contains("range"));
  CHECK_THROWS_WITH(expand_sweep({}, {"n=1,,2"}), Catch::Contains("empty value"));
  CHECK_THROWS(expand_sweep(nlohmann::json::array(), {}));
}

TEST_CASE("bootstrap ratio: exact ratio, deterministic, interval contains it", "[stats]") {
  std::vector<double> num, den;
  for (int i = 0; i < 200; ++i) {
    num.push_back(2.0 + 0.1 * (i % 7));
    den.push_back(1.0 + 0.05 * (i % 5));
  }
  auto a = bootstrap_ratio(num, den, 1000, 0.95, 3);
  auto b = bootstrap_ratio(num, den, 1000, 0.95, 3);
  double sn = 0, sd = 0;
  for (int i = 0; i < 200; ++i) sn += num[i], sd += den[i];
  CHECK(a.ratio == Approx(sn / sd));
  CHECK(a.lo == b.lo);
  CHECK(a.hi == b.hi);
  CHECK(a.lo <= a.ratio);
  CHECK(a.ratio <= a.hi);
  CHECK(a.hi - a.lo < 0.1);
  CHECK(median({3, 1, 2}) == 2);
  CHECK(median({4, 1, 2, 3}) == 2.5);
}

TEST_CASE("ROUGE matches hand-computed values", "[rouge]") {
  CHECK(rouge_tokens("The Cat, sat!") == std::vector<std::string>{"the", "cat", "sat"});
  // Candidate "the cat sat" vs reference "the cat sat on the mat": LCS 3, P = 1, R = 0.5.
  CHECK(rouge_l_f1("the cat sat", "the cat sat on the mat") == Approx(2 * 1.0 * 0.5 / 1.5));
  // Bigrams: cand {the cat, cat sat}, ref {the cat, cat sat, sat on, on the, the mat}: overlap 2.
  CHECK(rouge_n_f1("the cat sat", "the cat sat on the mat", 2) == Approx(2 * 1.0 * 0.4 / 1.4));
  CHECK(rouge_n_f1("", "a b", 2) == 0);
  CHECK(rouge_l_f1("a b c", "a b c") == Approx(1.0));
}

TEST_CASE("classification metrics: lm-eval mean and stderr, per-group and macro", "[metrics]") {
  std::vector<SampleRecord> s(4);
  s[0].gold = 0, s[0].pred = 0, s[0].pred_norm = 1, s[0].group = "a", s[0].layers_executed = 2;
  s[1].gold = 1, s[1].pred = 0, s[1].pred_norm = 1, s[1].group = "a", s[1].layers_executed = 4;
  s[2].gold = 1, s[2].pred = 1, s[2].pred_norm = 1, s[2].group = "b", s[2].layers_executed = 4;
  s[3].gold = 0, s[3].pred = 0, s[3].pred_norm = 0, s[3].group = "b", s[3].layers_executed = 2;
  auto m = classification_metrics(s, 4);
  auto get = [&](const std::string& n, const std::string& g = "") {
    for (const auto& v : m)
      if (v.name == n && v.group == g) return v;
    FAIL("no metric " << n << " " << g);
    return MetricValue{};
  };
  CHECK(get("acc").value == Approx(0.75));
  // sample std of {1,0,1,1} = 0.5; stderr = 0.5 / 2
  CHECK(get("acc").stderr_ == Approx(0.25));
  CHECK(get("acc", "a").value == Approx(0.5));
  CHECK(get("acc", "b").value == Approx(1.0));
  CHECK(get("acc_macro").value == Approx(0.75));
  CHECK(get("acc_norm").value == Approx(0.75));  // pred_norm right on docs 1, 2, 3
  CHECK(get("avg_layers").value == Approx(3.0));
  CHECK(get("pruning_ratio").value == Approx(0.25));
}
