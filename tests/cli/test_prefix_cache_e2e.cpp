// Issue 14's exactness check on the shared model: MMLU 5-shot on sst-lm-12L-2k (2048 positions, so
// the 5-shot contexts are not truncated and a subject's share their prefix) and SST-2 with shots,
// through the CLI and the store: with the prefix cache, every strategy's log-likelihoods are within
// 1e-4 nats of the one-document path (--no-prefix-cache) and its predictions and exits identical.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"
#include "tests/test_data.h"

using namespace eeb::testing;

namespace {

struct Row {
  std::vector<double> loglik;
  int pred = -1, pred_norm = -1;
  nlohmann::json extra;
};

// (task, strategy, doc_id) -> sample, for one run.
std::map<std::string, Row> samples_of(const std::string& db, int run) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  const char* sql =
      "SELECT k.name, s.name, x.doc_id, x.loglik, x.pred, x.pred_norm, x.extra FROM samples x "
      "JOIN trials t ON t.id = x.trial_id JOIN strategies s ON s.id = t.strategy_id "
      "JOIN tasks k ON k.id = t.task_id WHERE t.run_id = ?";
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, sql, -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_int(st, 1, run);
  std::map<std::string, Row> out;
  auto text = [&](int c) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, c))); };
  while (sqlite3_step(st) == SQLITE_ROW) {
    Row r;
    r.loglik = nlohmann::json::parse(text(3)).get<std::vector<double>>();
    r.pred = sqlite3_column_int(st, 4), r.pred_norm = sqlite3_column_int(st, 5);
    r.extra = nlohmann::json::parse(text(6));
    out[text(0) + " " + text(1) + " " + text(2)] = r;
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

}  // namespace

TEST_CASE("prefix cache: MMLU 5-shot and SST-2 few-shot give the one-document path's numbers", "[e2e]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("e2e_prefix");
  const std::string spec = dir + "/spec.toml";
  {
    std::ofstream f(spec);
    f << "[run]\ndata = \"" << shared_data() << "/datasets\"\nreps = 0\nwarmup = 0\n"
      << "[[model]]\npath = \"" << shared_data() << "/models/sst-lm-12L-2k\"\n"
      << "[[task]]\nname = \"mmlu\"\nshots = 5\nlimit = 2\nsubjects = [\"anatomy\", \"astronomy\"]\n"
      << "[[task]]\nname = \"sst2\"\nshots = 3\nlimit = 4\n"
      << "[[strategy]]\nname = \"full\"\n"
      << "[[strategy]]\nname = \"static\"\nparams = { layer = 6 }\n"
      // The dev split is MMLU's few-shot split: the exit classifier and the calibration read test docs.
      << "[[strategy]]\nname = \"adainfer\"\nparams = { train_size = 4, train_split = \"test\" }\n"
      << "tasks = [\"mmlu\"]\n"
      << "[[strategy]]\nname = \"shortgpt\"\nparams = { n = 3, calib_size = 4, calib_split = \"test\" }\n"
      << "tasks = [\"mmlu\"]\n"
      << "[[strategy]]\nname = \"adainfer\"\nparams = { train_size = 8 }\ntasks = [\"sst2\"]\n"
      << "[[strategy]]\nname = \"shortgpt\"\nparams = { n = 3, calib_size = 8 }\ntasks = [\"sst2\"]\n"
      << "[[strategy]]\nname = \"lesion\"\nparams = { op = \"swap\", layer = 4 }\n";
  }
  const std::string db = dir + "/r.db";
  // Runs 1-3: the prefix cache, the one-document path, the prefix cache with 3 documents per batch.
  for (const char* mode : {"--prefix-cache", "--no-prefix-cache", "--prefix-cache --batch-docs 3"}) {
    auto r = run_cmd("run -q " + q(spec) + " --db " + q(db) + " " + mode);
    INFO(r.output);
    REQUIRE(r.status == 0);
  }
  const auto off = samples_of(db, 2);
  REQUIRE(off.size() == 5 * (4 + 4));
  for (int run : {1, 3}) {
    INFO("run " << run);
    const auto on = samples_of(db, run);
    REQUIRE(on.size() == off.size());
    int mmlu_with_prefix = 0;
    for (const auto& [key, a] : on) {
      INFO(key);
      REQUIRE(off.count(key));
      const Row& b = off.at(key);
      REQUIRE(a.loglik.size() == b.loglik.size());
      for (size_t c = 0; c < a.loglik.size(); ++c) CHECK(std::fabs(a.loglik[c] - b.loglik[c]) < 1e-4);
      CHECK(a.pred == b.pred);
      CHECK(a.pred_norm == b.pred_norm);
      CHECK(a.extra.value("exit_layer", -1) == b.extra.value("exit_layer", -1));
      CHECK_FALSE(b.extra.contains("prefix_tokens"));
      if (key.rfind("mmlu", 0) == 0) mmlu_with_prefix += a.extra.value("prefix_tokens", 0) > 100;
    }
    // A subject's 5-shot block is shared (hundreds of tokens); SST-2 draws other shots per document.
    CHECK(mmlu_with_prefix == 5 * 4);
  }
  std::filesystem::remove_all(dir);
}
