// Results store: what resuming an interrupted run relies on, metric upserts, cascading deletes.
#include <catch2/catch.hpp>

#include <cmath>

#include "results/store.h"
#include "results_util.h"

using namespace eeb;
using eeb::testing::make_fixture;
using eeb::testing::make_sample;
using eeb::testing::query1;
using eeb::testing::TempDir;
using Catch::Matchers::Contains;

TEST_CASE("begin_trial is idempotent and reopens unfinished trials", "[results][resume]") {
  TempDir tmp;
  const std::string path = tmp.file("r.db");
  int64_t trial = 0;
  {
    auto s = ResultStore::open(path);
    auto f = make_fixture(s);
    trial = s.begin_trial(f.run, f.model, f.task, f.strategy);
    CHECK(s.begin_trial(f.run, f.model, f.task, f.strategy) == trial);
    for (int i = 0; i < 10; i += 2) s.add_sample(trial, make_sample(i));
    s.finish_trial(trial, "failed");  // interrupted
  }
  // A new process resumes: same identities give the same ids, the trial runs again.
  auto s = ResultStore::open(path);
  const int64_t run = 1;
  const int64_t model = s.add_model(run, ModelRow{0, 0, "/models/tiny", "hf", {{"n_layers", 32}}, "xxh:1234", 1000});
  const int64_t task = s.add_task(run, TaskRow{0, 0, "mmlu", "1", "test", 5, "abc", 0, 100});
  const int64_t strategy = s.add_strategy(run, StrategyRow{0, 0, "exits", {{"k", 0}}});
  CHECK(s.begin_trial(run, model, task, strategy) == trial);
  auto ts = s.trials(run);
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].status == "running");
  CHECK(ts[0].finished_at.empty());
  CHECK(ts[0].n_samples == 5);
  CHECK(s.done_samples(trial) == std::set<int>{0, 2, 4, 6, 8});
  for (int i = 0; i < 10; i++)
    if (!s.done_samples(trial).count(i)) s.add_sample(trial, make_sample(i));
  CHECK(s.done_samples(trial).size() == 10);
  s.finish_trial(trial, "finished");
  const std::string finished_at = s.trials(run)[0].finished_at;
  // A finished trial stays finished when begun again.
  CHECK(s.begin_trial(run, model, task, strategy) == trial);
  CHECK(s.trials(run)[0].status == "finished");
  CHECK(s.trials(run)[0].finished_at == finished_at);
}

TEST_CASE("re-adding a sample: identical is a no-op, different results are an error", "[results][resume]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("r.db"));
  auto f = make_fixture(s);
  const int64_t trial = s.begin_trial(f.run, f.model, f.task, f.strategy);
  SampleRow a = make_sample(7);
  a.layers_executed = NAN;  // NULL in the database: still compares equal to itself
  a.loglik.push_back(-INFINITY);
  s.add_sample(trial, a);
  s.add_sample(trial, a);
  // Measurements (seconds, extra) may differ between two computations of one sample.
  SampleRow timing = a;
  timing.seconds = 99;
  timing.extra["t_strategy"] = {7.0};
  s.add_sample(trial, timing);
  auto back = s.samples(trial);
  REQUIRE(back.size() == 1);
  CHECK(back[0].seconds == a.seconds);  // the first row is kept
  CHECK(back[0].extra == a.extra);

  SampleRow other = a;
  other.pred = (a.pred + 1) % 4;
  CHECK_THROWS_WITH(s.add_sample(trial, other), Contains(s.path()) && Contains("different results"));
  other = a;
  other.loglik[0] += 1e-12;
  CHECK_THROWS_WITH(s.add_sample(trial, other), Contains("different results"));
  other = a;
  other.doc_id = "elsewhere";
  CHECK_THROWS_AS(s.add_sample(trial, other), Error);
  other = a;
  other.layers_executed = 3;
  CHECK_THROWS_AS(s.add_sample(trial, other), Error);
  back = s.samples(trial);
  REQUIRE(back.size() == 1);
  CHECK(back[0].pred == a.pred);
  CHECK(back[0].loglik[0] == a.loglik[0]);

  CHECK_THROWS_WITH(s.add_sample(4242, a), Contains("no trial 4242"));
  SampleRow neg = a;
  neg.doc_index = -1;
  CHECK_THROWS_AS(s.add_sample(trial, neg), Error);
  CHECK(s.done_samples(trial) == std::set<int>{7});
}

