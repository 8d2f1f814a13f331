// eebench run / show / logits end to end on the shared 12-layer model, checked against the naive
// float64 reference forward (tests/cpu/reference.h) and an independent lm-eval-style scoring.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "tasks/task.h"
#include "tests/cli/cli_util.h"
#include "tests/cpu/reference.h"
#include "tests/test_data.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

std::vector<std::pair<int, int>> stored_preds(const std::string& db) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "SELECT doc_index, pred FROM samples ORDER BY doc_index", -1, &s, nullptr) == SQLITE_OK);
  std::vector<std::pair<int, int>> out;
  while (sqlite3_step(s) == SQLITE_ROW) out.push_back({sqlite3_column_int(s, 0), sqlite3_column_int(s, 1)});
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

// Reference log-likelihood of continuation `cont` after `ctx` at full depth (float64).
double ref_loglik(const RefModel& rm, std::vector<int32_t> seq, size_t n_ctx) {
  const int n = static_cast<int>(seq.size());
  auto hs = ref_hiddens(rm, seq, testing::all_layers(rm.c.n_layers));
  auto lg = ref_logits(rm, hs.back(), n);
  const int V = rm.c.vocab_size;
  double s = 0;
  for (int j = static_cast<int>(n_ctx); j < n; ++j) {
    const double* row = &lg[size_t(j - 1) * V];
    double mx = *std::max_element(row, row + V), z = 0;
    for (int i = 0; i < V; ++i) z += std::exp(row[i] - mx);
    s += row[seq[j]] - mx - std::log(z);
  }
  return s;
}

}  // namespace

TEST_CASE("eebench run sst2 full: predictions equal the float64 reference on every sample", "[cli]") {
  SKIP_WITHOUT_DATA();
  const std::string model = shared_data() + "/models/sst-lm-12L";
  const std::string data = shared_data() + "/datasets";
  const std::string dir = temp_dir("cli_run");
  const std::string db = dir + "/r.db";
  auto r = run_cmd("run -m " + q(model) + " -t sst2 -s full -d " + q(data) + " --limit 24 --reps 1 --warmup 0 --db " + q(db));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("acc") != std::string::npos);
  auto preds = stored_preds(db);
  REQUIRE(preds.size() == 24);

  // Independent scoring: the reference forward on encode(context + continuation), lm-eval style.
  auto m = load_model(model);
  RefModel rm(m);
  auto tok = Tokenizer::from_file(model + "/tokenizer.model");
  auto task = make_task("sst2");
  TaskOptions to;
  to.data_dir = data;
  to.limit = 24;
  auto docs = task->load(to);
  for (int i = 0; i < 24; ++i) {
    std::vector<double> ll;
    for (const auto& choice : docs[i].choices) {
      std::vector<int32_t> ctx{tok->bos()}, whole{tok->bos()};
      for (int t : tok->encode(docs[i].context)) ctx.push_back(t);
      for (int t : tok->encode(docs[i].context + choice)) whole.push_back(t);
      ll.push_back(ref_loglik(rm, whole, ctx.size()));
    }
    int ref_pred = ll[1] > ll[0] ? 1 : 0;
    INFO("doc " << i << " ll " << ll[0] << " " << ll[1]);
    CHECK(preds[i].first == i);
    CHECK(preds[i].second == ref_pred);
  }
  auto show = run_cmd("show 1 --db " + q(db));
  CHECK(show.status == 0);
  CHECK(show.output.find("pruning_ratio") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("eebench logits: per-layer probabilities equal the reference to 1e-4", "[cli]") {
  SKIP_WITHOUT_DATA();
  const std::string model = shared_data() + "/models/sst-lm-12L";
  auto r = run_cmd("logits -m " + q(model) + " --prompt " + q("a gorgeous , witty film\nQuestion: Is this sentence positive or negative?\nAnswer:") + " --top 3 --json");
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.output);
  auto m = load_model(model);
  RefModel rm(m);
  auto tokens = j["tokens"].get<std::vector<int32_t>>();
  const int n = static_cast<int>(tokens.size()), V = m.cfg.vocab_size;
  auto hs = ref_hiddens(rm, tokens, testing::all_layers(m.cfg.n_layers));
  REQUIRE(j["layers"].size() == 12);
  for (int l = 1; l <= 12; ++l) {
    auto lg = ref_logits(rm, hs[l], n);
    const double* row = &lg[size_t(n - 1) * V];
    double mx = *std::max_element(row, row + V), z = 0;
    for (int i = 0; i < V; ++i) z += std::exp(row[i] - mx);
    for (const auto& t : j["layers"][l - 1]["top"]) {
      double p = std::exp(row[t["id"].get<int>()] - mx) / z;
      CHECK(t["prob"].get<double>() == Approx(p).margin(1e-4));
    }
  }
}

TEST_CASE("eebench answers bad input with one error line and a non-zero exit", "[cli]") {
  const std::string dir = temp_dir("cli_bad");
  auto expect_error = [&](const std::string& args, const std::string& phrase) {
    auto r = run_cmd(args);
    INFO(args << "\n" << r.output);
    CHECK(r.status != 0);
    CHECK(r.status < 128);  // not a signal
    CHECK(r.output.find(phrase) != std::string::npos);
    CHECK(r.output.find("error") != std::string::npos);
  };
  // The task loads before the model (a bad task file stores no run), so these have valid data.
  std::filesystem::create_directories(dir + "/good/sst2");
  std::ofstream(dir + "/good/sst2/dev.tsv") << "sentence\tlabel\ngood film \t1\n";
  const std::string good = " -d " + q(dir + "/good");
  expect_error("run -m /nonexistent/model -t sst2" + good + " --db " + q(dir + "/a.db"), "/nonexistent/model");
  expect_error("run -m x -t nosuchtask --db " + q(dir + "/a.db"), "unknown task 'nosuchtask'");
  expect_error("run -m x -t sst2 -s nosuch --db " + q(dir + "/a.db"), "unknown strategy 'nosuch'");
  expect_error("run -m x -t sst2 -p '[1]' --db " + q(dir + "/a.db"), "--params");
  expect_error("run -m x -t sst2 -b tpu --db " + q(dir + "/a.db"), "tpu");
  {
    std::ofstream(dir + "/junk.bin") << "this is not a model";
    expect_error("run -m " + q(dir + "/junk.bin") + " -t sst2" + good + " --db " + q(dir + "/a.db"), "junk.bin");
  }
  {
    std::ofstream(dir + "/not.db") << "definitely not sqlite, but long enough to have a header";
    expect_error("list runs --db " + q(dir + "/not.db"), "not.db");
  }
  if (have_shared_data()) {
    std::filesystem::create_directories(dir + "/data/sst2");
    std::ofstream(dir + "/data/sst2/dev.tsv") << "sentence\tlabel\ngood film \t1\nbad row without label\n";
    expect_error("run -m " + q(shared_data() + "/models/sst-lm-12L") + " -t sst2 -d " + q(dir + "/data") +
                     " --db " + q(dir + "/a.db"),
                 "dev.tsv:3");
  }
  std::filesystem::remove_all(dir);
}
