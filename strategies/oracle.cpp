// Oracle exit: per sample, the earliest layer k from which every later layer's prediction equals the
// final layer's (predictions = the task's choice argmax, scored from each layer through the logit
// lens). The upper bound of any exit policy; it needs the full computation to know k, so its
// layer count is what an ideal policy would run, not what was run (extra.hypothetical = true).
// extra.layer_preds holds every layer's prediction: the per-layer accuracy curve.
#include "strategies/builtin.h"
#include "strategies/record.h"

namespace eeb {
namespace {

class Oracle : public Strategy {
 public:
  std::string name() const override { return "oracle"; }
  SampleRecord score(RunContext& ctx, const Request& req) override {
    auto& b = ctx.backend;
    auto timer = b.new_timer();
    timer->start();
    auto per = per_exit_logliks(b, req);
    double t = timer->stop_seconds();
    const int L = static_cast<int>(per.size());
    std::vector<int> preds(L), preds_norm(L);
    for (int k = 0; k < L; ++k) {
      preds[k] = argmax_choice(per[k]);
      preds_norm[k] = argmax_choice_norm(per[k], req.doc->choices);
    }
    int k = L;
    while (k > 1 && preds[k - 2] == preds[L - 1]) --k;
    ChoiceScores s;
    s.loglik = per[k - 1];
    s.is_greedy.assign(s.loglik.size(), false);
    auto r = make_record(req, s, k, t);
    r.extra["exit_layer"] = k;
    r.extra["layer_preds"] = preds;
    r.extra["layer_preds_norm"] = preds_norm;
    r.extra["hypothetical"] = true;
    return r;
  }
};

}  // namespace

std::unique_ptr<Strategy> make_oracle(const nlohmann::json& p) {
  check_params(p, {}, "strategy oracle");
  return std::make_unique<Oracle>();
}

}  // namespace eeb
