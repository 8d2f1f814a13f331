// LayerSkip end to end: an E × d sweep on a generation task the test writes itself; every output
// must equal full-depth greedy (checked by the runner per sample) and the metrics must be stored.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/cli/cli_util.h"
#include "tests/test_data.h"

using namespace eeb::testing;

namespace {

std::vector<std::vector<double>> rows(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  std::vector<std::vector<double>> out;
  while (sqlite3_step(s) == SQLITE_ROW) {
    std::vector<double> r;
    for (int c = 0; c < sqlite3_column_count(s); ++c) r.push_back(sqlite3_column_double(s, c));
    out.push_back(r);
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

}  // namespace

TEST_CASE("layerskip E x d sweep: token-identical to greedy, acceptance and speedup stored", "[e2e]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("e2e_ls");
  std::filesystem::create_directories(dir + "/data/prompts");
  {
    std::ofstream f(dir + "/data/prompts/test.jsonl");
    f << R"({"prompt": "a gorgeous , witty , seductive movie . \nQuestion: Is this sentence positive or negative?\nAnswer:", "reference": "positive"})" "\n";
    f << R"({"prompt": "the plot is nothing but boilerplate clichés", "reference": "negative"})" "\n";
    f << "\n";
    f << R"({"prompt": "it 's a charming and often affecting journey .", "reference": "it is charming"})" "\n";
  }
  const std::string db = dir + "/r.db";
  auto r = run_cmd("run -q -m " + q(shared_data() + "/models/sst-lm-12L") + " -t prompts -s layerskip -d " +
                   q(dir + "/data") + " --sweep exit_layer=2,6 --sweep draft=1,3 --max-new-tokens 12 --reps 1 "
                   "--warmup 0 --db " + q(db));
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto m = rows(db,
                "SELECT json_extract(s.params,'$.exit_layer'), json_extract(s.params,'$.draft'),"
                " (SELECT value FROM metrics WHERE trial_id=t.id AND name='exact_match_full'),"
                " (SELECT value FROM metrics WHERE trial_id=t.id AND name='acceptance_rate'),"
                " (SELECT value FROM metrics WHERE trial_id=t.id AND name='speedup'),"
                " (SELECT value FROM metrics WHERE trial_id=t.id AND name='mean_accepted_tokens'),"
                " (SELECT count(*) FROM samples WHERE trial_id=t.id)"
                " FROM trials t JOIN strategies s ON s.id=t.strategy_id ORDER BY t.id");
  REQUIRE(m.size() == 4);
  for (const auto& row : m) {
    INFO("E " << row[0] << " d " << row[1]);
    CHECK(row[2] == 1.0);  // every sample token-identical to full-depth greedy
    CHECK(row[3] >= 0.0);
    CHECK(row[3] <= 1.0);
    CHECK(row[4] > 0.0);
    CHECK(row[5] <= row[1]);
    CHECK(row[6] == 3);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("summarisation layouts: CNN/DailyMail fields, template and ROUGE stored", "[e2e]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("e2e_cnn");
  std::filesystem::create_directories(dir + "/data/cnn_dailymail");
  std::ofstream(dir + "/data/cnn_dailymail/test.jsonl")
      << R"({"article": "the film is a delight from start to finish .", "highlights": "a delight"})" "\n";
  const std::string db = dir + "/r.db";
  auto r = run_cmd("run -q -m " + q(shared_data() + "/models/sst-lm-12L") + " -t cnn_dailymail -s full -d " +
                   q(dir + "/data") + " --max-new-tokens 8 --reps 1 --warmup 0 --db " + q(db));
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto m = rows(db, "SELECT count(*) FROM metrics WHERE name IN ('rouge2','rougeL','exact_match_full')");
  CHECK(m[0][0] == 3);
  std::ofstream(dir + "/data/cnn_dailymail/test.jsonl") << R"({"document": "wrong layout"})" "\n";
  auto bad = run_cmd("run -q -m " + q(shared_data() + "/models/sst-lm-12L") + " -t cnn_dailymail -d " +
                     q(dir + "/data") + " --db " + q(db));
  CHECK(bad.status == 2);
  CHECK(bad.output.find("test.jsonl:1: missing string field \"article\"") != std::string::npos);
  std::filesystem::remove_all(dir);
}
