// What a report reads from the results database: runs, their trials with metrics and (when asked)
// samples. Internal to reports/.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "results/store.h"

namespace eeb {

struct TrialData {
  TrialRow row;
  std::vector<MetricRow> metrics;
  std::vector<SampleRow> samples;  // loaded only when asked for
  // The overall (group "") metric with this name.
  const MetricRow* metric(const std::string& name) const;
  std::optional<double> value(const std::string& name) const;
  int n_layers() const;  // model config n_layers; 0 when unknown
};

struct ReportData {
  std::string db;
  std::vector<RunInfo> runs;
  std::vector<TrialData> trials;  // in run order, then trial id
};

enum class LoadSamples { none, oracle, all };

// Reads the given runs (every run of the database when `runs` is empty). Error naming the database
// when a run does not exist or when there is nothing to report.
ReportData load_report_data(ResultStore& store, const std::vector<int64_t>& runs, LoadSamples samples);

// "sst-lm-12L" from "/models/sst-lm-12L/" (the last path component).
std::string model_label(const ModelRow& m);
// "sst2 v1 dev 0-shot".
std::string task_label(const TaskRow& t);
// "shortgpt n=2" / "lesion layer=3 op=delete" / "full".
std::string strategy_label(const StrategyRow& s);
// "1, 2, 5".
std::string join_ids(const std::vector<int64_t>& ids);
// Shortest text that reads back as the same double; "" for NaN.
std::string num(double v);
// Fixed `digits` significant digits, as %.*g.
std::string fmt(double v, int digits = 4);
// Concatenation of strings / literals (GCC 12 warns falsely, -Wrestrict, on "literal" + std::string).
template <class... A>
std::string cat(const A&... parts) {
  std::string s;
  (s.append(std::string_view(parts)), ...);
  return s;
}
// Median of per-sample timings in extra.t_strategy; falls back to `seconds`.
double sample_time(const SampleRow& s);

}  // namespace eeb
