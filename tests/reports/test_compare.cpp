// eebench compare: planted regressions are caught, unchanged reruns are not, hardware guards timing.
#include <catch2/catch.hpp>
#include <cstdio>
#include <pugixml.hpp>

#include "reports/compare.h"
#include "reports/stat_tests.h"
#include "report_fixtures.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

const Check* find(const Comparison& c, const std::string& metric) {
  for (const auto& k : c.checks)
    if (k.metric == metric) return &k;
  return nullptr;
}

// Base run and candidate run in one database, 200 documents, one trial each.
struct Pair {
  TempDir tmp;
  std::string db = tmp.file("r.db");
  int64_t base = 0, cand = 0;
  Pair(const std::vector<SampleRow>& cand_samples, const Hardware& cand_hw = {}, TrialSpec spec = {}) {
    ResultStore s = ResultStore::open(db);
    base = add_run(s);
    add_trial(s, base, spec, make_samples(200));
    cand = add_run(s, cand_hw);
    add_trial(s, cand, spec, cand_samples);
  }
  Comparison compare(const CompareOptions& o = {}) {
    ResultStore s = ResultStore::open(db);
    return compare_runs(s, {base}, s, {cand}, o);
  }
  int cmd(const CompareOptions& o = {}, const std::string& junit = "") {
    CompareArgs a;
    a.base = std::to_string(base), a.candidate = std::to_string(cand), a.db = db, a.options = o, a.junit = junit;
    return cmd_compare(a);
  }
};

}  // namespace

TEST_CASE("compare: an unchanged rerun is not flagged") {
  Pair p(make_samples(200));
  Comparison c = p.compare();
  CHECK(c.failures() == 0);
  CHECK(c.skipped() == 0);
  REQUIRE(find(c, "acc"));
  CHECK(find(c, "acc")->p == 1.0);
  REQUIRE(find(c, "time"));
  CHECK(find(c, "time")->verdict == Verdict::pass);
  CHECK(find(c, "time")->p > 0.9);
  CHECK(find(c, "avg_layers")->verdict == Verdict::pass);
  CHECK(find(c, "pruning_ratio")->verdict == Verdict::pass);
  CHECK(p.cmd() == 0);
}

TEST_CASE("compare: 30 of 200 predictions flipped to wrong is an accuracy regression") {
  auto cand = make_samples(200);
  flip_to_wrong(cand, 30);
  Pair p(cand);
  Comparison c = p.compare();
  const Check* acc = find(c, "acc");
  REQUIRE(acc);
  CHECK(acc->verdict == Verdict::fail);
  CHECK(acc->p < 1e-6);
  CHECK(acc->reason.find("acc") != std::string::npos);
  CHECK(acc->reason.find("p=") != std::string::npos);
  CHECK(acc->reason.find("30 newly wrong") != std::string::npos);
  CHECK(find(c, "acc_norm")->verdict == Verdict::fail);
  CHECK(find(c, "time")->verdict == Verdict::pass);
  CHECK(p.cmd() == 1);
  // A looser threshold (20 points) lets the 15-point drop through.
  CompareOptions loose;
  loose.max_acc_drop = 0.2;
  CHECK(p.compare(loose).failures() == 0);
}

TEST_CASE("compare: a few flips are not significant") {
  auto cand = make_samples(200);
  flip_to_wrong(cand, 3);  // 1.5 points, McNemar exact p = 0.25
  Pair p(cand);
  Comparison c = p.compare();
  CHECK(find(c, "acc")->verdict == Verdict::pass);
  CHECK(find(c, "acc")->p == Approx(0.25));
  CHECK(c.failures() == 0);
}

TEST_CASE("compare: candidate times x1.5 is a slowdown") {
  Pair p(make_samples(200, 12, 1.5));
  Comparison c = p.compare();
  const Check* t = find(c, "time");
  REQUIRE(t);
  CHECK(t->verdict == Verdict::fail);
  CHECK(t->change == "+50.0%");
  CHECK(t->p < 1e-6);
  CHECK(t->reason.find("time") != std::string::npos);
  CHECK(t->reason.find("Wilcoxon signed-rank") != std::string::npos);
  CHECK(find(c, "acc")->verdict == Verdict::pass);
  CHECK(p.cmd() == 1);
  // A faster candidate is no regression.
  Pair q(make_samples(200, 12, 0.5));
  CHECK(q.compare().failures() == 0);
}

