// Strategy interface and registry. A strategy sees only the backend interface, a task's requests and
// the run's parameters; it computes (predictions, per-choice log-likelihoods, layers executed, its
// own per-sample measures) and never measures: the runner times each call, counts the work through
// a CountingBackend, runs the full-depth baseline and aggregates the measures a strategy declares.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "core/records.h"
#include "strategies/scoring.h"
#include "tasks/task.h"

namespace eeb {

class Tokenizer;

struct RunContext {
  Backend& backend;
  const Tokenizer* tokenizer_ = nullptr;  // may be null where no text is involved (tests)
  nlohmann::json run_spec;  // the whole run's parameters (for strategies that fit on other data)
  const Tokenizer& tokenizer() const;      // throws Error when there is none
  // Set by the runner for one score() call when the document's context begins with a prefix it
  // computed through prefix_plan() (see PrefixState); null: compute the whole context.
  const PrefixState* prefix = nullptr;
  // The same for one score_batch() call: one entry per request (null where it has none), or empty.
  std::span<const PrefixState* const> prefixes;
};

// How a per-sample measure becomes a trial metric.
enum class Aggregation {
  mean,           // mean over the samples that have the value, with lm-eval's mean stderr
  sum,            // sum over samples
  ratio_of_sums,  // sum(value) / sum(denominator) over samples (e.g. accepted / drafted drafts)
  hypothetical,   // mean, but of what an ideal policy would do, not of what ran (no cost attached)
};
const char* aggregation_name(Aggregation a);

// A per-sample measure a strategy writes into SampleRecord::extra and declares in measures().
struct MeasureSpec {
  std::string name;          // the trial metric's name
  Aggregation aggregation = Aggregation::mean;
  std::string description;   // what it means, with its unit (stored in the metric's detail)
  std::string key;           // per-sample extra key; empty = name
  std::string denominator;   // ratio_of_sums: the per-sample extra key summed below the line
  MeasureSpec(std::string name_, Aggregation a, std::string description_, std::string key_ = "",
              std::string denominator_ = "")
      : name(std::move(name_)), aggregation(a), description(std::move(description_)), key(std::move(key_)),
        denominator(std::move(denominator_)) {}
  const std::string& sample_key() const { return key.empty() ? name : key; }
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  virtual nlohmann::json params() const { return nlohmann::json::object(); }
  // One-time work before scoring (calibration, fitting). Default: nothing.
  virtual void prepare(RunContext&, const Task&, const TaskOptions&) {}
  // Multiple-choice tasks: log-likelihood of each choice. Exactly the model work the strategy
  // would do in deployment: the runner times and counts this call as a whole.
  virtual SampleRecord score(RunContext& ctx, const Request& req) = 0;
  // Several requests at once (the runner's --batch-docs): the records score() gives for each, in
  // order, the runner timing and counting the call as a whole. Default: score() on each in turn
  // (strategies/batch_scoring.cpp). A strategy that computes the documents together overrides it
  // (strategies/batch_scoring.h) and says so with batches_documents().
  virtual std::vector<SampleRecord> score_batch(RunContext& ctx, std::span<const Request> reqs);
  // Generation tasks: greedy decoding of up to max_new_tokens after req.context (stops at EOS).
  // The record's extra holds "tokens" (generated ids); layers_executed is per generated token.
  // Default: Error (the strategy does not support generation).
  virtual SampleRecord generate(RunContext& ctx, const Request& req, int max_new_tokens);
  // Analysis that needs extra model work (e.g. a full-depth reference pass for a KL divergence):
  // the runner calls it once per sample after the measured call, untimed, with ctx.backend the
  // un-counted backend, so it adds neither time nor FLOPs. It adds its values to r.extra.
  virtual void reference(RunContext&, const Request&, SampleRecord&) {}
  // The layer plan a shared context prefix must be run through for score() to start from it (the
  // prefix cache, exact only when every layer score() may run at a context position is a leading
  // part of this plan, in order); nullopt: score() never uses a prefix. Called after prepare().
  virtual std::optional<std::vector<int>> prefix_plan(int /*n_layers*/) const { return std::nullopt; }
  // The per-sample measures this strategy writes (beyond what every trial gets); trial_metrics
  // aggregates each as declared.
  virtual std::vector<MeasureSpec> measures() const { return {}; }

  // Traits (instead of comparing names):
  // the full-depth baseline itself (no baseline run next to it);
  virtual bool is_baseline() const { return false; }
  // output must equal full-depth greedy decoding; a difference fails the trial;
  virtual bool lossless() const { return false; }
  // reports what an ideal policy would run, having run more: not timed, no cost metrics;
  virtual bool hypothetical() const { return false; }
  // layers_executed is a depth (layers run at the scoring position / per token), so the trial
  // reports avg_layers and pruning_ratio; false where that would mislead (speculative decoding).
  virtual bool reports_depth() const { return true; }
  // score_batch computes several documents per forward pass (so the runner batches its calls).
  virtual bool batches_documents() const { return false; }
};

using StrategyFactory = std::function<std::unique_ptr<Strategy>(const nlohmann::json& params)>;
struct StrategyInfo { std::string name, description; StrategyFactory make; };
const std::vector<StrategyInfo>& strategy_registry();
// Adds a strategy (e.g. from a plugin or a test) without touching harness/; Error if the name exists.
void register_strategy(StrategyInfo info);
std::unique_ptr<Strategy> make_strategy(const std::string& name, const nlohmann::json& params);

}  // namespace eeb
