// The strategy that runs any ExitPolicy (see exit_policy.h).
#include <algorithm>

#include "core/error.h"
#include "strategies/batch_scoring.h"
#include "strategies/exit_policy.h"
#include "strategies/record.h"

namespace eeb {
namespace {

class ExitStrategy : public Strategy {
 public:
  explicit ExitStrategy(std::unique_ptr<ExitPolicy> p) : p_(std::move(p)) {}
  std::string name() const override { return p_->name(); }
  nlohmann::json params() const override { return p_->params(); }
  void prepare(RunContext& ctx, const Task& t, const TaskOptions& o) override {
    p_->prepare(ctx, t, o);
  }
  // The context runs layers 0, 1, ... until the policy stops: a prefix needs every layer the policy
  // may reach (all of them unless its depth is fixed).
  std::optional<std::vector<int>> prefix_plan(int n_layers) const override {
    return first_layers(std::min(n_layers, p_->fixed_depth().value_or(n_layers)));
  }
  std::vector<MeasureSpec> measures() const override {
    return {{"exit_layer", Aggregation::mean, "layers run before the policy stopped (= avg_layers)"}};
  }

  SampleRecord score(RunContext& ctx, const Request& req) override {
    auto& b = ctx.backend;
    const int L = b.config().n_layers;
    const int n_ctx = static_cast<int>(req.context.size());
    if (n_ctx == 0) throw Error("request " + std::to_string(req.index) + ": empty context");
    // The layers the context may run, in order: what a prefix must have been run through.
    const auto need = prefix_plan(L).value();
    auto start = start_context(b, req, ctx.prefix, need, n_ctx + max_continuation(req));
    auto& kv = start.kv;
    auto& h = start.h;
    const int row = n_ctx - 1 - start.pos0;  // the scoring position in h
    int k = 0;
    int checks = 0;
    while (k < L) {
      b.run_layer(k, *h, *kv);
      ++k;
      if (k == L) break;
      ExitFeatures f;
      if (p_->needs_features()) {
        f = b.exit_features(*h, row);
        ++checks;
      }
      if (p_->should_exit(k, f)) break;
    }
    auto last = b.slice(*h, row, 1);
    auto plan = first_layers(k);
    auto s = score_continuations(b, req, plan, *kv, *last);
    auto r = make_record(req, s, k);
    r.lm_head_calls = checks;
    r.extra["exit_layer"] = k;
    return r;
  }

  // A fixed exit (static) is a fixed plan: the documents go together; others decide per document.
  bool batches_documents() const override { return p_->fixed_depth().has_value(); }
  std::vector<SampleRecord> score_batch(RunContext& ctx, std::span<const Request> reqs) override {
    if (!p_->fixed_depth()) return Strategy::score_batch(ctx, reqs);
    const int k = std::min(*p_->fixed_depth(), ctx.backend.config().n_layers);
    auto out = score_records_batch(ctx, reqs, first_layers(k), k);
    for (auto& r : out) r.extra["exit_layer"] = k;  // lm_head_calls stays 0: no features read
    return out;
  }

 private:
  std::unique_ptr<ExitPolicy> p_;
};

}  // namespace

std::unique_ptr<Strategy> make_exit_strategy(std::unique_ptr<ExitPolicy> policy) {
  return std::make_unique<ExitStrategy>(std::move(policy));
}

}  // namespace eeb
