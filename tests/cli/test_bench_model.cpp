// eebench make-model + bench --model: the file the command writes runs through the benchmark, whose
// figures agree with the shape (bytes per token, FLOPs computed here) and with each other; bad
// arguments are one error line.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

using namespace eeb::testing;
using nlohmann::json;

namespace {

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_CASE("eebench bench --model: a make-model file, figures consistent with its shape", "[bench]") {
  const std::string dir = temp_dir("bench_model");
  const std::string f = dir + "/m.gguf";
  // F32, so the bytes a decode step reads are the same whether the backend converts or maps.
  auto mk = run_cmd("make-model --shape 128,256,2,4,2,512 --dtype f32 --seed 9 --threads 1 --out " + q(f));
  INFO(mk.output);
  REQUIRE(mk.status == 0);
  const std::string out = dir + "/bench.json";
  auto r = run_cmd("bench --model " + q(f) + " --prefill 8,16 --decode 4 --context 3 --reps 2 --threads 1 --json " + q(out));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("prefill 16") && Catch::Contains("decode 4@3"));  // the table
  std::ifstream in(out);
  const json j = json::parse(in);

  const double D = 128, H = 256, q_ = 4 * 32, kv = 2 * 32, V = 512, L = 2;
  const double matrices = L * (D * (q_ + 2 * kv) + q_ * D + 3 * D * H) + V * D;  // layers + LM head
  const double norms = (2 * L + 1) * D;
  CHECK(j["model"]["n_layers"] == 2);
  CHECK(j["model"]["vocab_size"] == 512);
  CHECK(j["memory"]["weight_bytes_stored"].get<double>() == 4 * (matrices + norms + V * D));
  CHECK(j["decode"]["weight_bytes_per_token"].get<double>() == Approx(4 * (matrices + norms + D)));
  CHECK(j["decode"]["tokens"] == 4);
  CHECK(j["decode"]["context"] == 3);
  const double s = j["decode"]["seconds_per_token"];
  CHECK(s > 0);
  CHECK(j["decode"]["seconds_reps"].size() == 2);
  CHECK(j["decode"]["tokens_per_s"].get<double>() == Approx(1 / s));
  CHECK(j["decode"]["share_of_bandwidth"].get<double>() ==
        Approx(j["decode"]["weight_gbs"].get<double>() / j["ceilings"]["read_gbs"].get<double>()));
  CHECK(j["ceilings"]["read_gbs"].get<double>() > 0.1);
  REQUIRE(j["prefill"].size() == 2);
  for (const auto& p : j["prefill"]) {
    const double n = p["tokens"];
    // 2 FLOPs per multiply-add of the projections, 4 q per attended position (causal), LM head row.
    const double flops = L * (2 * n * (matrices - V * D) / L + 4 * q_ * n * (n + 1) / 2) + 2 * V * D;
    CHECK(p["flops"].get<double>() == Approx(flops));
    CHECK(p["tokens_per_s"].get<double>() == Approx(n / p["seconds"].get<double>()));
    CHECK(p["share_of_gemm"].get<double>() == Approx(p["tflops"].get<double>() / p["gemm_tflops"].get<double>()));
    CHECK(p["gemm_f32_tflops"].get<double>() > 0);
    CHECK_THAT(p["gemm"].get<std::string>(), Catch::Contains("7 shapes at M=" + std::to_string(int(n))));
  }
  // Weights are resident while they are used: the peak holds at least the stored bytes.
  CHECK(j["memory"]["peak_rss_bytes"].get<double>() >= j["memory"]["weight_bytes_stored"].get<double>());
  CHECK(j["memory"]["peak_rss_with_ceilings_bytes"].get<double>() >= j["memory"]["peak_rss_bytes"].get<double>());
  CHECK(j["machine"]["hardware_threads"].get<int>() >= 1);
  CHECK(j["machine"]["load_average_before"].size() == 3);
  std::filesystem::remove_all(dir);
}

TEST_CASE("eebench make-model / bench --model: bad arguments are one error line", "[bench]") {
  const std::string dir = temp_dir("make_model_bad");
  const std::string f = dir + "/m.gguf";
  auto check_error = [](const CmdResult& r, const std::string& text) {
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK_THAT(r.output, Catch::StartsWith("eebench: error: ") && Catch::Contains(text));
    CHECK(lines(r.output) == 1);
  };
  check_error(run_cmd("make-model --shape llama-9b --out " + q(f)), "unknown model shape 'llama-9b'");
  check_error(run_cmd("make-model --shape 64,96,2,4,2,300 --dtype q4_k --out " + q(f)), "--dtype 'q4_k' is not one of");
  check_error(run_cmd("make-model --shape 64,80,2,4,2,300 --dtype q8_0 --out " + q(f)), "not a multiple of 32");
  check_error(run_cmd("make-model --shape 64,96,2,4,2,300 --out " + q(dir + "/no/such/dir/m.gguf")), "cannot write into");
  CHECK_FALSE(std::filesystem::exists(f));
  REQUIRE(run_cmd("make-model -q --shape 64,96,2,4,2,300 --out " + q(f)).status == 0);
  check_error(run_cmd("make-model --shape 64,96,2,4,2,300 --out " + q(f)), "exists (use --force");
  CHECK(run_cmd("make-model -q --force --shape 64,96,2,4,2,300 --out " + q(f)).status == 0);
  // Only the finished file remains (the temporary name is renamed over it).
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator{}) == 1);

  check_error(run_cmd("bench --model " + q(dir + "/missing.gguf") + " --threads 1"), "missing.gguf");
  check_error(run_cmd("bench --model " + q(f) + " --prefill 4096 --threads 1"), "exceed the model's context length 2048");
  std::filesystem::remove_all(dir);
}
