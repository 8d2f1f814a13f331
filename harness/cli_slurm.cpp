// `eebench run SPEC --slurm` and `eebench run --resume RUN --slurm`: a Slurm job array, one task per
// shard (`eebench run --resume RUN --db DB --shard I/N`), submitted with sbatch (Boost.Process, as
// harness/isolate.cpp starts children). The shard files are written before submission, so array
// tasks never open DB itself (SQLite locking over a cluster's network file system is unsafe).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <boost/process.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "harness/cluster.h"
#include "harness/run_spec.h"

namespace eeb {
using nlohmann::json;
namespace fs = std::filesystem;
namespace bp = boost::process;

namespace {

std::string sh_quote(const std::string& s) {
  std::string o = "'";
  for (char ch : s) o += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return o + "'";
}

std::string sbatch_path() {
  const std::string p = bp::search_path("sbatch").string();
  if (p.empty())
    throw Error("sbatch not found on PATH: --slurm submits through Slurm's sbatch (without Slurm, run the shards "
                "yourself: eebench run SPEC --db DB --shard I/N, then eebench merge --db DB)");
  return p;
}

void check_value(const std::string& flag, const std::string& v) {
  for (unsigned char ch : v)
    if (ch < 0x20 || ch == 0x7f) throw Error(flag + ": control characters are not allowed in '" + one_line(v) + "'");
}

// "0-3", "1,4,7": the array indices of the shards to run.
std::string array_list(const std::vector<int>& shards) {
  std::string s;
  for (size_t k = 0; k < shards.size();) {
    size_t e = k;
    while (e + 1 < shards.size() && shards[e + 1] == shards[e] + 1) ++e;
    s += (s.empty() ? "" : ",") + std::to_string(shards[k]) + (e > k ? "-" + std::to_string(shards[e]) : "");
    k = e + 1;
  }
  return s;
}

std::string job_script(const std::string& db, int64_t run, const RunSpec& spec, int count,
                       const std::vector<int>& shards, const ClusterArgs& c) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::string s = "#!/bin/bash\n# eebench run " + std::to_string(run) + " in " + std::to_string(count) +
                  " shards (written by eebench run --slurm; one array task per shard)\n";
  s += "#SBATCH --job-name=eebench-run-" + std::to_string(run) + "\n";
  s += "#SBATCH --array=" + array_list(shards) + (c.max_parallel > 0 ? "%" + std::to_string(c.max_parallel) : "") + "\n";
  s += "#SBATCH --ntasks=1\n";
  s += "#SBATCH --output=" + db + ".shard-%a-of-" + std::to_string(count) + ".log\n";
  s += "#SBATCH --open-mode=append\n";
  s += "#SBATCH --chdir=" + fs::current_path().string() + "\n";
  if (!c.partition.empty()) s += "#SBATCH --partition=" + c.partition + "\n";
  if (!c.account.empty()) s += "#SBATCH --account=" + c.account + "\n";
  if (!c.time.empty()) s += "#SBATCH --time=" + c.time + "\n";
  if (c.gpus_per_task > 0) s += "#SBATCH --gpus-per-task=" + std::to_string(c.gpus_per_task) + "\n";
  if (spec.args.threads > 0) s += "#SBATCH --cpus-per-task=" + std::to_string(spec.args.threads) + "\n";
  s += "set -eu\nexec " + sh_quote(self) + " run --resume " + std::to_string(run) + " --db " + sh_quote(db) +
       " --shard \"${SLURM_ARRAY_TASK_ID}/" + std::to_string(count) + "\"" + (spec.args.quiet ? " --quiet" : "") + "\n";
  return s;
}

struct Output {
  int status = -1;
  std::string out, err;
};

Output run_program(const std::string& exe, const std::vector<std::string>& args) {
  Output o;
  try {
    bp::ipstream out, err;
    bp::child c(exe, bp::args(args), bp::std_out > out, bp::std_err > err, bp::std_in < bp::null);
    std::thread reader([&] {
      std::string line;
      while (std::getline(err, line)) o.err += line + "\n";
    });
    std::string line;
    while (std::getline(out, line)) o.out += line + "\n";
    reader.join();
    c.wait();
    o.status = c.exit_code();
  } catch (const bp::process_error& e) {
    throw Error(exe + ": cannot run: " + e.what());
  }
  return o;
}

std::string last_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  const size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// Writes the array script beside DB, submits it and records the job in runs.spec → sharding.jobs.
void submit(ResultStore& main, int64_t run, const std::string& db, const RunSpec& spec, int count,
            const std::vector<int>& shards, const ClusterArgs& c, bool fresh) {
  const std::string sbatch = sbatch_path();
  const std::string script = db + ".run-" + std::to_string(run) + ".sbatch";
  write_file_atomic(script, job_script(db, run, spec, count, shards, c));
  fs::permissions(script, fs::perms::owner_exec, fs::perm_options::add);
  std::vector<std::string> args{"--parsable"};
  for (const auto& a : c.sbatch_args) args.push_back(a);
  args.push_back(script);
  const Output o = run_program(sbatch, args);
  std::string job = o.out.substr(0, o.out.find_first_of(";\n"));
  if (o.status != 0 || job.empty()) {
    const std::string why = last_line(o.err.empty() ? o.out : o.err);
    const std::string msg = "sbatch refused the job (exit " + std::to_string(o.status) + "): " + why;
    if (fresh) main.finish_run(run, "failed", msg);
    throw Error(msg + "; run " + std::to_string(run) + " stays planned in " + db + ": eebench run --resume " +
                std::to_string(run) + " --db " + db + " --slurm [other options] submits it again");
  }
  RunInfo r = main.run(run);
  r.spec["sharding"]["jobs"].push_back(
      {{"job", job}, {"shards", shards}, {"script", script}, {"submitted_at", utc_now()}});
  main.set_run_spec(run, r.spec);
  if (r.status != "running") main.finish_run(run, "running");
  std::printf("submitted run %ld as Slurm job %s (%zu array task%s, script %s)\n", long(run), job.c_str(),
              shards.size(), shards.size() == 1 ? "" : "s", script.c_str());
  for (int i : shards)
    std::printf("  shard %d/%d -> %s (log %s.log)\n", i, count, shard_path(db, i, count).c_str(),
                shard_path(db, i, count).c_str());
  std::printf("eebench status %ld --db %s shows progress; eebench merge %ld --db %s folds the shards in\n", long(run),
              db.c_str(), long(run), db.c_str());
}

}  // namespace

