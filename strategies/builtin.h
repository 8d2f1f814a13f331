// Factories of the built-in strategies; strategies/registry.cpp lists them, one line each.
#pragma once
#include <initializer_list>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/params.h"
#include "strategies/strategy.h"

namespace eeb {


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
