#include "harness/run_spec.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "harness/sweep.h"

namespace eeb {
using nlohmann::json;

json TrialSpec::to_json() const {
  return {{"model", model},   {"tokenizer", tokenizer}, {"task", task},     {"data", data},
          {"split", split},   {"subjects", subjects},   {"shots", shots},   {"limit", limit},
          {"max_new_tokens", max_new_tokens},           {"strategy", strategy}, {"params", params}};
}

TrialSpec TrialSpec::from_json(const json& j) {
  try {
    TrialSpec t;
    t.model = j.at("model"), t.tokenizer = j.at("tokenizer");
    t.task = j.at("task"), t.data = j.at("data"), t.split = j.at("split");
    t.subjects = j.at("subjects").get<std::vector<std::string>>();
    t.shots = j.at("shots"), t.limit = j.at("limit"), t.max_new_tokens = j.at("max_new_tokens");
    t.strategy = j.at("strategy"), t.params = j.at("params");
    if (!t.params.is_object()) throw Error("params is not an object");
    return t;
  } catch (const json::exception& e) {
    throw Error(std::string("stored trial spec is malformed: ") + e.what());
  }
}

std::string TrialSpec::label() const {
  std::string s = strategy;
  if (!params.empty()) s += " " + params.dump();
  return s + " on " + task + " (" + model + ")";
}

json resolve_depth_params(const json& params, int n_layers) {
  json out = params;
  for (auto& [key, v] : out.items()) {
    if (!v.is_string()) continue;
    const std::string s = v.get<std::string>();
    if (s.rfind("depth*", 0) != 0) continue;
    size_t used = 0;
    double f = -1;
    try {
      f = std::stod(s.substr(6), &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
    if (used == 0 || used != s.size() - 6 || !(f > 0 && f < 1))
      throw Error("parameter " + key + " = \"" + s + "\": a depth-relative value is \"depth*F\" with 0 < F < 1");
    const long n = std::lround(f * n_layers);
    v = std::clamp<long>(n, 1, std::max(1, n_layers - 1));
  }
  return out;
}

json RunSpec::to_json() const {
  const auto& a = args;
  json trials_json = json::array();
  for (const auto& t : trials) trials_json.push_back(t.to_json());
  return {{"version", 2},           {"source", source},       {"file", file.is_null() ? json::object() : file},
          {"backend", a.backend},   {"dtype", a.dtype},       {"db", a.db},
          {"threads", a.threads},   {"reps", a.reps},         {"warmup", a.warmup},
          {"seed", a.seed},         {"isolate", a.isolate},   {"timeout_s", a.timeout_s},
          {"memory_limit_mb", a.memory_limit_mb},             {"log_samples", a.log_samples},
          {"prefix_cache", a.prefix_cache},                   {"prefix_cache_mb", a.prefix_cache_mb},
          {"batch_docs", a.batch_docs},
          {"trials", trials_json}};
}

RunSpec RunSpec::from_json(const json& j) {
  try {
    if (j.value("version", 1) != 2)
      throw Error("stored run spec has version " + std::to_string(j.value("version", 1)) +
                  " (this eebench resumes version 2)");
    RunSpec s;
    auto& a = s.args;
    s.source = j.at("source");
    s.file = j.at("file");
    a.backend = j.at("backend"), a.dtype = j.at("dtype"), a.db = j.at("db");
    a.threads = j.at("threads"), a.reps = j.at("reps"), a.warmup = j.at("warmup"), a.seed = j.at("seed");
    a.isolate = j.at("isolate"), a.timeout_s = j.at("timeout_s"), a.memory_limit_mb = j.at("memory_limit_mb");
    a.log_samples = j.value("log_samples", false);  // absent in runs stored before --log-samples
    // Runs stored before the prefix cache computed every context in full.
    a.prefix_cache = j.value("prefix_cache", false);
    a.prefix_cache_mb = j.value("prefix_cache_mb", 0.0);
    a.batch_docs = j.value("batch_docs", 1);        // absent in runs stored before --batch-docs
    for (const auto& t : j.at("trials")) s.trials.push_back(TrialSpec::from_json(t));
    return s;
  } catch (const json::exception& e) {
    throw Error(std::string("stored run spec is malformed: ") + e.what());
  }
}

RunSpec RunSpec::from_args(const RunArgs& a) {
  RunSpec s;
  s.args = a;
  auto base = json::parse(a.params, nullptr, false);
  if (base.is_discarded() || !base.is_object()) throw Error("--params: not a JSON object: " + a.params);
  TrialSpec t;
  t.model = a.model, t.tokenizer = a.tokenizer;
  t.task = a.task, t.data = a.data, t.split = a.split, t.subjects = a.subjects;
  t.shots = a.shots, t.limit = a.limit, t.max_new_tokens = a.max_new_tokens;
  t.strategy = a.strategy;
  for (auto& p : expand_sweep(base, a.sweeps)) {
    t.params = std::move(p);
    s.trials.push_back(t);
  }
  return s;
}

}  // namespace eeb
