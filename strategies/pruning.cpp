// Layer removal from calibration statistics (see calibration.h):
//   shortgpt: remove the n layers with the lowest Block Influence (Men et al.).
//   angular:  remove the contiguous block [l*, l*+n) with the smallest angular distance d(l*, l*+n)
//             on the last token (Gromov et al.).
// The removed layers and every layer's score are part of the strategy's stored parameters.
#include "core/error.h"
#include "strategies/batch_scoring.h"
#include "strategies/builtin.h"
#include "strategies/calibration.h"
#include "strategies/record.h"

namespace eeb {
namespace {

class Pruned : public Strategy {
 public:
  Pruned(std::string name, nlohmann::json p) : name_(std::move(name)), p_(std::move(p)) {}
  std::string name() const override { return name_; }
  nlohmann::json params() const override {
    auto out = p_;
    out["removed"] = removed_;
    out["scores"] = scores_;
    return out;
  }

  void prepare(RunContext& ctx, const Task& task, const TaskOptions& opt) override {
    const int L = ctx.backend.config().n_layers;
    const int n = p_.value("n", 0);
    if (n < 0 || n >= L)
      throw Error("strategy " + name_ + ": n must be in [0, " + std::to_string(L - 1) + "]");
    const auto& sim = cached_layer_similarity(ctx, task, opt, p_);
    if (name_ == "shortgpt") {
      removed_ = lowest_bi_layers(sim.block_influence, n);
      scores_ = sim.block_influence;
    } else {
      removed_.clear();
      if (n > 0) {
        int l = best_angular_block(sim, n);
        for (int i = l; i < l + n; ++i) removed_.push_back(i);
      }
      scores_ = n > 0 ? sim.angular[n] : std::vector<double>{};
    }
    plan_.clear();
    for (int l = 0; l < L; ++l)
      if (std::find(removed_.begin(), removed_.end(), l) == removed_.end()) plan_.push_back(l);
  }

  SampleRecord score(RunContext& ctx, const Request& req) override {
    return make_record(req, score_choices(ctx.backend, req, plan_, ctx.prefix),
                       static_cast<double>(plan_.size()));
  }
  // The removal plan: the prefix's keys/values are those of the layers that remain.
  std::optional<std::vector<int>> prefix_plan(int) const override { return plan_; }
  bool batches_documents() const override { return true; }
  std::vector<SampleRecord> score_batch(RunContext& ctx, std::span<const Request> reqs) override {
    return score_records_batch(ctx, reqs, plan_, static_cast<double>(plan_.size()));
  }

 private:
  std::string name_;
  nlohmann::json p_;
  std::vector<int> removed_, plan_;
  std::vector<double> scores_;
};

std::unique_ptr<Strategy> make_pruned(const std::string& name, const nlohmann::json& p) {
  check_params(p, {"n", "calib_file", "calib_split", "calib_size"}, "strategy " + name);
  if (p.contains("n") && !p["n"].is_number_integer())
    throw Error("strategy " + name + ": n must be an integer");
  return std::make_unique<Pruned>(name, p);
}

}  // namespace

std::unique_ptr<Strategy> make_shortgpt(const nlohmann::json& p) { return make_pruned("shortgpt", p); }
std::unique_ptr<Strategy> make_angular(const nlohmann::json& p) { return make_pruned("angular", p); }

}  // namespace eeb
