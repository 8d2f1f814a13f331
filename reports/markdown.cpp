// The Markdown report: runs, metrics, other metrics, Pareto front, and what the charts of the HTML
// report show (or why they are omitted).
#include "reports/charts.h"
#include "reports/report.h"
#include "reports/tables.h"

namespace eeb {
namespace {

std::string escape_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

std::string markdown_table(const Table& t) {
  std::string s = "|";
  for (const auto& h : t.header) s += cat(" ", escape_cell(h), " |");
  s += "\n|";
  for (size_t i = 0; i < t.header.size(); ++i) s += i < 2 ? " ---: |" : " --- |";
  s += "\n";
  for (const auto& row : t.rows) {
    s += "|";
    for (const auto& c : row) s += cat(" ", escape_cell(c), " |");
    s += "\n";
  }
  return s;
}

}  // namespace

std::string report_markdown(ResultStore& store, const std::vector<int64_t>& runs) {
  ReportData d = load_report_data(store, runs, LoadSamples::oracle);
  std::vector<int64_t> ids;
  for (const auto& r : d.runs) ids.push_back(r.id);
  std::string s = "# eebench report: run" + std::string(ids.size() == 1 ? " " : "s ") + join_ids(ids) + "\n\n";
  s += "Database: `" + d.db + "`\n\n## Runs\n\n" + markdown_table(runs_table(d));
  s += "\n## Metrics\n\n";
  if (d.trials.empty()) {
    s += "No trials in these runs.\n";
    return s;
  }
  s += "Accuracies in percent ± standard error; speedup = summed per-sample median full-depth time / "
       "strategy time on the same samples, with its bootstrap 95% CI.\n\n";
  s += markdown_table(metrics_table(d));
  Table other = other_metrics_table(d);
  if (!other.rows.empty()) s += "\n### Other metrics\n\n" + markdown_table(other);
  Table front = pareto_table(d);
  if (!front.rows.empty())
    s += "\n### Pareto front (accuracy vs average layers)\n\n" + markdown_table(front);
  Table decisions = decisions_table(d);
  if (!decisions.rows.empty()) s += "\n### Strategy decisions (per trial)\n\n" + markdown_table(decisions);
  Table papers = paper_table(store, d);
  if (!papers.rows.empty()) s += "\n## Paper targets (eebench reproduce)\n\n" + markdown_table(papers);
  Table failed = failed_trials_table(store, d);
  if (!failed.rows.empty()) s += "\n## Trials that did not finish\n\n" + markdown_table(failed);
  std::string cmd = "eebench report --db " + d.db;
  for (int64_t id : ids) cmd += cat(" ", std::to_string(id));
  s += cat("\n## Charts\n\nThe charts are in the HTML report: `", cmd, " --format html --out report.html`.\n\n");
  for (const auto& sec : build_charts(d)) {
    s += cat("- **", sec.title, "**: ");
    if (sec.charts.empty()) s += cat(sec.note, "\n");
    else s += cat(std::to_string(sec.charts.size()), sec.charts.size() == 1 ? " chart\n" : " charts\n");
  }
  return s;
}

}  // namespace eeb
