// Where the shared test data lives: $EEBENCH_TEST_DATA, default ../shared/data next to the checkout.
// Tests that need it call SKIP_WITHOUT_DATA(): ctest reports them as skipped when it is absent.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/skip.h"

namespace eeb::testing {

inline std::string shared_data() {
  if (const char* e = std::getenv("EEBENCH_TEST_DATA")) return e;
  return std::string(EEB_SOURCE_DIR) + "/../shared/data";
}
inline bool have_shared_data() { return std::filesystem::exists(shared_data() + "/SOURCES.md"); }

}  // namespace eeb::testing

#define SKIP_WITHOUT_DATA()                                                                     \
  do {                                                                                          \
    if (!eeb::testing::have_shared_data())                                                      \
      EEB_SKIP("shared test data not found at " << eeb::testing::shared_data()                  \
                                                << " (set EEBENCH_TEST_DATA)");                \
  } while (0)
