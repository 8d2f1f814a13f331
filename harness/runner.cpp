#include "harness/runner.h"

#include <cstdio>

#include "backends/counting.h"
#include "core/error.h"
#include "harness/progress.h"
#include "core/stats.h"
#include "tokenizer/tokenizer.h"
#include "strategies/builtin.h"
#include "tasks/rouge.h"

namespace eeb {
namespace {

const char* kTimed =
    "per sample: the strategy's model work through the backend (embedding, layers, LM-head rows, "
    "exit checks, decoding loop); excludes tokenisation, prompt building and database writes";

Request generation_request(const Doc& d, int index, const Tokenizer& tok) {
  Request r;
  r.index = index;
  r.doc = &d;
  r.context.push_back(tok.bos());
  for (int t : tok.encode(d.context)) r.context.push_back(t);
  return r;
}

std::vector<int32_t> tokens_of(const SampleRecord& r) {
  return r.extra.value("tokens", std::vector<int32_t>{});
}

}  // namespace

nlohmann::json prepare_strategy(TrialInputs& in, Strategy& s) {
  RunContext ctx{in.backend, &in.tokenizer, in.run_spec};
  s.prepare(ctx, in.task, in.task_options);
  return s.params();
}

void run_trial(TrialInputs& in, Strategy& s, const TrialOptions& opt, const std::set<int>& done,
               const std::function<void(const SampleRecord&)>& sink) {
  CountingBackend cb(in.backend);
  RunContext ctx{cb, &in.tokenizer, in.run_spec};
  const bool generation = in.task.kind() == "generation";
  std::unique_ptr<Strategy> baseline;
  if (s.name() != "full") baseline = make_full(nlohmann::json::object());
  const int L = in.backend.config().n_layers;

  auto request = [&](int i) {
    return generation ? generation_request(in.docs[i], i, in.tokenizer)
                      : make_request(in.docs[i], i, in.tokenizer);
  };
  auto call = [&](Strategy& st, const Request& req, WorkCount* work) {
    WorkCount c0 = cb.count();
    SampleRecord r = generation ? st.generate(ctx, req, opt.max_new_tokens) : st.score(ctx, req);
    if (work) *work = cb.count() - c0;
    return r;
  };

  std::vector<int> todo;
  for (int i = 0; i < static_cast<int>(in.docs.size()); ++i)
    if (!done.count(i)) todo.push_back(i);
  // Warm-up: caches, allocator, thread pools. Not recorded.
  for (int w = 0; w < std::min<int>(opt.warmup, todo.size()) && opt.reps > 0; ++w) {
    auto req = request(todo[w]);
    call(s, req, nullptr);
    if (baseline) call(*baseline, req, nullptr);
  }

  Progress progress(static_cast<long>(todo.size()), opt.label.empty() ? s.name() : opt.label,
                    opt.quiet ? nullptr : stderr);
  long correct = 0, n_done = 0;
  for (int i : todo) {
    auto req = request(i);
    WorkCount work, work_full;
    SampleRecord r = call(s, req, &work);
    std::vector<double> ts{r.seconds}, tf;
    SampleRecord base;
    if (baseline) {
      base = call(*baseline, req, &work_full);
      tf.push_back(base.seconds);
    }
    for (int rep = 1; rep < opt.reps; ++rep) {
      // Alternate the order so neither side always runs first (cache, frequency effects).
      if (rep % 2 == 1 && baseline) tf.push_back(call(*baseline, req, nullptr).seconds);
      ts.push_back(call(s, req, nullptr).seconds);
      if (rep % 2 == 0 && baseline) tf.push_back(call(*baseline, req, nullptr).seconds);
    }
    r.extra["flops"] = work.flops;
    r.extra["layer_tokens"] = work.layer_tokens;
    r.extra["lm_head_rows"] = work.lm_head_rows;
    r.extra["t_strategy"] = ts;
    if (baseline) {
      r.extra["flops_full"] = work_full.flops;
      r.extra["t_full"] = tf;
    }
    if (generation) {
      auto toks = tokens_of(r);
      auto ref = baseline ? tokens_of(base) : toks;
      r.extra["exact_match_full"] = toks == ref ? 1 : 0;
      if (toks != ref && s.name() == "layerskip")
        std::fprintf(stderr, "eebench: warning: %s output differs from full-depth greedy on %s\n",
                     s.name().c_str(), req.doc->id.c_str());
      std::vector<int> text_ids;
      for (int32_t t : toks)
        if (t != in.backend.config().eos_id) text_ids.push_back(t);
      std::string text = in.tokenizer.decode(text_ids);
      r.extra["text"] = text;
      r.extra["rouge2"] = rouge_n_f1(text, req.doc->reference, 2);
      r.extra["rougeL"] = rouge_l_f1(text, req.doc->reference);
      r.extra["generated"] = toks.size();
    } else if (baseline) {
      r.extra["full_pred"] = base.pred;
    }
    sink(r);
    ++n_done;
    correct += !generation && r.pred == r.gold;
    char status[64] = "";
    if (!generation) std::snprintf(status, sizeof status, "acc %.3f", double(correct) / n_done);
    progress.advance(1, status);
  }
  progress.finish();
  (void)L;
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

std::vector<MetricValue> trial_metrics(const Task& task, const std::vector<SampleRecord>& samples,
                                       int L, uint64_t seed) {
  std::vector<MetricValue> out;
  const long n = static_cast<long>(samples.size());
  if (n == 0) return out;
  const bool generation = task.kind() == "generation";
  if (!generation) {
    out = classification_metrics(samples, L);
  } else {
    std::vector<double> layers;
    for (const auto& s : samples) layers.push_back(s.layers_executed);
    double m, se;
    mean_stderr(layers, &m, &se);
    add(out, "avg_layers", m, n, {{"per", "generated token"}});
    add(out, "pruning_ratio", 1.0 - m / L, n);
  }
  // Means of the per-sample scalar extras the strategies and the runner record.
  for (const char* key : {"kl", "top1_agree", "entropy_diff", "exit_layer", "rouge2", "rougeL",
                          "exact_match_full"}) {
    std::vector<double> xs;
    for (const auto& s : samples)
      if (s.extra.contains(key) && s.extra[key].is_number()) xs.push_back(s.extra[key].get<double>());
    if (xs.empty()) continue;
    MetricValue v;
    v.name = key;
    v.n = static_cast<long>(xs.size());
    double se;
    mean_stderr(xs, &v.value, &se);
    v.stderr_ = se;
    out.push_back(v);
  }
  // Agreement of predictions with full depth on the same samples.
  {
    long agree = 0, cnt = 0;
    for (const auto& s : samples)
      if (s.extra.contains("full_pred")) cnt++, agree += s.extra["full_pred"].get<int>() == s.pred;
    if (cnt) add(out, "agreement_with_full", double(agree) / cnt, cnt);
  }
  // Speculative decoding.
  {
    double drafted = 0, accepted = 0, steps = 0, gen = 0, secs = 0;
    for (const auto& s : samples) {
      drafted += s.extra.value("drafted", 0.0);
      accepted += s.extra.value("accepted", 0.0);
      steps += s.extra.value("verify_steps", 0.0);
      gen += s.extra.value("generated", 0.0);
      secs += median(s.extra.value("t_strategy", std::vector<double>{}));
    }
    if (drafted > 0) add(out, "acceptance_rate", accepted / drafted, n);
    if (steps > 0) add(out, "mean_accepted_tokens", accepted / steps, n);
    if (gen > 0 && secs > 0) add(out, "tokens_per_second", gen / secs, n);
  }
  // Speedups, when the baseline ran on the same samples.
  std::vector<double> tf, ts, ff, fs;
  for (const auto& s : samples) {
    ts.push_back(median(s.extra.value("t_strategy", std::vector<double>{})));
    fs.push_back(s.extra.value("flops", 0.0));
    if (s.extra.contains("t_full")) {
      tf.push_back(median(s.extra["t_full"].get<std::vector<double>>()));
      ff.push_back(s.extra.value("flops_full", 0.0));
    }
  }
  double tsum = 0;
  for (double t : ts) tsum += t;
  add(out, "time_strategy_s", tsum, n, {{"timed", kTimed}, {"statistic", "sum of per-sample medians"}});
  double fsum = 0;
  for (double f : fs) fsum += f;
  add(out, "flops", fsum, n, {{"counted", "matmul FLOPs of every layer-token and LM-head row executed"}});
  if (tf.size() == samples.size()) {
    auto ci = bootstrap_ratio(tf, ts, 2000, 0.95, seed);
    double fsum_full = 0;
    for (double f : ff) fsum_full += f;
    double tfull = 0;
    for (double t : tf) tfull += t;
    add(out, "time_full_s", tfull, n, {{"timed", kTimed}});
    add(out, "speedup", ci.ratio, n,
        {{"ci95", {ci.lo, ci.hi}}, {"method", "ratio of summed per-sample median times; "
                                              "percentile bootstrap over samples (2000)"},
         {"timed", kTimed}});
    add(out, "flops_speedup", fs.empty() || fsum == 0 ? 0 : fsum_full / fsum, n);
  }
  return out;
}

}  // namespace eeb
