// `eebench merge [RUN] --db DB` (results/merge.h does the folding) and `eebench status RUN --db DB`:
// planned/finished/failed trials per shard from the shard files, with the Slurm state of each array
// task from squeue (queued and running) and sacct (ended) where those commands exist.
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include <boost/process.hpp>

#include "core/error.h"
#include "harness/cluster.h"
#include "harness/isolate.h"

namespace eeb {
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Counts {
  int planned = 0, finished = 0, failed = 0;
  int unfinished() const { return planned - finished - failed; }
};

Counts count(const std::vector<PlannedTrial>& ps) {
  Counts c;
  for (const auto& p : ps) {
    ++c.planned;
    c.finished += p.status == "finished";
    c.failed += p.status == "failed";
  }
  return c;
}

// "JOB_I" → state, from one command's "id|state" lines.
void read_states(const std::string& text, std::map<std::string, std::string>& out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t bar = line.find('|');
    if (bar == std::string::npos) continue;
    std::string state = line.substr(bar + 1);
    while (!state.empty() && std::isspace(static_cast<unsigned char>(state.back()))) state.pop_back();
    out.emplace(line.substr(0, bar), state);  // squeue is read first: its live state wins
  }
}

}  // namespace

int cmd_merge(long run, const std::string& db) {
  const MergeResult res = merge_shards(db, run, shard_running);
  for (const auto& s : res.shards)
    std::printf("merged %s (run %ld, shard %d/%d, host %s): %ld trial%s and %ld samples added, %ld other rows written\n",
                s.info.file.path.c_str(), long(s.info.run), s.info.file.index, s.info.file.count,
                s.info.hostname.c_str(), long(s.trials_added), s.trials_added == 1 ? "" : "s", long(s.samples_added),
                long(s.rows_updated));
  ResultStore store = ResultStore::open(db);
  for (int64_t r : res.runs) {
    const Counts c = count(store.planned_trials(r));
    std::printf("run %ld: %d of %d planned trials finished, %d failed, %d unfinished", long(r), c.finished, c.planned,
                c.failed, c.unfinished());
    if (c.unfinished() + c.failed > 0)
      std::printf(" (eebench status %ld --db %s; eebench run --resume %ld --db %s --slurm, or --shard I/N, finishes them)",
                  long(r), db.c_str(), long(r), db.c_str());
    std::printf("\n");
  }
  return 0;
}

int cmd_status(long run, const std::string& db) {
  if (!fs::exists(db)) throw Error(db, "no such results database");
  ResultStore store = ResultStore::open(db);
  const RunInfo r = store.run(run);
  const auto planned = store.planned_trials(run);
  const Counts merged = count(planned);
  if (!r.spec.contains("sharding")) {
    std::printf("run %ld (%s, not sharded): %d planned trials, %d finished, %d failed, %d unfinished\n", run,
                r.status.c_str(), merged.planned, merged.finished, merged.failed, merged.unfinished());
    return 0;
  }
  const json& sh = r.spec["sharding"];
  const int n = sh.value("shards", 0);
  std::map<std::string, std::string> states;  // "JOB_I" → Slurm state
  std::map<int, std::string> job_of;          // shard → the last job that ran it
  for (const auto& j : sh.value("jobs", json::array())) {
    const std::string job = j.value("job", "");
    for (int i : j.value("shards", std::vector<int>{})) job_of[i] = job;
    read_states(program_output("squeue", {"-h", "-r", "-j", job, "-o", "%i|%T"}), states);
    read_states(program_output("sacct", {"-n", "-P", "-X", "-j", job, "-o", "JobID,State"}), states);
  }
  std::printf("run %ld (%s): %d planned trials in %d shard%s (spec %s)\n", run, r.status.c_str(), merged.planned, n,
              n == 1 ? "" : "s", sh.value("spec_hash", "").c_str());
  std::printf("| shard | file | planned | finished | failed | unfinished | host | slurm |\n");
  std::printf("|-------|------|---------|----------|--------|------------|------|-------|\n");
  for (int i = 0; i < n; ++i) {
    const std::string path = shard_path(db, i, n);
    std::string slurm = "";
    if (job_of.count(i)) {
      const std::string id = job_of[i] + "_" + std::to_string(i);
      slurm = id + " " + (states.count(id) ? states[id] : "(not queued)");
    }
    if (!fs::exists(path)) {
      std::printf("| %d/%d | %s (none) | | | | | | %s |\n", i, n, path.c_str(), slurm.c_str());
      continue;
    }
    try {
      const ShardInfo s = read_shard({path, i, n});
      const std::string owner = s.unfinished() > 0 && shard_running(s) ? " (running: " + lock_owner(path) + ")" : "";
      std::printf("| %d/%d | %s | %zu | %d | %d | %d%s | %s | %s |\n", i, n, path.c_str(), s.trials.size(), s.finished,
                  s.failed, s.unfinished(), owner.c_str(), s.hostname.c_str(), slurm.c_str());
    } catch (const Error& e) {
      std::printf("| %d/%d | %s | %s | | | | | %s |\n", i, n, path.c_str(), e.what(), slurm.c_str());
    }
  }
  std::printf("merged into %s: %d of %d finished, %d failed, %d unfinished\n", db.c_str(), merged.finished,
              merged.planned, merged.failed, merged.unfinished());
  return 0;
}

}  // namespace eeb
