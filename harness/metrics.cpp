#include "harness/metrics.h"

#include <cmath>
#include <map>

namespace eeb {

void mean_stderr(const std::vector<double>& xs, double* mean, double* se) {
  const double n = static_cast<double>(xs.size());
  double m = 0;
  for (double x : xs) m += x;
  m = n > 0 ? m / n : 0;
  double ss = 0;
  for (double x : xs) ss += (x - m) * (x - m);
  *mean = m;
  *se = n > 1 ? std::sqrt(ss / (n - 1) / n) : 0;
}

static void add_mean(std::vector<MetricValue>& out, const std::string& name,
                     const std::string& group, const std::vector<double>& xs, bool with_se) {
  MetricValue v;
  v.name = name;
  v.group = group;
  v.n = static_cast<long>(xs.size());
  double se;
  mean_stderr(xs, &v.value, &se);
  if (with_se) v.stderr_ = se;
  out.push_back(v);
}

std::vector<MetricValue> classification_metrics(const std::vector<SampleRecord>& samples,
                                                int n_layers) {
  std::vector<MetricValue> out;
  std::vector<double> acc, acc_norm, layers, heads, secs;
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_group;
  for (const auto& s : samples) {
    double a = s.pred == s.gold, an = s.pred_norm == s.gold;
    acc.push_back(a);
    acc_norm.push_back(an);
    layers.push_back(s.layers_executed);
    heads.push_back(s.lm_head_calls);
    secs.push_back(s.seconds);
    if (!s.group.empty()) {
      by_group[s.group].first.push_back(a);
      by_group[s.group].second.push_back(an);
    }
  }
  add_mean(out, "acc", "", acc, true);
  add_mean(out, "acc_norm", "", acc_norm, true);
  if (!by_group.empty()) {
    std::vector<double> macro, macro_norm;
    for (const auto& [g, v] : by_group) {
      add_mean(out, "acc", g, v.first, true);
      add_mean(out, "acc_norm", g, v.second, true);
      macro.push_back(out[out.size() - 2].value);
      macro_norm.push_back(out.back().value);
    }
    add_mean(out, "acc_macro", "", macro, false);
    add_mean(out, "acc_norm_macro", "", macro_norm, false);
  }
  add_mean(out, "avg_layers", "", layers, true);
  MetricValue pr{"pruning_ratio", "", 0, -1, static_cast<long>(samples.size())};
  pr.value = n_layers > 0 ? 1.0 - out[out.size() - 1].value / n_layers : 0;
  out.push_back(pr);
  add_mean(out, "lm_head_calls", "", heads, false);
  MetricValue t{"model_seconds", "", 0, -1, static_cast<long>(samples.size())};
  for (double s : secs) t.value += s;
  out.push_back(t);
  return out;
}

}  // namespace eeb
