// Oracle exit: per sample, the earliest layer k from which every later layer's prediction equals the
// final layer's (predictions = the task's choice argmax, scored from each layer through the logit
// lens). The upper bound of any exit policy. It needs the full computation (every layer, the LM head
// after each) to know k, so k is what an ideal policy would run, not what ran: it is reported as
// oracle_avg_layers / oracle_pruning_ratio (aggregation hypothetical), the strategy is hypothetical
// (the runner stores no time, speedup or FLOPs for it) and layers_executed is L (what ran).
// extra.layer_preds holds every layer's prediction: the per-layer accuracy curve.
#include "strategies/builtin.h"
#include "strategies/record.h"

namespace eeb {
namespace {

class Oracle : public Strategy {
 public:
  std::string name() const override { return "oracle"; }
  bool hypothetical() const override { return true; }
  bool reports_depth() const override { return false; }
  std::vector<MeasureSpec> measures() const override {
    return {{"oracle_avg_layers", Aggregation::hypothetical,
             "layers an ideal exit policy would run: the earliest layer after which the prediction never "
             "changes (the oracle itself ran every layer)", "oracle_exit_layer"},
            {"oracle_pruning_ratio", Aggregation::hypothetical,
             "1 - oracle_avg_layers / L: the fraction of layers an ideal exit policy would skip"}};
  }
  std::optional<std::vector<int>> prefix_plan(int n_layers) const override { return all_layers(n_layers); }
  SampleRecord score(RunContext& ctx, const Request& req) override {
    auto per = per_exit_logliks(ctx.backend, req, ctx.prefix);
    const int L = static_cast<int>(per.size());
    std::vector<int> preds(L), preds_norm(L);
    for (int k = 0; k < L; ++k) {
      preds[k] = argmax_choice(per[k]);
      preds_norm[k] = argmax_choice_norm(per[k], *req.doc);
    }
    int k = L;
    while (k > 1 && preds[k - 2] == preds[L - 1]) --k;
    ChoiceScores s;
    s.loglik = per[k - 1];
    s.is_greedy.assign(s.loglik.size(), false);
    auto r = make_record(req, s, L);
    r.extra["oracle_exit_layer"] = k;
    r.extra["oracle_pruning_ratio"] = 1.0 - double(k) / L;
    r.extra["layer_preds"] = preds;
    r.extra["layer_preds_norm"] = preds_norm;
    return r;
  }
};

}  // namespace

std::unique_ptr<Strategy> make_oracle(const nlohmann::json& p) {
  check_params(p, {}, "strategy oracle");
  return std::make_unique<Oracle>();
}

}  // namespace eeb
