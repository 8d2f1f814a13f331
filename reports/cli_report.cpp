// eebench report: writes a report of stored runs (Markdown, HTML, CSV or JSON).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "reports/report.h"

namespace eeb {

void write_file_atomic(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  if (target.has_parent_path() && !fs::is_directory(target.parent_path()))
    throw Error(path, "cannot write: folder " + target.parent_path().string() + " does not exist");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(path, "cannot write (cannot create " + tmp + ")");
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    if (!f) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw Error(path, "cannot write (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(path, "cannot write: " + ec.message());
  }
}

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
