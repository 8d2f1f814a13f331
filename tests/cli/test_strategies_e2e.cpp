// Issue-level checks of the strategies on the shared 12-layer model and SST-2 dev, through the CLI
// and the SQLite store, against independent computations.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "tasks/task.h"
#include "tests/cli/cli_util.h"
#include "tests/cpu/reference.h"
#include "tests/test_data.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

double metric(const std::string& db, const std::string& strategy, const std::string& name) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  std::string sql =
      "SELECT m.value FROM metrics m JOIN trials t ON t.id = m.trial_id JOIN strategies s ON s.id = "
      "t.strategy_id WHERE s.name = ? AND m.name = ? AND m.grp = '' ORDER BY t.id DESC LIMIT 1";
  REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  sqlite3_bind_text(s, 1, strategy.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, name.c_str(), -1, SQLITE_TRANSIENT);
  double v = NAN;
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_double(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(h);
  return v;
}

std::string query_text(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  std::string out;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
    out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

}  // namespace

TEST_CASE("adainfer reaches half the oracle's pruning with < 1 point accuracy drop (SST-2 dev)", "[e2e]") {
  SKIP_WITHOUT_DATA();
  const std::string model = q(shared_data() + "/models/sst-lm-12L");
  const std::string data = q(shared_data() + "/datasets");
  const std::string dir = temp_dir("e2e_ada");
  const std::string db = q(dir + "/r.db");
  for (const char* s : {"full", "oracle", "adainfer"}) {
    auto r = run_cmd(std::string("run -q -m ") + model + " -t sst2 -s " + s + " -d " + data +
                     " --reps 1 --warmup 0 --db " + db);
    INFO(r.output);
    REQUIRE(r.status == 0);
  }
  const std::string path = dir + "/r.db";
  double acc_full = metric(path, "full", "acc"), acc_ada = metric(path, "adainfer", "acc");
  double pr_oracle = metric(path, "oracle", "oracle_pruning_ratio"), pr_ada = metric(path, "adainfer", "pruning_ratio");
  INFO("full " << acc_full << " adainfer " << acc_ada << " pruning oracle " << pr_oracle << " adainfer " << pr_ada);
  // The oracle's last-layer prediction (per-layer logit-lens scoring) equals full depth's (ordinary
  // scoring), sample by sample: two code paths that must agree.
  auto preds = [&](const std::string& strategy, const std::string& expr) {
    return nlohmann::json::parse(query_text(
        path, "SELECT json_group_array(v) FROM (SELECT " + expr + " AS v FROM samples x JOIN trials t ON "
              "t.id=x.trial_id JOIN strategies s ON s.id=t.strategy_id WHERE s.name='" + strategy +
              "' ORDER BY x.doc_index)")).get<std::vector<int>>();
  };
  auto full_preds = preds("full", "x.pred"), oracle_last = preds("oracle", "json_extract(x.extra, '$.layer_preds[11]')");
  REQUIRE(full_preds.size() == 872);
  CHECK(oracle_last == full_preds);
  CHECK(std::isnan(metric(path, "oracle", "speedup")));  // hypothetical: no cost stored
  CHECK(pr_ada >= 0.5 * pr_oracle);
  CHECK(acc_full - acc_ada < 0.01);
  CHECK(metric(path, "adainfer", "flops_speedup") > 1.0);
  // The classifier and its hash are stored with the run.
  auto resolved = nlohmann::json::parse(query_text(path, "SELECT t.decision FROM trials t JOIN strategies g ON g.id = t.strategy_id WHERE g.name='adainfer'"));
  CHECK(resolved["classifier_hash"].get<std::string>().size() == 16);
  std::filesystem::remove_all(dir);
}

