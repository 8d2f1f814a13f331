// eebench run: model × task × strategy (× swept parameters) → SQLite, one committed row per sample.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <optional>

#include "harness/cli.h"
#include "harness/cluster.h"  // run_row
#include "harness/environment.h"
#include "core/error.h"
#include "harness/loaded_model.h"
#include "harness/isolate.h"
#include "harness/run_spec.h"
#include "harness/spec_file.h"
#include "harness/runner.h"
#include "results/store.h"
#include "strategies/calibration.h"

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

}  // namespace

// Not file-local: sharded runs (harness/cluster.h) record the same row for each shard.
RunInfo run_row(const RunSpec& spec, const Environment& env) {
  RunInfo r;
  r.eebench_version = env.eebench_version, r.git_sha = env.git_sha, r.git_dirty = env.git_dirty;
  r.compiler = env.compiler, r.build_type = env.build_type, r.cpu_model = env.cpu_model;
  r.hostname = env.hostname, r.gpu_name = env.gpu_name, r.gpu_uuid = env.gpu_uuid;
  r.gpu_driver = env.gpu_driver, r.cuda_runtime = env.cuda_runtime, r.cublas_version = env.cublas_version;
  r.library_versions = env.library_versions;
  const auto& a = spec.args;
  r.seed = a.seed, r.dtype = a.dtype, r.threads = a.threads, r.backend = a.backend;
  r.command_line = a.command_line;
  r.spec = spec.to_json();
  return r;
}

