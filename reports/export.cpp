// CSV (RFC 4180) and JSON exports of runs, metrics and samples.
#include <cmath>

#include "reports/report.h"
#include "reports/report_data.h"

namespace eeb {
namespace {

using nlohmann::json;

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void csv_row(std::string& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    out += csv_field(fields[i]);
  }
  out += "\r\n";
}

std::string opt_bool(const std::optional<bool>& b) { return b ? (*b ? "1" : "0") : ""; }

json loglik_json(const std::vector<double>& ll) {
  json a = json::array();
  for (double v : ll) {
    if (std::isfinite(v)) a.push_back(v);
    else a.push_back(std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
  }
  return a;
}

json run_json(const RunInfo& r) {
  return {{"id", r.id}, {"started_at", r.started_at}, {"finished_at", r.finished_at}, {"status", r.status},
          {"eebench_version", r.eebench_version}, {"git_sha", r.git_sha}, {"git_dirty", r.git_dirty},
          {"compiler", r.compiler}, {"build_type", r.build_type}, {"cpu_model", r.cpu_model},
          {"gpu_name", r.gpu_name}, {"gpu_uuid", r.gpu_uuid}, {"gpu_driver", r.gpu_driver},
          {"cuda_runtime", r.cuda_runtime}, {"cublas_version", r.cublas_version},
          {"library_versions", r.library_versions}, {"hostname", r.hostname}, {"seed", r.seed},
          {"dtype", r.dtype}, {"threads", r.threads}, {"backend", r.backend}, {"command_line", r.command_line},
          {"spec", r.spec}, {"error", r.error}};
}

json metric_json(const MetricRow& m) {
  json j = {{"name", m.name}, {"group", m.group}, {"value", m.value}, {"n", m.n}, {"detail", m.detail}};
  j["stderr"] = m.std_err ? json(*m.std_err) : json(nullptr);
  return j;
}

json sample_json(const SampleRow& s) {
  json j = {{"doc_index", s.doc_index}, {"doc_id", s.doc_id}, {"group", s.group}, {"gold", s.gold},
            {"pred", s.pred}, {"pred_norm", s.pred_norm}, {"loglik", loglik_json(s.loglik)},
            {"layers_executed", s.layers_executed}, {"lm_head_calls", s.lm_head_calls}, {"seconds", s.seconds},
            {"extra", s.extra}};
  j["correct"] = s.correct ? json(*s.correct) : json(nullptr);
  j["correct_norm"] = s.correct_norm ? json(*s.correct_norm) : json(nullptr);
  return j;
}

}  // namespace

std::string export_metrics_csv(ResultStore& store, const std::vector<int64_t>& runs) {
  ReportData d = load_report_data(store, runs, LoadSamples::none);
  std::string out;
  csv_row(out, {"run_id", "trial_id", "model", "weights_checksum", "task", "task_version", "split", "shots", "strategy",
                "params", "metric", "group", "value", "stderr", "n", "detail"});
  for (const auto& t : d.trials)
    for (const auto& m : t.metrics)
      csv_row(out, {std::to_string(t.row.run_id), std::to_string(t.row.id), t.row.model.path,
                    t.row.model.weights_checksum, t.row.task.name, t.row.task.version, t.row.task.split,
                    std::to_string(t.row.task.shots), t.row.strategy.name, t.row.strategy.params.dump(), m.name,
                    m.group, num(m.value), m.std_err ? num(*m.std_err) : "", std::to_string(m.n), m.detail.dump()});
  return out;
}

std::string export_samples_csv(ResultStore& store, const std::vector<int64_t>& runs) {
  std::string out;
  csv_row(out, {"run_id", "trial_id", "strategy", "params", "task", "doc_index", "doc_id", "group", "gold", "pred",
                "pred_norm", "correct", "correct_norm", "layers_executed", "lm_head_calls", "seconds", "time_median",
                "loglik", "extra"});
  // Trial by trial, so only one trial's samples are in memory at a time.
  ReportData d = load_report_data(store, runs, LoadSamples::none);
  for (const auto& t : d.trials)
    for (const auto& s : store.samples(t.row.id))
      csv_row(out, {std::to_string(t.row.run_id), std::to_string(t.row.id), t.row.strategy.name,
                    t.row.strategy.params.dump(), t.row.task.name, std::to_string(s.doc_index), s.doc_id, s.group,
                    std::to_string(s.gold), std::to_string(s.pred), std::to_string(s.pred_norm), opt_bool(s.correct),
                    opt_bool(s.correct_norm), num(s.layers_executed), num(s.lm_head_calls), num(s.seconds),
                    num(sample_time(s)), loglik_json(s.loglik).dump(), s.extra.dump()});
  return out;
}

std::string export_json(ResultStore& store, const std::vector<int64_t>& runs) {
  ReportData d = load_report_data(store, runs, LoadSamples::none);
  json j = {{"database", d.db}, {"runs", json::array()}, {"trials", json::array()}};
  for (const auto& r : d.runs) j["runs"].push_back(run_json(r));
  for (const auto& t : d.trials) {
    const auto& m = t.row.model;
    const auto& k = t.row.task;
    const auto& g = t.row.strategy;
    json tj = {{"id", t.row.id}, {"run_id", t.row.run_id}, {"status", t.row.status},
               {"started_at", t.row.started_at}, {"finished_at", t.row.finished_at},
               {"model", {{"path", m.path}, {"format", m.format}, {"config", m.config},
                          {"weights_checksum", m.weights_checksum}, {"n_params", m.n_params}}},
               {"task", {{"name", k.name}, {"version", k.version}, {"split", k.split}, {"shots", k.shots},
                         {"template_hash", k.template_hash}, {"limit_n", k.limit_n}, {"n_docs", k.n_docs}}},
               {"strategy", {{"name", g.name}, {"params", g.params}}}, {"decision", t.row.decision},
               {"metrics", json::array()}, {"samples", json::array()}};
    for (const auto& mr : t.metrics) tj["metrics"].push_back(metric_json(mr));
    for (const auto& s : store.samples(t.row.id)) tj["samples"].push_back(sample_json(s));
    j["trials"].push_back(std::move(tj));
  }
  return j.dump(1) + "\n";
}

}  // namespace eeb
