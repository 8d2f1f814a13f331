// Small results databases for the report and compare tests, built through the ResultStore API.
#pragma once
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "results/store.h"
#include "tests/temp_dir.h"

namespace eeb::testing {


inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Hardware {
  std::string cpu = "Test CPU @ 3 GHz", gpu, backend = "cpu", dtype = "f32";
  int threads = 4;
  nlohmann::json spec = nlohmann::json::object();  // the run spec (scoring modes: prefix_cache, batch_docs)
};

inline int64_t add_run(ResultStore& s, const Hardware& hw = {}) {
  RunInfo r;
  r.eebench_version = "0.1.0";
  r.git_sha = "0123456789abcdef";
  r.cpu_model = hw.cpu, r.gpu_name = hw.gpu, r.backend = hw.backend, r.dtype = hw.dtype, r.threads = hw.threads;
  r.command_line = "eebench run --test";
  r.spec = hw.spec;
  const int64_t id = s.begin_run(r);
  s.finish_run(id, "finished");
  return id;
}

// n two-choice documents: gold = i % 2, wrong when i % 7 == 3 (so 85.5 % correct for n = 200),
// layers_executed = layers, per-sample times t_strategy = {t_i, t_i * 1.01, t_i * 0.99} × time_scale
// with t_i = 10 ms + 0.1 ms × (i % 13).
inline std::vector<SampleRow> make_samples(int n, double layers = 12, double time_scale = 1.0) {
  std::vector<SampleRow> out;
  for (int i = 0; i < n; ++i) {
    SampleRow r;
    r.doc_index = i;
    r.doc_id = "dev:" + std::to_string(i);
    r.gold = i % 2;
    r.pred = i % 7 == 3 ? 1 - r.gold : r.gold;
    r.pred_norm = r.pred;
    r.loglik = {r.pred == 0 ? -0.5 : -1.5, r.pred == 1 ? -0.5 : -1.5};
    r.layers_executed = layers;
    const double t = (0.010 + 0.0001 * (i % 13)) * time_scale;
    r.seconds = t;
    r.extra = {{"t_strategy", {t, t * 1.01, t * 0.99}}, {"note", "a \"quoted\", comma'd text"}};
    out.push_back(r);
  }
  return out;
}

// Flips `k` correct predictions (the first ones) to wrong.
inline void flip_to_wrong(std::vector<SampleRow>& xs, int k) {
  for (auto& s : xs)
    if (k > 0 && s.pred == s.gold) s.pred = s.pred_norm = 1 - s.gold, s.loglik = {s.loglik[1], s.loglik[0]}, --k;
}

inline void put(ResultStore& s, int64_t trial, const std::string& name, double v, int64_t n,
                std::optional<double> se = std::nullopt, nlohmann::json detail = nlohmann::json::object()) {
  MetricRow m;
  m.name = name, m.value = v, m.n = n, m.std_err = se, m.detail = std::move(detail);
  s.put_metric(trial, m);
}

struct TrialSpec {
  std::string strategy = "full";
  nlohmann::json params = nlohmann::json::object(), decision = nlohmann::json::object();
  std::string task = "sst2", checksum = "xxh3:00aa", model = "/models/tiny-12L";
  int n_layers = 12;
};

// A finished trial with the samples and acc / acc_norm (documents with gold >= 0) / avg_layers /
// pruning_ratio computed from them; extra metrics with put().
inline int64_t add_trial(ResultStore& s, int64_t run, const TrialSpec& t, const std::vector<SampleRow>& samples) {
  const int64_t m = s.add_model(run, ModelRow{0, 0, t.model, "hf", {{"n_layers", t.n_layers}}, t.checksum, 1000});
  const int64_t k = s.add_task(run, TaskRow{0, 0, t.task, "1.0", "dev", 0, "tmpl", 0, int(samples.size())});
  const int64_t g = s.add_strategy(run, StrategyRow{0, 0, t.strategy, t.params});
  const int64_t trial = s.begin_trial(run, m, k, g);
  if (!t.decision.empty()) s.set_trial_decision(trial, t.decision);
  double correct = 0, layers = 0, gold = 0;
  for (const auto& x : samples) {
    s.add_sample(trial, x);
    correct += x.gold >= 0 && x.pred == x.gold, gold += x.gold >= 0, layers += x.layers_executed;
  }
  const double n = double(samples.size());
  if (gold > 0) {  // classification
    put(s, trial, "acc", correct / gold, gold, std::sqrt(correct / gold * (1 - correct / gold) / (gold - 1)));
    put(s, trial, "acc_norm", correct / gold, gold);
  }
  if (n > 0) {
    put(s, trial, "avg_layers", layers / n, samples.size());
    put(s, trial, "pruning_ratio", 1 - layers / n / t.n_layers, samples.size());
  }
  s.finish_trial(trial, "finished");
  return trial;
}

}  // namespace eeb::testing
