// Helpers for the task tests: a one-document request source, error-message checks (temporary
// folders: tests/temp_dir.h).
#pragma once
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "tasks/task.h"
#include "tests/temp_dir.h"

namespace eeb::testing {

// A document with a context and its continuations (what make_request tokenizes).
inline eeb::Doc doc(const std::string& context, std::vector<std::string> choices) {
  eeb::Doc d;
  d.id = "t:0";
  d.context = context;
  d.choices = std::move(choices);
  return d;
}

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
