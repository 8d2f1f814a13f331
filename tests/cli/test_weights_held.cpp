// `eebench run --dtype`: what the CPU backend held the weights as is stored with the model row
// (models.config.weights_held), and the shared F32 model sst-lm-12L held as bf16 scores SST-2 close
// to its float32 run with the same predictions wherever float32's margin is clear.
#include <cmath>
#include <map>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"
#include "tests/cli/db_rows.h"
#include "tests/test_data.h"

using namespace eeb::testing;
using json = nlohmann::json;

namespace {

struct Run {
  std::string dtype_column;
  json held;
  std::vector<std::vector<double>> loglik;
};

Run run_sst2(const std::string& dir, const std::string& dtype, int limit) {
  const std::string db = dir + "/" + dtype + ".db";
  const auto r = run_cmd("run -q -m " + q(shared_data() + "/models/sst-lm-12L") + " -t sst2 -s full -d " +
                         q(shared_data() + "/datasets") + " --limit " + std::to_string(limit) +
                         " --reps 0 --warmup 0 --threads 2 --db " + q(db) + (dtype.empty() ? "" : " --dtype " + dtype));
  INFO(r.output);
  REQUIRE(r.status == 0);
  Run out;
  out.dtype_column = rows(db, "SELECT dtype FROM runs").at(0).at(0);
  out.held = json::parse(rows(db, "SELECT config FROM models").at(0).at(0)).at("weights_held");
  for (const auto& row : rows(db, "SELECT loglik FROM samples ORDER BY doc_index"))
    out.loglik.push_back(json::parse(row.at(0)).get<std::vector<double>>());
  return out;
}

}  // namespace

TEST_CASE("sst-lm-12L (F32) as stored and as bf16: held weights recorded, SST-2 scores agree", "[cli][weights]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("weights_held");
  constexpr int kDocs = 32;
  // config.json: hidden 128, intermediate 344, 12 layers, 4 heads / 2 kv heads of 32, vocab 2048,
  // untied: the embedding, the LM head and 7 matrices per layer.
  const int64_t matrices = 2 + 7 * 12;
  const uint64_t elements = 2ull * 2048 * 128 + 12ull * (2 * 128 * 128 + 2 * 64 * 128 + 3 * 344 * 128);

  const Run as_stored = run_sst2(dir, "", kDocs);  // the default: auto
  CHECK(as_stored.dtype_column == "auto");
  CHECK(as_stored.held.at("dtype") == "f32");
  CHECK(as_stored.held.at("by_type").size() == 1);
  CHECK(as_stored.held.at("by_type").at("f32") == json{{"tensors", matrices}, {"bytes", 4 * elements}});

  const Run f32 = run_sst2(dir, "f32", kDocs);
  CHECK(f32.held == as_stored.held);
  CHECK(f32.loglik == as_stored.loglik);  // the same file type held the same way: the same numbers

  const Run bf16 = run_sst2(dir, "bf16", kDocs);
  CHECK(bf16.dtype_column == "bf16");
  CHECK(bf16.held.at("dtype") == "bf16");
  CHECK(bf16.held.at("by_type").at("bf16") == json{{"tensors", matrices}, {"bytes", 2 * elements}});

  // Rounding the weights to bf16 (8 significant bits) moves each choice's log-likelihood by about
  // 0.01 nats on the whole dev set (872 documents: at most 0.0102, all predictions equal); 0.05 and
  // "same prediction wherever float32's margin exceeds 0.05 nats" hold with room.
  REQUIRE(bf16.loglik.size() == static_cast<size_t>(kDocs));
  REQUIRE(f32.loglik.size() == static_cast<size_t>(kDocs));
  int clear = 0;
  for (int i = 0; i < kDocs; ++i) {
    REQUIRE(bf16.loglik[i].size() == 2);
    for (int c = 0; c < 2; ++c) {
      INFO("doc " << i << " choice " << c << ": bf16 " << bf16.loglik[i][c] << ", f32 " << f32.loglik[i][c]);
      CHECK(std::abs(bf16.loglik[i][c] - f32.loglik[i][c]) <= 0.05);
    }
    const double margin = f32.loglik[i][0] - f32.loglik[i][1];
    if (std::abs(margin) > 0.05) {
      ++clear;
      CHECK((bf16.loglik[i][0] > bf16.loglik[i][1]) == (margin > 0));
    }
  }
  CHECK(clear > kDocs / 2);
  std::filesystem::remove_all(dir);
}
