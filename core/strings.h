// String helpers every layer uses (lists in messages, "a, b, c").
#pragma once
#include <string>
#include <vector>

namespace eeb {

// "sst2, mmlu"-style list.
std::string join(const std::vector<std::string>& parts, const std::string& sep);

}  // namespace eeb