TEST_CASE("compare: different hardware refuses timing unless forced") {
  Hardware other;
  other.cpu = "Other CPU";
  other.threads = 16;
  Pair p(make_samples(200, 12, 1.5), other);
  Comparison c = p.compare();
  const Check* t = find(c, "time");
  REQUIRE(t);
  CHECK(t->verdict == Verdict::skipped);
  CHECK(t->reason.find("hardware differs") != std::string::npos);
  CHECK(t->reason.find("cpu_model") != std::string::npos);
  CHECK(t->reason.find("threads") != std::string::npos);
  CHECK(c.failures() == 0);
  REQUIRE(!c.notes.empty());
  CHECK(p.cmd() == 0);  // accuracy and depth still compared, and unchanged
  CompareOptions force;
  force.force = true;
  Comparison f = p.compare(force);
  CHECK(find(f, "time")->verdict == Verdict::fail);
  CHECK(find(f, "time")->reason.find("forced across hardware") != std::string::npos);
  CHECK(p.cmd(force) == 1);
  // dtype and backend count too.
  Hardware gpu;
  gpu.backend = "cuda", gpu.gpu = "NVIDIA H100", gpu.dtype = "bf16";
  Pair g(make_samples(200), gpu);
  CHECK(find(g.compare(), "time")->verdict == Verdict::skipped);
}

TEST_CASE("compare: depth metrics must match exactly") {
  Pair p(make_samples(200, 11));
  Comparison c = p.compare();
  CHECK(find(c, "avg_layers")->verdict == Verdict::fail);
  CHECK(find(c, "avg_layers")->reason.find("avg_layers changed 12 → 11") != std::string::npos);
  CHECK(find(c, "pruning_ratio")->verdict == Verdict::fail);
}

TEST_CASE("compare: trials are matched on model, task and strategy; a missing trial fails") {
  TempDir tmp;
  const std::string db = tmp.file("m.db");
  int64_t base, cand;
  {
    ResultStore s = ResultStore::open(db);
    base = add_run(s);
    TrialSpec a, b;
    b.strategy = "shortgpt", b.params = {{"n", 2}};
    add_trial(s, base, a, make_samples(50));
    add_trial(s, base, b, make_samples(50, 10));
    cand = add_run(s);
    TrialSpec other_params = b, other_model = a;
    other_params.params = {{"n", 3}};
    other_model.checksum = "xxh3:ffff";  // different weights: not the same trial
    add_trial(s, cand, a, make_samples(50));
    add_trial(s, cand, other_params, make_samples(50, 9));
    add_trial(s, cand, other_model, make_samples(50));
  }
  ResultStore s = ResultStore::open(db);
  Comparison c = compare_runs(s, {base}, s, {cand}, {});
  const Check* missing = find(c, "trial");
  REQUIRE(missing);
  CHECK(missing->verdict == Verdict::fail);
  CHECK(missing->trial.find("shortgpt n=2") != std::string::npos);
  CHECK(missing->reason.find("no matching trial") != std::string::npos);
  CHECK(c.failures() == 1);
  CHECK(c.notes.size() == 2);  // two candidate trials without a base trial
}

TEST_CASE("compare: two databases, and JUnit XML with the failure") {
  TempDir tmp;
  const std::string a = tmp.file("night1.db"), b = tmp.file("night2.db"), junit = tmp.file("out/junit.xml");
  std::filesystem::create_directories(tmp.path() / "out");
  {
    ResultStore s = ResultStore::open(a);
    add_trial(s, add_run(s), {}, make_samples(200));
  }
  {
    ResultStore s = ResultStore::open(b);
    add_run(s);  // run 1 is something else; the candidate is run 2
    auto cand = make_samples(200);
    flip_to_wrong(cand, 30);
    add_trial(s, add_run(s), {}, cand);
  }
  CompareArgs args;
  args.base = "1", args.candidate = "2", args.base_db = a, args.candidate_db = b, args.junit = junit;
  CHECK(cmd_compare(args) == 1);
  pugi::xml_document doc;
  REQUIRE(doc.load_file(junit.c_str()));
  pugi::xml_node suite = doc.child("testsuites").child("testsuite");
  REQUIRE(suite);
  CHECK(suite.attribute("failures").as_int() == 2);  // acc and acc_norm
  CHECK(suite.attribute("tests").as_int() == 5);
  int testcases = 0;
  pugi::xml_node failed;
  for (pugi::xml_node tc : suite.children("testcase")) {
    ++testcases;
    if (std::string(tc.attribute("name").value()) == "acc") failed = tc;
  }
  CHECK(testcases == 5);
  REQUIRE(failed);
  pugi::xml_node f = failed.child("failure");
  REQUIRE(f);
  const std::string msg = f.attribute("message").value();
  CHECK(msg.find("acc") != std::string::npos);
  CHECK(msg.find("p=") != std::string::npos);
  CHECK(std::string(failed.attribute("classname").value()).find("full") != std::string::npos);
  CHECK(!std::filesystem::exists(junit + ".tmp." + std::to_string(::getpid())));
}

