// Crash safety of `eebench run`: a run killed with SIGKILL mid-way leaves an intact database, and
// `--resume` finishes it with every document stored exactly once and the same results as a run
// that was never interrupted. Two eebench processes writing one database both finish intact.
#include <catch2/catch.hpp>

#include <csignal>
#include <map>

#include "results/schema.h"
#include "tests/safety/safety_util.h"
#include "tests/test_data.h"

using namespace eeb::testing;

namespace {

constexpr int kSst2Dev = 872;  // documents in GLUE SST-2 dev.tsv

// One thread: the machines these tests run on are shared, and OpenMP threads spinning against
// other processes only slow the run down.
std::vector<std::string> sst2_args(const std::string& db, const std::string& strategy,
                                   const std::vector<std::string>& more = {}) {
  std::vector<std::string> a = {"run", "-q", "-m", shared_data() + "/models/sst-lm-12L", "-t", "sst2",
                                "-s", strategy, "-d", shared_data() + "/datasets", "--reps", "1",
                                "--warmup", "0", "--threads", "1", "--db", db};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

// Runs eebench to completion; returns its exit code (the log is shown on failure).
int run_to_end(const std::vector<std::string>& args, const std::string& log) {
  const int code = wait_child(spawn_eebench(args, log));
  INFO(read_file(log));
  CHECK(code == 0);
  return code;
}

// doc_index -> (pred, pred_norm) of the one trial of run `run`.
std::map<int, std::pair<int, int>> preds(const std::string& db, int run) {
  std::map<int, std::pair<int, int>> out;
  for (const auto& r : query_rows(db, "SELECT s.doc_index, s.pred, s.pred_norm FROM samples s JOIN trials t "
                                      "ON t.id = s.trial_id WHERE t.run_id = " + std::to_string(run)))
    out[std::stoi(r[0])] = {std::stoi(r[1]), std::stoi(r[2])};
  return out;
}

double overall_metric(const std::string& db, int run, const std::string& name) {
  auto v = query_doubles(db, "SELECT m.value FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE t.run_id = " +
                                 std::to_string(run) + " AND m.grp = '' AND m.name = '" + name + "'");
  REQUIRE(v.size() == 1);
  return v[0];
}

}  // namespace

TEST_CASE("a SIGKILLed run is intact and --resume finishes it exactly as an uninterrupted run", "[safety][crash]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("crash");
  const std::string db = dir + "/killed.db", ref = dir + "/ref.db";

  // Start the run, wait until at least 100 samples are committed, then kill it without warning.
  const pid_t pid = spawn_eebench(sst2_args(db, "full"), dir + "/killed.log");
  long n = 0;
  for (int polls = 0; (n = stored_samples(db)) < 100; ++polls) {
    int code = 0;
    if (child_exited(pid, &code)) FAIL("eebench ended (code " << code << ") before 100 samples:\n" << read_file(dir + "/killed.log"));
    if (polls > 60000) {  // 10 minutes: a safety net for a stuck child, not a timing assertion
      ::kill(pid, SIGKILL), wait_child(pid);
      FAIL("no 100 samples after 10 minutes");
    }
    ::usleep(10000);
  }
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(wait_child(pid) == 128 + SIGKILL);

  const long killed_at = stored_samples(db);
  INFO("killed with " << killed_at << " samples stored");
  CHECK(killed_at >= 100);
  CHECK(killed_at < kSst2Dev);
  CHECK(query1(db, "PRAGMA integrity_check") == "ok");
  CHECK(query1(db, "SELECT status FROM runs WHERE id = 1") == "running");
  CHECK(query1(db, "SELECT count(*) FROM metrics") == "0");

  // Resume: only the spec stored in the database says what to run.
  run_to_end({"run", "-q", "--resume", "1", "--db", db}, dir + "/resume.log");
  CHECK(query1(db, "PRAGMA integrity_check") == "ok");
  CHECK(query1(db, "SELECT status FROM runs WHERE id = 1") == "finished");
  CHECK(query1(db, "SELECT count(*) FROM runs") == "1");
  CHECK(query1(db, "SELECT count(*) || ' ' || group_concat(status) FROM trials") == "1 finished");
  CHECK(query1(db, "SELECT count(*) || ' ' || count(DISTINCT doc_index) || ' ' || min(doc_index) || ' ' || "
                   "max(doc_index) FROM samples") ==
        std::to_string(kSst2Dev) + " " + std::to_string(kSst2Dev) + " 0 " + std::to_string(kSst2Dev - 1));
  CHECK(query1(db, "SELECT n_docs FROM tasks") == std::to_string(kSst2Dev));

  // The same run, never interrupted, in another database.
  run_to_end(sst2_args(ref, "full"), dir + "/ref.log");
  const auto resumed = preds(db, 1), whole = preds(ref, 1);
  REQUIRE(whole.size() == size_t(kSst2Dev));
  REQUIRE(resumed.size() == whole.size());
  int differing = 0;
  for (const auto& [i, p] : whole) differing += resumed.at(i) != p;
  CHECK(differing == 0);
  for (const char* m : {"acc"}) {  // the metrics sst2 lists (lm-eval glue/sst2: acc)
    INFO(m);
    CHECK(overall_metric(db, 1, m) == overall_metric(ref, 1, m));  // exactly
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("two eebench processes writing one database both finish with every row", "[safety][concurrency]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("shards");
  const std::string db = dir + "/shared.db";
  // Started together: both create / open the (missing) database at once, then interleave commits.
  const pid_t a = spawn_eebench(sst2_args(db, "full", {"--limit", "150"}), dir + "/a.log");
  const pid_t b = spawn_eebench(sst2_args(db, "static", {"--limit", "120", "-p", R"({"layer": 6})"}), dir + "/b.log");
  const int ca = wait_child(a), cb = wait_child(b);
  INFO(read_file(dir + "/a.log") << read_file(dir + "/b.log"));
  REQUIRE(ca == 0);
  REQUIRE(cb == 0);
  CHECK(query1(db, "PRAGMA integrity_check") == "ok");
  CHECK(query1(db, "SELECT count(*) FROM schema_version") == std::to_string(eeb::sql::kSchemaVersion));  // created and migrated exactly once
  const auto runs = query_rows(db,
      "SELECT g.name, r.status, t.status, count(s.doc_index), count(DISTINCT s.doc_index), min(s.doc_index), "
      "max(s.doc_index) FROM runs r JOIN trials t ON t.run_id = r.id JOIN strategies g ON g.id = t.strategy_id "
      "JOIN samples s ON s.trial_id = t.id GROUP BY t.id ORDER BY g.name");
  REQUIRE(runs.size() == 2);
  CHECK(runs[0] == std::vector<std::string>{"full", "finished", "finished", "150", "150", "0", "149"});
  CHECK(runs[1] == std::vector<std::string>{"static", "finished", "finished", "120", "120", "0", "119"});
  CHECK(query1(db, "SELECT count(DISTINCT trial_id) FROM metrics WHERE name = 'acc' AND grp = ''") == "2");
  std::filesystem::remove_all(dir);
}
