// Results store: two processes (shards) writing one database at once; many inserts.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <vector>

#include "results/store.h"
#include "results_util.h"

using namespace eeb;
using eeb::testing::make_fixture;
using eeb::testing::make_sample;
using eeb::testing::query1;
using eeb::testing::TempDir;

namespace {

// Forks one child per job; each blocks until all are forked, then runs its job and exits 0, or
// prints the error and exits 1. Returns the children's exit codes. Children never return into
// Catch (they leave with _exit) and open their own connections: none crosses the fork.
std::vector<int> run_children(const std::vector<std::function<void()>>& jobs) {
  int gate[2];
  REQUIRE(::pipe(gate) == 0);
  std::vector<pid_t> pids;
  for (const auto& job : jobs) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) > 0) {
      }  // EOF once the parent closes its end: everyone starts together
      int code = 0;
      try {
        job();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), e.what());
        code = 1;
      }
      std::fflush(stderr);
      ::_exit(code);
    }
    pids.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

}  // namespace

TEST_CASE("two processes insert into different trials of one database at once", "[results][concurrency]") {
  TempDir tmp;
  const std::string path = tmp.file("shared.db");
  int64_t trials[2] = {0, 0};
  {
    auto s = ResultStore::open(path);
    auto f = make_fixture(s);
    const int64_t g2 = s.add_strategy(f.run, StrategyRow{0, 0, "full", {}});
    trials[0] = s.begin_trial(f.run, f.model, f.task, f.strategy);
    trials[1] = s.begin_trial(f.run, f.model, f.task, g2);
  }  // closed before forking
  std::vector<std::function<void()>> jobs;
  for (int k = 0; k < 2; k++)
    jobs.push_back([&, k] {
      auto s = ResultStore::open(path);
      for (int i = 0; i < 500; i++) {
        s.add_sample(trials[k], make_sample(i));
        if (i % 100 == 0) s.put_metric(trials[k], MetricRow{"progress", "", double(i), std::nullopt, i, {}});
      }
      s.finish_trial(trials[k], "finished");
    });
  CHECK(run_children(jobs) == std::vector<int>{0, 0});
  auto s = ResultStore::open(path);
  CHECK(s.done_samples(trials[0]).size() == 500);
  CHECK(s.done_samples(trials[1]).size() == 500);
  CHECK(query1(s, "SELECT count(*) FROM samples") == "1000");
  CHECK(s.samples(trials[1])[499].loglik == make_sample(499).loglik);
  CHECK(s.list_runs().at(0).n_samples == 1000);
  for (const auto& t : s.trials(1)) CHECK(t.status == "finished");
  CHECK(s.integrity_check() == "ok");
}

TEST_CASE("two processes create a new database at once", "[results][concurrency]") {
  TempDir tmp;
  const std::string path = tmp.file("new/shared.db");  // neither the folder nor the file exists
  std::vector<std::function<void()>> jobs;
  for (int k = 0; k < 2; k++)
    jobs.push_back([&] {
      auto s = ResultStore::open(path);
      auto f = make_fixture(s);
      const int64_t trial = s.begin_trial(f.run, f.model, f.task, f.strategy);
      for (int i = 0; i < 200; i++) s.add_sample(trial, make_sample(i));
      s.finish_run(f.run, "finished");
    });
  CHECK(run_children(jobs) == std::vector<int>{0, 0});
  auto s = ResultStore::open(path);
  CHECK(query1(s, "SELECT count(*) FROM schema_version") == "3");  // created and migrated once
  const auto runs = s.list_runs();
  REQUIRE(runs.size() == 2);
  for (const auto& r : runs) CHECK(r.n_samples == 200);
  CHECK(s.integrity_check() == "ok");
}

TEST_CASE("two shards of one trial write it at once", "[results][concurrency]") {
  TempDir tmp;
  const std::string path = tmp.file("shards.db");
  {
    auto s = ResultStore::open(path);
    make_fixture(s);
  }
  std::vector<std::function<void()>> jobs;
  for (int k = 0; k < 2; k++)
    jobs.push_back([&, k] {
      auto s = ResultStore::open(path);
      // Each shard sets up the same rows (idempotent) and gets the same trial.
      const int64_t m = s.add_model(1, ModelRow{0, 0, "/models/tiny", "hf", {{"n_layers", 32}}, "xxh:1234", 1000});
      const int64_t t = s.add_task(1, TaskRow{0, 0, "mmlu", "1", "test", 5, "abc", 0, 100});
      const int64_t g = s.add_strategy(1, StrategyRow{0, 0, "exits", {{"k", 0}}});
      const int64_t trial = s.begin_trial(1, m, t, g);
      for (int i = k; i < 1000; i += 2) s.add_sample(trial, make_sample(i));  // shard k of 2
    });
  CHECK(run_children(jobs) == std::vector<int>{0, 0});
  auto s = ResultStore::open(path);
  const auto trials = s.trials(1);
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].n_samples == 1000);
  CHECK(s.done_samples(trials[0].id).size() == 1000);
  CHECK(s.integrity_check() == "ok");
}

TEST_CASE("many inserts keep the database intact", "[results]") {
  TempDir tmp;
  auto s = ResultStore::open(tmp.file("many.db"));
  auto f = make_fixture(s);
  const int64_t trial = s.begin_trial(f.run, f.model, f.task, f.strategy);
  const int n = 10000;
  for (int i = 0; i < n; i++) s.add_sample(trial, make_sample(i));
  CHECK(s.done_samples(trial).size() == size_t(n));
  auto back = s.samples(trial);
  REQUIRE(back.size() == size_t(n));
  int correct = 0, mismatched = 0;
  for (int i = 0; i < n; i++) {
    const SampleRow want = make_sample(i);
    correct += want.pred == want.gold;
    mismatched += back[i].doc_index != i || back[i].loglik != want.loglik || back[i].pred != want.pred ||
                  back[i].layers_executed != want.layers_executed || back[i].extra != want.extra;
  }
  CHECK(mismatched == 0);
  CHECK(query1(s, "SELECT sum(correct) FROM samples") == std::to_string(correct));
  CHECK(s.integrity_check() == "ok");
}