TEST_CASE("compare: run lists and bad input") {
  CHECK(parse_run_list("7") == std::vector<int64_t>{7});
  CHECK(parse_run_list("7,9") == std::vector<int64_t>{7, 9});
  CHECK(parse_run_list("7-9,12") == std::vector<int64_t>{7, 8, 9, 12});
  for (const char* bad : {"", "x", "7,", "-3", "0", "9-7", "7-", "1.5", "7 8"})
    CHECK_THROWS_AS(parse_run_list(bad), Error);
  TempDir tmp;
  CompareArgs a;
  a.base = "1", a.candidate = "2", a.db = tmp.file("missing.db");
  CHECK_THROWS_WITH(cmd_compare(a), Catch::Contains("missing.db") && Catch::Contains("no results database"));
  Pair p(make_samples(20));
  a.db = p.db, a.candidate = "99";
  CHECK_THROWS_WITH(cmd_compare(a), Catch::Contains("no run 99"));
  // A file that is not a results database.
  const std::string junk = tmp.file("junk.db");
  std::ofstream(junk) << "not sqlite at all";
  a.db = junk, a.candidate = "1";
  CHECK_THROWS_WITH(cmd_compare(a), Catch::Contains("not an eebench results database"));
  a.db = p.db, a.options.alpha = 0;
  CHECK_THROWS_AS(cmd_compare(a), Error);
}

TEST_CASE("compare: generation trials (no gold) compare time and depth only") {
  auto gen = make_samples(40);
  for (auto& s : gen) s.gold = -1, s.pred = -1, s.pred_norm = -1, s.loglik.clear();
  TempDir tmp;
  const std::string db = tmp.file("g.db");
  ResultStore s = ResultStore::open(db);
  const int64_t a = add_run(s), b = add_run(s);
  TrialSpec spec;
  spec.strategy = "layerskip", spec.task = "prompts", spec.params = {{"draft", 4}, {"exit_layer", 6}};
  add_trial(s, a, spec, gen);
  add_trial(s, b, spec, gen);
  Comparison c = compare_runs(s, {a}, s, {b}, {});
  CHECK(!find(c, "acc"));
  CHECK(find(c, "time"));
  CHECK(c.failures() == 0);
}

TEST_CASE("compare: times are paired by document (a consistent slowdown hidden in the spread)") {
  // Documents whose times span two orders of magnitude, each 6 % slower in the candidate: every
  // pair says "slower", while the two unpaired distributions overlap almost entirely.
  auto spread = [](double factor) {
    auto xs = make_samples(200);
    for (auto& s : xs) {
      const double t = 1e-3 * (1 + (s.doc_index * 37) % 100) * factor;
      s.seconds = t;
      s.extra["t_strategy"] = {t, t, t};
    }
    return xs;
  };
  TempDir tmp;
  const std::string db = tmp.file("r.db");
  int64_t base = 0, cand = 0;
  {
    ResultStore s = ResultStore::open(db);
    base = add_run(s);
    add_trial(s, base, TrialSpec{}, spread(1.0));
    cand = add_run(s);
    add_trial(s, cand, TrialSpec{}, spread(1.06));
  }
  ResultStore s = ResultStore::open(db);
  Comparison c = compare_runs(s, {base}, s, {cand}, CompareOptions{});
  const Check* t = find(c, "time");
  REQUIRE(t);
  CHECK(t->change == "+6.0%");
  CHECK(t->method == "Wilcoxon signed-rank asymptotic");
  CHECK(t->p < 1e-10);
  CHECK(t->verdict == Verdict::fail);
  // The unpaired test on the same numbers sees nothing, which is why it is not used.
  std::vector<double> a, b;
  for (const auto& x : spread(1.0)) a.push_back(x.seconds);
  for (const auto& x : spread(1.06)) b.push_back(x.seconds);
  CHECK(mann_whitney(b, a).p > 0.2);
}
