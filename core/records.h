// What a trial produces: one record per sample (scored document or generation) and the trial's
// aggregate metrics. Every layer reads and writes these; the store keeps them as they are.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace eeb {

struct SampleRecord {
  int index = 0;
  std::string doc_id, group;
  int gold = -1;
  int pred = -1;       // argmax log-likelihood
  int pred_norm = -1;  // argmax log-likelihood / continuation bytes
  std::vector<double> loglik;
  std::vector<bool> is_greedy;
  double layers_executed = 0;  // layers run at the scoring position
  double lm_head_calls = 0;    // extra logit-lens evaluations (exit checks)
  double seconds = 0;          // measured model time (what the strategy changes)
  nlohmann::json extra = nlohmann::json::object();
};

struct MetricValue {
  std::string name;
  std::string group;  // "" = overall; else e.g. an MMLU subject
  double value = 0;
  double stderr_ = -1;  // < 0: none
  long n = 0;
  nlohmann::json detail = nlohmann::json::object();  // e.g. confidence interval, what was timed
};

}  // namespace eeb