TEST_CASE("shortgpt removes the lowest-BI layers and scores like a forward pass without them", "[e2e]") {
  SKIP_WITHOUT_DATA();
  const std::string model_path = shared_data() + "/models/sst-lm-12L";
  const std::string data = shared_data() + "/datasets";
  const std::string dir = temp_dir("e2e_sgpt");
  const std::string db = dir + "/r.db";
  auto r = run_cmd("run -q -m " + q(model_path) + " -t sst2 -s shortgpt -p '{\"calib_size\": 16}' --sweep n=2,4 -d " +
                   q(data) + " --limit 16 --reps 1 --warmup 0 --db " + q(db));
  INFO(r.output);
  REQUIRE(r.status == 0);

  // Independent Block Influence over the same calibration text (train split, first 16 docs:
  // context + gold continuation, BOS first), with the float64 reference.
  auto m = load_model(model_path);
  RefModel rm(m);
  auto tok = Tokenizer::from_file(model_path + "/tokenizer.model");
  auto task = make_task("sst2");
  TaskOptions to;
  to.data_dir = data;
  to.split = "train";
  to.limit = 16;
  auto calib = task->load(to);
  const int L = 12, D = m.cfg.dim;
  std::vector<double> bi(L, 0);
  double tokens = 0;
  for (const auto& d : calib) {
    std::vector<int32_t> ids{tok->bos()};
    for (int t : tok->encode(d.context + d.choices[d.gold])) ids.push_back(t);
    auto hs = ref_hiddens(rm, ids, testing::all_layers(L));
    for (int l = 0; l < L; ++l)
      for (size_t t = 0; t < ids.size(); ++t) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < D; ++i) {
          double a = hs[l][t * D + i], b = hs[l + 1][t * D + i];
          ab += a * b, aa += a * a, bb += b * b;
        }
        bi[l] += 1 - ab / std::sqrt(aa * bb);
      }
    tokens += ids.size();
  }
  std::vector<int> order(L);
  for (int i = 0; i < L; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return bi[a] < bi[b]; });
  for (int n : {2, 4}) {
    std::vector<int> expect(order.begin(), order.begin() + n);
    std::sort(expect.begin(), expect.end());
    auto resolved = nlohmann::json::parse(query_text(
        db, "SELECT t.decision FROM trials t JOIN strategies g ON g.id = t.strategy_id WHERE g.name='shortgpt' AND json_extract(g.params,'$.n')=" + std::to_string(n)));
    INFO("n " << n);
    CHECK(resolved["removed"].get<std::vector<int>>() == expect);
    // Per-sample predictions equal a reference forward without those layers.
    std::vector<int> plan;
    for (int l = 0; l < L; ++l)
      if (!std::count(expect.begin(), expect.end(), l)) plan.push_back(l);
    TaskOptions dev;
    dev.data_dir = data;
    dev.limit = 16;
    auto docs = task->load(dev);
    std::string preds_json = query_text(
        db, "SELECT json_group_array(pred) FROM (SELECT x.pred FROM samples x JOIN trials t ON t.id=x.trial_id "
            "JOIN strategies s ON s.id=t.strategy_id WHERE s.name='shortgpt' AND json_extract(s.params,'$.n')=" +
                std::to_string(n) + " ORDER BY x.doc_index)");
    auto preds = nlohmann::json::parse(preds_json).get<std::vector<int>>();
    REQUIRE(preds.size() == docs.size());
    for (size_t i = 0; i < docs.size(); ++i) {
      std::vector<double> ll;
      for (const auto& c : docs[i].choices) {
        std::vector<int32_t> ctx{tok->bos()}, whole{tok->bos()};
        for (int t : tok->encode(docs[i].context)) ctx.push_back(t);
        for (int t : tok->encode(docs[i].context + c)) whole.push_back(t);
        auto hs = ref_hiddens(rm, whole, plan);
        auto lg = ref_logits(rm, hs.back(), static_cast<int>(whole.size()));
        const int V = m.cfg.vocab_size;
        double s = 0;
        for (size_t j = ctx.size(); j < whole.size(); ++j) {
          const double* row = &lg[(j - 1) * V];
          double mx = *std::max_element(row, row + V), z = 0;
          for (int k = 0; k < V; ++k) z += std::exp(row[k] - mx);
          s += row[whole[j]] - mx - std::log(z);
        }
        ll.push_back(s);
      }
      CHECK(preds[i] == (ll[1] > ll[0] ? 1 : 0));
    }
  }
  std::filesystem::remove_all(dir);
}
