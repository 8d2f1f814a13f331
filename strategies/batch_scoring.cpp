#include "strategies/batch_scoring.h"

#include <algorithm>
#include <memory>
#include <string>

#include "core/error.h"
#include "strategies/record.h"

namespace eeb {
namespace {

void run_plan_batch(Backend& b, std::span<const int> plan, std::vector<Hidden*>& hs,
                    std::vector<KVCache*>& kvs) {
  for (int l : plan) b.run_layer_batch(l, hs, kvs);
}

// Adds the continuation rows' log-probabilities (tokens 1..k-1, from the rows after token j) to a
// choice's score exactly as score_continuations does.
void add_rows(Backend& b, const Hidden& h, const std::vector<int32_t>& cont, int skip, double& sum,
              bool& greedy) {
  const int k = static_cast<int>(cont.size());
  std::vector<double> lps(k - 1);
  std::vector<int32_t> tops(k - 1);
  b.token_logprobs(h, 0, std::span<const int32_t>(cont.data() + 1, k - 1), lps.data(), tops.data());
  for (int j = std::max(0, skip - 1); j < k - 1; ++j) {
    sum += lps[j];
    greedy = greedy && tops[j] == cont[j + 1];
  }
}

}  // namespace

std::vector<ChoiceScores> score_choices_batch(Backend& b, std::span<const Request> reqs,
                                              std::span<const int> plan) {
  const int L = b.config().n_layers;
  const size_t n = reqs.size();
  size_t rounds = 0;
  for (const Request& r : reqs) {
    if (r.context.empty()) throw Error("request " + std::to_string(r.index) + ": empty context");
    for (const auto& c : r.continuations)
      if (c.empty()) throw Error("request " + std::to_string(r.index) + ": empty continuation");
    rounds = std::max(rounds, r.continuations.size());
  }
  // Contexts, all together.
  std::vector<std::unique_ptr<KVCache>> caches;
  std::vector<std::unique_ptr<Hidden>> ctx;
  std::vector<Hidden*> hs;
  std::vector<KVCache*> kvs;
  for (const Request& r : reqs) {
    size_t max_cont = 0;
    for (const auto& c : r.continuations) max_cont = std::max(max_cont, c.size());
    caches.push_back(b.new_cache(static_cast<int>(r.context.size() + max_cont)));
    ctx.push_back(b.embed(r.context, 0));
    hs.push_back(ctx.back().get()), kvs.push_back(caches.back().get());
  }
  run_plan_batch(b, plan, hs, kvs);
  std::vector<std::unique_ptr<Hidden>> last;
  for (size_t i = 0; i < n; ++i) last.push_back(b.slice(*ctx[i], ctx[i]->n_tokens() - 1, 1));
  ctx.clear();

  std::vector<ChoiceScores> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i].loglik.assign(reqs[i].continuations.size(), 0.0);
    out[i].is_greedy.assign(reqs[i].continuations.size(), true);
  }
  // Round ci: choice ci of every request, each over its own cache, rolled back afterwards.
  for (size_t ci = 0; ci < rounds; ++ci) {
    std::vector<size_t> who;
    std::vector<std::unique_ptr<Hidden>> rows;
    hs.clear(), kvs.clear();
    for (size_t i = 0; i < n; ++i) {
      const Request& r = reqs[i];
      if (ci >= r.continuations.size()) continue;
      const auto& cont = r.continuations[ci];
      // Partial scoring: the first `skip` tokens are the choice's own context, conditioned on only.
      const int skip = ci < r.unscored.size() ? r.unscored[ci] : 0;
      double lp = 0;
      int32_t top = -1;
      b.token_logprobs(*last[i], 0, std::span<const int32_t>(cont.data(), 1), &lp, &top);
      if (skip == 0) {
        out[i].loglik[ci] += lp;
        out[i].is_greedy[ci] = top == cont[0];
      }
      const int k = static_cast<int>(cont.size());
      if (k < 2) continue;
      // Continuation tokens 0..k-2 after the context; row j predicts token j+1.
      rows.push_back(b.embed(std::span<const int32_t>(cont.data(), k - 1),
                             static_cast<int>(r.context.size())));
      who.push_back(i);
      hs.push_back(rows.back().get()), kvs.push_back(caches[i].get());
    }
    if (who.empty()) continue;
    run_plan_batch(b, plan, hs, kvs);
    for (size_t w = 0; w < who.size(); ++w) {
      const size_t i = who[w];
      const Request& r = reqs[i];
      const int skip = ci < r.unscored.size() ? r.unscored[ci] : 0;
      bool greedy = out[i].is_greedy[ci];
      add_rows(b, *rows[w], r.continuations[ci], skip, out[i].loglik[ci], greedy);
      out[i].is_greedy[ci] = greedy;
      caches[i]->truncate_all(static_cast<int>(r.context.size()), L);
    }
  }
  return out;
}

std::vector<SampleRecord> Strategy::score_batch(RunContext& ctx, std::span<const Request> reqs) {
  std::vector<SampleRecord> out;
  for (const Request& r : reqs) out.push_back(score(ctx, r));
  return out;
}

std::vector<SampleRecord> score_records_batch(Backend& b, std::span<const Request> reqs,
                                              std::span<const int> plan, double layers) {
  auto scores = score_choices_batch(b, reqs, plan);
  std::vector<SampleRecord> out;
  for (size_t i = 0; i < reqs.size(); ++i) out.push_back(make_record(reqs[i], scores[i], layers));
  return out;
}

}  // namespace eeb
