// Issue 10, defect 10: what --limit counts is stated where a user looks (run --help), including that
// it never shrinks the calibration or AdaInfer training sets (tests/strategies/test_calibration.cpp
// checks that it does not).
#include <catch2/catch.hpp>

#include "tests/cli/cli_util.h"

using namespace eeb::testing;

TEST_CASE("run --help states --limit's meaning per task and what it never applies to", "[cli][limit]") {
  auto r = run_cmd("run --help");
  INFO(r.output);
  REQUIRE(r.status == 0);
  // CLI11 wraps long descriptions: compare with whitespace collapsed.
  std::string flat;
  for (char c : r.output) {
    const bool space = c == ' ' || c == '\n' || c == '\t';
    if (!space || (!flat.empty() && flat.back() != ' ')) flat += space ? ' ' : c;
  }
  CHECK_THAT(flat, Catch::Contains("in total for sst2 and generation tasks"));
  CHECK_THAT(flat, Catch::Contains("per subject for MMLU"));
  CHECK_THAT(flat, Catch::Contains("Never applied to shortgpt/angular calibration (calib_size) or AdaInfer training (train_size)"));
}
