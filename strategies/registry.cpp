#include <algorithm>

#include "core/error.h"
#include "core/registry.h"
#include "strategies/builtin.h"

namespace eeb {

namespace {
std::vector<StrategyInfo>& registry() {
  static std::vector<StrategyInfo> r = {
      {"full", "full depth: every layer in order (baseline)", make_full},
      {"oracle", "earliest layer after which the prediction never changes (upper bound)", make_oracle},
      {"static", "always exit after layer k {layer}", make_static},
      {"confidence", "exit when the logit lens's top probability >= tau {tau}", make_confidence},
      {"shortgpt", "remove the n layers with the lowest Block Influence {n, calib_*}", make_shortgpt},
      {"angular", "remove the n-layer block with the smallest angular distance {n, calib_*}", make_angular},
      {"lesion", "delete layer i or swap i and i+1 {op: delete|swap, layer}", make_lesion},
      {"layerskip", "self-speculative decoding: draft with E layers, verify with the rest {exit_layer, draft}", make_layerskip},
      {"adainfer", "SVM on logit-lens features (gap, top prob) decides to stop {classifier, threshold, ...}", make_adainfer},
  };
  return r;
}
}  // namespace

const std::vector<StrategyInfo>& strategy_registry() { return registry(); }

void register_strategy(StrategyInfo info) {
  if (info.name.empty() || !info.make) throw Error("register_strategy: needs a name and a factory");
  for (const auto& s : registry())
    if (s.name == info.name) throw Error("register_strategy: strategy '" + info.name + "' already exists");
  registry().push_back(std::move(info));
}

const char* aggregation_name(Aggregation a) {
  switch (a) {
    case Aggregation::mean: return "mean";
    case Aggregation::sum: return "sum";
    case Aggregation::ratio_of_sums: return "ratio of sums";
    case Aggregation::hypothetical: return "hypothetical (mean)";
  }
  return "?";
}

std::unique_ptr<Strategy> make_strategy(const std::string& name, const nlohmann::json& params) {
  const auto& r = strategy_registry();
  const auto& info = find_by_name(r, name, "strategy");
  if (params.is_null()) return info.make(nlohmann::json::object());
  if (!params.is_object()) throw Error("strategy " + name + ": parameters must be a JSON object");
  return info.make(params);
}

const Tokenizer& RunContext::tokenizer() const {
  if (!tokenizer_) throw Error("this strategy needs a tokenizer, and the run has none");
  return *tokenizer_;
}

SampleRecord Strategy::generate(RunContext&, const Request&, int) {
  throw Error("strategy " + name() + " does not support generation tasks");
}

}  // namespace eeb
