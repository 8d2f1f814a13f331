// The one way a test says "not run here" (no ../shared/data, no GPU, no chromium, no python).
// EEB_SKIP(why) records the reason and returns from the test case; at the end of the case the
// listener in tests/catch_main.cpp prints "SKIPPED: <why>" unless an assertion failed, and ctest
// counts an output with "SKIPPED:" as skipped (SKIP_REGULAR_EXPRESSION in CMakeLists.txt), not passed.
// Catch2 v2 has no SKIP of its own.
#pragma once
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

namespace eeb::testing {

inline std::string& skip_reason() {
  static std::string why;
  return why;
}

}  // namespace eeb::testing

#define EEB_SKIP(why)                                  \
  do {                                                 \
    std::ostringstream eeb_skip_os_;                   \
    eeb_skip_os_ << why;                               \
    eeb::testing::skip_reason() = eeb_skip_os_.str();  \
    return;                                            \
  } while (0)
