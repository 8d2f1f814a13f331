// Static exit: always stop after layer k (1-based count of layers run). Needs no features, so it
// pays no LM-head evaluation per layer.
#include "core/error.h"
#include "strategies/builtin.h"
#include "strategies/exit_policy.h"

namespace eeb {
namespace {

class StaticExit : public ExitPolicy {
 public:
  explicit StaticExit(int k) : k_(k) {}
  std::string name() const override { return "static"; }
  nlohmann::json params() const override { return {{"layer", k_}}; }
  bool needs_features() const override { return false; }
  void prepare(RunContext& ctx, const Task&, const TaskOptions&) override {
    const int L = ctx.backend.config().n_layers;
    if (k_ > L)
      throw Error("strategy static: layer " + std::to_string(k_) + " but the model has " +
                  std::to_string(L) + " layers");
  }
  bool should_exit(int layers_run, const ExitFeatures&) override { return layers_run >= k_; }
  int fixed_exit() const override { return k_; }

 private:
  int k_;
};

}  // namespace

std::unique_ptr<Strategy> make_static(const nlohmann::json& p) {
  check_params(p, {"layer"}, "strategy static");
  if (!p.contains("layer") || !p["layer"].is_number_integer())
    throw Error("strategy static: needs an integer parameter 'layer' (exit after that many layers)");
  int k = p["layer"].get<int>();
  if (k < 1) throw Error("strategy static: layer must be >= 1");
  return make_exit_strategy(std::make_unique<StaticExit>(k));
}

}  // namespace eeb
