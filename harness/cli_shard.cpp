// `eebench run ... --shard I/N`: shard I's planned trials into DB.shard-I-of-N (results/merge.h), under a
// lock file naming this process, so a merge can tell a shard still being written from a dead one.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/process.hpp>
#include <xxhash.h>

#include "core/error.h"
#include "harness/cluster.h"
#include "harness/isolate.h"
#include "harness/run_spec.h"
#include "harness/spec_file.h"

namespace eeb {
using nlohmann::json;
namespace fs = std::filesystem;

RunSpec spec_from_args(RunArgs& a) {
  RunSpec spec;
  if (!a.spec_file.empty()) {  // as cmd_run: flags that describe trials belong in the file
    for (const char* k : {"model", "tokenizer", "task", "strategy", "params", "sweep", "split", "subjects", "shots"})
      if (a.given.count(k))
        throw Error(a.spec_file, std::string("--") + k + " cannot be combined with a run spec (set it in the file)");
    spec = load_spec_file(a.spec_file, a, a.given);
    spec.args.command_line = a.command_line;
    spec.args.quiet = a.quiet;
  } else {
    if (a.task.empty()) throw Error("no task given (--task, or a run spec file; see eebench run --help)");
    spec = RunSpec::from_args(a);
  }
  validate(spec);
  return spec;
}

std::string spec_hash(const RunSpec& spec) {
  const json j = spec.to_json();
  json key;
  for (const char* k : {"version", "backend", "dtype", "threads", "reps", "warmup", "seed", "trials"}) key[k] = j.at(k);
  const std::string text = key.dump();
  const XXH128_hash_t h = XXH3_128bits(text.data(), text.size());
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return hex;
}

json shard_meta(const RunSpec& whole, int64_t run, int index, int count) {
  const TrialRange r = shard_range(static_cast<int>(whole.trials.size()), index, count);
  json trials = json::array();
  for (int k = r.first; k < r.last; ++k) trials.push_back(k);
  return {{"run", run}, {"index", index}, {"count", count}, {"spec_hash", spec_hash(whole)}, {"trials", trials}};
}

RunSpec shard_spec(const RunSpec& whole, int index, int count) {
  RunSpec s = whole;
  const TrialRange r = shard_range(static_cast<int>(whole.trials.size()), index, count);
  s.trials.assign(whole.trials.begin() + r.first, whole.trials.begin() + r.last);
  return s;
}

namespace {

// Captured once per process: a Slurm submission creates many shard files on one machine.
const Environment& this_node(const std::string& backend) {
  static const Environment env = capture_environment(backend, 0);
  return env;
}

std::string host_name() {
  char h[256] = {};
  gethostname(h, sizeof h - 1);
  return h;
}

std::string own_slurm_job() {
  const char* job = std::getenv("SLURM_ARRAY_JOB_ID");
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (job && task) return std::string(job) + "_" + task;
  const char* single = std::getenv("SLURM_JOB_ID");
  return single ? single : "";
}

json read_lock(const std::string& lock) {
  std::ifstream f(lock);
  if (!f) return json();
  std::stringstream ss;
  ss << f.rdbuf();
  auto j = json::parse(ss.str(), nullptr, false);
  return j.is_object() ? j : json::object();  // unreadable: treated as someone else's, alive
}

bool lock_alive(const json& l) {
  const std::string host = l.value("host", ""), job = l.value("slurm_job", "");
  const long pid = l.value("pid", 0L);
  if (host == host_name()) return pid > 0 && (kill(pid_t(pid), 0) == 0 || errno == EPERM);
  if (!job.empty()) {
    if (job == own_slurm_job()) return false;  // a requeued incarnation of this very array task
    if (!boost::process::search_path("squeue").empty()) {
      std::string state = program_output("squeue", {"-h", "-j", job, "-o", "%T"});
      while (!state.empty() && std::isspace(static_cast<unsigned char>(state.back()))) state.pop_back();
      return !state.empty() && state != "PENDING";
    }
  }
  return true;  // another host we cannot ask: assume it is still at work
}

// The lock file of a shard while this process runs it; refuses a shard another live process holds.
class ShardLock {
 public:
  explicit ShardLock(const std::string& shard) : path_(shard + ".lock") {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const int fd = ::open(path_.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd >= 0) {
        const std::string text = json{{"host", host_name()}, {"pid", long(getpid())}, {"slurm_job", own_slurm_job()},
                                      {"started_at", utc_now()}}.dump() + "\n";
        const bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
        ::close(fd);
        if (!ok) throw Error(path_, "cannot write the shard's lock file");
        return;
      }
      if (errno != EEXIST) throw Error(path_, std::string("cannot create the shard's lock file: ") + strerror(errno));
      if (lock_alive(read_lock(path_)))
        throw Error(shard, "is being run by " + lock_owner(shard) + " (" + path_ +
                               "): one process per shard; remove the lock file if that process is gone");
      fs::remove(path_);  // a dead process's lock
    }
    throw Error(path_, "another process keeps taking the shard's lock");
  }
  ~ShardLock() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  ShardLock(const ShardLock&) = delete;
  ShardLock& operator=(const ShardLock&) = delete;

