// eebench reproduce <paper>: runs a paper's spec (reports/papers.toml) on a model, then prints the
// paper's numbers and the measured ones side by side with pass/fail per row. The targets are loaded
// into the database's `targets` table and the comparison is stored with the run's spec.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/cli.h"
#include "core/error.h"
#include "harness/run_spec.h"
#include "harness/spec_file.h"
#include "reports/paper_targets.h"
#include "results/store.h"

namespace eeb {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path, "cannot open the targets file");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The spec's model entry: a path that exists, else a hub id (resolved from the local hub cache).
std::string model_entry(const std::string& model) {
  std::string esc;
  for (char c : model) esc += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  const bool path = std::filesystem::exists(model);
  return std::string("\n[[model]]\n") + (path ? "path" : "hub") + " = \"" + esc + "\"\n";
}

int compare_and_store(ResultStore& store, int64_t run_id, const PaperTargets& all, const Paper& paper,
                      const std::string& model_id);
int resume(const ReproduceArgs& a, const PaperTargets& all, const Paper& paper);

}  // namespace

int cmd_reproduce(const ReproduceArgs& a) {
  const std::string targets_name = a.targets.empty() ? "reports/papers.toml (built in)" : a.targets;
  const PaperTargets all =
      parse_paper_targets(a.targets.empty() ? builtin_paper_targets() : read_text(a.targets), targets_name);
  if (a.list || a.paper.empty()) {
    std::printf("papers in %s (version %s):\n", targets_name.c_str(), all.version.c_str());
    for (const auto& p : all.papers)
      std::printf("  %-10s %zu targets  %s\n", p.id.c_str(), p.targets.size(), p.title.c_str());
    if (!a.list) throw Error("no paper given (eebench reproduce PAPER --model PATH|org/name)");
    return 0;
  }
  const Paper& paper = all.paper(a.paper);
  if (a.resume > 0) return resume(a, all, paper);
  const std::string model = a.model.empty() ? paper.models.at(0) : a.model;
  // What the comparison calls the model: --model-id, else the hub id or path given.
  const std::string model_id = a.model_id.empty() ? model : a.model_id;

  RunArgs cli;
  cli.data = a.data, cli.db = a.db, cli.backend = a.backend, cli.dtype = a.dtype, cli.threads = a.threads;
  cli.limit = a.limit < 0 ? 0 : a.limit;
  cli.quiet = a.quiet;
  std::set<std::string> given = a.given;
  given.erase("model");
  std::string text = paper.spec_toml + model_entry(model);
  if (!a.tokenizer.empty()) text += "tokenizer = \"" + a.tokenizer + "\"\n";
  RunSpec spec = parse_spec(text, targets_name + " [papers." + paper.id + ".spec]",
                            std::filesystem::current_path().string(), cli, given);
  spec.args.command_line = a.command_line;
  spec.args.quiet = a.quiet;
  validate(spec);

  ResultStore store = ResultStore::open(spec.args.db);
  store.put_targets(paper.id, all.version, paper.targets);
  RunResult res;
  try {
    res = execute_run(store, spec, 0);
  } catch (const Error& e) {  // a one-trial spec rethrows; the table still says what ran
    std::fprintf(stderr, "eebench: error: %s\n", e.what());
    const auto runs = store.list_runs();
    if (runs.empty()) throw;
    res.run_id = runs.back().id;
  }

  return compare_and_store(store, res.run_id, all, paper, model_id);
}

namespace {

int compare_and_store(ResultStore& store, int64_t run_id, const PaperTargets& all, const Paper& paper,
                      const std::string& model_id) {
  RunResult res;
  res.run_id = run_id;
  std::vector<MeasuredTrial> trials;
  for (auto& t : store.trials(res.run_id)) trials.push_back({t, store.metrics(t.id)});
  const auto outcomes = evaluate_targets(paper.targets, trials, model_id, store.planned_trials(res.run_id));
  std::printf("\n%s", targets_table(paper, all.version, outcomes, model_id).c_str());

  nlohmann::json rows = nlohmann::json::array();
  bool regression = false;
  for (const auto& o : outcomes) {
    rows.push_back({{"key", o.row.row_key}, {"verdict", o.verdict}, {"different_model", o.different_model},
                    {"measured", o.measured ? nlohmann::json(*o.measured) : nlohmann::json(o.measured_text)},
                    {"why", o.why}});
    regression = regression || (o.verdict == "fail" && !o.different_model);
  }
  auto stored = store.run(res.run_id).spec;
  stored["reproduce"] = {{"paper", paper.id}, {"targets_version", all.version}, {"model_id", model_id},
                         {"rows", rows}};
  store.set_run_spec(res.run_id, stored);
  std::printf("\nrun %ld: eebench show %ld --db %s\n", long(res.run_id), long(res.run_id), store.path().c_str());
  return regression ? 1 : 0;
}

// Finishes an interrupted reproduction (its stored spec says what to run) and compares again.
int resume(const ReproduceArgs& a, const PaperTargets& all, const Paper& paper) {
  ResultStore store = ResultStore::open(a.db);
  const RunInfo old = store.run(a.resume);
  RunSpec spec = RunSpec::from_json(old.spec);
  spec.args.db = a.db, spec.args.quiet = a.quiet, spec.args.command_line = old.command_line;
  std::string model_id = a.model_id;
  if (model_id.empty() && old.spec.contains("reproduce")) model_id = old.spec["reproduce"].value("model_id", "");
  if (model_id.empty() && !spec.trials.empty()) model_id = spec.trials.front().model;
  if (old.status != "finished") {
    store.finish_run(a.resume, "running");
    try {
      execute_run(store, spec, a.resume);
    } catch (const Error& e) {
      std::fprintf(stderr, "eebench: error: %s\n", e.what());
    }
  }
  store.put_targets(paper.id, all.version, paper.targets);
  return compare_and_store(store, a.resume, all, paper, model_id);
}

}  // namespace

}  // namespace eeb