namespace {

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

// Everything a trial needs that several trials share: the loaded model and the task's documents.
struct TrialCache {
  TrialSpec model_key, docs_key;
  std::optional<LoadedModel> lm;
  std::unique_ptr<Task> task;
  TaskOptions options;
  std::vector<Doc> docs;
};

ModelRow model_row(const TrialSpec& t, const LoadedModel& lm) {
  const auto& cfg = lm.model.cfg;
  ModelRow mr;
  mr.path = t.model, mr.format = lm.model.format, mr.weights_checksum = lm.model.weights_checksum;
  mr.config = {{"architecture", cfg.architecture}, {"dim", cfg.dim}, {"hidden_dim", cfg.hidden_dim},
               {"n_layers", cfg.n_layers}, {"n_heads", cfg.n_heads}, {"n_kv_heads", cfg.n_kv_heads},
               {"head_dim", cfg.head_dim}, {"vocab_size", cfg.vocab_size}, {"rope_theta", cfg.rope_theta},
               {"norm_eps", cfg.norm_eps}, {"tied_embeddings", cfg.tied_embeddings},
               {"max_seq_len", cfg.max_seq_len}};
  // The BOS policy is decided once per tokenizer (its own files say it) and recorded with the run.
  if (lm.tokenizer)
    mr.config["tokenizer"] = {{"kind", lm.tokenizer->kind()}, {"add_bos", lm.tokenizer->add_bos()},
                              {"bos_policy", lm.tokenizer->bos_policy_description()}};
  for (const auto& [n, ti] : lm.model.tensors) mr.n_params += static_cast<int64_t>(ti.numel());
  // How the backend held the weights (--dtype auto keeps each file's types): part of the model's
  // identity in this run, since BF16 or Q8_0 weights give other numbers than an f32 conversion.
  nlohmann::json held = nlohmann::json::object();
  for (const auto& [type, h] : lm.backend->held_weights()) held[type] = {{"tensors", h.tensors}, {"bytes", h.bytes}};
  mr.config["weights_held"] = {{"dtype", lm.backend->dtype()}, {"by_type", held}};
  return mr;
}

// The task's documents for trial `t`, into the cache.
void load_task(TrialCache& c, const TrialSpec& t) {
  c.task = make_task(t.task);
  c.options = TaskOptions{};
  c.options.data_dir = t.data, c.options.split = t.split, c.options.shots = t.shots;
  c.options.limit = t.limit, c.options.subjects = t.subjects;
  c.docs = c.task->load(c.options);
  if (c.docs.empty()) throw Error("task " + t.task + ": no documents");
  c.docs_key = t;
}

// Loads every distinct task of a new run once before the run is stored, so a bad spec or data file
// is an error that leaves no run behind; the first trial's documents stay in the cache for it.
void load_tasks_first(const RunSpec& spec, TrialCache& c) {
  std::vector<const TrialSpec*> done;
  for (const auto& t : spec.trials) {
    bool seen = false;
    for (const auto* d : done) seen = seen || d->same_docs(t);
    if (seen) continue;
    done.push_back(&t);
    if (done.size() == 1) {
      load_task(c, t);
    } else {
      TrialCache other;
      load_task(other, t);
    }
  }
}

// Runs planned trial `p` in this process; its samples and metrics are committed as they come.
void run_planned(ResultStore& store, int64_t run_id, const RunSpec& spec, PlannedTrial& p, TrialCache& c) {
  const RunArgs& ar = spec.args;
  const TrialSpec& t = spec.trials.at(static_cast<size_t>(p.idx));
  p.status = "running", p.error.clear();
  store.update_planned(p);

  if (!c.lm || !c.model_key.same_model(t)) {
    c.lm.reset();  // free the previous model first
    BackendOptions bo;
    bo.threads = ar.threads;
    bo.dtype = ar.dtype;
    c.lm.emplace(load_for_backend(t.model, t.tokenizer, ar.backend, bo));
    c.model_key = t;
  }
  LoadedModel& lm = *c.lm;
  lm.model.check_files_unchanged();  // the backend may compute from the mapping: refuse a changed file
  for (const auto& old : store.trials(run_id))
    if (old.model.path == t.model && old.model.weights_checksum != lm.model.weights_checksum)
      throw Error(t.model, "weights changed since run " + std::to_string(run_id) + " began (checksum " +
                               lm.model.weights_checksum + ", stored " + old.model.weights_checksum + ")");
  if (!c.task || !c.docs_key.same_docs(t)) load_task(c, t);
  const Task& task = *c.task;
  const int64_t model_id = store.add_model(run_id, model_row(t, lm));
  TaskRow tr;
  tr.name = task.name(), tr.version = task.version();
  tr.split = t.split.empty() ? task.default_split() : t.split;
  tr.shots = t.shots < 0 ? task.default_shots() : t.shots;
  tr.template_hash = template_hash(task), tr.limit_n = t.limit, tr.n_docs = static_cast<int>(c.docs.size());
  const int64_t task_id = store.add_task(run_id, tr);

  auto st = make_strategy(t.strategy, resolve_depth_params(t.params, lm.model.cfg.n_layers));
  StrategyRow sr;
  sr.name = st->name(), sr.params = t.params;
  const int64_t strategy_id = store.add_strategy(run_id, sr);
  nlohmann::json context = spec.to_json();
  context["trial"] = t.to_json();
  // What identifies the weights for caches that outlive one backend (calibration.h).
  context[kWeightsChecksumKey] = lm.model.weights_checksum;
  TrialInputs in{*lm.backend, *lm.tokenizer, task, c.options, c.docs, context};
  const nlohmann::json decision = prepare_strategy(in, *st);
  const int64_t trial = store.begin_trial(run_id, model_id, task_id, strategy_id);
  store.set_trial_decision(trial, decision);  // per trial: the strategy row is shared across models
  p.trial_id = trial;
  store.update_planned(p);

  TrialOptions opt;
  opt.reps = ar.reps, opt.warmup = ar.warmup, opt.max_new_tokens = t.max_new_tokens;
  opt.seed = ar.seed, opt.quiet = ar.quiet, opt.log_samples = ar.log_samples;
  opt.prefix_cache = ar.prefix_cache, opt.prefix_cache_mb = ar.prefix_cache_mb;
  opt.batch_docs = ar.batch_docs;
  opt.label = st->name() + (t.params.empty() ? "" : " " + t.params.dump());
  run_trial(in, *st, opt, store.done_samples(trial),
            [&](const SampleRecord& r) {
              lm.model.check_files_unchanged();  // one stat() per file: no sample of a changed file is stored
              store.add_sample(trial, to_row(r));
            });
  std::vector<SampleRecord> all;
  for (const auto& row : store.samples(trial)) all.push_back(from_row(row));
  auto ms = trial_metrics(task, *st, all, lm.model.cfg.n_layers, ar.seed);
  for (const auto& m : ms)
    store.put_metric(trial, MetricRow{m.name, m.group, m.value,
                                      m.stderr_ >= 0 ? std::optional<double>(m.stderr_) : std::nullopt, m.n,
                                      m.detail});
  store.finish_trial(trial, "finished");
  p.status = "finished";
  store.update_planned(p);
  if (!ar.quiet) print_summary("trial " + std::to_string(trial) + ": " + t.label(), ms);
}

// Marks a planned trial (and its trials row, if it has one) failed with a one-line reason.
void record_failure(ResultStore& store, PlannedTrial& p, const std::string& why) {
  p.status = "failed", p.error = why;
  store.update_planned(p);
  if (p.trial_id) store.finish_trial(*p.trial_id, "failed");
}

// Fault injection for the tests of --isolate: EEBENCH_INJECT_FAULT="K:KIND[,K:KIND...]" makes the
// child that runs planned trial K crash (segv, abort), hang, or allocate without bound (alloc).
void inject_fault(int trial_index) {
  const char* f = std::getenv("EEBENCH_INJECT_FAULT");
  if (!f) return;
  std::string kind;
  const std::string all(f), want = std::to_string(trial_index) + ":";
  for (size_t start = 0; start <= all.size();) {
    size_t comma = all.find(',', start);
    if (comma == std::string::npos) comma = all.size();
    const std::string item = all.substr(start, comma - start);
    if (item.rfind(want, 0) == 0) kind = item.substr(want.size());
    start = comma + 1;
  }
  if (kind == "segv") std::raise(SIGSEGV);
  if (kind == "abort") std::abort();
  if (kind == "hang")
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  if (kind == "alloc") {
    std::vector<std::unique_ptr<char[]>> hog;
    for (;;) {
      hog.emplace_back(new char[64 << 20]);
      std::memset(hog.back().get(), 1, 64 << 20);
    }
  }
}

}  // namespace

