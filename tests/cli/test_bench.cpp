// eebench bench: the numbers it prints are consistent with the shape it ran and with each other.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

using namespace eeb::testing;
using nlohmann::json;

TEST_CASE("eebench bench --json: weight bytes from the shape, rates and shares consistent", "[bench]") {
  auto r = run_cmd("bench --shape tiny --tokens 32 --reps 1 --threads 1 --json");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const json j = json::parse(r.output.substr(r.output.find('{')));
  // The tiny shape: dim 256, hidden 688, 8 heads x 32, 4 kv heads x 32, 4 layers, vocab 4096; f32.
  const double D = 256, H = 688, q = 8 * 32, kv = 4 * 32;
  const double bytes = 4 * (4 * (D * (q + 2 * kv) + q * D + 3 * D * H) + 4096 * D);
  CHECK(j["model"]["n_layers"] == 4);
  CHECK(j["dtype"] == "f32");
  CHECK(j["decode"]["weight_gb_per_token"].get<double>() == Approx(bytes * 1e-9));
  const double s = j["decode"]["seconds_per_token"];
  CHECK(s > 0);
  CHECK(j["decode"]["tokens_per_s"].get<double>() == Approx(1 / s));
  CHECK(j["decode"]["weight_gbs"].get<double>() == Approx(bytes * 1e-9 / s));
  CHECK(j["decode"]["share_of_copy"].get<double>() ==
        Approx(j["decode"]["weight_gbs"].get<double>() / j["ceilings"]["copy_gbs"].get<double>()));
  CHECK(j["prefill"]["tokens_per_s"].get<double>() == Approx(32 / j["prefill"]["seconds"].get<double>()));
  CHECK(j["prefill"]["share_of_gemm"].get<double>() ==
        Approx(j["prefill"]["tflops"].get<double>() / j["ceilings"]["gemm_tflops"].get<double>()));
  // The f32 ceiling is the faster of the two libraries on the shape, named with it.
  const std::string gemm = j["ceilings"]["gemm"];
  CHECK((gemm == "oneDNN sgemm 32x688x256" || gemm.rfind("OpenBLAS sgemm (", 0) == 0));
  CHECK(gemm.find("32x688x256") != std::string::npos);
  CHECK(j["ceilings"]["copy_gbs"].get<double>() > 0.1);
}

TEST_CASE("eebench bench: unusable requests are one error line", "[bench]") {
  auto cuda = run_cmd("bench --backend cuda --shape tiny --tokens 8");
  // Here (no GPU, or no CUDA build) it must be a clean error; on a GPU machine it measures.
  if (cuda.status != 0) {
    CHECK(cuda.status == 2);
    CHECK_THAT(cuda.output, Catch::StartsWith("eebench: error: "));
    CHECK(std::count(cuda.output.begin(), cuda.output.end(), '\n') == 1);
  }
  auto big = run_cmd("bench --shape 7b --layers 1000 --tokens 8");
  CHECK(big.status == 2);
  CHECK_THAT(big.output, Catch::Contains("GB of host memory") && Catch::Contains("available"));
  auto toks = run_cmd("bench --shape tiny --tokens 5000");
  CHECK(toks.status == 2);
  CHECK_THAT(toks.output, Catch::Contains("--tokens must be in [1, 4095]"));
}
