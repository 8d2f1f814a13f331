// Layer lesions (Lad et al.): delete layer i (its residual update skipped) or swap layers i and i+1,
// and measure against full depth at the scoring position: KL(p_full || p_lesion) of the next-token
// distributions, top-1 agreement, entropy difference (H_lesion - H_full), and task accuracy.
// The reference passes (lesioned and full-depth next-token distributions) are neither timed nor
// counted: Strategy::reference.
#include <cmath>

#include "core/error.h"
#include "strategies/batch_scoring.h"
#include "strategies/builtin.h"
#include "strategies/record.h"

namespace eeb {
namespace {

struct Dist {
  std::vector<double> logp;
  int top1 = 0;
  double entropy = 0;
};

Dist distribution(const std::vector<float>& logits) {
  Dist d;
  double mx = -INFINITY;
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] > mx) mx = logits[i], d.top1 = static_cast<int>(i);
  double z = 0;
  for (float x : logits) z += std::exp(double(x) - mx);
  const double lz = mx + std::log(z);
  d.logp.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    d.logp[i] = double(logits[i]) - lz;
    d.entropy -= std::exp(d.logp[i]) * d.logp[i];
  }
  return d;
}

// Next-token distribution after the context, running `plan`.
Dist next_token(Backend& b, const std::vector<int32_t>& context, const std::vector<int>& plan) {
  const int n = static_cast<int>(context.size());
  std::vector<float> logits(b.config().vocab_size);
  auto kv = b.new_cache(n);
  auto h = b.embed(context, 0);
  for (int l : plan) b.run_layer(l, *h, *kv);
  b.logits(*h, n - 1, 1, logits.data());
  return distribution(logits);
}

class Lesion : public Strategy {
 public:
  Lesion(std::string op, int layer) : op_(std::move(op)), layer_(layer) {}
  std::string name() const override { return "lesion"; }
  nlohmann::json params() const override { return {{"op", op_}, {"layer", layer_}}; }

  void prepare(RunContext& ctx, const Task&, const TaskOptions&) override {
    const int L = ctx.backend.config().n_layers;
    const int max = op_ == "swap" ? L - 2 : L - 1;
    if (layer_ < 0 || layer_ > max)
      throw Error("strategy lesion: layer must be in [0, " + std::to_string(max) + "] for " + op_);
    plan_.clear();
    for (int l = 0; l < L; ++l) {
      if (op_ == "delete" && l == layer_) continue;
      plan_.push_back(l);
    }
    if (op_ == "swap") std::swap(plan_[layer_], plan_[layer_ + 1]);
  }

  std::vector<MeasureSpec> measures() const override {
    return {{"kl", Aggregation::mean,
             "KL(p_full || p_lesion) of the next-token distributions at the scoring position (nats)"},
            {"top1_agree", Aggregation::mean, "fraction of samples whose top-1 next token equals full depth's"},
            {"entropy_diff", Aggregation::mean, "H(p_lesion) - H(p_full) at the scoring position (nats)"}};
  }

  // The lesioned model scoring the task: what is timed and counted.
  SampleRecord score(RunContext& ctx, const Request& req) override {
    return make_record(req, score_choices(ctx.backend, req, plan_, ctx.prefix),
                       static_cast<double>(plan_.size()));
  }
  // The lesioned plan (a swap reorders layers, so the prefix is keyed by the order too).
  std::optional<std::vector<int>> prefix_plan(int) const override { return plan_; }
  bool batches_documents() const override { return true; }
  std::vector<SampleRecord> score_batch(RunContext& ctx, std::span<const Request> reqs) override {
    return score_records_batch(ctx, reqs, plan_, static_cast<double>(plan_.size()));
  }

  // Untimed, uncounted: next-token distributions of the lesioned and the full model at the scoring
  // position, compared.
  void reference(RunContext& ctx, const Request& req, SampleRecord& r) override {
    auto& b = ctx.backend;
    const int L = b.config().n_layers;
    Dist les = next_token(b, req.context, plan_);
    Dist full = next_token(b, req.context, all_layers(L));
    double kl = 0;
    for (size_t i = 0; i < full.logp.size(); ++i) kl += std::exp(full.logp[i]) * (full.logp[i] - les.logp[i]);
    r.extra["kl"] = std::max(0.0, kl);
    r.extra["top1_agree"] = full.top1 == les.top1 ? 1 : 0;
    r.extra["entropy_diff"] = les.entropy - full.entropy;
  }

 private:
  std::string op_;
  int layer_;
  std::vector<int> plan_;
};

}  // namespace

std::unique_ptr<Strategy> make_lesion(const nlohmann::json& p) {
  check_params(p, {"op", "layer"}, "strategy lesion");
  std::string op = p.value("op", std::string("delete"));
  if (op != "delete" && op != "swap")
    throw Error("strategy lesion: op must be 'delete' or 'swap', not '" + op + "'");
  if (!p.contains("layer") || !p["layer"].is_number_integer())
    throw Error("strategy lesion: needs an integer parameter 'layer'");
  return std::make_unique<Lesion>(op, p["layer"].get<int>());
}

}  // namespace eeb