// Cheap checks before any weights are loaded: every task, strategy and the backend exist.
void validate(const RunSpec& spec) {
  for (const auto& t : spec.trials) {
    make_task(t.task);
    make_strategy(t.strategy, resolve_depth_params(t.params, 32));  // any depth: names and types
  }
  const BackendInfo backend = backend_info(spec.args.backend);  // unknown: Error naming the known
  if (spec.args.isolate && spec.args.memory_limit_mb > 0 && backend.is_gpu)
    throw Error("--memory-limit-mb limits address space, which CUDA reserves in bulk; use it with the cpu backend");
}

RunResult execute_run(ResultStore& store, const RunSpec& spec, int64_t run_id, int only_trial) {
  const RunArgs& ar = spec.args;
  TrialCache cache;
  if (run_id == 0) {
    load_tasks_first(spec, cache);
    Environment env = capture_environment(ar.backend, 0);
    run_id = store.begin_run(run_row(spec, env));
  }
  {
    std::vector<nlohmann::json> plan;
    for (const auto& t : spec.trials) plan.push_back(t.to_json());
    store.plan_trials(run_id, plan);  // a resumed run keeps its stored entries
  }
  auto planned = store.planned_trials(run_id);
  if (planned.size() != spec.trials.size())
    throw Error(ar.db, "run " + std::to_string(run_id) + " has " + std::to_string(planned.size()) +
                           " planned trials, its spec " + std::to_string(spec.trials.size()));
  RunResult res;
  res.run_id = run_id;
  res.trials = planned.size();

  if (only_trial >= 0) {  // the child of an isolated run: one trial; the parent records how it ended
    if (only_trial >= static_cast<int>(planned.size())) throw Error("--trial-index out of range");
    PlannedTrial& p = planned[static_cast<size_t>(only_trial)];
    inject_fault(only_trial);
    try {
      run_planned(store, run_id, spec, p, cache);
    } catch (const Error& e) {
      record_failure(store, p, e.what());
      throw;
    }
    return res;
  }

  std::fprintf(stderr, "eebench: run %ld → %s (%zu trial%s%s)\n", long(run_id), ar.db.c_str(), planned.size(),
               planned.size() == 1 ? "" : "s", ar.isolate ? ", each in its own process" : "");
  for (auto& p : planned) {
    if (p.status == "finished") continue;
    if (ar.isolate) {
      run_isolated(store, run_id, spec, p);
      if (p.status != "finished") {
        ++res.failed;
        res.last_error = p.error;
      }
      continue;
    }
    try {
      run_planned(store, run_id, spec, p, cache);
    } catch (const Error& e) {
      record_failure(store, p, e.what());
      if (planned.size() == 1) {
        store.finish_run(run_id, "failed", e.what());
        throw;
      }
      ++res.failed;
      res.last_error = e.what();
      std::fprintf(stderr, "eebench: error: trial %d (%s): %s\n", p.idx, spec.trials[size_t(p.idx)].label().c_str(),
                   e.what());
      cache = TrialCache{};  // a half-built state is not reused
    }
  }
  if (res.failed > 0)
    store.finish_run(run_id, "failed",
                     std::to_string(res.failed) + " of " + std::to_string(planned.size()) +
                         " trials failed (last: " + res.last_error + ")");
  else
    store.finish_run(run_id, "finished");
  return res;
}

