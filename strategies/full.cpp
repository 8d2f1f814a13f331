// Full depth: every layer, in order. The baseline every other strategy is compared with.
#include "strategies/batch_scoring.h"
#include "strategies/builtin.h"
#include "strategies/decoding.h"
#include "strategies/record.h"

namespace eeb {
namespace {

class FullDepth : public Strategy {
 public:
  std::string name() const override { return "full"; }
  bool is_baseline() const override { return true; }
  SampleRecord score(RunContext& ctx, const Request& req) override {
    auto& b = ctx.backend;
    const int L = b.config().n_layers;
    return make_record(req, score_choices(b, req, all_layers(L), ctx.prefix), L);
  }
  std::optional<std::vector<int>> prefix_plan(int n_layers) const override { return all_layers(n_layers); }
  bool batches_documents() const override { return true; }
  std::vector<SampleRecord> score_batch(RunContext& ctx, std::span<const Request> reqs) override {
    const int L = ctx.backend.config().n_layers;
    return score_records_batch(ctx, reqs, all_layers(L), L);
  }
  SampleRecord generate(RunContext& ctx, const Request& req, int max_new) override {
    auto& b = ctx.backend;
    auto out = greedy_decode(b, req.context, max_new, b.config().eos_id);
    SampleRecord r;
    r.index = req.index;
    r.doc_id = req.doc->id;
    r.group = req.doc->group;
    r.layers_executed = b.config().n_layers;
    r.extra["tokens"] = out.tokens;
    return r;
  }
};

}  // namespace

std::unique_ptr<Strategy> make_full(const nlohmann::json& params) {
  check_params(params, {}, "strategy full");
  return std::make_unique<FullDepth>();
}

}  // namespace eeb
