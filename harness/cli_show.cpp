// eebench list / show: what is registered, and what a run measured.
#include <cstdio>
#include <filesystem>

#include "backends/registry.h"
#include "harness/cli.h"
#include "core/error.h"
#include "results/store.h"
#include "strategies/strategy.h"
#include "tasks/task.h"

namespace eeb {

int cmd_list(const std::string& what, const std::string& db) {
  if (what == "strategies") {
    for (const auto& s : strategy_registry()) std::printf("%-12s %s\n", s.name.c_str(), s.description.c_str());
  } else if (what == "tasks") {
    for (const auto& t : list_tasks()) std::printf("%-14s %s\n", t.name.c_str(), t.description.c_str());
  } else if (what == "backends") {
    for (const auto& b : list_backends())
      std::printf("%-6s %-10s %s\n", b.name.c_str(), b.available ? "available" : "unavailable",
                  b.description.c_str());
  } else if (what == "runs") {
    if (!std::filesystem::exists(db)) throw Error(db, "no results database (run eebench run first)");
    auto store = std::make_unique<ResultStore>(ResultStore::open(db));
    std::printf("%-5s %-21s %-9s %6s %8s  %s\n", "run", "started", "status", "trials", "samples", "command");
    for (const auto& r : store->list_runs())
      std::printf("%-5ld %-21s %-9s %6ld %8ld  %s\n", long(r.id), r.started_at.c_str(), r.status.c_str(),
                  long(r.n_trials), long(r.n_samples), r.command_line.c_str());
  } else {
    throw Error("list: unknown kind '" + what + "'");
  }
  return 0;
}

int cmd_show(long run_id, const std::string& db, bool samples) {
  if (!std::filesystem::exists(db)) throw Error(db, "no results database");
  auto store = std::make_unique<ResultStore>(ResultStore::open(db));
  RunInfo r = store->run(run_id);
  std::printf("run %ld  %s  (%s → %s)\n", run_id, r.status.c_str(), r.started_at.c_str(),
              r.finished_at.empty() ? "…" : r.finished_at.c_str());
  std::printf("  eebench %s  git %s%s  %s %s\n", r.eebench_version.c_str(), r.git_sha.substr(0, 12).c_str(),
              r.git_dirty ? " (dirty)" : "", r.compiler.c_str(), r.build_type.c_str());
  std::printf("  backend %s  dtype %s  threads %d  seed %llu\n", r.backend.c_str(), r.dtype.c_str(), r.threads,
              static_cast<unsigned long long>(r.seed));
  std::printf("  cpu %s%s%s\n", r.cpu_model.c_str(), r.gpu_name.empty() ? "" : "  gpu ", r.gpu_name.c_str());
  std::printf("  command: %s\n", r.command_line.c_str());
  if (!r.error.empty()) std::printf("  error: %s\n", r.error.c_str());
  for (const auto& t : store->trials(run_id)) {
    std::printf("\ntrial %ld [%s]  %s  ×  %s %s (split %s, %d-shot, %d docs, template %s)\n", long(t.id),
                t.status.c_str(), t.model.path.c_str(), t.task.name.c_str(), t.task.version.c_str(),
                t.task.split.c_str(), t.task.shots, t.task.n_docs, t.task.template_hash.c_str());
    std::printf("  strategy %s %s   samples %ld   weights %s\n", t.strategy.name.c_str(),
                t.strategy.params.dump().c_str(), long(t.n_samples), t.model.weights_checksum.c_str());
    if (t.decision.contains("removed"))
      std::printf("  removed layers %s\n", t.decision["removed"].dump().c_str());
    std::printf("  %-24s %-28s %12s %10s %7s\n", "metric", "group", "value", "stderr", "n");
    for (const auto& m : store->metrics(t.id)) {
      std::printf("  %-24s %-28s %12.6g ", m.name.c_str(), m.group.empty() ? "(all)" : m.group.c_str(), m.value);
      if (m.std_err) std::printf("%10.4g", *m.std_err); else std::printf("%10s", "");
      std::printf(" %7ld", long(m.n));
      if (m.detail.contains("ci95"))
        std::printf("  CI95 [%.4g, %.4g]", m.detail["ci95"][0].get<double>(), m.detail["ci95"][1].get<double>());
      if (m.detail.value("hypothetical", false)) std::printf("  (hypothetical: not what ran)");
      std::printf("\n");
    }
    if (samples) {
      std::printf("  %-6s %-18s %-14s %5s %5s %8s %10s\n", "index", "doc", "group", "gold", "pred", "layers", "seconds");
      for (const auto& s : store->samples(t.id))
        std::printf("  %-6d %-18s %-14s %5d %5d %8.2f %10.6f\n", s.doc_index, s.doc_id.c_str(), s.group.c_str(),
                    s.gold, s.pred, s.layers_executed, s.seconds);
    }
  }
  // Planned trials that never finished: isolated children that crashed, timed out or ran out of
  // memory, and trials whose error stopped them.
  for (const auto& p : store->planned_trials(run_id)) {
    if (p.status == "finished") continue;
    std::printf("\nplanned trial %d [%s]  %s %s on %s (%s)\n", p.idx, p.status.c_str(),
                p.spec.value("strategy", "").c_str(), p.spec.value("params", nlohmann::json::object()).dump().c_str(),
                p.spec.value("task", "").c_str(), p.spec.value("model", "").c_str());
    if (!p.exit_status.empty()) std::printf("  exit: %s\n", p.exit_status.c_str());
    if (!p.error.empty()) std::printf("  error: %s\n", p.error.c_str());
    if (!p.stderr_tail.empty()) {
      std::printf("  stderr (last lines):\n");
      size_t start = 0;
      while (start < p.stderr_tail.size()) {
        size_t nl = p.stderr_tail.find('\n', start);
        if (nl == std::string::npos) nl = p.stderr_tail.size();
        std::printf("    | %s\n", p.stderr_tail.substr(start, nl - start).c_str());
        start = nl + 1;
      }
    }
  }
  return 0;
}

}  // namespace eeb
