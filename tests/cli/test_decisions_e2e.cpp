// Issue 10, defects 1 and 3 through the CLI: one spec, one strategy setting, two models. Each trial
// stores its own decision (trials.decision), equal to what a run of that model alone decides (so no
// calibration leaks from the first model to the second), and the report lists both.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model.h"
#include "tests/cli/cli_util.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"
#include "tests/test_data.h"

using namespace eeb::testing;

namespace {

std::vector<std::string> column(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  std::vector<std::string> out;
  while (sqlite3_step(s) == SQLITE_ROW)
    out.push_back(sqlite3_column_text(s, 0) ? reinterpret_cast<const char*>(sqlite3_column_text(s, 0)) : "");
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

const char* kDecisionSql =
    "SELECT decision FROM trials ORDER BY id";  // spec order: models[0], then models[1]

}  // namespace

TEST_CASE("shortgpt on two models: one decision per trial, each the model's own", "[e2e][decisions]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("decisions");
  // The shared model, and random weights of its shape with its tokenizer (sst-lm-12L-2k would not
  // do: its weights are the same bytes).
  const std::string shared = shared_data() + "/models/sst-lm-12L";
  const std::string models[2] = {shared, dir + "/random-12L"};
  {
    eeb::Model m = eeb::load_model(shared);
    write_hf_dir(eeb::testing::random_model(m.cfg, 77), models[1], eeb::DType::F32);
    std::filesystem::copy_file(shared + "/tokenizer.model", models[1] + "/tokenizer.model");
  }
  auto spec = [&](const std::string& file, std::vector<std::string> ms) {
    std::ofstream f(dir + "/" + file);
    f << "[run]\nreps = 1\nwarmup = 0\ndata = \"" << shared_data() << "/datasets\"\n";
    for (const auto& m : ms) f << "[[model]]\npath = \"" << m << "\"\n";
    f << "[[task]]\nname = \"sst2\"\nlimit = 4\n";
    f << "[[strategy]]\nname = \"shortgpt\"\nparams = { n = 3, calib_size = 12 }\n";
    return q(dir + "/" + file);
  };
  auto both = run_cmd("run -q " + spec("both.toml", {models[0], models[1]}) + " --db " + q(dir + "/both.db"));
  INFO(both.output);
  REQUIRE(both.status == 0);
  const auto stored = column(dir + "/both.db", kDecisionSql);
  REQUIRE(stored.size() == 2);
  const auto d0 = nlohmann::json::parse(stored[0]), d1 = nlohmann::json::parse(stored[1]);
  REQUIRE(d0["scores"].size() == 12);
  CHECK(d0["scores"] != d1["scores"]);  // two models, two measurements
  // Each equals a fresh process's measurement of that model alone.
  for (int k = 0; k < 2; ++k) {
    const std::string db = dir + "/alone" + std::to_string(k) + ".db";
    auto alone = run_cmd("run -q " + spec("alone" + std::to_string(k) + ".toml", {models[k]}) + " --db " + q(db));
    INFO(alone.output);
    REQUIRE(alone.status == 0);
    const auto own = column(db, kDecisionSql);
    REQUIRE(own.size() == 1);
    CHECK(nlohmann::json::parse(own[0]) == (k == 0 ? d0 : d1));
  }
  // The report shows both trials' removed layers.
  auto report = run_cmd("report --db " + q(dir + "/both.db"));
  INFO(report.output);
  REQUIRE(report.status == 0);
  CHECK_THAT(report.output, Catch::Contains("Strategy decisions"));
  for (const auto& d : {d0, d1}) CHECK_THAT(report.output, Catch::Contains("removed=" + d["removed"].dump()));
  std::filesystem::remove_all(dir);
}