int cmd_run(RunArgs a) {
  std::unique_ptr<ResultStore> store;
  RunSpec spec;
  int64_t run_id = 0;
  const bool child = a.only_trial >= 0;
  if (a.resume > 0) {
    store = std::make_unique<ResultStore>(ResultStore::open(a.db));
    RunInfo old = store->run(a.resume);
    if (old.status == "finished" && !child) {
      std::printf("run %ld is already finished\n", a.resume);
      return 0;
    }
    spec = RunSpec::from_json(old.spec);
    spec.args.db = a.db;
    spec.args.quiet = a.quiet;
    spec.args.command_line = old.command_line;
    if (a.given.count("isolate")) spec.args.isolate = a.isolate;  // how to retry may change
    if (a.given.count("timeout_s")) spec.args.timeout_s = a.timeout_s;
    if (a.given.count("memory_limit_mb")) spec.args.memory_limit_mb = a.memory_limit_mb;
    run_id = a.resume;
    if (!child) store->finish_run(run_id, "running");  // reopened: clears finished_at and error
  } else if (child) {
    throw Error("--trial-index needs --resume RUN");
    validate(spec);
  } else {
    spec = spec_from_args(a);  // a spec file or the flags; validated
  }
  if (!store) store = std::make_unique<ResultStore>(ResultStore::open(spec.args.db));
  const RunResult res = execute_run(*store, spec, run_id, a.only_trial);
  if (child) return 0;
  const std::string id = std::to_string(res.run_id);
  if (res.failed > 0)
    throw Error("run " + id + ": " + std::to_string(res.failed) + " of " + std::to_string(res.trials) +
                " trials failed (last: " + res.last_error + "); eebench show " + id + " --db " + spec.args.db +
                ", then eebench run --resume " + id + " to retry them");
  std::printf("run %s finished: eebench show %s --db %s\n", id.c_str(), id.c_str(), spec.args.db.c_str());
  return 0;
}

}  // namespace eeb
