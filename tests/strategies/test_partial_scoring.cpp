// Partial scoring (Request::unscored, WSC273-style tasks): only the tokens after each choice's own
// context count, checked against the float64 reference forward over the whole sequence.
#include <catch2/catch.hpp>
#include <cmath>

#include "backends/backend.h"
#include "backends/registry.h"
#include "strategies/scoring.h"
#include "tests/cpu/reference.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

// Sum of reference log p(seq[j] | seq[:j]) for j in [from, seq.size()).
double ref_tail_loglik(const RefModel& rm, const std::vector<int32_t>& seq, size_t from,
                       const std::vector<int>& plan) {
  const int n = static_cast<int>(seq.size());
  auto hs = ref_hiddens(rm, seq, plan);
  auto logits = ref_logits(rm, hs.back(), n);
  const int V = rm.c.vocab_size;
  double s = 0;
  for (size_t j = from; j < seq.size(); ++j) {
    const int row = static_cast<int>(j) - 1;
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < V; ++i) mx = std::max(mx, logits[size_t(row) * V + i]);
    for (int i = 0; i < V; ++i) z += std::exp(logits[size_t(row) * V + i] - mx);
    s += logits[size_t(row) * V + seq[j]] - mx - std::log(z);
  }
  return s;
}

}  // namespace

TEST_CASE("partial scoring: unscored context tokens are conditioned on, not counted", "[scoring]") {
  const ModelConfig cfg = tiny_config(3, 32, 4, 2, 48, 64);
  const Model model = random_model(cfg, 11);
  const RefModel rm{model};
  auto b = make_backend("cpu", model, BackendOptions{});
  Doc doc;
  doc.id = "t:0";
  doc.choices = {" x", " x", " x"};
  Request req;
  req.doc = &doc;
  req.context = {1, 7, 9};
  req.continuations = {{4, 5, 6, 7}, {8, 6, 7}, {6, 7}};
  req.unscored = {2, 1, 0};
  for (const std::vector<int>& plan : {std::vector<int>{0, 1, 2}, std::vector<int>{0, 2}}) {
    const auto s = score_choices(*b, req, plan);
    REQUIRE(s.loglik.size() == 3);
    for (size_t c = 0; c < 3; ++c) {
      std::vector<int32_t> seq = req.context;
      seq.insert(seq.end(), req.continuations[c].begin(), req.continuations[c].end());
      const double want = ref_tail_loglik(rm, seq, req.context.size() + static_cast<size_t>(req.unscored[c]), plan);
      INFO("choice " << c << " plan size " << plan.size());
      CHECK(s.loglik[c] == Approx(want).margin(1e-4));
    }
  }
  // Without `unscored` every continuation token counts (the ordinary path is unchanged).
  req.unscored.clear();
  const std::vector<int> full = {0, 1, 2};
  const auto all = score_choices(*b, req, full);
  std::vector<int32_t> seq = req.context;
  seq.insert(seq.end(), req.continuations[0].begin(), req.continuations[0].end());
  CHECK(all.loglik[0] == Approx(ref_tail_loglik(rm, seq, req.context.size(), {0, 1, 2})).margin(1e-4));
}
