#include "harness/run_spec.h"

#include "harness/error.h"
#include "harness/sweep.h"

namespace eeb {

nlohmann::json RunSpec::to_json() const {
  const auto& a = args;
  return {{"model", a.model},     {"tokenizer", a.tokenizer}, {"task", a.task},
          {"strategy", a.strategy}, {"params", a.params},     {"backend", a.backend},
          {"data", a.data},       {"split", a.split},         {"db", a.db},
          {"dtype", a.dtype},     {"subjects", a.subjects},   {"sweeps", a.sweeps},
          {"shots", a.shots},     {"limit", a.limit},         {"threads", a.threads},
          {"reps", a.reps},       {"warmup", a.warmup},       {"max_new_tokens", a.max_new_tokens},
          {"seed", a.seed},       {"trials", params}};
}

RunSpec RunSpec::from_json(const nlohmann::json& j) {
  try {
    RunSpec s;
    auto& a = s.args;
    a.model = j.at("model");
    a.tokenizer = j.at("tokenizer");
    a.task = j.at("task");
    a.strategy = j.at("strategy");
    a.params = j.at("params");
    a.backend = j.at("backend");
    a.data = j.at("data");
    a.split = j.at("split");
    a.dtype = j.at("dtype");
    a.subjects = j.at("subjects").get<std::vector<std::string>>();
    a.sweeps = j.at("sweeps").get<std::vector<std::string>>();
    a.shots = j.at("shots");
    a.limit = j.at("limit");
    a.threads = j.at("threads");
    a.reps = j.at("reps");
    a.warmup = j.at("warmup");
    a.max_new_tokens = j.at("max_new_tokens");
    a.seed = j.at("seed");
    s.params = j.at("trials").get<std::vector<nlohmann::json>>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("stored run spec is malformed: ") + e.what());
  }
}

RunSpec RunSpec::from_args(const RunArgs& a) {
  RunSpec s;
  s.args = a;
  auto base = nlohmann::json::parse(a.params, nullptr, false);
  if (base.is_discarded() || !base.is_object())
    throw Error("--params: not a JSON object: " + a.params);
  s.params = expand_sweep(base, a.sweeps);
  return s;
}

}  // namespace eeb
