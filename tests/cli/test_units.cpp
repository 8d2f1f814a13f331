// Harness building blocks: sweep expansion, speedup statistics, ROUGE, metrics.
#include <catch2/catch.hpp>
#include <cmath>

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
  s[0].gold = 0, s[0].pred = 0, s[0].pred_norm = 1, s[0].group = "a";
  s[1].gold = 1, s[1].pred = 0, s[1].pred_norm = 1, s[1].group = "a";
  s[2].gold = 1, s[2].pred = 1, s[2].pred_norm = 1, s[2].group = "b";
  s[3].gold = 0, s[3].pred = 0, s[3].pred_norm = 0, s[3].group = "b";
  auto m = classification_metrics(s);
  auto get = [&](const std::string& n, const std::string& g = "") {
    for (const auto& v : m)
      if (v.name == n && v.group == g) return v;
    FAIL("no metric " << n << " " << g);
    return MetricValue{};
  };
  CHECK(get("acc").value == Approx(0.75));
  CHECK(get("acc", "a").value == Approx(0.5));
  // sample std of {1, 0} = sqrt(0.5); stderr = sqrt(0.5) / sqrt(2)
  CHECK(get("acc", "a").stderr_ == Approx(0.5));
  CHECK(get("acc", "b").value == Approx(1.0));
  CHECK(get("acc_macro").value == Approx(0.75));
  CHECK(get("acc_norm").value == Approx(0.75));  // pred_norm right on docs 1, 2, 3
  for (const auto& v : m) CHECK(v.name != "avg_layers");  // depth is the runner's, per strategy trait
}

TEST_CASE("grouped acc stderr is pooled over groups as lm-eval's pooled_sample_stderr", "[metrics]") {
  // Three subjects of 5, 3 and 1 documents (uneven, so pooling differs from the plain stderr).
  const std::vector<std::pair<std::string, std::vector<int>>> groups = {
      {"x", {1, 0, 1, 1, 0}}, {"y", {0, 0, 1}}, {"z", {1}}};
  std::vector<SampleRecord> s;
  for (const auto& [g, correct] : groups)
    for (int c : correct) {
      SampleRecord r;
      r.group = g, r.gold = 1, r.pred = c ? 1 : 0, r.pred_norm = r.pred;
      s.push_back(r);
    }
  // float64, written out: per group sample variance (ddof 1) and stderr^2 = var / n; pooled variance
  // sum((n_i - 1) * se_i^2 * n_i) / (N - k); stderr = sqrt(pooled / N).
  double num = 0, N = 0, all_sum = 0;
  for (const auto& [g, correct] : groups) {
    const double n = double(correct.size());
    double mean = 0;
    for (int c : correct) mean += c;
    mean /= n;
    double ss = 0;
    for (int c : correct) ss += (c - mean) * (c - mean);
    const double se2 = n > 1 ? ss / (n - 1) / n : 0;
    num += (n - 1) * se2 * n;
    N += n;
    all_sum += mean * n;
  }
  const double expect = std::sqrt(num / (N - 3) / N);
  auto m = classification_metrics(s);
  const MetricValue* acc = nullptr;
  for (const auto& v : m)
    if (v.name == "acc" && v.group.empty()) acc = &v;
  REQUIRE(acc);
  CHECK(acc->value == Approx(all_sum / N));
  CHECK(acc->stderr_ == Approx(expect).epsilon(1e-12));
  // It is not the ungrouped stderr of all 9 documents.
  std::vector<double> flat;
  for (const auto& r : s) flat.push_back(r.pred == r.gold);
  double mean, se;
  mean_stderr(flat, &mean, &se);
  CHECK(std::abs(se - expect) > 1e-3);
  CHECK(pooled_sample_stderr({0.1}, {1}) == -1);  // N - k = 0: undefined
}

TEST_CASE("declared measures aggregate as declared", "[metrics]") {
  std::vector<SampleRecord> s(4);
  for (int i = 0; i < 4; ++i) {
    s[i].extra["x"] = i;        // 0 1 2 3
    s[i].extra["den"] = i + 1;  // 1 2 3 4
  }
  s[3].extra.erase("x");  // a sample without the value does not count
  std::vector<MeasureSpec> specs = {{"x_mean", Aggregation::mean, "", "x"},
                                    {"x_sum", Aggregation::sum, "", "x"},
                                    {"x_ratio", Aggregation::ratio_of_sums, "", "x", "den"},
                                    {"x_ideal", Aggregation::hypothetical, "", "x"},
                                    {"absent", Aggregation::mean, ""}};
  auto m = aggregate_measures(specs, s);
  REQUIRE(m.size() == 4);
  CHECK(m[0].value == Approx(1.0));
  CHECK(m[0].n == 3);
  CHECK(m[0].stderr_ == Approx(std::sqrt(1.0 / 3)));  // sample var 1, over sqrt(3)
  CHECK(m[1].value == 3);
  CHECK(m[2].value == Approx(3.0 / 6));  // (0+1+2) / (1+2+3)
  CHECK(m[3].value == Approx(1.0));
  CHECK(m[3].detail["hypothetical"] == true);
  CHECK_FALSE(m[0].detail.contains("hypothetical"));
}
