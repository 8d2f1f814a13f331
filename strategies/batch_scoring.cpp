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
  size_t rounds = 0;
  for (const Request& r : reqs) {
    if (r.context.empty()) throw Error("request " + std::to_string(r.index) + ": empty context");
    for (const auto& c : r.continuations)
      if (c.empty()) throw Error("request " + std::to_string(r.index) + ": empty continuation");
    rounds = std::max(rounds, r.continuations.size());
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
  for (size_t i = 0; i < n; ++i) {
    out[i].loglik.assign(reqs[i].continuations.size(), 0.0);
    out[i].is_greedy.assign(reqs[i].continuations.size(), true);
  }
  // Round ci: choice ci of every request that has one. Its first token is scored from the last
  // context rows, stacked into one LM-head call; the rest run through the plan batched, each over
  // its own request's cache, rolled back afterwards.
  for (size_t ci = 0; ci < rounds; ++ci) {
    std::vector<size_t> has, who;
    std::vector<const Hidden*> heads;
    std::vector<int32_t> first;
    for (size_t i = 0; i < n; ++i)
      if (ci < reqs[i].continuations.size()) {
        has.push_back(i);
        heads.push_back(last[i].get());
        first.push_back(reqs[i].continuations[ci][0]);
      }
    auto stacked = b.stack(heads);
    std::vector<double> lp(has.size());
    std::vector<int32_t> top(has.size());
    b.token_logprobs(*stacked, 0, first, lp.data(), top.data());
    std::vector<std::unique_ptr<Hidden>> rows;
    hs.clear(), kvs.clear();
    for (size_t w = 0; w < has.size(); ++w) {
      const size_t i = has[w];
      const Request& r = reqs[i];
      const auto& cont = r.continuations[ci];
      // Partial scoring: the first `skip` tokens are the choice's own context, conditioned on only.
      const int skip = ci < r.unscored.size() ? r.unscored[ci] : 0;
      if (skip == 0) {
        out[i].loglik[ci] += lp[w];
        out[i].is_greedy[ci] = top[w] == cont[0];
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
    // Every continuation row of the round in one LM-head call: row j of a choice predicts token j+1.
    std::vector<const Hidden*> parts;
    std::vector<int32_t> targets;
    for (size_t w = 0; w < who.size(); ++w) {
      const auto& cont = reqs[who[w]].continuations[ci];
      parts.push_back(rows[w].get());
      targets.insert(targets.end(), cont.begin() + 1, cont.end());
    }
    auto all_rows = b.stack(parts);
    std::vector<double> lps(targets.size());
    std::vector<int32_t> tops(targets.size());
    b.token_logprobs(*all_rows, 0, targets, lps.data(), tops.data());
    size_t at = 0;
    for (size_t w = 0; w < who.size(); ++w) {
      const size_t i = who[w];
      const Request& r = reqs[i];
      const auto& cont = r.continuations[ci];
      const int k = static_cast<int>(cont.size());
      const int skip = ci < r.unscored.size() ? r.unscored[ci] : 0;
      for (int j = std::max(0, skip - 1); j < k - 1; ++j) {
        out[i].loglik[ci] += lps[at + j];
        out[i].is_greedy[ci] = out[i].is_greedy[ci] && tops[at + j] == cont[j + 1];
      }
      at += k - 1;
      caches[i]->truncate_all(static_cast<int>(r.context.size()), L);
    }
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
