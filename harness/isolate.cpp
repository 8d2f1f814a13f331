#include "harness/isolate.h"

#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <thread>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>

#include "core/error.h"

namespace eeb {
namespace bp = boost::process;

namespace {

constexpr size_t kTailLines = 20;

std::string describe(int native_status) {
  if (WIFEXITED(native_status)) return "exit " + std::to_string(WEXITSTATUS(native_status));
  if (WIFSIGNALED(native_status)) {
    const int sig = WTERMSIG(native_status);
    return "signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "status " + std::to_string(native_status);
}

// Keeps the last lines a child wrote to stderr while passing them on to ours.
struct StderrTail {
  std::deque<std::string> lines;
  void read(bp::ipstream& in) {
    std::string line;
    while (std::getline(in, line)) {
      std::fprintf(stderr, "  | %s\n", line.c_str());
      lines.push_back(line);
      if (lines.size() > kTailLines) lines.pop_front();
    }
  }
  std::string text() const {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  }
};

// Polls until the child exits or the deadline passes (timeout_s <= 0: no deadline).
bool wait_until(bp::child& c, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (c.running()) {
    if (timeout_s > 0 && std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

void run_isolated(ResultStore& store, int64_t run_id, const RunSpec& spec, PlannedTrial& p) {
  const RunArgs& ar = spec.args;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args{"run", "--resume", std::to_string(run_id), "--trial-index", std::to_string(p.idx),
                                "--db", ar.db};
  if (ar.quiet) args.push_back("--quiet");
  const rlim_t limit = static_cast<rlim_t>(ar.memory_limit_mb) * 1024 * 1024;
  std::fprintf(stderr, "eebench: trial %d in a child process: %s\n", p.idx,
               spec.trials.at(size_t(p.idx)).label().c_str());

  StderrTail tail;
  bool finished_in_time = true;
  int status = 0;
  try {
    bp::ipstream err;
    bp::child c(self, bp::args(args), bp::std_err > err, bp::extend::on_exec_setup([limit](auto&) {
                  if (limit > 0) {
                    rlimit r{limit, limit};
                    setrlimit(RLIMIT_AS, &r);
                  }
                }));
    std::thread reader([&] { tail.read(err); });
    finished_in_time = wait_until(c, ar.timeout_s);
    if (!finished_in_time) c.terminate();  // SIGKILL, then reaped
    reader.join();
    if (finished_in_time) c.wait();
    status = c.native_exit_code();
  } catch (const bp::process_error& e) {
    throw Error(std::string("cannot start a child eebench process: ") + e.what());
  }

  // The child records its own success or handled failure; a death it could not report is ours to record.
  for (const auto& q : store.planned_trials(run_id))
    if (q.idx == p.idx) p = q;
  char limit_text[32];
  std::snprintf(limit_text, sizeof limit_text, "%g s", ar.timeout_s);
  p.exit_status = finished_in_time ? describe(status) : std::string("timeout after ") + limit_text;
  const bool ok = finished_in_time && WIFEXITED(status) && WEXITSTATUS(status) == 0 && p.status == "finished";
  if (!ok) {
    if (p.status != "failed" || p.error.empty()) {
      if (!finished_in_time) p.error = std::string("timed out after ") + limit_text + " (killed)";
      else if (WIFEXITED(status) && WEXITSTATUS(status) == 3) p.error = "out of memory";
      else if (WIFSIGNALED(status)) p.error = "crashed: " + describe(status);
      else p.error = "child ended with " + describe(status) + " without finishing the trial";
      const bool memory_death = (WIFEXITED(status) && WEXITSTATUS(status) == 3) ||
                                (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
      if (finished_in_time && limit > 0 && memory_death)
        p.error += " (memory limit " + std::to_string(ar.memory_limit_mb) + " MB)";
    }
    p.status = "failed";
    p.stderr_tail = tail.text();
    if (p.trial_id) store.finish_trial(*p.trial_id, "failed");
    std::fprintf(stderr, "eebench: trial %d failed (%s): %s\n", p.idx, p.exit_status.c_str(), p.error.c_str());
  }
  store.update_planned(p);
}

std::string program_output(const std::string& program, const std::vector<std::string>& args, double timeout_s) {
  try {
    const auto exe = bp::search_path(program);
    if (exe.empty()) return "";
    bp::ipstream out;
    bp::child c(exe, bp::args(args), bp::std_out > out, bp::std_err > bp::null, bp::std_in < bp::null);
    std::string text;
    std::thread reader([&] {
      std::string line;
      while (std::getline(out, line)) text += line + "\n";
    });
    const bool done = wait_until(c, timeout_s);
    if (!done) c.terminate();
    reader.join();
    if (done) c.wait();
    if (!done || c.exit_code() != 0) return "";
    return text;
  } catch (const std::exception&) {
    return "";
  }
}

}  // namespace eeb
