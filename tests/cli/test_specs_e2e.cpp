// Run specs, isolated trials and `eebench reproduce`, end to end on the shared 12-layer model.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/cli/db_rows.h"
#include "tests/cli/cli_util.h"
#include "tests/test_data.h"

using namespace eeb;
using namespace eeb::testing;
using nlohmann::json;

namespace {

using eeb::testing::rows;

// Predictions per strategy (name + params) → doc_index → pred.
std::map<std::string, std::map<int, int>> preds(const std::string& db) {
  std::map<std::string, std::map<int, int>> out;
  for (const auto& r : rows(db, "SELECT g.name || ' ' || g.params, x.doc_index, x.pred FROM samples x JOIN trials t "
                                "ON t.id = x.trial_id JOIN strategies g ON g.id = t.strategy_id"))
    out[r[0]][std::stoi(r[1])] = std::stoi(r[2]);
  return out;
}

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

std::string model_dir() { return shared_data() + "/models/sst-lm-12L"; }
std::string data_dir() { return shared_data() + "/datasets"; }

std::string spec_text(const std::string& db, int limit, const std::string& static_layers) {
  return "[run]\nreps = 0\nwarmup = 0\ndb = \"" + db + "\"\ndata = \"" + data_dir() + "\"\n[[model]]\npath = \"" +
         model_dir() + "\"\n[[task]]\nname = \"sst2\"\nlimit = " + std::to_string(limit) +
         "\n[[strategy]]\nname = \"full\"\n[[strategy]]\nname = \"static\"\nsweep = { layer = [" + static_layers +
         "] }\n";
}

}  // namespace

