// compare_runs: matches the trials of two sets of runs and checks accuracy, time and depth.
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "reports/compare.h"
#include "reports/report_data.h"
#include "reports/stat_tests.h"

namespace eeb {
namespace {

struct Side {
  ReportData data;
  std::map<int64_t, const RunInfo*> runs;
};

std::string trial_key(const TrialRow& t) {
  return cat(t.model.weights_checksum, "\n", t.task.name, "\n", t.task.version, "\n", t.task.split, "\n",
             std::to_string(t.task.shots), "\n", t.strategy.name, "\n", t.strategy.params.dump());
}

std::string trial_name(const TrialRow& t) {
  return cat(model_label(t.model), " · ", task_label(t.task), " · ", strategy_label(t.strategy));
}

// The fields of the hardware fingerprint that differ; "" when they agree.
std::string hardware_diff(const RunInfo& a, const RunInfo& b) {
  std::string d;
  auto field = [&](const char* name, const std::string& x, const std::string& y) {
    if (x != y) d += cat(d.empty() ? "" : ", ", name, " '", x, "' vs '", y, "'");
  };
  field("cpu_model", a.cpu_model, b.cpu_model);
  field("gpu_name", a.gpu_name, b.gpu_name);
  field("backend", a.backend, b.backend);
  field("threads", std::to_string(a.threads), std::to_string(b.threads));
  field("dtype", a.dtype, b.dtype);
  return d;
}

// The scoring modes that change what a per-sample time measures (issue 14): with the prefix cache a
// sample's time is its suffix only, with batched documents a share of a batch. "" when they agree.
// Runs stored before these keys existed ran neither (prefix_cache off, batch_docs 1).
std::string mode_diff(const RunInfo& a, const RunInfo& b) {
  auto prefix = [](const RunInfo& r) {
    const auto it = r.spec.find("prefix_cache");
    return it != r.spec.end() && it->is_boolean() && it->get<bool>();
  };
  auto batch = [](const RunInfo& r) {
    const auto it = r.spec.find("batch_docs");
    return it != r.spec.end() && it->is_number_integer() ? it->get<long>() : 1L;
  };
  std::string d;
  if (prefix(a) != prefix(b))
    d = cat("prefix_cache ", prefix(a) ? "on" : "off", " vs ", prefix(b) ? "on" : "off");
  if (batch(a) != batch(b))
    d += cat(d.empty() ? "" : ", ", "batch_docs ", std::to_string(batch(a)), " vs ", std::to_string(batch(b)));
  return d;
}

std::string pfmt(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, p < 1e-4 ? "%.2g" : "%.4f", p);
  return buf;
}

// Samples of both trials for the same document (doc_id, or doc_index when ids are empty).
std::vector<std::pair<const SampleRow*, const SampleRow*>> pairs(const TrialData& a, const TrialData& b) {
  auto key = [](const SampleRow& s) { return s.doc_id.empty() ? cat("#", std::to_string(s.doc_index)) : s.doc_id; };
  std::map<std::string, const SampleRow*> in_b;
  for (const auto& s : b.samples) in_b[key(s)] = &s;
  std::vector<std::pair<const SampleRow*, const SampleRow*>> out;
  for (const auto& s : a.samples)
    if (auto it = in_b.find(key(s)); it != in_b.end()) out.push_back({&s, it->second});
  return out;
}

void accuracy_check(Comparison& c, Check base, const TrialData& a, const TrialData& b, bool norm,
                    const CompareOptions& o) {
  base.metric = norm ? "acc_norm" : "acc";
  // A finished trial without the metric is of a task whose metric_list leaves it out: not compared.
  auto unlisted = [&](const TrialData& t) { return t.row.status == "finished" && !t.metric(base.metric); };
  if (unlisted(a) || unlisted(b)) return;
  long n = 0, ca = 0, cb = 0, only_a = 0, only_b = 0;
  for (auto [x, y] : pairs(a, b)) {
    const auto& px = norm ? x->correct_norm : x->correct;
    const auto& py = norm ? y->correct_norm : y->correct;
    if (!px || !py) continue;
    ++n, ca += *px, cb += *py;
    only_a += *px && !*py, only_b += !*px && *py;
  }
  if (n == 0) return;  // generation task, or no common documents (reported by the time check)
  const double acc_a = double(ca) / n, acc_b = double(cb) / n, delta = acc_b - acc_a;
  const TestResult t = mcnemar(only_a, only_b);
  base.base = fmt(acc_a), base.candidate = fmt(acc_b);
  char change[48];
  std::snprintf(change, sizeof change, "%+.2f pt", 100 * delta);
  base.change = change;
  base.p = t.p;
  base.method = "McNemar " + t.method;
  const std::string detail = cat(base.metric, " ", fmt(acc_a), " → ", fmt(acc_b), " (", change, ") over ",
                                 std::to_string(n), " paired documents, ", std::to_string(only_a), " newly wrong, ",
                                 std::to_string(only_b), " newly right; ", base.method, " p=", pfmt(t.p));
  if (-delta > o.max_acc_drop && t.p < o.alpha) {
    base.verdict = Verdict::fail;
    base.reason = cat(detail, " < alpha ", fmt(o.alpha), " and drop > max ", fmt(100 * o.max_acc_drop), " pt");
  } else {
    base.reason = detail;
  }
  c.checks.push_back(base);
}

void time_check(Comparison& c, Check base, const TrialData& a, const TrialData& b, const std::string& hw,
                const std::string& mode, const CompareOptions& o) {
  base.metric = "time";
  std::vector<double> ta, tb;
  double sa = 0, sb = 0;
  for (auto [x, y] : pairs(a, b)) {
    ta.push_back(sample_time(*x)), tb.push_back(sample_time(*y));
    sa += ta.back(), sb += tb.back();
  }
  if (ta.empty()) {
    base.verdict = Verdict::skipped;
    base.reason = "time not compared: the trials have no documents in common";
  } else if (!mode.empty()) {  // not overridable: the times measure different things
    base.verdict = Verdict::skipped;
    base.reason = cat("time not compared: the runs' scoring modes differ (", mode, ")");
  } else if (!hw.empty() && !o.force) {
    base.verdict = Verdict::skipped;
    base.reason = cat("time not compared: hardware differs (", hw, "); --force compares anyway");
  } else if (!(sa > 0) || !(sb > 0)) {
    base.verdict = Verdict::skipped;
    base.reason = "time not compared: no recorded times";
  }
  if (base.verdict == Verdict::skipped) {
    c.checks.push_back(base);
    return;
  }
  const double change = sb / sa - 1;
  // Paired: the same document on both sides. Documents differ in length far more than a change
  // shifts one document's time, so an unpaired test would drown a consistent change in that spread.
  const TestResult t = wilcoxon_signed_rank(tb, ta);
  char ch[48];
  std::snprintf(ch, sizeof ch, "%+.1f%%", 100 * change);
  base.base = fmt(sa) + " s", base.candidate = fmt(sb) + " s", base.change = ch;
  base.p = t.p;
  base.method = "Wilcoxon signed-rank " + t.method;
  std::string detail = cat("time ", ch, " (sum of per-sample median times ", fmt(sa), " s → ", fmt(sb), " s over ",
                           std::to_string(ta.size()), " paired documents); ", base.method, " p=", pfmt(t.p));
  if (!hw.empty()) detail += cat(" [forced across hardware: ", hw, "]");
  if (change > o.max_slowdown && t.p < o.alpha) {
    base.verdict = Verdict::fail;
    base.reason = cat(detail, " < alpha ", fmt(o.alpha), " and slowdown > max ", fmt(100 * o.max_slowdown), "%");
  } else {
    base.reason = detail;
  }
  c.checks.push_back(base);
}

void depth_check(Comparison& c, Check base, const TrialData& a, const TrialData& b, const char* metric) {
  base.metric = metric;
  const auto va = a.value(metric), vb = b.value(metric);
  if (!va && !vb) return;
  if (!va || !vb) {
    base.verdict = Verdict::fail;
    base.reason = cat(metric, " is missing in the ", va ? "candidate" : "base", " trial");
    c.checks.push_back(base);
    return;
  }
  base.base = fmt(*va, 6), base.candidate = fmt(*vb, 6);
  const bool same = std::fabs(*va - *vb) <= 1e-9 * std::max(1.0, std::fabs(*va));
  base.change = same ? "=" : fmt(*vb - *va, 4);
  if (!same) {
    base.verdict = Verdict::fail;
    base.reason = cat(metric, " changed ", fmt(*va, 6), " → ", fmt(*vb, 6),
                      " (depth metrics are deterministic and must match exactly)");
  }
  c.checks.push_back(base);
}

Side load(ResultStore& s, const std::vector<int64_t>& runs) {
  if (runs.empty()) throw Error(s.path(), "compare: no run ids given");
  Side side{load_report_data(s, runs, LoadSamples::all), {}};
  for (const auto& r : side.data.runs) side.runs[r.id] = &r;
  return side;
}

}  // namespace

