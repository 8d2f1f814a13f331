// The full description of an `eebench run`, stored as JSON with the run so `--resume` can rebuild it.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/cli.h"

namespace eeb {

struct RunSpec {
  RunArgs args;                          // what the user asked for
  std::vector<nlohmann::json> params;    // the expanded sweep: one strategy parameter set per trial
  nlohmann::json to_json() const;
  static RunSpec from_json(const nlohmann::json& j);  // Error on a malformed stored spec
  static RunSpec from_args(const RunArgs& a);          // parses --params, expands --sweep
};

}  // namespace eeb
