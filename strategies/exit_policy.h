// Early-exit policies. A policy looks at the logit-lens features of the scoring position (the last
// context token) after each layer and says whether to stop there. The wrapping strategy stops the
// context computation at that layer, runs the continuations through the same first layers, and
// scores the choices from the exit layer's hidden state.
//
// To add a policy: write one file like strategies/confidence.cpp (a class deriving ExitPolicy and
// a make_* factory), and add one line to strategies/registry.cpp.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "strategies/strategy.h"

namespace eeb {

class ExitPolicy {
 public:
  virtual ~ExitPolicy() = default;
  virtual std::string name() const = 0;
  virtual nlohmann::json params() const { return nlohmann::json::object(); }
  // false: the policy decides without features, so no LM-head evaluation is paid per layer.
  virtual bool needs_features() const { return true; }
  // Called after `layers_run` layers (1 .. L-1). Returns true to exit there.
  virtual bool should_exit(int layers_run, const ExitFeatures& f) = 0;
  // > 0: the policy always exits after exactly this many layers (capped at the model's depth),
  // whatever the features, so documents can be scored together (Strategy::score_batch). 0: it
  // decides per document.
  virtual int fixed_exit() const { return 0; }
  // One-time work (e.g. training a classifier).
  virtual void prepare(RunContext&, const Task&, const TaskOptions&) {}
};

std::unique_ptr<Strategy> make_exit_strategy(std::unique_ptr<ExitPolicy> policy);

}  // namespace eeb
