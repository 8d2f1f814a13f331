// Parameter sweeps: "--sweep n=0:11 --sweep exit_layer=2,4,6" expands the strategy's parameters into
// the cartesian product, one trial each. "a:b" is the inclusive integer range; values that parse as
// JSON (numbers, true/false, quoted strings) are used as such, anything else as a string.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace eeb {

std::vector<nlohmann::json> expand_sweep(const nlohmann::json& base,
                                         const std::vector<std::string>& sweeps);

}  // namespace eeb
