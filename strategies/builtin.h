// Factories of the built-in strategies; strategies/registry.cpp lists them, one line each.
#pragma once
#include <initializer_list>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "strategies/strategy.h"

namespace eeb {

// Throws Error if params has a key not in `known` (a typo must not silently run the default).
void check_params(const nlohmann::json& params, std::initializer_list<const char*> known,
                  const std::string& strategy);

std::unique_ptr<Strategy> make_full(const nlohmann::json& params);
std::unique_ptr<Strategy> make_oracle(const nlohmann::json& params);
std::unique_ptr<Strategy> make_static(const nlohmann::json& params);
std::unique_ptr<Strategy> make_confidence(const nlohmann::json& params);
std::unique_ptr<Strategy> make_shortgpt(const nlohmann::json& params);
std::unique_ptr<Strategy> make_angular(const nlohmann::json& params);
std::unique_ptr<Strategy> make_lesion(const nlohmann::json& params);
std::unique_ptr<Strategy> make_layerskip(const nlohmann::json& params);
std::unique_ptr<Strategy> make_adainfer(const nlohmann::json& params);

}  // namespace eeb
