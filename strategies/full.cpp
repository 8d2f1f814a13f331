// Full depth: every layer, in order. The baseline every other strategy is compared with.
#include "strategies/builtin.h"
#include "strategies/decoding.h"
#include "strategies/record.h"

namespace eeb {
namespace {

class FullDepth : public Strategy {
 public:
  std::string name() const override { return "full"; }
  SampleRecord score(RunContext& ctx, const Request& req) override {
    auto& b = ctx.backend;
    const int L = b.config().n_layers;
    auto plan = all_layers(L);
    auto timer = b.new_timer();
    timer->start();
    auto s = score_choices(b, req, plan);
    double t = timer->stop_seconds();
    return make_record(req, s, L, t);
  }
  SampleRecord generate(RunContext& ctx, const Request& req, int max_new) override {
    auto& b = ctx.backend;
    auto timer = b.new_timer();
    timer->start();
    auto out = greedy_decode(b, req.context, max_new, b.config().eos_id);
    double t = timer->stop_seconds();
    SampleRecord r;
    r.index = req.index;
    r.doc_id = req.doc->id;
    r.group = req.doc->group;
    r.seconds = t;
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