TEST_CASE("models, tasks and strategies: same identity same id, conflicts are errors", "[results][resume]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("r.db"));
  const int64_t run = s.begin_run(RunInfo{});
  ModelRow m{0, 0, "/m", "hf", {{"n_layers", 2}}, "xxh:1", 10};
  const int64_t mid = s.add_model(run, m);
  CHECK(s.add_model(run, m) == mid);
  ModelRow m2 = m;
  m2.weights_checksum = "xxh:2";  // other weights at the same path: another model
  CHECK(s.add_model(run, m2) != mid);
  m2 = m;
  m2.config["n_layers"] = 3;
  CHECK_THROWS_WITH(s.add_model(run, m2), Contains("different format, config"));

  TaskRow t{0, 0, "sst2", "1", "dev", 0, "h", 0, 872};
  const int64_t tid = s.add_task(run, t);
  CHECK(s.add_task(run, t) == tid);
  TaskRow t2 = t;
  t2.shots = 5;
  CHECK(s.add_task(run, t2) != tid);
  t2 = t;
  t2.n_docs = 871;
  CHECK_THROWS_WITH(s.add_task(run, t2), Contains("different document count"));

  StrategyRow g{0, 0, "exits", {{"b", 1}, {"a", 2}}};
  const int64_t gid = s.add_strategy(run, g);
  StrategyRow reordered{0, 0, "exits", nlohmann::json::parse(R"({"a": 2, "b": 1})")};
  CHECK(s.add_strategy(run, reordered) == gid);
  CHECK(s.trials(run).empty());

  // Another run gets its own rows, and trials cannot mix rows of two runs.
  const int64_t run2 = s.begin_run(RunInfo{});
  const int64_t mid2 = s.add_model(run2, m);
  CHECK(mid2 != mid);
  CHECK_THROWS_WITH(s.begin_trial(run2, mid, tid, gid), Contains("not part of run"));
  CHECK_THROWS_WITH(s.begin_trial(run, mid2, tid, gid), Contains("not part of run"));
  CHECK(s.trials(run).empty());
}

TEST_CASE("put_metric upserts on (trial, name, group)", "[results]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("r.db"));
  auto f = make_fixture(s);
  const int64_t trial = s.begin_trial(f.run, f.model, f.task, f.strategy);
  s.put_metric(trial, MetricRow{"acc", "", 0.5, 0.1, 10, {{"partial", true}}});
  s.put_metric(trial, MetricRow{"acc", "", 0.6, std::nullopt, 20, {}});
  s.put_metric(trial, MetricRow{"acc", "anatomy", 0.7, 0.2, 5, {}});
  s.put_metric(trial, MetricRow{"acc_norm", "", 0.8, 0.05, 20, {}});
  auto ms = s.metrics(trial);
  REQUIRE(ms.size() == 3);
  CHECK(ms[0].name == "acc");
  CHECK(ms[0].group == "");
  CHECK(ms[0].value == 0.6);
  CHECK_FALSE(ms[0].std_err.has_value());
  CHECK(ms[0].n == 20);
  CHECK(ms[0].detail == nlohmann::json::object());
  CHECK(ms[1].name == "acc_norm");
  CHECK(ms[2].group == "anatomy");
  CHECK(ms[2].value == 0.7);
}

TEST_CASE("deleting a run removes everything that hangs off it", "[results]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("r.db"));
  auto f1 = make_fixture(s);
  auto f2 = make_fixture(s);
  const int64_t t1 = s.begin_trial(f1.run, f1.model, f1.task, f1.strategy);
  const int64_t t2 = s.begin_trial(f2.run, f2.model, f2.task, f2.strategy);
  for (int i = 0; i < 4; i++) s.add_sample(t1, make_sample(i)), s.add_sample(t2, make_sample(i));
  s.put_metric(t1, MetricRow{"acc", "", 0.5, std::nullopt, 4, {}});
  char* err = nullptr;
  REQUIRE(sqlite3_exec(s.handle(), ("DELETE FROM runs WHERE id=" + std::to_string(f1.run)).c_str(), nullptr,
                       nullptr, &err) == SQLITE_OK);
  sqlite3_free(err);
  CHECK(query1(s, "SELECT count(*) FROM samples") == "4");
  CHECK(query1(s, "SELECT count(*) FROM metrics") == "0");
  CHECK(query1(s, "SELECT count(*) FROM models") == "1");
  CHECK(query1(s, "SELECT count(*) FROM pragma_foreign_key_check") == "0");
  CHECK(s.list_runs().size() == 1);
  CHECK(s.samples(t2).size() == 4);
  CHECK(s.integrity_check() == "ok");
}
