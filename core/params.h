// Checking user-given parameter objects: a key nobody reads is a typo, and a typo must not silently
// run the default.
#pragma once
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

namespace eeb {

// Throws Error("<owner>: unknown parameter 'k' (known: ...)") if params has a key not in `known`;
// owner is e.g. "strategy shortgpt".
void check_params(const nlohmann::json& params, std::initializer_list<const char*> known,
                  const std::string& owner);

}  // namespace eeb
