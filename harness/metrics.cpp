#include "harness/metrics.h"

#include <algorithm>
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

double pooled_sample_stderr(const std::vector<double>& stderrs, const std::vector<long>& sizes) {
  double num = 0, total = 0;
  for (size_t i = 0; i < stderrs.size() && i < sizes.size(); ++i) {
    const double n = static_cast<double>(sizes[i]);
    num += (n - 1) * stderrs[i] * stderrs[i] * n;
    total += n;
  }
  const double dof = total - static_cast<double>(sizes.size());
  if (dof <= 0) return -1;
  return std::sqrt(num / dof / total);
}

static MetricValue mean_metric(const std::string& name, const std::string& group,
                               const std::vector<double>& xs, bool with_se) {
  MetricValue v;
  v.name = name;
  v.group = group;
  v.n = static_cast<long>(xs.size());
  double se;
  mean_stderr(xs, &v.value, &se);
  if (with_se) v.stderr_ = se;
  return v;
}

std::vector<MetricValue> classification_metrics(const std::vector<SampleRecord>& samples,
                                               const std::vector<std::string>& metrics) {
  std::vector<MetricValue> out;
  std::vector<double> acc, acc_norm;
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_group;
  for (const auto& s : samples) {
    double a = s.pred == s.gold, an = s.pred_norm == s.gold;
    acc.push_back(a);
    acc_norm.push_back(an);
    if (!s.group.empty()) {
      by_group[s.group].first.push_back(a);
      by_group[s.group].second.push_back(an);
    }
  }
  out.push_back(mean_metric("acc", "", acc, true));
  out.push_back(mean_metric("acc_norm", "", acc_norm, true));
  if (!by_group.empty()) {
    std::vector<double> macro, macro_norm, se, se_norm;
    std::vector<long> sizes;
    for (const auto& [g, v] : by_group) {
      out.push_back(mean_metric("acc", g, v.first, true));
      out.push_back(mean_metric("acc_norm", g, v.second, true));
      macro.push_back(out[out.size() - 2].value), se.push_back(out[out.size() - 2].stderr_);
      macro_norm.push_back(out.back().value), se_norm.push_back(out.back().stderr_);
      sizes.push_back(static_cast<long>(v.first.size()));
    }
    // The overall value is the document-weighted mean either way; its stderr is pooled over the
    // groups, as lm-eval aggregates a group (weight_by_size) from its subtasks.
    const nlohmann::json how = {{"stderr", "pooled over groups (lm-eval pooled_sample_stderr)"}};
    out[0].stderr_ = pooled_sample_stderr(se, sizes), out[0].detail = how;
    out[1].stderr_ = pooled_sample_stderr(se_norm, sizes), out[1].detail = how;
    out.push_back(mean_metric("acc_macro", "", macro, false));
    out.push_back(mean_metric("acc_norm_macro", "", macro_norm, false));
  }
  // Only what the task lists (lm-eval's metric_list); acc_macro goes with acc, acc_norm_macro with acc_norm.
  auto listed = [&](const std::string& name) {
    const std::string base = name.ends_with("_macro") ? name.substr(0, name.size() - 6) : name;
    return std::find(metrics.begin(), metrics.end(), base) != metrics.end();
  };
  std::erase_if(out, [&](const MetricValue& m) { return !listed(m.name); });
  return out;
}

static const nlohmann::json* number_at(const SampleRecord& s, const std::string& key) {
  if (!s.extra.is_object()) return nullptr;
  auto it = s.extra.find(key);
  return it != s.extra.end() && it->is_number() ? &*it : nullptr;
}

std::vector<MetricValue> aggregate_measures(const std::vector<MeasureSpec>& specs,
                                            const std::vector<SampleRecord>& samples) {
  std::vector<MetricValue> out;
  for (const auto& spec : specs) {
    MetricValue v;
    v.name = spec.name;
    v.detail = {{"aggregation", aggregation_name(spec.aggregation)}, {"description", spec.description}};
    std::vector<double> xs;
    double den = 0;
    for (const auto& s : samples) {
      const auto* x = number_at(s, spec.sample_key());
      if (!x) continue;
      if (spec.aggregation == Aggregation::ratio_of_sums) {
        const auto* d = number_at(s, spec.denominator);
        if (!d) continue;
        den += d->get<double>();
      }
      xs.push_back(x->get<double>());
    }
    if (xs.empty()) continue;
    v.n = static_cast<long>(xs.size());
    switch (spec.aggregation) {
      case Aggregation::hypothetical:
        v.detail["hypothetical"] = true;
        [[fallthrough]];
      case Aggregation::mean: {
        double se;
        mean_stderr(xs, &v.value, &se);
        v.stderr_ = se;
        break;
      }
      case Aggregation::sum:
        for (double x : xs) v.value += x;
        break;
      case Aggregation::ratio_of_sums: {
        if (den == 0) continue;
        double num = 0;
        for (double x : xs) num += x;
        v.value = num / den;
        v.detail["denominator"] = spec.denominator;
        break;
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace eeb
