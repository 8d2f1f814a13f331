// planned_trials (a run's expansion, failures of isolated trials) and targets; migrations 1 -> 2 -> 3.
#include <catch2/catch.hpp>

#include <map>

#include "tests/results/results_util.h"

using namespace eeb;
using namespace eeb::testing;
using nlohmann::json;

TEST_CASE("planned trials: stored once, resumed plans keep their state, updates round-trip", "[results]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("r.db"));
  Fixture f = make_fixture(s, 1);
  const std::vector<json> plan{{{"strategy", "full"}}, {{"strategy", "static"}, {"params", {{"layer", 3}}}}};
  s.plan_trials(f.run, plan);
  auto p = s.planned_trials(f.run);
  REQUIRE(p.size() == 2);
  CHECK(p[0].idx == 0);
  CHECK(p[1].spec == plan[1]);
  CHECK(p[1].status == "pending");
  CHECK_FALSE(p[1].trial_id);

  const int64_t trial = s.begin_trial(f.run, f.model, f.task, f.strategy);
  p[1].status = "failed", p[1].trial_id = trial, p[1].exit_status = "signal 11 (Segmentation fault)";
  p[1].error = "crashed", p[1].stderr_tail = "line 1\nline 2\n";
  s.update_planned(p[1]);
  s.plan_trials(f.run, {{{"strategy", "other"}}, {{"strategy", "other"}}});  // resume: nothing replaced
  auto q = s.planned_trials(f.run);
  REQUIRE(q.size() == 2);
  CHECK(q[0].spec == plan[0]);
  CHECK(q[1].status == "failed");
  CHECK(q[1].trial_id == trial);
  CHECK(q[1].exit_status == "signal 11 (Segmentation fault)");
  CHECK(q[1].stderr_tail == "line 1\nline 2\n");

  p[0].status = "bogus";
  CHECK_THROWS_WITH(s.update_planned(p[0]), Catch::Contains("invalid planned trial status"));
  PlannedTrial missing;
  missing.run_id = f.run, missing.idx = 7;
  CHECK_THROWS_WITH(s.update_planned(missing), Catch::Contains("no planned trial 7"));
}

TEST_CASE("targets: replaced per (paper, version), other versions kept, optional bounds round-trip", "[results]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("r.db"));
  TargetRow a;
  a.paper = "p", a.version = "1", a.row_key = "acc", a.source = "arXiv:0000", a.model = "m", a.task = "sst2";
  a.setting = {{"strategy", "full"}}, a.metric = "acc", a.value = 0.5, a.lower = 0.4;
  TargetRow b = a;
  b.row_key = "layers", b.metric = "removed_layers", b.value.reset(), b.lower.reset(), b.text_value = "1,2";
  s.put_targets("p", "1", {a, b});
  s.put_targets("p", "1", {a});  // replaces version 1
  TargetRow c = a;
  c.version = "2", c.upper = 0.6;
  s.put_targets("p", "2", {c});
  const auto rows = s.targets("p");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].version == "1");
  CHECK(rows[0].row_key == "acc");
  CHECK(rows[0].lower == 0.4);
  CHECK_FALSE(rows[0].upper);
  CHECK(rows[0].setting == a.setting);
  CHECK(rows[1].version == "2");
  CHECK(rows[1].upper == 0.6);
  CHECK(s.targets("other").empty());
}

TEST_CASE("a version-1 database is migrated in place, keeping its runs", "[results]") {
  TempDir tmp;
  const std::string path = tmp.file("old.db");
  {
    auto s = ResultStore::open(path);
    make_fixture(s, 1);
  }
  // Make it look like a database written before schema version 2.
  raw_exec(path, "DROP TABLE planned_trials; DROP TABLE targets; DROP TABLE run_nodes; ALTER TABLE trials DROP COLUMN decision;"
                 " DELETE FROM schema_version WHERE version >= 2; PRAGMA user_version = 1;");
  auto s = ResultStore::open(path);
  CHECK(s.schema_version() == 3);
  CHECK(query1(s, "SELECT group_concat(version) FROM schema_version") == "1,2,3");
  CHECK(s.list_runs().size() == 1);
  const int64_t run = s.list_runs()[0].id;
  s.plan_trials(run, {json::object()});
  CHECK(s.planned_trials(run).size() == 1);
  CHECK(s.integrity_check() == "ok");
}

TEST_CASE("a version-2 database is migrated: each trial gets its strategy row's decision", "[results]") {
  TempDir tmp;
  const std::string path = tmp.file("v2.db");
  int64_t run = 0, t_a = 0, t_b = 0, t_c = 0;
  {
    auto s = ResultStore::open(path);
    Fixture f = make_fixture(s, 1);  // strategy "exits" k=0
    run = f.run;
    const int64_t m2 = s.add_model(run, ModelRow{0, 0, "/models/other", "hf", {{"n_layers", 32}}, "xxh:5678", 1000});
    const int64_t g2 = s.add_strategy(run, StrategyRow{0, 0, "shortgpt", {{"n", 1}}});
    t_a = s.begin_trial(run, f.model, f.task, f.strategy);
    t_b = s.begin_trial(run, m2, f.task, f.strategy);  // the same strategy row on another model
    t_c = s.begin_trial(run, f.model, f.task, g2);     // a strategy row of its own
  }
  // What version 2 stored: one `resolved` per strategy row (the last prepared trial's), no
  // per-trial decision.
  raw_exec(path,
           "ALTER TABLE trials DROP COLUMN decision; DROP TABLE run_nodes;"
           " UPDATE strategies SET resolved = '{\"removed\":[7]}' WHERE name = 'exits';"
           " UPDATE strategies SET resolved = '{\"removed\":[3]}' WHERE name = 'shortgpt';"
           " DELETE FROM schema_version WHERE version = 3; PRAGMA user_version = 2;");
  auto s = ResultStore::open(path);
  CHECK(s.schema_version() == 3);
  CHECK(query1(s, "SELECT group_concat(version) FROM schema_version") == "1,2,3");
  std::map<int64_t, nlohmann::json> d;
  for (const auto& t : s.trials(run)) d[t.id] = t.decision;
  CHECK(d[t_c] == nlohmann::json{{"removed", {3}}});  // its own row: exactly what was stored
  for (int64_t t : {t_a, t_b}) {  // a shared row: its value, and a note that it may be another trial's
    INFO("trial " << t);
    CHECK(d[t]["removed"] == nlohmann::json{7});
    CHECK(d[t]["migrated_from"].get<std::string>().find("shared by 2 trials") != std::string::npos);
  }
  // From now on each trial keeps its own.
  s.set_trial_decision(t_a, {{"removed", {1}}});
  s.set_trial_decision(t_b, {{"removed", {2}}});
  for (const auto& t : s.trials(run))
    if (t.id == t_a) CHECK(t.decision == nlohmann::json{{"removed", {1}}});
    else if (t.id == t_b) CHECK(t.decision == nlohmann::json{{"removed", {2}}});
  CHECK(s.integrity_check() == "ok");
}
