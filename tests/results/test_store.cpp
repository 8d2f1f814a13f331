// Results store: schema creation, opening foreign files, round trips of every row type, list_runs.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "results/store.h"
#include "results_util.h"

using namespace eeb;
using eeb::testing::make_fixture;
using eeb::testing::make_sample;
using eeb::testing::query1;
using eeb::testing::raw_exec;
using eeb::testing::TempDir;
using Catch::Matchers::Contains;

TEST_CASE("open creates the folder and the documented schema", "[results]") {
  TempDir tmp;
  const std::string path = tmp.file("a/b/results.db");
  auto s = ResultStore::open(path);
  CHECK(std::filesystem::exists(path));
  CHECK(s.path() == path);
  CHECK(s.schema_version() == 3);
  CHECK(query1(s, "PRAGMA user_version") == "3");
  CHECK(query1(s, "PRAGMA application_id") == std::to_string(0x45454231));
  CHECK(query1(s, "PRAGMA journal_mode") == "wal");
  CHECK(query1(s, "PRAGMA foreign_keys") == "1");
  CHECK(query1(s, "PRAGMA synchronous") == "1");  // NORMAL
  CHECK(query1(s, "PRAGMA busy_timeout") == "10000");
  CHECK(query1(s, "SELECT group_concat(version) FROM schema_version") == "1,2,3");  // created, then migrated
  const std::string tables = query1(
      s, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type='table' ORDER BY name)");
  CHECK(tables == "metrics,models,planned_trials,run_nodes,runs,samples,schema_version,strategies,targets,tasks,trials");
  // Every column docs/SCHEMA.md promises for samples and metrics.
  CHECK(query1(s, "SELECT group_concat(name, ',') FROM pragma_table_info('samples')") ==
        "trial_id,doc_index,doc_id,grp,gold,pred,pred_norm,correct,correct_norm,loglik,layers_executed,"
        "lm_head_calls,seconds,extra");
  CHECK(query1(s, "SELECT group_concat(name, ',') FROM pragma_table_info('metrics')") ==
        "trial_id,name,value,stderr,n,grp,detail");
  CHECK(s.integrity_check() == "ok");
  CHECK_FALSE(sqlite_version().empty());
}

TEST_CASE("reopening keeps the data; a zero-byte file becomes a database", "[results]") {
  TempDir tmp;
  const std::string path = tmp.file("r.db");
  { std::ofstream(path).flush(); }
  int64_t run = 0;
  {
    auto s = ResultStore::open(path);
    run = s.begin_run(RunInfo{});
  }
  auto s = ResultStore::open(path);
  CHECK(s.run(run).status == "running");
  auto moved = std::move(s);
  CHECK(moved.list_runs().size() == 1);
  auto mem = ResultStore::open(":memory:");
  CHECK(mem.begin_run(RunInfo{}) == 1);
  mem = std::move(moved);  // move assignment closes the in-memory database
  CHECK(mem.path() == path);
  CHECK(mem.run(run).id == run);
}

TEST_CASE("a file that is not SQLite is refused with its path", "[results]") {
  TempDir tmp;
  const std::string path = tmp.file("notes.db");
  { std::ofstream(path) << "this is a text file, not a database\n"; }
  REQUIRE_THROWS_AS(ResultStore::open(path), Error);
  REQUIRE_THROWS_WITH(ResultStore::open(path), Contains(path) && Contains("not an eebench results database"));
  // Untouched.
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  CHECK(line == "this is a text file, not a database");
  // SQLite's header followed by garbage.
  const std::string broken = tmp.file("broken.db");
  { std::ofstream(broken, std::ios::binary) << std::string("SQLite format 3\0", 16) << std::string(4096, 'x'); }
  REQUIRE_THROWS_WITH(ResultStore::open(broken), Contains(broken) && Contains("not an eebench results database"));
}

