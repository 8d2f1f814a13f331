// Sharded runs without Slurm (eebench run --shard I/N, eebench merge, eebench status) and the --slurm
// submission path against a stand-in sbatch on PATH. The real Slurm test is tests/slurm/.
#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/cli/cli_util.h"
#include "tests/test_data.h"

using namespace eeb::testing;
namespace fs = std::filesystem;

namespace {

// Every row of a query, each row's columns joined with '|'.
std::vector<std::string> rows(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  INFO(db << ": " << sql);
  REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  std::vector<std::string> out;
  while (sqlite3_step(s) == SQLITE_ROW) {
    std::string r;
    for (int i = 0; i < sqlite3_column_count(s); ++i) {
      auto t = sqlite3_column_text(s, i);
      r += (i ? "|" : "") + std::string(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
    out.push_back(r);
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

// What a trial produced, timings aside, keyed by model, task and strategy (ids differ between databases).
const char* kSamples =
    "SELECT m.path, k.name, g.name, g.params, g.resolved, t.status, x.doc_index, x.doc_id, x.grp, x.gold, x.pred,"
    " x.pred_norm, x.correct, x.loglik, x.layers_executed, x.lm_head_calls FROM samples x"
    " JOIN trials t ON t.id = x.trial_id JOIN models m ON m.id = t.model_id JOIN tasks k ON k.id = t.task_id"
    " JOIN strategies g ON g.id = t.strategy_id ORDER BY 1, 2, 3, 4, x.doc_index";
const char* kMetrics =
    "SELECT m.path, k.name, g.name, g.params, x.name, x.grp, x.value, x.stderr, x.n FROM metrics x"
    " JOIN trials t ON t.id = x.trial_id JOIN models m ON m.id = t.model_id JOIN tasks k ON k.id = t.task_id"
    " JOIN strategies g ON g.id = t.strategy_id WHERE x.name <> 'model_seconds'"
    " AND json_extract(x.detail, '$.timed') IS NULL ORDER BY 1, 2, 3, 4, 5, 6";
const char* kPlanned = "SELECT idx, spec, status FROM planned_trials ORDER BY idx";

// Everything in the database: a second merge must leave it byte for byte as it was.
std::vector<std::string> everything(const std::string& db) {
  std::vector<std::string> all;
  for (const auto& t : rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))
    for (const auto& r : rows(db, "SELECT * FROM \"" + t + "\"")) all.push_back(t + ": " + r);
  return all;
}

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

// full + static {layer 2, 6}: three trials, so two shards split them unevenly (1 + 2).
std::string spec(const std::string& db, const std::string& layers = "2, 6") {
  return "[run]\nreps = 0\nwarmup = 0\nthreads = 1\ndb = \"" + db + "\"\ndata = \"" + shared_data() +
         "/datasets\"\n[[model]]\npath = \"" + shared_data() + "/models/sst-lm-12L\"\n[[task]]\nname = \"sst2\"\n"
         "limit = 8\n[[strategy]]\nname = \"full\"\n[[strategy]]\nname = \"static\"\nsweep = { layer = [" +
         layers + "] }\n";
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A stand-in sbatch: logs its arguments and the script, answers like `sbatch --parsable` (or refuses).
std::string fake_sbatch(const std::string& dir, const std::string& body) {
  const std::string bin = dir + "/bin";
  fs::create_directories(bin);
  write(bin + "/sbatch", "#!/bin/sh\necho \"$@\" >> " + dir + "/sbatch.log\n" + body + "\n");
  fs::permissions(bin + "/sbatch", fs::perms::owner_all);
  return bin;
}

struct PathGuard {
  std::string old = std::getenv("PATH") ? std::getenv("PATH") : "";
  explicit PathGuard(const std::string& path) { ::setenv("PATH", path.c_str(), 1); }
  ~PathGuard() { ::setenv("PATH", old.c_str(), 1); }
};

}  // namespace

TEST_CASE("two local shard processes merged equal a single run and a second merge adds nothing", "[e2e][shard]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("shards");
  const std::string db = dir + "/sharded.db", single = dir + "/single.db";
  write(dir + "/s.toml", spec(db));
  write(dir + "/single.toml", spec(single));

  // Both shards at once, as two machines (or two Slurm tasks) would; they agree on one run.
  const std::string both = "(" + eebench_bin() + " run " + q(dir + "/s.toml") + " -q --shard 0/2 & " + eebench_bin() +
                           " run " + q(dir + "/s.toml") + " -q --shard 1/2; wait) > " + q(dir + "/both.log") + " 2>&1";
  const int both_status = std::system(both.c_str());
  std::stringstream both_log;
  both_log << std::ifstream(dir + "/both.log").rdbuf();
  INFO(both_log.str());
  REQUIRE(both_status == 0);
  REQUIRE(fs::exists(db + ".shard-0-of-2"));
  REQUIRE(fs::exists(db + ".shard-1-of-2"));
  CHECK_FALSE(fs::exists(db + ".shard-0-of-2.lock"));  // removed when the shard ended
  // Contiguous split: shard 0 has planned trial 0, shard 1 trials 1 and 2.
  CHECK(rows(db + ".shard-0-of-2", "SELECT json_extract(spec, '$.shard.trials') FROM runs") ==
        std::vector<std::string>{"[0]"});
  CHECK(rows(db + ".shard-1-of-2", "SELECT id, json_extract(spec, '$.shard.trials') FROM runs") ==
        std::vector<std::string>{"1|[1,2]"});
  CHECK(rows(db, "SELECT count(*) FROM samples") == std::vector<std::string>{"0"});  // nothing until merged

  auto st = run_cmd("status 1 --db " + q(db));
  INFO(st.output);
  CHECK(st.status == 0);
  CHECK(st.output.find("| 1/2 | " + db + ".shard-1-of-2 | 2 | 2 | 0 | 0 |") != std::string::npos);

  auto m = run_cmd("merge --db " + q(db));
  INFO(m.output);
  REQUIRE(m.status == 0);
  auto s = run_cmd("run " + q(dir + "/single.toml") + " -q");
  INFO(s.output);
  REQUIRE(s.status == 0);

  const auto merged_samples = rows(db, kSamples);
  CHECK(merged_samples.size() == 3 * 8);
  CHECK(merged_samples == rows(single, kSamples));
  CHECK(rows(db, kMetrics) == rows(single, kMetrics));
  CHECK(rows(db, kPlanned) == rows(single, kPlanned));
  CHECK(rows(db, "SELECT id, status FROM runs") == std::vector<std::string>{"1|finished"});
  // One environment row per shard, from the node (here: process) that ran it.
  CHECK(rows(db, "SELECT shard, shards, status, command_line LIKE '%--shard ' || shard || '/2%' FROM run_nodes"
                 " ORDER BY shard") == std::vector<std::string>{"0|2|finished|1", "1|2|finished|1"});

  const auto before = everything(db);
  auto again = run_cmd("merge 1 --db " + q(db));
  INFO(again.output);
  CHECK(again.status == 0);
  for (const char* shard : {".shard-0-of-2 ", ".shard-1-of-2 "})
    CHECK(again.output.find(db + shard + "(run 1, shard") != std::string::npos);
  CHECK(again.output.find("0 trials and 0 samples added, 0 other rows written") != std::string::npos);
  CHECK(again.output.find(" added, 0 other") != std::string::npos);
  CHECK(again.output.find("1 trials") == std::string::npos);
  CHECK(everything(db) == before);

  // Running a finished shard again recomputes nothing.
  auto rerun = run_cmd("run " + q(dir + "/s.toml") + " -q --shard 1/2");
  INFO(rerun.output);
  CHECK(rerun.status == 0);
  CHECK(rows(db + ".shard-1-of-2", "SELECT count(*) FROM samples") == std::vector<std::string>{"16"});
}

TEST_CASE("merge refuses a corrupt shard or one of another spec or version or still running and changes nothing",
          "[e2e][shard]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("shards_bad");
  const std::string db = dir + "/r.db";
  write(dir + "/s.toml", spec(db, "2"));  // two trials
  auto r0 = run_cmd("run " + q(dir + "/s.toml") + " -q --shard 0/2");
  INFO(r0.output);
  REQUIRE(r0.status == 0);
  const auto before = everything(db);
  const std::string shard1 = db + ".shard-1-of-2";

  SECTION("a corrupt shard") {
    fs::copy_file(db + ".shard-0-of-2", shard1);
    {
      std::fstream f(shard1, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(4096);  // page 2 onwards: b-tree pages
      const std::string junk(8192, '\x5a');
      f.write(junk.data(), std::streamsize(junk.size()));
    }
    auto m = run_cmd("merge --db " + q(db));
    INFO(m.output);
    CHECK(m.status == 2);
    CHECK(lines(m.output) == 1);
    CHECK(m.output.find(shard1 + ": corrupt shard") != std::string::npos);
    CHECK(m.output.find("nothing merged from it") != std::string::npos);
    CHECK(everything(db) == before);
  }
  SECTION("a shard file from another run") {
    const std::string other = dir + "/other";
    fs::create_directories(other);
    write(other + "/s.toml", spec(other + "/r.db", "4"));
    auto o = run_cmd("run " + q(other + "/s.toml") + " -q --shard 1/2");
    INFO(o.output);
    REQUIRE(o.status == 0);
    fs::copy_file(other + "/r.db.shard-1-of-2", shard1);
    auto m = run_cmd("merge --db " + q(db));
    INFO(m.output);
    CHECK(m.status == 2);
    CHECK(lines(m.output) == 1);
    CHECK(m.output.find("a shard of another spec") != std::string::npos);
    // Running our shard 1 into that file is refused too: it holds another spec's shard.
    auto r1 = run_cmd("run " + q(dir + "/s.toml") + " -q --shard 1/2");
    INFO(r1.output);
    CHECK(r1.status == 2);
    CHECK(r1.output.find("of another spec") != std::string::npos);
    CHECK(everything(db) == before);
  }
  SECTION("a shard written by another eebench version") {
    fs::copy_file(db + ".shard-0-of-2", shard1);
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(shard1.c_str(), &h) == SQLITE_OK);
    REQUIRE(sqlite3_exec(h, "UPDATE runs SET eebench_version = '0.0.1',"
                            " spec = json_set(spec, '$.shard.index', 1, '$.shard.trials', json('[1]'))",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(h);
    auto m = run_cmd("merge --db " + q(db));
    INFO(m.output);
    CHECK(m.status == 2);
    CHECK(lines(m.output) == 1);
    CHECK(m.output.find(shard1 + ": written by eebench 0.0.1, run 1 was planned by eebench ") != std::string::npos);
    CHECK(everything(db) == before);
  }
  SECTION("a shard still running") {
    // Shard 1 as a live process leaves it: planned trials unfinished, a lock naming a live pid (ours).
    auto r1 = run_cmd("run " + q(dir + "/s.toml") + " -q --shard 1/2");
    INFO(r1.output);
    REQUIRE(r1.status == 0);
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(shard1.c_str(), &h) == SQLITE_OK);
    REQUIRE(sqlite3_exec(h, "UPDATE planned_trials SET status = 'running'", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(h);
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    write(shard1 + ".lock", "{\"host\": \"" + std::string(host) + "\", \"pid\": " + std::to_string(getpid()) + "}\n");
    auto m = run_cmd("merge --db " + q(db));
    INFO(m.output);
    CHECK(m.status == 2);
    CHECK(lines(m.output) == 1);
    CHECK(m.output.find("still running") != std::string::npos);
    auto again = run_cmd("run " + q(dir + "/s.toml") + " -q --shard 1/2");  // one process per shard
    CHECK(again.status == 2);
    CHECK(again.output.find("is being run by pid " + std::to_string(getpid())) != std::string::npos);
    auto st = run_cmd("status 1 --db " + q(db));
    CHECK(st.output.find("(running: pid " + std::to_string(getpid())) != std::string::npos);
    fs::remove(shard1 + ".lock");
    CHECK(everything(db) == before);
  }
  SECTION("a column a later schema adds is copied; one the main database lacks is refused") {
    const std::string shard0 = db + ".shard-0-of-2";
    sqlite3* h = nullptr;
    for (const std::string& f : {db, shard0}) {
      REQUIRE(sqlite3_open(f.c_str(), &h) == SQLITE_OK);
      REQUIRE(sqlite3_exec(h, "ALTER TABLE trials ADD COLUMN later_column TEXT NOT NULL DEFAULT ''", nullptr, nullptr,
                           nullptr) == SQLITE_OK);
      sqlite3_close(h);
    }
    REQUIRE(sqlite3_open(shard0.c_str(), &h) == SQLITE_OK);
    REQUIRE(sqlite3_exec(h, "UPDATE trials SET later_column = 'kept: ' || id; ALTER TABLE samples ADD COLUMN extra2 TEXT",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(h);
    auto m = run_cmd("merge --db " + q(db));
    INFO(m.output);
    CHECK(m.status == 2);
    CHECK(m.output.find("has column samples.extra2, which " + db + " lacks") != std::string::npos);
    CHECK(rows(db, "SELECT count(*) FROM trials") == std::vector<std::string>{"0"});
    REQUIRE(sqlite3_open(shard0.c_str(), &h) == SQLITE_OK);
    REQUIRE(sqlite3_exec(h, "ALTER TABLE samples DROP COLUMN extra2", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(h);
    m = run_cmd("merge --db " + q(db));
    INFO(m.output);
    REQUIRE(m.status == 0);
    CHECK(rows(db, "SELECT later_column FROM trials") == std::vector<std::string>{"kept: 1"});
  }
}

TEST_CASE("run --slurm writes the shards and an array script and submits it and resume resubmits unfinished shards only",
          "[e2e][shard][slurm]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("slurm_fake");
  const std::string db = dir + "/r.db";
  write(dir + "/s.toml", spec(db));

  {  // no sbatch: one line, nothing written
    PathGuard p(dir + "/nothing-here");
    auto r = run_cmd("run " + q(dir + "/s.toml") + " --slurm");
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(lines(r.output) == 1);
    CHECK(r.output.find("sbatch not found on PATH") != std::string::npos);
    CHECK_FALSE(fs::exists(db));
  }
  const std::string path = std::getenv("PATH");
  {  // sbatch refusing the job (a bad partition): one line; the run is recorded as failed, with why
    PathGuard p(fake_sbatch(dir + "/refuse", "echo 'sbatch: error: invalid partition specified: nope' >&2; exit 1") +
                ":" + path);
    auto r = run_cmd("run " + q(dir + "/s.toml") + " --slurm --partition nope");
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(lines(r.output) == 1);
    CHECK(r.output.find("sbatch refused the job (exit 1): sbatch: error: invalid partition specified: nope") !=
          std::string::npos);
    CHECK(rows(db, "SELECT id, status FROM runs") == std::vector<std::string>{"1|failed"});
    for (int i = 0; i < 3; ++i) fs::remove(db + ".shard-" + std::to_string(i) + "-of-3");
  }
  PathGuard p(fake_sbatch(dir + "/ok", "echo '4242;cluster'") + ":" + path);
  // --sbatch-arg takes one value per use (the spec after it stays the spec).
  auto r = run_cmd("run --sbatch-arg=--qos=high " + q(dir + "/s.toml") + " --slurm --shards 2 --partition gpu "
                   "--time 01:00:00 --gpus-per-task 1 --max-parallel 1 --sbatch-arg --exclusive");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("submitted run 2 as Slurm job 4242") != std::string::npos);
  CHECK(r.output.find("shard 1/2 -> " + db + ".shard-1-of-2") != std::string::npos);
  std::ifstream log(dir + "/ok/sbatch.log");
  std::string args;
  std::getline(log, args);
  CHECK(args == "--parsable --qos=high --exclusive " + db + ".run-2.sbatch");
  std::stringstream script;
  script << std::ifstream(db + ".run-2.sbatch").rdbuf();
  for (const char* want : {"#SBATCH --array=0-1%1\n", "#SBATCH --partition=gpu\n", "#SBATCH --time=01:00:00\n",
                           "#SBATCH --gpus-per-task=1\n", "#SBATCH --cpus-per-task=1\n",
                           " run --resume 2 --db '", "--shard \"${SLURM_ARRAY_TASK_ID}/2\""})
    CHECK(script.str().find(want) != std::string::npos);
  CHECK(rows(db, "SELECT count(*) FROM planned_trials WHERE run_id = 2") == std::vector<std::string>{"3"});
  CHECK(rows(db, "SELECT json_extract(spec, '$.sharding.jobs[0].job') FROM runs WHERE id = 2") ==
        std::vector<std::string>{"4242"});

  // Array task 0 runs (as Slurm would: the script's command with SLURM_ARRAY_TASK_ID=0).
  auto t0 = run_cmd("run --resume 2 --db " + q(db) + " --shard 0/2 -q");
  INFO(t0.output);
  REQUIRE(t0.status == 0);
  // Resume: only shard 1 has unfinished trials.
  auto res = run_cmd("run --resume 2 --db " + q(db) + " --slurm");
  INFO(res.output);
  REQUIRE(res.status == 0);
  std::stringstream script2;
  script2 << std::ifstream(db + ".run-2.sbatch").rdbuf();
  CHECK(script2.str().find("#SBATCH --array=1\n") != std::string::npos);
  auto t1 = run_cmd("run --resume 2 --db " + q(db) + " --shard 1/2 -q");
  INFO(t1.output);
  REQUIRE(t1.status == 0);
  auto done = run_cmd("run --resume 2 --db " + q(db) + " --slurm");
  CHECK(done.output.find("every shard has finished") != std::string::npos);
  auto m = run_cmd("merge 2 --db " + q(db));
  INFO(m.output);
  REQUIRE(m.status == 0);
  CHECK(rows(db, "SELECT status FROM runs WHERE id = 2") == std::vector<std::string>{"finished"});
  CHECK(rows(db, "SELECT count(*) FROM samples") == std::vector<std::string>{"24"});
  auto st = run_cmd("status 2 --db " + q(db));
  INFO(st.output);
  CHECK(st.output.find("4242_1") != std::string::npos);
  CHECK(st.output.find("merged into " + db + ": 3 of 3 finished") != std::string::npos);
}
