#include "harness/runner_batch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/stats.h"
#include "harness/progress.h"

namespace eeb {
namespace {

WorkCount scaled(const WorkCount& w, double f) {
  return {w.layer_tokens * f, w.attended * f, w.lm_head_rows * f, w.flops * f};
}

}  // namespace

void run_batches(BatchLoop& L, const std::vector<int>& todo,
                 const std::function<void(const SampleRecord&)>& sink) {
  const int N = std::max(1, L.opt.batch_docs);
  // One score_batch call: counted through cb; timed (only the call) when secs is given.
  auto call = [&](Strategy& st, const std::vector<Request>& reqs, WorkCount* work, double* secs,
                  std::span<const PrefixState* const> prefixes = {}) {
    WorkCount c0 = L.cb.count();
    L.ctx.prefixes = prefixes;
    auto timer = secs ? L.in.backend.new_timer() : nullptr;
    if (timer) timer->start();
    auto recs = st.score_batch(L.ctx, reqs);
    if (timer) *secs = timer->stop_seconds();
    L.ctx.prefixes = {};
    if (work) *work = L.cb.count() - c0;
    if (recs.size() != reqs.size())
      throw Error("strategy " + st.name() + ": score_batch returned " + std::to_string(recs.size()) +
                  " records for " + std::to_string(reqs.size()) + " requests");
    return recs;
  };
  auto requests = [&](size_t b0, size_t b1) {
    std::vector<Request> reqs;
    for (size_t k = b0; k < b1; ++k) reqs.push_back(L.prefixes ? L.prefixes->requests()[k] : L.request(todo[k]));
    return reqs;
  };
  // Warm-up: caches, allocator, thread pools, sized for a whole batch. Not recorded.
  if (L.timed && L.opt.warmup > 0 && !todo.empty()) {
    auto reqs = requests(0, std::min<size_t>(N, todo.size()));
    call(L.s, reqs, nullptr, nullptr);
    if (L.baseline) call(*L.baseline, reqs, nullptr, nullptr);
  }

  Progress progress(static_cast<long>(todo.size()), L.opt.label.empty() ? L.s.name() : L.opt.label,
                    L.opt.quiet ? nullptr : stderr);
  long correct = 0, n_done = 0;
  for (size_t b0 = 0; b0 < todo.size(); b0 += N) {
    const size_t b1 = std::min(todo.size(), b0 + N);
    const auto reqs = requests(b0, b1);
    const double size = static_cast<double>(reqs.size());
    // Each document's prefix per side (held for the batch: an eviction leaves it alive) and share.
    std::vector<std::shared_ptr<const PrefixState>> held[2];
    std::vector<const PrefixState*> pre[2];
    std::vector<TrialPrefixes::Share> share[2];
    for (int sd = 0; L.prefixes && sd < (L.baseline ? 2 : 1); ++sd)
      for (size_t k = b0; k < b1; ++k) {
        held[sd].push_back(L.prefixes->get(sd, k));
        pre[sd].push_back(held[sd].back().get());
        share[sd].push_back(L.prefixes->share(sd));
      }
    std::vector<SampleRecord> recs, base;
    WorkCount work, work_full;
    std::vector<double> ts, tf;
    std::string order;
    // The first call of each side gives the records and work count; later ones are only timed.
    auto side = [&](bool strategy_side) {
      double t = 0;
      double* secs = L.timed ? &t : nullptr;
      if (strategy_side) {
        if (order.find('A') == std::string::npos) recs = call(L.s, reqs, &work, secs, pre[0]);
        else call(L.s, reqs, nullptr, secs, pre[0]);
        ts.push_back(t / size), order += 'A';
      } else {
        if (order.find('B') == std::string::npos) base = call(*L.baseline, reqs, &work_full, secs, pre[1]);
        else call(*L.baseline, reqs, nullptr, secs, pre[1]);
        tf.push_back(t / size), order += 'B';
      }
    };
    // Which side goes first alternates over batches, as it does over documents unbatched.
    const bool a_first = (static_cast<uint64_t>(todo[b0]) + L.opt.seed) % 2 == 0;
    for (int rep = 0; rep < std::max(L.opt.reps, 1) && (L.timed || rep == 0); ++rep) {
      if (!L.baseline) {
        side(true);
        continue;
      }
      const bool a = (rep % 2 == 0) == a_first;  // ABBA: the pair order flips every repetition
      side(a);
      side(!a);
    }
    const WorkCount w = scaled(work, 1 / size), wf = scaled(work_full, 1 / size);
    for (size_t k = 0; k < reqs.size(); ++k) {
      const Request& req = reqs[k];
      SampleRecord& r = recs[k];
      L.s.reference(L.ref_ctx, req, r);
      r.seconds = L.timed ? median(ts) : NAN;
      r.extra["flops"] = w.flops;
      r.extra["layer_tokens"] = w.layer_tokens;
      r.extra["lm_head_rows"] = w.lm_head_rows;
      r.extra["batch_size"] = reqs.size();
      if (L.prefixes)
        TrialPrefixes::record(r, pre[0][k], share[0][k], L.baseline ? &share[1][k] : nullptr, L.timed);
      if (L.timed) {
        r.extra["t_strategy"] = ts;
        r.extra["timing_order"] = order;
      }
      if (L.baseline) {
        r.extra["flops_full"] = wf.flops;
        r.extra["layer_tokens_full"] = wf.layer_tokens;
        if (L.timed) r.extra["t_full"] = tf;
        r.extra["full_pred"] = base[k].pred;
      }
      if (req.truncated_tokens > 0) r.extra["truncated_tokens"] = req.truncated_tokens;
      if (L.opt.log_samples) log_sample(req, r);
      sink(r);
      ++n_done;
      correct += r.pred == r.gold;
      char status[64];
      std::snprintf(status, sizeof status, "acc %.3f", double(correct) / n_done);
      progress.advance(1, status);
    }
  }
  progress.finish();
}

}  // namespace eeb
