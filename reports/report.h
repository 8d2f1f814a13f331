// Reports of stored runs: Markdown, self-contained HTML (tables + inline SVG charts, no network, no
// JavaScript), and CSV / JSON exports of metrics and samples. docs/REPORTS.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "results/store.h"

namespace eeb {

// `runs` empty = every run in the database. Error naming the database when a run is missing or
// there are no runs.
std::string report_markdown(ResultStore& store, const std::vector<int64_t>& runs);
std::string report_html(ResultStore& store, const std::vector<int64_t>& runs);

// One row per trial × metric (every group): run_id, trial_id, model, weights_checksum, task,
// task_version, split, shots, strategy, params, metric, group, value, stderr, n, detail.
std::string export_metrics_csv(ResultStore& store, const std::vector<int64_t>& runs);
// One row per sample: run_id, trial_id, strategy, params, task, doc_index, doc_id, group, gold, pred,
// pred_norm, correct, correct_norm, layers_executed, lm_head_calls, seconds, time_median, loglik, extra.
std::string export_samples_csv(ResultStore& store, const std::vector<int64_t>& runs);
// {"database", "runs": [...], "trials": [{..., "metrics": [...], "samples": [...]}]}.
std::string export_json(ResultStore& store, const std::vector<int64_t>& runs);

// eebench report: format md | html | csv | json. out empty: standard output (not for csv). csv
// writes the metrics to out and the samples beside it (report.csv → report.samples.csv).
int cmd_report(const std::vector<long>& runs, const std::string& db, const std::string& format,
               const std::string& out);

}  // namespace eeb
