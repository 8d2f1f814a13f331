// TOML values as JSON, for the TOML files eebench reads (run specs: strategy parameters; paper
// targets: settings). Dates and times have no JSON counterpart: `unsupported(node)` is called for
// them (it should throw an error naming the line); if it returns, the value becomes null.
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

namespace eeb {

inline nlohmann::json toml_to_json(const toml::node& n, const std::function<void(const toml::node&)>& unsupported) {
  if (n.is_string()) return std::string(*n.value<std::string_view>());
  if (n.is_integer()) return *n.value<int64_t>();
  if (n.is_floating_point()) return *n.value<double>();
  if (n.is_boolean()) return *n.value<bool>();
  if (const auto* a = n.as_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : *a) j.push_back(toml_to_json(e, unsupported));
    return j;
  }
  if (const auto* t = n.as_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (auto&& [k, v] : *t) j[std::string(k.str())] = toml_to_json(v, unsupported);
    return j;
  }
  unsupported(n);
  return nullptr;
}

}  // namespace eeb
