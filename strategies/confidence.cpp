// The worked example of an exit policy: exit as soon as the logit lens's top probability at the
// scoring position reaches tau. One file + one line in strategies/registry.cpp.
#include "core/error.h"
#include "strategies/builtin.h"
#include "strategies/exit_policy.h"

namespace eeb {
namespace {

class Confidence : public ExitPolicy {
 public:
  explicit Confidence(double tau) : tau_(tau) {}
  std::string name() const override { return "confidence"; }
  nlohmann::json params() const override { return {{"tau", tau_}}; }
  bool should_exit(int, const ExitFeatures& f) override { return f.p1 >= tau_; }

 private:
  double tau_;
};

}  // namespace

std::unique_ptr<Strategy> make_confidence(const nlohmann::json& p) {
  check_params(p, {"tau"}, "strategy confidence");
  double tau = p.value("tau", 0.9);
  if (!(tau > 0 && tau <= 1)) throw Error("strategy confidence: tau must be in (0, 1]");
  return make_exit_strategy(std::make_unique<Confidence>(tau));
}

}  // namespace eeb
