#include <algorithm>

#include "harness/error.h"
#include "strategies/builtin.h"

namespace eeb {

const std::vector<StrategyInfo>& strategy_registry() {
  static const std::vector<StrategyInfo> r = {
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

std::unique_ptr<Strategy> make_strategy(const std::string& name, const nlohmann::json& params) {
  const auto& r = strategy_registry();
  auto it = std::find_if(r.begin(), r.end(), [&](const auto& s) { return s.name == name; });
  if (it == r.end()) {
    std::string known;
    for (const auto& s : r) known += (known.empty() ? "" : ", ") + s.name;
    throw Error("unknown strategy '" + name + "' (known: " + known + ")");
  }
  if (params.is_null()) return it->make(nlohmann::json::object());
  if (!params.is_object()) throw Error("strategy " + name + ": parameters must be a JSON object");
  return it->make(params);
}

const Tokenizer& RunContext::tokenizer() const {
  if (!tokenizer_) throw Error("this strategy needs a tokenizer, and the run has none");
  return *tokenizer_;
}

SampleRecord Strategy::generate(RunContext&, const Request&, int) {
  throw Error("strategy " + name() + " does not support generation tasks");
}

void check_params(const nlohmann::json& params, std::initializer_list<const char*> known,
                  const std::string& strategy) {
  for (auto it = params.begin(); it != params.end(); ++it) {
    bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; });
    if (!ok) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      throw Error("strategy " + strategy + ": unknown parameter '" + it.key() + "'" +
                  (list.empty() ? " (it takes none)" : " (known: " + list + ")"));
    }
  }
}

}  // namespace eeb
