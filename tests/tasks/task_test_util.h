// Helpers for the task tests: error-message checks (temporary folders: tests/temp_dir.h).
#pragma once
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "tests/temp_dir.h"

namespace eeb::testing {


// Runs fn, requiring an eeb::Error whose message contains every one of `parts`.
inline void require_error(const std::function<void()>& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
  } catch (const eeb::Error& e) {
    const std::string msg = e.what();
    INFO("error message: " << msg);
    for (const auto& p : parts) CHECK(msg.find(p) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
    return;
  }
  FAIL("expected an eeb::Error");
}

}  // namespace eeb::testing