TEST_CASE("eebench run SPEC runs its expansion, stores it, and equals the same trials from flags", "[e2e]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("spec");
  write(dir + "/s.toml", spec_text(dir + "/spec.db", 16, "2, 6"));
  auto r = run_cmd("run " + q(dir + "/s.toml") + " -q");
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto planned = rows(dir + "/spec.db", "SELECT idx, status, trial_id IS NOT NULL, json_extract(spec, '$.strategy'),"
                                        " json_extract(spec, '$.params.layer') FROM planned_trials ORDER BY idx");
  REQUIRE(planned.size() == 3);
  CHECK(planned[0] == std::vector<std::string>{"0", "finished", "1", "full", ""});
  CHECK(planned[2] == std::vector<std::string>{"2", "finished", "1", "static", "6"});
  CHECK(rows(dir + "/spec.db", "SELECT json_extract(spec, '$.file.task[0].limit') FROM runs")[0][0] == "16");

  // The same trials through flags, into another database: identical predictions.
  for (const char* s : {"full", "static"}) {
    auto f = run_cmd("run -q --model " + q(model_dir()) + " --data " + q(data_dir()) + " --task sst2 --limit 16" +
                     " --reps 0 --warmup 0 --db " + q(dir + "/flags.db") + " --strategy " + s +
                     (std::string(s) == "static" ? " --sweep layer=2,6" : ""));
    INFO(f.output);
    REQUIRE(f.status == 0);
  }
  auto a = preds(dir + "/spec.db"), b = preds(dir + "/flags.db");
  REQUIRE(a.size() == 3);
  CHECK(a == b);
  CHECK(a["static {\"layer\":2}"].size() == 16);

  // A typo is one error line with file and line, and nothing is run.
  write(dir + "/bad.toml", spec_text(dir + "/bad.db", 4, "2") + "[[strategy]]\nname = \"static\"\nparams = { layr = 1 }\n");
  auto e = run_cmd("run " + q(dir + "/bad.toml"));
  CHECK(e.status == 2);
  CHECK_THAT(e.output, Catch::StartsWith("eebench: error: " + dir + "/bad.toml:16:1: "));
  CHECK(std::count(e.output.begin(), e.output.end(), '\n') == 1);
  CHECK_FALSE(std::filesystem::exists(dir + "/bad.db"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("isolated trials: a crash, a hang and an OOM are failed trials, the sweep goes on, resume completes", "[e2e]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("isolate");
  const std::string db = dir + "/iso.db";
  write(dir + "/s.toml", spec_text(db, 8, "2, 4, 6"));
  ::setenv("EEBENCH_INJECT_FAULT", "1:segv,2:hang,3:alloc", 1);  // inherited by eebench and its children
  auto r = run_cmd("run " + q(dir + "/s.toml") + " -q --isolate --timeout 20 --memory-limit-mb 3000");
  ::unsetenv("EEBENCH_INJECT_FAULT");
  INFO(r.output);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("3 of 4 trials failed"));
  auto p = rows(db, "SELECT idx, status, exit_status, error, stderr_tail FROM planned_trials ORDER BY idx");
  REQUIRE(p.size() == 4);
  CHECK(p[0][1] == "finished");
  CHECK(p[0][2] == "exit 0");
  CHECK(p[1][1] == "failed");
  CHECK(p[1][2] == "signal 11 (Segmentation fault)");
  CHECK(p[1][3] == "crashed: signal 11 (Segmentation fault)");
  CHECK(p[2][2] == "timeout after 20 s");
  CHECK(p[2][3] == "timed out after 20 s (killed)");
  CHECK(p[3][2] == "exit 3");
  CHECK(p[3][3] == "out of memory (memory limit 3000 MB)");
  CHECK(p[3][4] == "eebench: error: out of memory\n");  // the tail of the child's stderr
  CHECK(p[0][4].empty());                                // kept for failed trials only
  CHECK(rows(db, "SELECT status FROM runs")[0][0] == "failed");
  auto show = run_cmd("show 1 --db " + q(db));
  CHECK_THAT(show.output, Catch::Contains("planned trial 1 [failed]") && Catch::Contains("signal 11"));

  // Retry without faults: every trial finishes, each sample exactly once, same predictions as in-process.
  auto again = run_cmd("run --resume 1 --db " + q(db) + " -q");
  INFO(again.output);
  REQUIRE(again.status == 0);
  auto done = rows(db, "SELECT count(*), sum(status = 'finished') FROM planned_trials");
  CHECK(done[0] == std::vector<std::string>{"4", "4"});
  auto counts = rows(db, "SELECT t.id, count(*), count(DISTINCT doc_index) FROM samples x JOIN trials t ON t.id ="
                         " x.trial_id GROUP BY t.id");
  REQUIRE(counts.size() == 4);
  for (const auto& c : counts) CHECK((c[1] == "8" && c[2] == "8"));
  CHECK(rows(db, "PRAGMA integrity_check")[0][0] == "ok");
  write(dir + "/inproc.toml", spec_text(dir + "/inproc.db", 8, "2, 4, 6"));
  REQUIRE(run_cmd("run " + q(dir + "/inproc.toml") + " -q").status == 0);
  CHECK(preds(db) == preds(dir + "/inproc.db"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("eebench reproduce: side-by-side table, pass/fail, different-model label, targets stored", "[e2e]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("repro");
  write(dir + "/targets.toml", R"(
version = "test-1"
[papers.mini]
title = "Mini paper"
source = "a test"
models = ["org/paper-model"]
  [papers.mini.spec.run]
  reps = 0
  warmup = 0
  [[papers.mini.spec.task]]
  name = "sst2"
  limit = 16
  [[papers.mini.spec.strategy]]
  name = "full"
  [[papers.mini.spec.strategy]]
  name = "static"
  params = { layer = "depth*0.5" }
  [[papers.mini.target]]
  key = "acc-full"
  model = "org/paper-model"
  task = "sst2"
  strategy = "full"
  metric = "acc"
  lower = 0.0
  upper = 1.0
  [[papers.mini.target]]
  key = "drop"
  model = "org/paper-model"
  task = "sst2"
  strategy = "static"
  setting = { layer = "depth*0.5" }
  metric = "acc_drop"
  value = -5.0
  upper = -5.0
  [[papers.mini.target]]
  key = "elsewhere"
  model = "org/paper-model"
  task = "mmlu"
  strategy = "full"
  metric = "acc"
  lower = 0.0
)");
  const std::string common = "reproduce mini --targets " + q(dir + "/targets.toml") + " --model " + q(model_dir()) +
                             " --data " + q(data_dir()) + " -q --db ";
  auto other = run_cmd(common + q(dir + "/a.db"));
  INFO(other.output);
  CHECK(other.status == 0);  // failures on a model the paper did not use are not regressions
  CHECK_THAT(other.output, Catch::Contains("| acc-full ") && Catch::Contains("pass (different model)"));
  CHECK_THAT(other.output, Catch::Contains("FAIL (different model)"));
  CHECK_THAT(other.output, Catch::Contains("not run: the run has no full trial on mmlu"));

  auto same = run_cmd(common + q(dir + "/b.db") + " --model-id org/paper-model");
  INFO(same.output);
  CHECK(same.status == 1);  // the paper's model, a failed row: exit 1
  CHECK_THAT(same.output, Catch::Contains("| FAIL ") || Catch::Contains("| FAIL  "));
  CHECK_THAT(same.output, !Catch::Contains("different model |"));
  CHECK_THAT(same.output, Catch::Contains("1 reproduced, 1 not reproduced, 0 compared on a different model, 1 not run"));

  // acc_drop printed = full accuracy − static accuracy, recomputed here from the stored samples.
  const std::string db = dir + "/b.db";
  auto acc = rows(db, "SELECT g.name, avg(x.correct) FROM samples x JOIN trials t ON t.id = x.trial_id JOIN strategies"
                      " g ON g.id = t.strategy_id GROUP BY g.name ORDER BY g.name");
  REQUIRE(acc.size() == 2);
  const double drop = std::stod(acc[0][1]) - std::stod(acc[1][1]);  // full, static
  char want[32];
  std::snprintf(want, sizeof want, "| %.4g ", drop);
  CHECK_THAT(same.output, Catch::Contains(want));
  CHECK(rows(db, "SELECT json_extract(t.decision, '$.layer') FROM trials t JOIN strategies g ON g.id = t.strategy_id WHERE g.name = 'static'")[0][0] == "6");
  CHECK(rows(db, "SELECT count(*) FROM targets WHERE paper = 'mini' AND version = 'test-1'")[0][0] == "3");
  auto stored = json::parse(rows(db, "SELECT spec FROM runs")[0][0]);
  REQUIRE(stored["reproduce"]["rows"].size() == 3);
  CHECK(stored["reproduce"]["rows"][1]["verdict"] == "fail");
  CHECK(stored["reproduce"]["rows"][2]["verdict"] == "not run");

  // --resume RUN: a finished reproduction is compared again without re-running anything.
  const std::string before = rows(db, "SELECT count(*) FROM samples")[0][0];
  auto again = run_cmd("reproduce mini -q --targets " + q(dir + "/targets.toml") + " --db " + q(db) +
                       " --resume 1 --model-id org/paper-model");
  INFO(again.output);
  CHECK(again.status == 1);
  CHECK_THAT(again.output, Catch::Contains("1 reproduced, 1 not reproduced, 0 compared on a different model, 1 not run"));
  CHECK(rows(db, "SELECT count(*) FROM samples")[0][0] == before);

  // A broken targets file is one error line with the file and line.
  write(dir + "/bad.toml", "version = \"x\"\n[papers.p]\ntitle = \"t\"\nsource = \"s\"\n[papers.p.spec]\n"
                           "[[papers.p.target]]\nkey = \"k\"\nmodel = \"m\"\ntask = \"sst2\"\nstrategy = \"full\"\n"
                           "metric = \"acc\"\n");
  auto bad = run_cmd("reproduce p --targets " + q(dir + "/bad.toml"));
  CHECK(bad.status == 2);
  CHECK(bad.output == "eebench: error: " + dir + "/bad.toml:6: target 'k' has no accepted interval (lower/upper) or text_value\n");

  // The built-in targets parse and list every paper of the issue.
  auto list = run_cmd("reproduce --list");
  CHECK(list.status == 0);
  for (const char* paper : {"adainfer", "shortgpt", "layerskip", "lad"}) CHECK_THAT(list.output, Catch::Contains(paper));
  auto unknown = run_cmd("reproduce nosuch --targets " + q(dir + "/targets.toml"));
  CHECK(unknown.status == 2);
  CHECK_THAT(unknown.output, Catch::Contains("no paper 'nosuch'") && Catch::Contains("known: mini"));
  std::filesystem::remove_all(dir);
}
