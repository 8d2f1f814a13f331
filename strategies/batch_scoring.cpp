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

}  // namespace

std::vector<ChoiceScores> score_choices_batch(Backend& b, std::span<const Request> reqs,
                                              std::span<const int> plan,
                                              std::span<const PrefixState* const> prefixes) {
  const int L = b.config().n_layers;
  const size_t n = reqs.size();
  for (const Request& r : reqs) {
    if (r.context.empty()) throw Error("request " + std::to_string(r.index) + ": empty context");
    for (const auto& c : r.continuations)
      if (c.empty()) throw Error("request " + std::to_string(r.index) + ": empty continuation");
  }
  if (!prefixes.empty() && prefixes.size() != n)
    throw Error("score_choices_batch: " + std::to_string(prefixes.size()) + " prefixes for " +
                std::to_string(n) + " requests");
  // Contexts, all together: each from scratch or from a fork of its prefix's cache.
  std::vector<std::unique_ptr<KVCache>> caches;
  std::vector<std::unique_ptr<Hidden>> ctx;
  std::vector<Hidden*> hs;
  std::vector<KVCache*> kvs;
  for (size_t i = 0; i < n; ++i) {
    const Request& r = reqs[i];
    const int n_ctx = static_cast<int>(r.context.size());
    auto st = start_context(b, r, prefixes.empty() ? nullptr : prefixes[i], plan, n_ctx + max_continuation(r));
    caches.push_back(std::move(st.kv));
    ctx.push_back(std::move(st.h));
    hs.push_back(ctx.back().get()), kvs.push_back(caches.back().get());
  }
  run_plan_batch(b, plan, hs, kvs);
  std::vector<std::unique_ptr<Hidden>> last;
  for (size_t i = 0; i < n; ++i) last.push_back(b.slice(*ctx[i], ctx[i]->n_tokens() - 1, 1));
  ctx.clear();

  std::vector<ChoiceScores> out(n);
  std::vector<std::vector<ContinuationPass>> passes(n);
  size_t rounds = 0;
  for (size_t i = 0; i < n; ++i) {
    out[i].loglik.assign(reqs[i].continuations.size(), 0.0);
    out[i].is_greedy.assign(reqs[i].continuations.size(), true);
    passes[i] = continuation_passes(reqs[i]);
    rounds = std::max(rounds, passes[i].size());
  }
  // Every choice's first token from its document's last context row: one LM-head call over the
  // stacked last rows.
  {
    std::vector<const Hidden*> heads;
    std::vector<ScoreTarget> items;
    for (size_t i = 0; i < n; ++i)
      if (!reqs[i].continuations.empty()) heads.push_back(last[i].get()), items.push_back({&reqs[i], &out[i]});
    if (!heads.empty()) score_first_tokens(b, items, *b.stack(heads));
  }
  // Round r: pass r of every document that has one, batched through the plan, each over its own
  // document's cache (rolled back afterwards); their rows read in one LM-head call.
  for (size_t r = 0; r < rounds; ++r) {
    std::vector<std::unique_ptr<Hidden>> rows;
    std::vector<ScoreTarget> items;
    std::vector<size_t> who;
    hs.clear(), kvs.clear();
    for (size_t i = 0; i < n; ++i) {
      if (r >= passes[i].size()) continue;
      rows.push_back(b.embed(passes[i][r].fed, static_cast<int>(reqs[i].context.size())));
      items.push_back({&reqs[i], &out[i], &passes[i][r]});
      who.push_back(i);
      hs.push_back(rows.back().get()), kvs.push_back(caches[i].get());
    }
    run_plan_batch(b, plan, hs, kvs);
    std::vector<const Hidden*> parts;
    for (auto& h : rows) parts.push_back(h.get());
    score_passes(b, items, *b.stack(parts));
    for (size_t i : who) caches[i]->truncate_all(static_cast<int>(reqs[i].context.size()), L);
  }
  return out;
}

std::vector<SampleRecord> Strategy::score_batch(RunContext& ctx, std::span<const Request> reqs) {
  // One score() per document, each with its own prefix (ctx.prefix as the runner sets it unbatched).
  const auto prefixes = ctx.prefixes;
  const PrefixState* before = ctx.prefix;
  std::vector<SampleRecord> out;
  for (size_t i = 0; i < reqs.size(); ++i) {
    ctx.prefix = prefixes.empty() ? nullptr : prefixes[i];
    out.push_back(score(ctx, reqs[i]));
  }
  ctx.prefix = before;
  return out;
}

std::vector<SampleRecord> score_records_batch(RunContext& ctx, std::span<const Request> reqs,
                                              std::span<const int> plan, double layers) {
  auto scores = score_choices_batch(ctx.backend, reqs, plan, ctx.prefixes);
  std::vector<SampleRecord> out;
  for (size_t i = 0; i < reqs.size(); ++i) out.push_back(make_record(reqs[i], scores[i], layers));
  return out;
}

}  // namespace eeb
