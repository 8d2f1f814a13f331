#include "harness/sweep.h"

#include "core/error.h"

namespace eeb {

static std::vector<nlohmann::json> sweep_values(const std::string& spec, const std::string& text) {
  std::vector<nlohmann::json> out;
  auto colon = text.find(':');
  if (colon != std::string::npos && text.find(',') == std::string::npos) {
    try {
      size_t p1 = 0, p2 = 0;
      long a = std::stol(text.substr(0, colon), &p1), b = std::stol(text.substr(colon + 1), &p2);
      if (p1 != colon || p2 != text.size() - colon - 1) throw std::invalid_argument("range");
      if (b < a || b - a > 100000) throw Error("--sweep " + spec + ": empty or huge range");
      for (long v = a; v <= b; ++v) out.push_back(v);
      return out;
    } catch (const std::logic_error&) {
      throw Error("--sweep " + spec + ": a range is INT:INT");
    }
  }
  size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    std::string v = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (v.empty()) throw Error("--sweep " + spec + ": empty value");
    auto j = nlohmann::json::parse(v, nullptr, false);
    out.push_back(j.is_discarded() ? nlohmann::json(v) : j);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<nlohmann::json> expand_sweep(const nlohmann::json& base,
                                         const std::vector<std::string>& sweeps) {
  if (!base.is_object() && !base.is_null()) throw Error("strategy parameters must be a JSON object");
  std::vector<nlohmann::json> out{base.is_null() ? nlohmann::json::object() : base};
  for (const auto& s : sweeps) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      throw Error("--sweep " + s + ": expected KEY=V1,V2,... or KEY=A:B");
    const std::string key = s.substr(0, eq);
    auto values = sweep_values(s, s.substr(eq + 1));
    std::vector<nlohmann::json> next;
    for (const auto& p : out)
      for (const auto& v : values) {
        auto q = p;
        q[key] = v;
        next.push_back(q);
      }
    out = std::move(next);
  }
  return out;
}

}  // namespace eeb