TEST_CASE("a SQLite database of another program is refused", "[results]") {
  TempDir tmp;
  const std::string path = tmp.file("other.db");
  raw_exec(path, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES(1,'x');");
  REQUIRE_THROWS_WITH(ResultStore::open(path), Contains(path) && Contains("not an eebench results database"));
  // One that merely sets user_version, without eebench's application id, is refused as well.
  const std::string path2 = tmp.file("other2.db");
  raw_exec(path2, "PRAGMA user_version = 1;");
  REQUIRE_THROWS_WITH(ResultStore::open(path2), Contains(path2) && Contains("not an eebench results database"));
  raw_exec(path, "SELECT 1");  // still a working database: nothing was added
}

TEST_CASE("a newer schema version is refused", "[results]") {
  TempDir tmp;
  const std::string path = tmp.file("future.db");
  { auto s = ResultStore::open(path); }
  raw_exec(path, "PRAGMA user_version = 99;");
  REQUIRE_THROWS_WITH(ResultStore::open(path), Contains(path) && Contains("newer") && Contains("99"));
}

TEST_CASE("runs round-trip every column", "[results]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("r.db"));
  RunInfo r;
  r.started_at = "2025-01-31T12:00:00.000Z";
  r.eebench_version = "0.1.0";
  r.git_sha = "b6c18af";
  r.git_dirty = true;
  r.compiler = "GNU 12.2.0";
  r.build_type = "Release";
  r.cpu_model = "AMD EPYC 7763 64-Core Processor";
  r.gpu_name = "NVIDIA H100 80GB HBM3";
  r.gpu_uuid = "GPU-1234";
  r.gpu_driver = "550.54";
  r.cuda_runtime = "12.4";
  r.cublas_version = "12.4.5";
  r.library_versions = {{"sqlite", sqlite_version()}, {"openblas", "0.3.21"}};
  r.hostname = "höst-ü";
  r.seed = 0xFFFFFFFFFFFFFFF0ull;  // above INT64_MAX: stored as its two's complement
  r.dtype = "bf16";
  r.threads = 16;
  r.backend = "cuda";
  r.command_line = "eebench run --spec 'a b'";
  r.spec = {{"tasks", {"sst2", "mmlu"}}, {"limit", 10}};
  const int64_t id = s.begin_run(r);
  RunInfo b = s.run(id);
  CHECK(b.id == id);
  CHECK(b.status == "running");
  CHECK(b.finished_at.empty());
  CHECK(b.started_at == r.started_at);
  CHECK(b.eebench_version == r.eebench_version);
  CHECK(b.git_sha == r.git_sha);
  CHECK(b.git_dirty);
  CHECK(b.compiler == r.compiler);
  CHECK(b.build_type == r.build_type);
  CHECK(b.cpu_model == r.cpu_model);
  CHECK(b.gpu_name == r.gpu_name);
  CHECK(b.gpu_uuid == r.gpu_uuid);
  CHECK(b.gpu_driver == r.gpu_driver);
  CHECK(b.cuda_runtime == r.cuda_runtime);
  CHECK(b.cublas_version == r.cublas_version);
  CHECK(b.library_versions == r.library_versions);
  CHECK(b.hostname == r.hostname);
  CHECK(b.seed == r.seed);
  CHECK(b.dtype == r.dtype);
  CHECK(b.threads == r.threads);
  CHECK(b.backend == r.backend);
  CHECK(b.command_line == r.command_line);
  CHECK(b.spec == r.spec);
  CHECK(b.error.empty());

  s.set_run_spec(id, {{"resolved", true}});
  s.finish_run(id, "failed", "model.safetensors: truncated");
  b = s.run(id);
  CHECK(b.status == "failed");
  CHECK(b.error == "model.safetensors: truncated");
  CHECK(b.spec == nlohmann::json{{"resolved", true}});
  REQUIRE(b.finished_at.size() == 24);  // 2025-01-31T12:00:00.123Z
  CHECK(b.finished_at.back() == 'Z');
  CHECK(query1(s, "SELECT julianday('" + b.finished_at + "') > julianday('2025-01-01')") == "1");

  s.finish_run(id, "running");  // reopened for resume
  CHECK(s.run(id).status == "running");
  CHECK(s.run(id).finished_at.empty());
  CHECK(s.run(id).error.empty());
  CHECK(query1(s, "SELECT finished_at IS NULL AND error IS NULL FROM runs WHERE id=" + std::to_string(id)) == "1");

  const int64_t auto_started = s.begin_run(RunInfo{});
  CHECK(s.run(auto_started).started_at.size() == 24);
  CHECK_THROWS_WITH(s.finish_run(id, "done"), Contains("invalid run status"));
  CHECK_THROWS_WITH(s.run(999), Contains("no run 999 in " + s.path()));
  CHECK_THROWS_WITH(s.finish_run(999, "finished"), Contains("no run 999"));
}

TEST_CASE("models, tasks, strategies and trials round-trip", "[results]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("r.db"));
  const int64_t run = s.begin_run(RunInfo{});
  ModelRow m{0, 0, "/models/llama", "gguf", {{"n_layers", 32}, {"rope_theta", 10000.0}}, "xxh64:abcd", 6738415616};
  TaskRow t{0, 0, "mmlu", "1.0", "test", 5, "deadbeef", 20, 1140};
  StrategyRow g{0, 0, "adainfer", {{"threshold", 0.8}}};
  const int64_t mid = s.add_model(run, m), tid = s.add_task(run, t), gid = s.add_strategy(run, g);
  const int64_t trial = s.begin_trial(run, mid, tid, gid);
  auto ts = s.trials(run);
  REQUIRE(ts.size() == 1);
  const TrialRow& r = ts[0];
  CHECK(r.id == trial);
  CHECK(r.run_id == run);
  CHECK(r.status == "running");
  CHECK(r.started_at.size() == 24);
  CHECK(r.finished_at.empty());
  CHECK(r.n_samples == 0);
  CHECK(r.model.id == mid);
  CHECK(r.model.run_id == run);
  CHECK(r.model.path == m.path);
  CHECK(r.model.format == m.format);
  CHECK(r.model.config == m.config);
  CHECK(r.model.weights_checksum == m.weights_checksum);
  CHECK(r.model.n_params == m.n_params);
  CHECK(r.task.id == tid);
  CHECK(r.task.name == t.name);
  CHECK(r.task.version == t.version);
  CHECK(r.task.split == t.split);
  CHECK(r.task.shots == t.shots);
  CHECK(r.task.template_hash == t.template_hash);
  CHECK(r.task.limit_n == t.limit_n);
  CHECK(r.task.n_docs == t.n_docs);
  CHECK(r.strategy.id == gid);
  CHECK(r.strategy.name == g.name);
  CHECK(r.strategy.params == g.params);
  CHECK(r.decision == nlohmann::json::object());  // nothing decided yet

  s.set_trial_decision(trial, {{"removed", {3, 5}}});
  s.finish_trial(trial, "finished");
  ts = s.trials(run);
  CHECK(ts[0].decision == nlohmann::json{{"removed", {3, 5}}});
  CHECK_THROWS_WITH(s.set_trial_decision(778, {{"x", 1}}), Contains("no trial 778"));
  CHECK(ts[0].status == "finished");
  CHECK(ts[0].finished_at.size() == 24);
  CHECK_THROWS_WITH(s.finish_trial(trial, "ok"), Contains("invalid trial status"));
  CHECK_THROWS_WITH(s.finish_trial(777, "failed"), Contains("no trial 777"));
  CHECK_THROWS_WITH(s.add_model(55, m), Contains("no run 55"));
}

TEST_CASE("samples and metrics round-trip", "[results]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("r.db"));
  auto f = make_fixture(s);
  const int64_t trial = s.begin_trial(f.run, f.model, f.task, f.strategy);
  SampleRow a = make_sample(3);
  a.doc_id = "anatomy:test:3 \"quoted\"";
  a.loglik = {-1.5, -INFINITY, -0.25, 1e-300};
  a.extra = {{"text", "naïve"}, {"tokens", {1, 2, 3}}};
  SampleRow gen = make_sample(4);
  gen.gold = -1, gen.pred = -1, gen.pred_norm = -1;  // a generation task
  gen.loglik = {};
  gen.layers_executed = NAN;
  s.add_sample(trial, gen);
  s.add_sample(trial, a);
  auto back = s.samples(trial);
  REQUIRE(back.size() == 2);
  const SampleRow& b = back[0];  // ordered by doc_index
  CHECK(b.doc_index == 3);
  CHECK(b.doc_id == a.doc_id);
  CHECK(b.group == a.group);
  CHECK(b.gold == a.gold);
  CHECK(b.pred == a.pred);
  CHECK(b.pred_norm == a.pred_norm);
  CHECK(b.correct == std::optional<bool>(a.pred == a.gold));
  CHECK(b.correct_norm == std::optional<bool>(a.pred_norm == a.gold));
  REQUIRE(b.loglik.size() == 4);
  CHECK(b.loglik[0] == -1.5);
  CHECK(std::isinf(b.loglik[1]));
  CHECK(b.loglik[1] < 0);
  CHECK(b.loglik[2] == -0.25);
  CHECK(b.loglik[3] == 1e-300);
  CHECK(b.layers_executed == a.layers_executed);
  CHECK(b.lm_head_calls == a.lm_head_calls);
  CHECK(b.seconds == a.seconds);
  CHECK(b.extra == a.extra);
  CHECK_FALSE(back[1].correct.has_value());
  CHECK(back[1].loglik.empty());
  CHECK(std::isnan(back[1].layers_executed));
  CHECK(s.done_samples(trial) == std::set<int>{3, 4});
  // Queryable with SQLite's JSON functions.
  CHECK(query1(s, "SELECT json_extract(extra, '$.tokens[2]') FROM samples WHERE doc_index=3") == "3");
  CHECK(query1(s, "SELECT json_extract(loglik, '$[1]') FROM samples WHERE doc_index=3") == "-inf");

  MetricRow acc{"acc", "", 0.75, 0.0433, 100, {{"ci", {0.66, 0.84}}}};
  MetricRow sub{"acc", "anatomy", 0.5, std::nullopt, 10, {}};
  s.put_metric(trial, acc);
  s.put_metric(trial, sub);
  auto ms = s.metrics(trial);
  REQUIRE(ms.size() == 2);
  CHECK(ms[0].name == "acc");
  CHECK(ms[0].group == "");
  CHECK(ms[0].value == 0.75);
  CHECK(ms[0].std_err == std::optional<double>(0.0433));
  CHECK(ms[0].n == 100);
  CHECK(ms[0].detail == acc.detail);
  CHECK(ms[1].group == "anatomy");
  CHECK_FALSE(ms[1].std_err.has_value());
  CHECK(query1(s, "SELECT stderr IS NULL FROM metrics WHERE grp='anatomy'") == "1");
  CHECK_THROWS_WITH(s.put_metric(999, acc), Contains("no trial 999"));
}

TEST_CASE("list_runs counts trials and samples per run", "[results]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("r.db"));
  CHECK(s.list_runs().empty());
  auto f1 = make_fixture(s);
  const int64_t g2 = s.add_strategy(f1.run, StrategyRow{0, 0, "full", {}});
  const int64_t t1 = s.begin_trial(f1.run, f1.model, f1.task, f1.strategy);
  const int64_t t2 = s.begin_trial(f1.run, f1.model, f1.task, g2);
  for (int i = 0; i < 5; i++) s.add_sample(t1, make_sample(i));
  for (int i = 0; i < 3; i++) s.add_sample(t2, make_sample(i));
  s.finish_run(f1.run, "finished");
  auto f2 = make_fixture(s);
  auto runs = s.list_runs();
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].id == f1.run);
  CHECK(runs[0].status == "finished");
  CHECK(runs[0].n_trials == 2);
  CHECK(runs[0].n_samples == 8);
  CHECK_FALSE(runs[0].finished_at.empty());
  CHECK(runs[0].backend == "cpu");
  CHECK(runs[0].command_line == "eebench run --task mmlu");
  CHECK(runs[1].id == f2.run);
  CHECK(runs[1].status == "running");
  CHECK(runs[1].n_trials == 0);
  CHECK(runs[1].n_samples == 0);
  CHECK(s.trials(f2.run).empty());
}
