#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <iostream>

#include "tests/skip.h"

namespace {

// Prints the marker ctest's SKIP_REGULAR_EXPRESSION looks for, only for a case that called EEB_SKIP
// with no failed assertion (a failure before the skip must stay a failure).
struct SkipListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(const Catch::TestCaseInfo&) override { eeb::testing::skip_reason().clear(); }
  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    const std::string& why = eeb::testing::skip_reason();
    if (!why.empty() && stats.totals.assertions.failed == 0)
      std::cout << "SKIPPED: " << stats.testInfo.name << ": " << why << std::endl;
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(SkipListener)