int cmd_run_slurm(RunArgs a, const ClusterArgs& c) {
  sbatch_path();  // before anything is written
  check_value("--partition", c.partition), check_value("--account", c.account), check_value("--time", c.time);
  for (const auto& s : c.sbatch_args) check_value("--sbatch-arg", s);
  if (a.only_trial >= 0) throw Error("--trial-index cannot be combined with --slurm");
  if (a.resume > 0) {
    const std::string db = fs::absolute(a.db).string();
    if (!fs::exists(db)) throw Error(db, "no such results database");
    ResultStore main = ResultStore::open(db);
    const RunInfo r = main.run(a.resume);
    if (!r.spec.contains("sharding"))
      throw Error(db, "run " + std::to_string(a.resume) + " was not run in shards: eebench run --resume " +
                          std::to_string(a.resume) + " finishes it here");
    const int count = r.spec["sharding"].value("shards", 0);
    RunSpec whole = RunSpec::from_json(r.spec);
    whole.args.db = db, whole.args.quiet = a.quiet;
    const auto planned = main.planned_trials(a.resume);
    std::vector<int> todo;
    for (int i = 0; i < count; ++i) {
      const std::string path = shard_path(db, i, count);
      if (fs::exists(path)) {
        const ShardInfo s = read_shard({path, i, count});
        if (s.run != a.resume)
          throw Error(path, "a shard of run " + std::to_string(s.run) + ", not of run " + std::to_string(a.resume) +
                                " (a shard file from another run)");
        if (s.unfinished() + s.failed == 0) continue;
        if (s.unfinished() > 0 && shard_running(s))
          throw Error(path, "still running (" + lock_owner(path) + "): resubmit when it ends");
        todo.push_back(i);
      } else {  // lost, or removed after a merge: needed again only if DB lacks some of its trials
        const TrialRange tr = shard_range(int(planned.size()), i, count);
        bool done = true;
        for (int k = tr.first; k < tr.last; ++k) done = done && planned[size_t(k)].status == "finished";
        if (done) continue;
        create_shard_file(db, whole, a.resume, i, count);
        todo.push_back(i);
      }
    }
    if (todo.empty()) {
      std::printf("run %ld: every shard has finished; eebench merge %ld --db %s folds them in\n", a.resume, a.resume,
                  db.c_str());
      return 0;
    }
    submit(main, a.resume, db, whole, count, todo, c, false);
    return 0;
  }
  RunSpec whole = spec_from_args(a);
  const std::string db = fs::absolute(whole.args.db).string();
  whole.args.db = db;
  const int trials = static_cast<int>(whole.trials.size());
  const int count = c.shards > 0 ? std::min(c.shards, trials) : trials;
  for (int i = 0; i < count; ++i)
    if (fs::exists(shard_path(db, i, count)))
      throw Error(shard_path(db, i, count), "exists already (an earlier run's shard): merge it (eebench merge --db " +
                                                db + ") and remove the shard files first");
  ResultStore main = ResultStore::open(db);
  const int64_t run = plan_sharded_run(main, whole, count, true);
  std::vector<int> all;
  for (int i = 0; i < count; ++i) {
    create_shard_file(db, whole, run, i, count);
    all.push_back(i);
  }
  submit(main, run, db, whole, count, all, c, true);
  return 0;
}

}  // namespace eeb
