// eebench run: model × task × strategy (× swept parameters) → SQLite, one committed row per sample.
#include <cstdio>

#include "harness/cli.h"
#include "harness/environment.h"
#include "harness/error.h"
#include "harness/loaded_model.h"
#include "harness/run_spec.h"
#include "harness/runner.h"
#include "results/store.h"

namespace eeb {
namespace {

SampleRow to_row(const SampleRecord& r) {
  SampleRow s;
  s.doc_index = r.index, s.doc_id = r.doc_id, s.group = r.group;
  s.gold = r.gold, s.pred = r.pred, s.pred_norm = r.pred_norm, s.loglik = r.loglik;
  s.layers_executed = r.layers_executed, s.lm_head_calls = r.lm_head_calls, s.seconds = r.seconds;
  s.extra = r.extra;
  if (!r.is_greedy.empty()) s.extra["is_greedy"] = r.is_greedy;
  return s;
}

SampleRecord from_row(const SampleRow& s) {
  SampleRecord r;
  r.index = s.doc_index, r.doc_id = s.doc_id, r.group = s.group;
  r.gold = s.gold, r.pred = s.pred, r.pred_norm = s.pred_norm, r.loglik = s.loglik;
  r.layers_executed = s.layers_executed, r.lm_head_calls = s.lm_head_calls, r.seconds = s.seconds;
  r.extra = s.extra;
  return r;
}

RunInfo run_row(const RunSpec& spec, const Environment& env, const std::string& device) {
  RunInfo r;
  r.eebench_version = env.eebench_version, r.git_sha = env.git_sha, r.git_dirty = env.git_dirty;
  r.compiler = env.compiler, r.build_type = env.build_type, r.cpu_model = env.cpu_model;
  r.hostname = env.hostname, r.gpu_name = env.gpu_name, r.gpu_uuid = env.gpu_uuid;
  r.gpu_driver = env.gpu_driver, r.cuda_runtime = env.cuda_runtime, r.cublas_version = env.cublas_version;
  r.library_versions = env.library_versions;
  r.library_versions["device"] = device;
  const auto& a = spec.args;
  r.seed = a.seed, r.dtype = a.dtype, r.threads = a.threads, r.backend = a.backend;
  r.command_line = a.command_line;
  r.spec = spec.to_json();
  return r;
}

void print_summary(const std::string& label, const std::vector<MetricValue>& ms) {
  std::printf("%s\n", label.c_str());
  for (const auto& m : ms) {
    if (!m.group.empty()) continue;
    std::printf("  %-22s %12.6g", m.name.c_str(), m.value);
    if (m.stderr_ >= 0) std::printf(" ± %.4g", m.stderr_);
    if (m.detail.contains("ci95"))
      std::printf("  (95%% CI %.4g – %.4g)", m.detail["ci95"][0].get<double>(), m.detail["ci95"][1].get<double>());
    std::printf("  n=%ld\n", m.n);
  }
}

}  // namespace

int cmd_run(RunArgs a) {
  auto store = std::make_unique<ResultStore>(ResultStore::open(a.db));
  RunSpec spec;
  int64_t run_id = 0;
  if (a.resume > 0) {
    RunInfo old = store->run(a.resume);
    if (old.status == "finished") {
      std::printf("run %ld is already finished\n", a.resume);
      return 0;
    }
    spec = RunSpec::from_json(old.spec);
    spec.args.db = a.db;
    spec.args.quiet = a.quiet;
    spec.args.command_line = old.command_line;
    run_id = a.resume;
    store->finish_run(run_id, "running");  // reopened: clears finished_at and error
  } else {
    if (a.task.empty()) throw Error("no task given (--task; see eebench list tasks)");
    spec = RunSpec::from_args(a);
  }
  const RunArgs& ar = spec.args;
  // Validate everything cheap before loading weights.
  auto task = make_task(ar.task);
  std::vector<std::unique_ptr<Strategy>> strategies;
  for (const auto& p : spec.params) strategies.push_back(make_strategy(ar.strategy, p));
  {
    std::string known;
    bool ok = false;
    for (const auto& b : list_backends()) {
      known += (known.empty() ? "" : ", ") + b.name;
      ok = ok || b.name == ar.backend;
    }
    if (!ok) throw Error("unknown backend '" + ar.backend + "' (known: " + known + ")");
  }

  BackendOptions bo;
  bo.threads = ar.threads;
  bo.dtype = ar.dtype;
  auto lm = load_for_backend(ar.model, ar.tokenizer, ar.backend, bo);
  TaskOptions to;
  to.data_dir = ar.data;
  to.split = ar.split;
  to.shots = ar.shots;
  to.limit = ar.limit;
  to.subjects = ar.subjects;
  auto docs = task->load(to);
  if (docs.empty()) throw Error("task " + ar.task + ": no documents");

  Environment env = capture_environment(ar.backend, 0);
  if (run_id == 0) {
    run_id = store->begin_run(run_row(spec, env, lm.backend->device_description()));
  } else {
    for (const auto& t : store->trials(run_id))
      if (t.model.weights_checksum != lm.model.weights_checksum)
        throw Error(ar.model, "weights changed since run " + std::to_string(run_id) + " (checksum " +
                                  lm.model.weights_checksum + ", stored " + t.model.weights_checksum + ")");
  }
  std::fprintf(stderr, "eebench: run %ld → %s (%zu documents, %zu trial%s)\n", long(run_id), ar.db.c_str(),
               docs.size(), strategies.size(), strategies.size() == 1 ? "" : "s");

  const auto& cfg = lm.model.cfg;
  ModelRow mr;
  mr.path = ar.model, mr.format = lm.model.format, mr.weights_checksum = lm.model.weights_checksum;
  mr.config = {{"architecture", cfg.architecture}, {"dim", cfg.dim}, {"hidden_dim", cfg.hidden_dim},
               {"n_layers", cfg.n_layers}, {"n_heads", cfg.n_heads}, {"n_kv_heads", cfg.n_kv_heads},
               {"head_dim", cfg.head_dim}, {"vocab_size", cfg.vocab_size}, {"rope_theta", cfg.rope_theta},
               {"norm_eps", cfg.norm_eps}, {"tied_embeddings", cfg.tied_embeddings},
               {"max_seq_len", cfg.max_seq_len}};
  for (const auto& [n, t] : lm.model.tensors) mr.n_params += static_cast<int64_t>(t.numel());
  const int64_t model_id = store->add_model(run_id, mr);
  TaskRow tr;
  tr.name = task->name(), tr.version = task->version();
  tr.split = ar.split.empty() ? task->default_split() : ar.split;
  tr.shots = ar.shots < 0 ? task->default_shots() : ar.shots;
  tr.template_hash = template_hash(*task), tr.limit_n = ar.limit, tr.n_docs = static_cast<int>(docs.size());
  const int64_t task_id = store->add_task(run_id, tr);

  nlohmann::json run_spec_json = spec.to_json();
  TrialInputs in{*lm.backend, *lm.tokenizer, *task, to, docs, run_spec_json};
  TrialOptions opt;
  opt.reps = ar.reps, opt.warmup = ar.warmup, opt.max_new_tokens = ar.max_new_tokens;
  opt.seed = ar.seed, opt.quiet = ar.quiet;
  try {
    for (size_t i = 0; i < strategies.size(); ++i) {
      auto& st = *strategies[i];
      StrategyRow sr;
      sr.name = st.name(), sr.params = spec.params[i];
      const int64_t strategy_id = store->add_strategy(run_id, sr);
      store->set_strategy_resolved(strategy_id, prepare_strategy(in, st));
      const int64_t trial = store->begin_trial(run_id, model_id, task_id, strategy_id);
      auto done = store->done_samples(trial);
      opt.label = st.name() + (spec.params.size() > 1 ? " " + spec.params[i].dump() : "");
      run_trial(in, st, opt, done, [&](const SampleRecord& r) { store->add_sample(trial, to_row(r)); });
      std::vector<SampleRecord> all;
      for (const auto& row : store->samples(trial)) all.push_back(from_row(row));
      auto ms = trial_metrics(*task, all, cfg.n_layers, ar.seed);
      for (const auto& m : ms)
        store->put_metric(trial, MetricRow{m.name, m.group, m.value,
                                           m.stderr_ >= 0 ? std::optional<double>(m.stderr_) : std::nullopt,
                                           m.n, m.detail});
      store->finish_trial(trial, "finished");
      if (!ar.quiet) print_summary("trial " + std::to_string(trial) + ": " + opt.label, ms);
    }
  } catch (const Error& e) {
    store->finish_run(run_id, "failed", e.what());
    throw;
  }
  store->finish_run(run_id, "finished");
  std::printf("run %ld finished: eebench show %ld --db %s\n", long(run_id), long(run_id), ar.db.c_str());
  return 0;
}

}  // namespace eeb
