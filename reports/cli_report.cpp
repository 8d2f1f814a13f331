// eebench report: writes a report of stored runs (Markdown, HTML, CSV or JSON).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "reports/report.h"

namespace eeb {

int cmd_report(const std::vector<long>& runs, const std::string& db, const std::string& format,
               const std::string& out) {
  if (format != "md" && format != "html" && format != "csv" && format != "json")
    throw Error("report: unknown format '" + format + "' (md, html, csv or json)");
  if (!std::filesystem::exists(db)) throw Error(db, "no results database");
  if (format == "csv" && out.empty()) throw Error("report: --format csv needs --out FILE (metrics; samples beside it)");
  ResultStore store = ResultStore::open(db);
  const std::vector<int64_t> ids(runs.begin(), runs.end());
  auto emit = [&](const std::string& path, const std::string& text) {
    if (path.empty()) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    } else {
      write_file_atomic(path, text);
      std::fprintf(stderr, "eebench: wrote %s\n", path.c_str());
    }
  };
  if (format == "md") {
    emit(out, report_markdown(store, ids));
  } else if (format == "html") {
    emit(out, report_html(store, ids));
  } else if (format == "json") {
    emit(out, export_json(store, ids));
  } else {
    std::string samples_path = out;
    if (samples_path.size() > 4 && samples_path.compare(samples_path.size() - 4, 4, ".csv") == 0)
      samples_path.resize(samples_path.size() - 4);
    samples_path += ".samples.csv";
    const std::string metrics = export_metrics_csv(store, ids), samples = export_samples_csv(store, ids);
    emit(out, metrics);
    emit(samples_path, samples);
  }
  return 0;
}

}  // namespace eeb