int Comparison::failures() const {
  int n = 0;
  for (const auto& c : checks) n += c.verdict == Verdict::fail;
  return n;
}

int Comparison::skipped() const {
  int n = 0;
  for (const auto& c : checks) n += c.verdict == Verdict::skipped;
  return n;
}

Comparison compare_runs(ResultStore& base_store, const std::vector<int64_t>& base_runs, ResultStore& cand_store,
                        const std::vector<int64_t>& cand_runs, const CompareOptions& o) {
  const Side base = load(base_store, base_runs), cand = load(cand_store, cand_runs);
  Comparison c;
  for (const auto& r : cand.data.runs)
    if (r.status != "finished") c.notes.push_back(cat("candidate run ", std::to_string(r.id), " is ", r.status));
  // The latest trial of each key on each side (a later run repeats an earlier one).
  std::map<std::string, const TrialData*> cand_by_key, base_by_key;
  for (const auto& t : cand.data.trials) cand_by_key[trial_key(t.row)] = &t;
  std::vector<std::string> order;
  std::set<std::pair<int64_t, int64_t>> noted;  // run pairs whose hardware difference is noted
  std::set<std::pair<int64_t, int64_t>> noted_mode;  // ... whose scoring-mode difference is noted
  for (const auto& t : base.data.trials) {
    const std::string k = trial_key(t.row);
    if (!base_by_key.count(k)) order.push_back(k);
    base_by_key[k] = &t;
  }
  for (const auto& k : order) {
    const TrialData& a = *base_by_key[k];
    Check proto;
    proto.trial = trial_name(a.row);
    auto it = cand_by_key.find(k);
    if (it == cand_by_key.end()) {
      proto.ids = cat("trial ", std::to_string(a.row.id), " → none");
      proto.metric = "trial";
      proto.verdict = Verdict::fail;
      proto.reason = cat("no matching trial in candidate runs ", join_ids(cand_runs),
                         " (same weights checksum, task name/version/split/shots, strategy name and params)");
      c.checks.push_back(proto);
      continue;
    }
    const TrialData& b = *it->second;
    proto.ids = cat("trial ", std::to_string(a.row.id), " → ", std::to_string(b.row.id));
    if (b.row.status != "finished") {
      Check s = proto;
      s.metric = "trial";
      s.verdict = Verdict::fail;
      s.reason = cat("candidate trial ", std::to_string(b.row.id), " is ", b.row.status, " (", std::to_string(b.samples.size()),
                     " of ", std::to_string(a.samples.size()), " samples)");
      c.checks.push_back(s);
    }
    const std::string hw = hardware_diff(*base.runs.at(a.row.run_id), *cand.runs.at(b.row.run_id));
    if (!hw.empty() && noted.insert({a.row.run_id, b.row.run_id}).second)
      c.notes.push_back(cat("hardware differs between base run ", std::to_string(a.row.run_id), " and candidate run ",
                            std::to_string(b.row.run_id), ": ", hw,
                            o.force ? "; timings compared anyway (--force)" : "; timings not compared (--force to compare)"));
    const std::string mode = mode_diff(*base.runs.at(a.row.run_id), *cand.runs.at(b.row.run_id));
    if (!mode.empty() && noted_mode.insert({a.row.run_id, b.row.run_id}).second)
      c.notes.push_back(cat("scoring modes differ between base run ", std::to_string(a.row.run_id),
                            " and candidate run ", std::to_string(b.row.run_id), ": ", mode,
                            "; accuracy compared, timings not"));
    // Accuracy still compares: the prefix cache and batching change log-likelihoods by float
    // rounding only (1e-4 nats), not what is computed.
    accuracy_check(c, proto, a, b, false, o);
    accuracy_check(c, proto, a, b, true, o);
    time_check(c, proto, a, b, hw, mode, o);
    depth_check(c, proto, a, b, "avg_layers");
    depth_check(c, proto, a, b, "pruning_ratio");
    cand_by_key.erase(it);
  }
  for (const auto& [k, t] : cand_by_key)
    c.notes.push_back(cat("candidate trial ", std::to_string(t->row.id), " (", trial_name(t->row), ") has no base trial"));
  return c;
}

}  // namespace eeb
