// Strategy interface and registry. A strategy sees only the backend interface, a task's requests and
// the run's measurement hooks; it reports per sample the prediction, per-choice log-likelihoods and
// the number of layers executed.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "core/records.h"
#include "tasks/task.h"

namespace eeb {

class Tokenizer;

struct RunContext {
  Backend& backend;
  const Tokenizer* tokenizer_ = nullptr;  // may be null where no text is involved (tests)
  nlohmann::json run_spec;  // the whole run's parameters (for strategies that fit on other data)
  const Tokenizer& tokenizer() const;      // throws Error when there is none
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  virtual nlohmann::json params() const { return nlohmann::json::object(); }
  // One-time work before scoring (calibration, fitting). Default: nothing.
  virtual void prepare(RunContext&, const Task&, const TaskOptions&) {}
  // Multiple-choice tasks: log-likelihood of each choice.
  virtual SampleRecord score(RunContext& ctx, const Request& req) = 0;
  // Generation tasks: greedy decoding of up to max_new_tokens after req.context (stops at EOS).
  // The record's extra holds "tokens" (generated ids); layers_executed is per generated token.
  // Default: Error (the strategy does not support generation).
  virtual SampleRecord generate(RunContext& ctx, const Request& req, int max_new_tokens);
};

using StrategyFactory = std::function<std::unique_ptr<Strategy>(const nlohmann::json& params)>;
struct StrategyInfo { std::string name, description; StrategyFactory make; };
const std::vector<StrategyInfo>& strategy_registry();
std::unique_ptr<Strategy> make_strategy(const std::string& name, const nlohmann::json& params);

}  // namespace eeb
