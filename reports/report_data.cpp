#include "reports/report_data.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace eeb {

const MetricRow* TrialData::metric(const std::string& name) const {
  for (const auto& m : metrics)
    if (m.group.empty() && m.name == name) return &m;
  return nullptr;
}

std::optional<double> TrialData::value(const std::string& name) const {
  const MetricRow* m = metric(name);
  if (!m || !std::isfinite(m->value)) return std::nullopt;
  return m->value;
}

int TrialData::n_layers() const {
  const auto& c = row.model.config;
  if (c.is_object() && c.contains("n_layers") && c["n_layers"].is_number_integer()) return c["n_layers"].get<int>();
  return 0;
}

ReportData load_report_data(ResultStore& store, const std::vector<int64_t>& runs, LoadSamples samples) {
  ReportData d;
  d.db = store.path();
  std::vector<int64_t> ids = runs;
  if (ids.empty())
    for (const auto& r : store.list_runs()) ids.push_back(r.id);
  if (ids.empty()) throw Error(store.path(), "no runs to report (the database is empty)");
  for (int64_t id : ids) {
    if (!d.runs.empty() && std::any_of(d.runs.begin(), d.runs.end(), [&](auto& r) { return r.id == id; })) continue;
    d.runs.push_back(store.run(id));
    for (auto& t : store.trials(id)) {
      TrialData td;
      td.row = std::move(t);
      td.metrics = store.metrics(td.row.id);
      if (samples == LoadSamples::all || (samples == LoadSamples::oracle && td.row.strategy.name == "oracle"))
        td.samples = store.samples(td.row.id);
      d.trials.push_back(std::move(td));
    }
  }
  return d;
}

std::string model_label(const ModelRow& m) {
  std::string p = m.path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string task_label(const TaskRow& t) {
  std::string s = t.name;
  if (!t.version.empty()) s += " v" + t.version;
  if (!t.split.empty()) s += " " + t.split;
  return s + " " + std::to_string(t.shots) + "-shot";
}

std::string strategy_label(const StrategyRow& s) {
  std::string out = s.name;
  if (!s.params.is_object()) return out;
  for (const auto& [k, v] : s.params.items())
    out += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

std::string join_ids(const std::vector<int64_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s;
}

std::string num(double v) {
  if (std::isnan(v)) return "";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::string fmt(double v, int digits) {
  if (std::isnan(v)) return "–";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

double sample_time(const SampleRow& s) {
  if (s.extra.is_object() && s.extra.contains("t_strategy") && s.extra["t_strategy"].is_array()) {
    std::vector<double> t;
    for (const auto& v : s.extra["t_strategy"])
      if (v.is_number()) t.push_back(v.get<double>());
    if (!t.empty()) {
      std::sort(t.begin(), t.end());
      const size_t n = t.size();
      return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    }
  }
  return s.seconds;
}

}  // namespace eeb