 private:
  std::string path_;
};

std::pair<int, int> parse_shard(const std::string& s) {
  int i = -1, n = 0;
  char slash = 0, extra = 0;
  std::istringstream in(s);
  in >> i >> slash >> n;
  if (!in || slash != '/' || (in >> extra) || n < 1 || i < 0 || i >= n || n > 100000)
    throw Error("--shard: expected I/N with 0 <= I < N (e.g. 0/4), got '" + s + "'");
  return {i, n};
}

// Runs (or finishes) the shard file's run on this node.
int run_shard_file(const std::string& path, int64_t run, const RunArgs& a) {
  ResultStore store = ResultStore::open(path);
  RunInfo r = store.run(run);
  RunSpec spec = RunSpec::from_json(r.spec);
  spec.args.db = path, spec.args.quiet = a.quiet, spec.args.command_line = a.command_line;
  if (a.given.count("isolate")) spec.args.isolate = a.isolate;  // how to run may change, as on resume
  if (a.given.count("timeout_s")) spec.args.timeout_s = a.timeout_s;
  if (a.given.count("memory_limit_mb")) spec.args.memory_limit_mb = a.memory_limit_mb;
  validate(spec);
  ShardLock lock(path);
  json stored = r.spec;
  stored["shard"]["slurm_job"] = own_slurm_job();
  store.set_run_spec(run, stored);
  RunInfo node = run_row(spec, this_node(spec.args.backend));
  node.command_line = a.command_line;
  set_run_environment(store, run, node);  // the environment of the node that runs it
  store.finish_run(run, "running");
  const RunResult res = execute_run(store, spec, run);
  const std::string id = std::to_string(run);
  if (res.failed > 0)
    throw Error(path, std::to_string(res.failed) + " of " + std::to_string(res.trials) +
                          " trials of the shard failed (last: " + res.last_error + "); eebench run --resume " + id +
                          " --db " + path.substr(0, path.rfind(".shard-")) + " --shard " +
                          stored["shard"]["index"].dump() + "/" + stored["shard"]["count"].dump() + " retries them");
  std::printf("shard %s of run %s finished: %s (eebench merge --db %s when every shard is done)\n",
              stored["shard"]["index"].dump().c_str(), id.c_str(), path.c_str(),
              path.substr(0, path.rfind(".shard-")).c_str());
  return 0;
}

}  // namespace

std::string lock_owner(const std::string& shard_file) {
  const json l = read_lock(shard_file + ".lock");
  if (l.is_null()) return "";
  std::string s = "pid " + std::to_string(l.value("pid", 0L)) + " on " + l.value("host", std::string("?"));
  if (!l.value("slurm_job", std::string()).empty()) s += " (slurm job " + l.value("slurm_job", std::string()) + ")";
  return s;
}

