// layerskip: LayerSkip self-speculative greedy decoding (see decoding.h) on generation tasks.
// Parameters: exit_layer E, draft d. Lossless: the runner fails the trial if an output differs from
// full-depth greedy. It runs every layer for every accepted token, so it reports no depth or pruning
// ratio; the runner reports layer-token evaluations per generated token (counted) for it and for
// full depth on the same prompts.
#include <cmath>

#include "core/error.h"
#include "strategies/builtin.h"
#include "strategies/decoding.h"

namespace eeb {
namespace {

class LayerSkip : public Strategy {
 public:
  LayerSkip(int E, int d) : E_(E), d_(d) {}
  std::string name() const override { return "layerskip"; }
  bool lossless() const override { return true; }
  bool reports_depth() const override { return false; }
  // (The runner adds layer_evals_per_token, counted, for every generation trial.)
  std::vector<MeasureSpec> measures() const override {
    return {{"acceptance_rate", Aggregation::ratio_of_sums, "accepted / drafted draft tokens", "accepted", "drafted"},
            {"mean_accepted_tokens", Aggregation::ratio_of_sums, "accepted draft tokens per verification pass",
             "accepted", "verify_steps"}};
  }
  nlohmann::json params() const override { return {{"exit_layer", E_}, {"draft", d_}}; }
  void prepare(RunContext& ctx, const Task& task, const TaskOptions&) override {
    const int L = ctx.backend.config().n_layers;
    if (E_ < 1 || E_ >= L)
      throw Error("strategy layerskip: exit_layer must be in [1, " + std::to_string(L - 1) + "]");
    if (task.kind() != "generation")
      throw Error("strategy layerskip: needs a generation task, not " + task.name());
  }
  SampleRecord score(RunContext&, const Request&) override {
    throw Error("strategy layerskip: needs a generation task");
  }
  SampleRecord generate(RunContext& ctx, const Request& req, int max_new) override {
    auto& b = ctx.backend;
    auto out = self_speculative_decode(b, req.context, max_new, b.config().eos_id, E_, d_);
    SampleRecord r;
    r.index = req.index;
    r.doc_id = req.doc->id;
    r.group = req.doc->group;
    r.layers_executed = NAN;  // not a depth: every accepted token ran every layer
    r.extra["tokens"] = out.tokens;
    r.extra["drafted"] = out.drafted;
    r.extra["accepted"] = out.accepted;
    r.extra["verify_steps"] = out.verify_steps;
    return r;
  }

 private:
  int E_, d_;
};

}  // namespace

std::unique_ptr<Strategy> make_layerskip(const nlohmann::json& p) {
  check_params(p, {"exit_layer", "draft"}, "strategy layerskip");
  for (const char* k : {"exit_layer", "draft"})
    if (p.contains(k) && !p[k].is_number_integer())
      throw Error(std::string("strategy layerskip: ") + k + " must be an integer");
  int d = p.value("draft", 4);
  if (d < 1) throw Error("strategy layerskip: draft must be >= 1");
  return std::make_unique<LayerSkip>(p.value("exit_layer", 1), d);
}

}  // namespace eeb
