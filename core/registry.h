// Lookup by name in a registry (strategies, tasks, backends): one place for the
// "unknown strategy 'x' (known: a, b, c)" message, so every registry refuses a typo the same way.
#pragma once
#include <string>
#include <vector>

#include "core/error.h"
#include "core/strings.h"

namespace eeb {

// Entries are anything with a `name` member convertible to std::string. Throws Error naming the
// kind ("strategy", "task", "backend") and every known name.
template <class Range>
auto& find_by_name(Range& entries, const std::string& name, const std::string& kind) {
  std::vector<std::string> known;
  for (auto& e : entries) {
    if (std::string(e.name) == name) return e;
    known.push_back(e.name);
  }
  throw Error("unknown " + kind + " '" + name + "' (known: " + join(known, ", ") + ")");
}

}  // namespace eeb
