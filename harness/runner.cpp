#include "harness/runner.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>

#include "backends/counting.h"
#include "core/error.h"
#include "core/stats.h"
#include "harness/prefix_cache.h"
#include "harness/progress.h"
#include "harness/runner_batch.h"
#include "strategies/builtin.h"
#include "tasks/rouge.h"
#include "tokenizer/tokenizer.h"

namespace eeb {
namespace {

const char* kTimed =
    "per sample: one score()/generate() call of the strategy (its model work through the backend: "
    "embedding, layers, LM-head rows, exit checks, decoding loop), timed by the backend's timer; excludes "
    "tokenisation, prompt building, reference analysis and database writes";

Request generation_request(const Doc& d, int index, const Tokenizer& tok) {
  Request r;
  r.index = index;
  r.doc = &d;
  for (int t : tok.encode_for_model(d.context)) r.context.push_back(t);  // BOS as the tokenizer's policy says
  return r;
}

std::vector<int32_t> tokens_of(const SampleRecord& r) {
  return r.extra.value("tokens", std::vector<int32_t>{});
}

// What the runner itself writes into every sample of a trial (beyond the strategy's measures).
std::vector<MeasureSpec> runner_measures(bool generation) {
  // --batch-docs (runner_batch.h); absent from samples scored one at a time, so then no metric.
  MeasureSpec batch{"batch_size", Aggregation::mean,
                    "documents per score_batch call (--batch-docs): a sample's time and counted work are its "
                    "batch's divided by this"};
  if (!generation) return {batch};
  return {{"rouge2", Aggregation::mean, "ROUGE-2 F1 of the generated text against the reference"},
          {"rougeL", Aggregation::mean, "ROUGE-L F1 of the generated text against the reference"},
          {"exact_match_full", Aggregation::mean,
           "fraction of samples whose generated tokens equal full-depth greedy decoding's"},
          {"layer_evals_per_token", Aggregation::ratio_of_sums,
           "layer-token evaluations counted over the whole generate call (prompt rows, drafts, verify rows "
           "and rejected drafts included) per generated token",
           "layer_tokens", "generated"},
          {"layer_evals_per_token_full", Aggregation::ratio_of_sums,
           "the same for full-depth greedy decoding on the same prompts", "layer_tokens_full", "generated_full"}};
}

// Which side is timed first for document i: alternates over documents, the start set by the seed,
// so over any two consecutive documents each side goes first once.
bool strategy_first(int index, uint64_t seed) { return (static_cast<uint64_t>(index) + seed) % 2 == 0; }

}  // namespace

void log_sample(const Request& req, SampleRecord& r) {
  r.extra["context_tokens"] = req.context;
  r.extra["continuation_tokens"] = req.continuations;
  r.extra["context_text"] = req.context_text;
  r.extra["fewshot_ids"] = req.fewshot_ids;
}

nlohmann::json prepare_strategy(TrialInputs& in, Strategy& s) {
  RunContext ctx{in.backend, &in.tokenizer, in.run_spec};
  s.prepare(ctx, in.task, in.task_options);
  return s.params();
}

void run_trial(TrialInputs& in, Strategy& s, const TrialOptions& opt, const std::set<int>& done,
               const std::function<void(const SampleRecord&)>& sink) {
  CountingBackend cb(in.backend);
  RunContext ctx{cb, &in.tokenizer, in.run_spec};
  RunContext ref_ctx{in.backend, &in.tokenizer, in.run_spec};  // reference work: not counted
  const bool generation = in.task.kind() == "generation";
  // A hypothetical strategy ran more than it reports: its cost is not measured.
  const bool timed = opt.reps > 0 && !s.hypothetical();
  std::unique_ptr<Strategy> baseline;
  if (!s.is_baseline() && !s.hypothetical()) baseline = make_full(nlohmann::json::object());

  auto request = [&](int i) {
    return generation ? generation_request(in.docs[i], i, in.tokenizer)
                      : make_request(in.docs[i], i, in.tokenizer, true, in.backend.config().max_seq_len);
  };
  // One strategy call: counted through cb; timed (only the call) when secs is given; starting from
  // a cached prefix when one is given.
  auto call = [&](Strategy& st, const Request& req, WorkCount* work, double* secs,
                  const PrefixState* prefix = nullptr) {
    WorkCount c0 = cb.count();
    ctx.prefix = prefix;
    auto timer = secs ? in.backend.new_timer() : nullptr;
    if (timer) timer->start();
    SampleRecord r = generation ? st.generate(ctx, req, opt.max_new_tokens) : st.score(ctx, req);
    if (timer) *secs = timer->stop_seconds();
    ctx.prefix = nullptr;
    if (work) *work = cb.count() - c0;
    return r;
  };

  std::vector<int> todo;
  for (int i = 0; i < static_cast<int>(in.docs.size()); ++i)
    if (!done.count(i)) todo.push_back(i);

  // The prefix cache: on for multiple-choice tasks when the strategy says which plan its prefix needs
  // (then the baseline uses one too, so both sides of a speedup are measured with the same caching).
  const int L = in.backend.config().n_layers;
  std::vector<std::optional<std::vector<int>>> side_plan(2);  // 0: strategy, 1: baseline
  if (opt.prefix_cache && !generation) side_plan[0] = s.prefix_plan(L);
  if (side_plan[0] && baseline) side_plan[1] = baseline->prefix_plan(L);
  std::unique_ptr<TrialPrefixes> prefixes;
  if (side_plan[0] && (!baseline || side_plan[1])) {
    std::vector<Request> reqs;  // built up front: the groups are found over all of them
    for (int i : todo) reqs.push_back(request(i));
    std::vector<std::vector<int>> plans{*side_plan[0]};
    if (baseline) plans.push_back(*side_plan[1]);
    prefixes = std::make_unique<TrialPrefixes>(
        cb, std::move(reqs), std::move(plans),
        opt.prefix_cache_mb > 0 ? opt.prefix_cache_mb * (1 << 20) : default_prefix_cache_bytes(in.backend),
        timed);
  }
  const bool caching = prefixes != nullptr;

  // --batch-docs N > 1: several documents per score_batch call (runner_batch.h), where the strategy
  // (and so the baseline beside it) computes them together; otherwise the loop below, unchanged.
  if (opt.batch_docs > 1 && !generation && s.batches_documents()) {
    BatchLoop loop{in, s, baseline.get(), opt, cb, ctx, ref_ctx, timed, request, prefixes.get()};
    run_batches(loop, todo, sink);
    return;
  }

  // Warm-up: caches, allocator, thread pools. Not recorded.
  for (int w = 0; w < std::min<int>(opt.warmup, todo.size()) && timed; ++w) {
    auto req = request(todo[w]);
    call(s, req, nullptr, nullptr);
    if (baseline) call(*baseline, req, nullptr, nullptr);
  }

  Progress progress(static_cast<long>(todo.size()), opt.label.empty() ? s.name() : opt.label,
                    opt.quiet ? nullptr : stderr);
  long correct = 0, n_done = 0;
  for (size_t t = 0; t < todo.size(); ++t) {
    const int i = todo[t];
    const Request req = caching ? prefixes->requests()[t] : request(i);
    // Held for the whole document: an eviction while in use leaves it alive.
    std::shared_ptr<const PrefixState> pre[2];
    TrialPrefixes::Share share[2];
    if (caching) {
      pre[0] = prefixes->get(0, t), share[0] = prefixes->share(0);
      if (baseline) pre[1] = prefixes->get(1, t), share[1] = prefixes->share(1);
    }
    SampleRecord r, base;
    WorkCount work, work_full;
    std::vector<double> ts, tf;
    std::string order;
    // The first call of each side gives its record and work count; later ones are only timed.
    auto side = [&](bool strategy_side) {
      double t = 0;
      double* secs = timed ? &t : nullptr;
      if (strategy_side) {
        if (order.find('A') == std::string::npos) r = call(s, req, &work, secs, pre[0].get());
        else call(s, req, nullptr, secs, pre[0].get());
        ts.push_back(t), order += 'A';
      } else {
        if (order.find('B') == std::string::npos) base = call(*baseline, req, &work_full, secs, pre[1].get());
        else call(*baseline, req, nullptr, secs, pre[1].get());
        tf.push_back(t), order += 'B';
      }
    };
    const bool a_first = strategy_first(i, opt.seed);
    for (int rep = 0; rep < std::max(opt.reps, 1) && (timed || rep == 0); ++rep) {
      if (!baseline) {
        side(true);
        continue;
      }
      const bool a = (rep % 2 == 0) == a_first;  // ABBA: the pair order flips every repetition
      side(a);
      side(!a);
    }
    s.reference(ref_ctx, req, r);

    r.seconds = timed ? median(ts) : NAN;
    r.extra["flops"] = work.flops;
    r.extra["layer_tokens"] = work.layer_tokens;
    r.extra["lm_head_rows"] = work.lm_head_rows;
    if (timed) {
      r.extra["t_strategy"] = ts;
      r.extra["timing_order"] = order;
    }
    // Context tokens this document took from the cache, and its shares of the prefixes' cost.
    if (caching) TrialPrefixes::record(r, pre[0].get(), share[0], baseline ? &share[1] : nullptr, timed);
    if (baseline) {
      r.extra["flops_full"] = work_full.flops;
      r.extra["layer_tokens_full"] = work_full.layer_tokens;
      if (timed) r.extra["t_full"] = tf;
    }
    if (generation) {
      auto toks = tokens_of(r);
      auto ref = baseline ? tokens_of(base) : toks;
      if (s.lossless() && toks != ref)
        throw Error("strategy " + s.name() + " is lossless, but its output differs from full-depth greedy "
                    "decoding on document " + req.doc->id);
      r.extra["exact_match_full"] = toks == ref ? 1 : 0;
      std::vector<int> text_ids;
      for (int32_t t : toks)
        if (t != in.backend.config().eos_id) text_ids.push_back(t);
      std::string text = in.tokenizer.decode(text_ids);
      r.extra["text"] = text;
      r.extra["rouge2"] = rouge_n_f1(text, req.doc->reference, 2);
      r.extra["rougeL"] = rouge_l_f1(text, req.doc->reference);
      r.extra["generated"] = toks.size();
      if (baseline) r.extra["generated_full"] = ref.size();
    } else if (baseline) {
      r.extra["full_pred"] = base.pred;
    }
    // lm-eval left-truncates an over-long context; say so on every sample it happened to.
    if (req.truncated_tokens > 0) r.extra["truncated_tokens"] = req.truncated_tokens;
    if (opt.log_samples) log_sample(req, r);
    sink(r);
    ++n_done;
    correct += !generation && r.pred == r.gold;
    char status[64] = "";
    if (!generation) std::snprintf(status, sizeof status, "acc %.3f", double(correct) / n_done);
    progress.advance(1, status);
  }
  progress.finish();
}

static void add(std::vector<MetricValue>& out, const std::string& name, double v, long n,
                nlohmann::json detail = nlohmann::json::object()) {
  MetricValue m;
  m.name = name;
  m.value = v;
  m.n = n;
  m.detail = std::move(detail);
  out.push_back(m);
}

std::vector<MetricValue> trial_metrics(const Task& task, const Strategy& st,
                                       const std::vector<SampleRecord>& samples, int L, uint64_t seed) {
  std::vector<MetricValue> out;
  const long n = static_cast<long>(samples.size());
  if (n == 0) return out;
  const bool generation = task.kind() == "generation";
  if (!generation) out = classification_metrics(samples, task.metrics());
  // Depth: only where layers_executed is one, and what ran is what is reported.
  if (st.reports_depth() && !st.hypothetical()) {
    std::vector<double> layers, heads;
    for (const auto& s : samples) {
      if (std::isfinite(s.layers_executed)) layers.push_back(s.layers_executed);
      heads.push_back(s.lm_head_calls);
    }
    if (!layers.empty()) {
      double m, se;
      mean_stderr(layers, &m, &se);
      MetricValue v{"avg_layers", "", m, se, static_cast<long>(layers.size()),
                    {{"per", generation ? "generated token" : "sample (at the scoring position)"}}};
      out.push_back(v);
      add(out, "pruning_ratio", L > 0 ? 1.0 - m / L : 0, v.n, {{"description", "1 - avg_layers / L"}});
    }
    if (!generation) {
      double m, se;
      mean_stderr(heads, &m, &se);
      add(out, "lm_head_calls", m, n, {{"description", "logit-lens evaluations paid for exit decisions, per sample"}});
    }
  }
  // Declared measures: the runner's own, then the strategy's.
  auto specs = runner_measures(generation);
  for (auto& m : st.measures()) specs.push_back(m);
  for (auto& m : aggregate_measures(specs, samples)) out.push_back(std::move(m));
  // Agreement of predictions with full depth on the same samples.
  {
    long agree = 0, cnt = 0;
    for (const auto& s : samples)
      if (s.extra.contains("full_pred")) cnt++, agree += s.extra["full_pred"].get<int>() == s.pred;
    if (cnt) add(out, "agreement_with_full", double(agree) / cnt, cnt);
  }
  if (st.hypothetical()) return out;  // ran more than it reports: no cost metrics

  // Counted work (also with reps = 0).
  double fsum = 0, fsum_full = 0;
  long n_full = 0;
  for (const auto& s : samples) {
    fsum += s.extra.value("flops", 0.0);
    if (s.extra.contains("flops_full")) fsum_full += s.extra["flops_full"].get<double>(), ++n_full;
  }
  add(out, "flops", fsum, n, {{"counted", "matmul FLOPs of every layer-token and LM-head row executed"}});
  if (n_full == n && fsum > 0)
    add(out, "flops_speedup", fsum_full / fsum, n,
        {{"counted", "baseline FLOPs / strategy FLOPs on the same samples (reference analysis excluded)"}});
  // The prefix cache's shared work, counted once and reported on its own (the per-sample figures
  // above are then each document's suffix).
  const bool cached = samples.front().extra.contains("prefix_tokens");
  double psum = 0, psum_full = 0, ptok = 0, preused = 0;
  for (const auto& s : samples) {
    psum += s.extra.value("prefix_flops", 0.0), psum_full += s.extra.value("prefix_flops_full", 0.0);
    ptok += s.extra.value("prefix_computed_tokens", 0.0), preused += s.extra.value("prefix_tokens", 0.0);
  }
  if (cached) {
    add(out, "prefix_tokens", ptok, n,
        {{"description", "context tokens computed once as shared prefixes (every computation, evictions "
                         "included), strategy side"},
         {"per_sample_reused", preused / n}});
    add(out, "prefix_flops", psum, n,
        {{"counted", "FLOPs of the shared prefixes through the strategy's prefix plan, once each"},
         {"per_sample", psum / n}});
    if (n_full == n) {
      add(out, "prefix_flops_full", psum_full, n, {{"counted", "the same for the baseline's prefixes"}});
      if (fsum + psum > 0)
        add(out, "flops_speedup_with_prefix", (fsum_full + psum_full) / (fsum + psum), n,
            {{"counted", "baseline / strategy FLOPs, each side's shared prefixes included"}});
    }
  }

  // Times, only when every sample was timed (reps >= 1).
  std::vector<double> ts, tf;
  double gen = 0;
  for (const auto& s : samples) {
    auto t = s.extra.value("t_strategy", std::vector<double>{});
    if (t.empty()) return out;
    ts.push_back(median(t));
    gen += s.extra.value("generated", 0.0);
    auto f = s.extra.value("t_full", std::vector<double>{});
    if (!f.empty()) tf.push_back(median(f));
  }
  double tsum = 0;
  for (double t : ts) tsum += t;
  add(out, "time_strategy_s", tsum, n, {{"timed", kTimed}, {"statistic", "sum of per-sample medians"}});
  double pt = 0, pt_full = 0;
  for (const auto& s : samples)
    pt += s.extra.value("prefix_seconds", 0.0), pt_full += s.extra.value("prefix_seconds_full", 0.0);
  if (cached)
    add(out, "prefix_seconds", pt, n,
        {{"timed", "each shared prefix's computation through the strategy's prefix plan, once (one "
                   "repetition), by the backend's timer"},
         {"per_sample", pt / n}});
  if (!generation && tsum + pt > 0)
    add(out, "documents_per_second", n / (tsum + pt), n,
        {{"timed", "samples / (time_strategy_s + prefix_seconds): the per-document times plus the shared "
                   "prefixes' once"}});
  if (generation && gen > 0 && tsum > 0) add(out, "tokens_per_second", gen / tsum, n, {{"timed", kTimed}});
  if (tf.size() == samples.size()) {
    auto ci = bootstrap_ratio(tf, ts, 2000, 0.95, seed);
    double tfull = 0;
    for (double t : tf) tfull += t;
    add(out, "time_full_s", tfull, n, {{"timed", kTimed}, {"statistic", "sum of per-sample medians"}});
    add(out, "speedup", ci.ratio, n,
        {{"ci95", {ci.lo, ci.hi}},
         {"method", "ratio of summed per-sample median times; percentile bootstrap over samples (2000)"},
         {"order", "per sample ABBA..., the side timed first alternating over documents (timing_order)"},
         {"timed", kTimed},
         {"prefix_cache", cached ? "on: both sides' per-document times start from their cached prefix "
                                   "(the suffix cost; prefixes in speedup_with_prefix)" : "off"}});
    if (cached) {
      add(out, "prefix_seconds_full", pt_full, n, {{"timed", "the same for the baseline's prefixes"}});
      if (tsum + pt > 0)
        add(out, "speedup_with_prefix", (tfull + pt_full) / (tsum + pt), n,
            {{"timed", "(time_full_s + prefix_seconds_full) / (time_strategy_s + prefix_seconds): the "
                       "whole task's cost on each side, shared prefixes included once"}});
    }
  }
  return out;
}

}  // namespace eeb
