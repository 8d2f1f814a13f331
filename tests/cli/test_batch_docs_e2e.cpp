// `eebench run --batch-docs N` on the shared 12-layer model and SST-2: the same predictions and
// log-likelihoods (within 1e-4 nats) as one document at a time, the same counted work in total,
// the batch size on every sample, the baseline beside a strategy batched too, and the setting
// stored with the run; a strategy that decides per document keeps the one-document path.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "harness/spec_file.h"
#include "tests/cli/cli_util.h"
#include "tests/cli/db_rows.h"
#include "tests/test_data.h"

using namespace eeb::testing;
using nlohmann::json;

namespace {

struct Sample {
  int pred;
  std::vector<double> loglik;
  json extra;
};

// Every sample of the run's one trial, by document index.
std::map<int, Sample> samples(const std::string& db) {
  std::map<int, Sample> out;
  for (const auto& r : rows(db, "SELECT doc_index, pred, loglik, extra FROM samples"))
    out[std::stoi(r[0])] = {std::stoi(r[1]), json::parse(r[2]).get<std::vector<double>>(), json::parse(r[3])};
  return out;
}

std::string run(const std::string& dir, const std::string& name, const std::string& args) {
  const std::string db = dir + "/" + name + ".db";
  auto r = run_cmd("run -q -m " + q(shared_data() + "/models/sst-lm-12L") + " -t sst2 -d " +
                   q(shared_data() + "/datasets") + " --limit 40 --db " + q(db) + " " + args);
  INFO(r.output);
  REQUIRE(r.status == 0);
  return db;
}

void check_same_scores(const std::map<int, Sample>& a, const std::map<int, Sample>& b) {
  REQUIRE(a.size() == 40);
  REQUIRE(b.size() == a.size());
  for (const auto& [i, s] : a) {
    INFO("document " << i);
    const Sample& t = b.at(i);
    CHECK(t.pred == s.pred);
    REQUIRE(t.loglik.size() == s.loglik.size());
    for (size_t c = 0; c < s.loglik.size(); ++c) CHECK(std::fabs(t.loglik[c] - s.loglik[c]) <= 1e-4);
  }
}

double sum_of(const std::map<int, Sample>& s, const char* key) {
  double x = 0;
  for (const auto& [i, v] : s) x += v.extra.at(key).get<double>();
  return x;
}

}  // namespace

TEST_CASE("run --batch-docs 4 gives the one-document scores on SST-2 (full, static with its baseline)", "[e2e][batch]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("batch_docs");
  const std::string db1 = run(dir, "full1", "-s full --reps 0");
  const auto full1 = samples(db1);
  const std::string db4 = run(dir, "full4", "-s full --reps 1 --warmup 1 --batch-docs 4");
  const auto full4 = samples(db4);
  check_same_scores(full1, full4);
  for (const auto& [i, s] : full4) {
    CHECK(s.extra.at("batch_size") == 4);
    CHECK(s.extra.at("t_strategy").size() == 1);
  }
  for (const auto& [i, s] : full1) CHECK_FALSE(s.extra.contains("batch_size"));
  // Work is amortised over a batch, so only totals compare: they are the same work.
  CHECK(sum_of(full4, "flops") == Approx(sum_of(full1, "flops")).epsilon(1e-9));
  CHECK(sum_of(full4, "layer_tokens") == Approx(sum_of(full1, "layer_tokens")).epsilon(1e-9));
  CHECK(rows(db4, "SELECT json_extract(spec, '$.batch_docs') FROM runs")[0][0] == "4");
  const std::string sql = "SELECT value FROM metrics WHERE name = 'batch_size' AND grp = ''";
  REQUIRE(rows(db4, sql).size() == 1);
  CHECK(std::stod(rows(db4, sql)[0][0]) == 4);
  CHECK(rows(db1, sql).empty());

  // A strategy with its baseline, batched on both sides; 40 documents = batches of 16, 16 and 8.
  const auto st1 = samples(run(dir, "static1", "-s static -p '{\"layer\": 6}' --reps 0"));
  const auto st16 = samples(run(dir, "static16", "-s static -p '{\"layer\": 6}' --reps 2 --warmup 0 --batch-docs 16"));
  check_same_scores(st1, st16);
  for (const auto& [i, s] : st16) {
    INFO("document " << i);
    CHECK(s.extra.at("batch_size") == (i < 32 ? 16 : 8));
    CHECK(s.extra.at("full_pred") == full1.at(i).pred);  // the batched baseline's prediction
    CHECK(s.extra.at("t_full").size() == 2);
    CHECK(s.extra.at("timing_order").get<std::string>().size() == 4);
  }
  CHECK(sum_of(st16, "flops_full") == Approx(sum_of(full1, "flops")).epsilon(1e-9));
}

TEST_CASE("run --batch-docs leaves a per-document exit strategy on the one-document path", "[e2e][batch]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("batch_docs_exit");
  const auto s = samples(run(dir, "conf", "-s confidence -p '{\"tau\": 0.9}' --reps 0 --batch-docs 8"));
  REQUIRE(s.size() == 40);
  for (const auto& [i, v] : s) CHECK_FALSE(v.extra.contains("batch_size"));
}

TEST_CASE("batch_docs: spec file, command line, stored spec", "[batch][spec]") {
  const std::string base = "[[model]]\npath = \"m\"\n[[task]]\nname = \"sst2\"\n[[strategy]]\nname = \"full\"\n";
  eeb::RunArgs cli;
  auto s = eeb::parse_spec("[run]\nbatch_docs = 8\n" + base, "t.toml", "/specs", cli, {});
  CHECK(s.args.batch_docs == 8);
  CHECK(eeb::RunSpec::from_json(s.to_json()).args.batch_docs == 8);
  cli.batch_docs = 2;  // named on the command line: wins over the file
  CHECK(eeb::parse_spec("[run]\nbatch_docs = 8\n" + base, "t.toml", "/specs", cli, {"batch_docs"}).args.batch_docs == 2);
  CHECK(eeb::parse_spec(base, "t.toml", "/specs", eeb::RunArgs{}, {}).args.batch_docs == 1);
  CHECK_THROWS_WITH(eeb::parse_spec("[run]\nbatch_docs = 0\n" + base, "t.toml", "/specs", eeb::RunArgs{}, {}),
                    Catch::Contains("batch_docs = 0 is out of range"));
  // A run stored before --batch-docs existed resumes one document at a time.
  auto j = s.to_json();
  j.erase("batch_docs");
  CHECK(eeb::RunSpec::from_json(j).args.batch_docs == 1);
  auto r = run_cmd("run -q -m /nonexistent -t sst2 --batch-docs 0");
  CHECK(r.status != 0);
  CHECK(r.output.find("--batch-docs") != std::string::npos);
}