bool shard_running(const ShardInfo& s) {
  const json l = read_lock(s.file.path + ".lock");
  return !l.is_null() && lock_alive(l);
}

int64_t plan_sharded_run(ResultStore& db, const RunSpec& spec, int count, bool fresh) {
  RunInfo info = run_row(spec, this_node(spec.args.backend));
  info.spec["sharding"] = {{"shards", count}, {"spec_hash", spec_hash(spec)}, {"split", "contiguous"},
                           {"jobs", json::array()}};
  const int64_t run = fresh ? db.begin_run(info) : find_sharded_run(db, spec_hash(spec), count, &info);
  std::vector<json> plan;
  for (const auto& t : spec.trials) plan.push_back(t.to_json());
  db.plan_trials(run, plan);  // another shard process may have planned it already: kept
  return run;
}

void create_shard_file(const std::string& db, const RunSpec& whole, int64_t run, int index, int count) {
  const std::string path = shard_path(db, index, count);
  if (fs::exists(path)) throw Error(path, "exists already: merge it (eebench merge --db " + db + ") and remove it first");
  RunSpec sub = shard_spec(whole, index, count);
  sub.args.db = path;
  ResultStore store = ResultStore::open(path);
  RunInfo info = run_row(sub, this_node(sub.args.backend));
  info.spec["shard"] = shard_meta(whole, run, index, count);
  begin_run_with_id(store, info, run);
  std::vector<json> plan;
  for (const auto& t : sub.trials) plan.push_back(t.to_json());
  store.plan_trials(run, plan);
}

int cmd_run_slurm(RunArgs a, const ClusterArgs& c);  // cli_slurm.cpp

int cmd_run_cluster(RunArgs a, const ClusterArgs& c) {
  if (c.slurm && !c.shard.empty()) throw Error("--shard runs one shard here; --slurm submits them all: not both");
  if (c.slurm) return cmd_run_slurm(a, c);
  if (a.only_trial >= 0) throw Error("--trial-index cannot be combined with --shard");
  const auto [index, count] = parse_shard(c.shard);
  std::string path;
  int64_t run = a.resume;
  if (a.resume > 0) {  // an array task: the shard file usually exists (written at submission)
    path = shard_path(a.db, index, count);
    if (!fs::exists(path)) {
      ResultStore main = ResultStore::open(a.db);
      const RunInfo r = main.run(a.resume);
      if (!r.spec.contains("sharding") || r.spec["sharding"].value("shards", 0) != count)
        throw Error(a.db, "run " + std::to_string(a.resume) + " is not split into " + std::to_string(count) +
                              " shards (" + (r.spec.contains("sharding") ? r.spec["sharding"]["shards"].dump() : "not sharded") + ")");
      RunSpec whole = RunSpec::from_json(r.spec);
      create_shard_file(a.db, whole, a.resume, index, count);
    }
    const ShardInfo info = read_shard({path, index, count});
    if (info.run != a.resume)
      throw Error(path, "a shard of run " + std::to_string(info.run) + ", not of run " + std::to_string(a.resume) +
                            " (a shard file from another run)");
  } else {
    RunSpec whole = spec_from_args(a);
    const std::string db = whole.args.db;
    path = shard_path(db, index, count);
    if (fs::exists(path)) {  // this shard again: finish it (finished trials are kept)
      const ShardInfo info = read_shard({path, index, count});
      if (info.spec_hash != spec_hash(whole))
        throw Error(path, "holds shard " + c.shard + " of run " + std::to_string(info.run) +
                              " of another spec: merge it (eebench merge --db " + db + ") and remove it, or use another --db");
      run = info.run;
    } else {
      {
        ResultStore main = ResultStore::open(db);
        run = plan_sharded_run(main, whole, count, false);
      }
      create_shard_file(db, whole, run, index, count);
    }
  }
  return run_shard_file(path, run, a);
}

}  // namespace eeb
