// eebench: measure what LLM layer-skipping really buys. See README.md.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "harness/cli.h"
#include "harness/cluster.h"
#include "harness/cli_tokenize.h"
#include "harness/cli_make_model.h"
#include "core/error.h"
#include "reports/compare.h"
#include "reports/report.h"

namespace {

std::string joined_command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

}  // namespace

namespace eeb {
int cmd_tasks_show(const std::string& name, const std::string& data);  // harness/cli_tasks.cpp
}

int main(int argc, char** argv) {
  CLI::App app{"eebench: measure what LLM layer-skipping really buys"};
  app.require_subcommand(1);
  app.set_version_flag("--version", EEB_VERSION_STRING);

  eeb::RunArgs run;
  run.command_line = joined_command_line(argc, argv);
  auto* r = app.add_subcommand("run", "evaluate strategies on tasks (flags, or a TOML run spec) and store the results");
  r->add_option("--model,-m", run.model, "HF model directory, .gguf file or llama2.c .bin");
  r->add_option("--tokenizer", run.tokenizer, "tokenizer: SentencePiece tokenizer.model, HF tokenizer.json, a .gguf or a folder (default: the model's own)");
  r->add_option("--task,-t", run.task, "task name (eebench list tasks) or a task spec file (.yaml)");
  r->add_option("--strategy,-s", run.strategy, "strategy name (eebench list strategies)");
  r->add_option("--params,-p", run.params, "strategy parameters as a JSON object");
  r->add_option("--backend,-b", run.backend, "backend: cpu or cuda");
  r->add_option("--dtype", run.dtype, "weights dtype: auto (cpu: as stored in the file; cuda: bf16), f32, bf16, f16");
  r->add_option("--data,-d", run.data, "folder laid out like datasets/ (sst2/, mmlu/)");
  r->add_option("--split", run.split, "split (default: the task's, as lm-eval)");
  r->add_option("--subjects", run.subjects, "MMLU subjects to run (default: all)")->delimiter(',');
  r->add_option("--shots", run.shots, "few-shot examples (default: the task's)");
  r->add_option("--limit", run.limit,
                "evaluate the first N documents of the split: in total for sst2 and generation tasks, per subject "
                "for MMLU (57 subjects: up to 57 N); 0 = all. Never applied to shortgpt/angular calibration "
                "(calib_size) or AdaInfer training (train_size)");
  r->add_option("--sweep", run.sweeps, "KEY=V1,V2 or KEY=A:B: one trial per parameter value");
  r->add_option("--reps", run.reps, "timed repetitions per sample (baseline interleaved)")
      ->check(CLI::Range(0, 1000));
  r->add_flag("--log-samples", run.log_samples,
              "keep each sample's full context text, few-shot document ids and context/continuation token ids "
              "(as lm-eval's --log_samples), to diff prompts against another harness");
  r->add_flag("--prefix-cache,!--no-prefix-cache", run.prefix_cache,
              "compute a context prefix shared by consecutive documents (MMLU: a subject's description and "
              "few-shot examples; found by token ids) once and start each document from a copy of its KV "
              "cache (default on; --no-prefix-cache: every document computes its whole context, as before)");
  r->add_option("--prefix-cache-mb", run.prefix_cache_mb,
                "prefix cache budget in MiB, least recently used prefixes evicted (default 0: a quarter of "
                "the free RAM, or of the free device memory on a GPU)")
      ->check(CLI::NonNegativeNumber);
  r->add_option("--batch-docs", run.batch_docs,
                "score up to N consecutive documents per forward pass for strategies that allow it (full, static, "
                "shortgpt, angular, lesion; the baseline beside them too); each batch is timed as one region and "
                "its time split evenly over its samples (extra batch_size). 1: one document at a time")
      ->check(CLI::Range(1, 4096));
  r->add_option("--warmup", run.warmup, "untimed, unrecorded warm-up samples")->check(CLI::Range(0, 1000));
  r->add_option("--max-new-tokens", run.max_new_tokens, "generation tasks: token limit")
      ->check(CLI::Range(1, 100000));
  r->add_option("--db", run.db, "SQLite results database");
  r->add_option("--seed", run.seed, "seed recorded with the run and given to strategies");
  r->add_option("--threads", run.threads, "CPU threads (0 = all cores)");
  r->add_option("--resume", run.resume, "finish run RUN (killed or failed) with no duplicate rows");
  r->add_flag("--quiet,-q", run.quiet, "no progress output");
  r->add_option("spec", run.spec_file, "a run spec file (TOML: models x tasks x strategies x parameters; docs/SPECS.md)")
      ->check(CLI::ExistingFile);
  r->add_flag("--isolate", run.isolate, "run each trial in its own child process (crash, timeout, OOM recorded)");
  r->add_option("--timeout", run.timeout_s, "isolated trials: wall-clock limit in seconds (0: none)")
      ->check(CLI::NonNegativeNumber);
  r->add_option("--memory-limit-mb", run.memory_limit_mb, "isolated trials: address-space limit in MB (0: none)")
      ->check(CLI::NonNegativeNumber);
  r->add_option("--trial-index", run.only_trial, "internal: run one planned trial of --resume RUN")
      ->group("");

  // Sharded runs and Slurm job arrays (harness/cluster.h, docs/SPECS.md "Running on a cluster").
  eeb::ClusterArgs cl;
  r->add_option("--shard", cl.shard, "run shard I of N (I/N, 0-based) of the planned trials into DB.shard-I-of-N");
  r->add_flag("--slurm", cl.slurm, "submit the planned trials as a Slurm job array (one task per shard)");
  r->add_option("--shards", cl.shards, "--slurm: shards (array tasks); default one per trial")->check(CLI::Range(1, 100000));
  r->add_option("--partition", cl.partition, "--slurm: Slurm partition");
  r->add_option("--account", cl.account, "--slurm: Slurm account");
  r->add_option("--time", cl.time, "--slurm: time limit of each array task (HH:MM:SS)");
  r->add_option("--gpus-per-task", cl.gpus_per_task, "--slurm: GPUs of each array task")->check(CLI::Range(0, 64));
  r->add_option("--max-parallel", cl.max_parallel, "--slurm: at most K array tasks at once")->check(CLI::Range(0, 100000));
  r->add_option("--sbatch-arg", cl.sbatch_args, "--slurm: one more sbatch argument (--sbatch-arg=--qos=high)")
      ->allow_extra_args(false);

  long merge_run = 0, status_run = 0;
  std::string cluster_db = "results/eebench.db";
  auto* mg = app.add_subcommand("merge", "fold the shard files of DB (DB.shard-I-of-N) into DB");
  mg->add_option("run", merge_run, "only this run's shards (default: every shard file)");
  mg->add_option("--db", cluster_db, "SQLite results database");
  auto* st = app.add_subcommand("status", "progress of a sharded (Slurm) run: trials per shard, array task states");
  st->add_option("run", status_run, "run id")->required();
  st->add_option("--db", cluster_db, "SQLite results database");

  eeb::ReproduceArgs rep;
  rep.command_line = run.command_line;
  auto* rr = app.add_subcommand("reproduce", "run a paper's spec and compare with its published numbers");
  rr->add_option("paper", rep.paper, "paper id (adainfer, shortgpt, layerskip, lad; --list shows them)");
  rr->add_flag("--list", rep.list, "list the papers and their targets");
  rr->add_option("--model,-m", rep.model, "model path or hub id org/name (default: the paper's first model)");
  rr->add_option("--model-id", rep.model_id, "the hub id a local --model path is a copy of (for the comparison)");
  rr->add_option("--tokenizer", rep.tokenizer, "tokenizer: SentencePiece tokenizer.model, HF tokenizer.json, a .gguf or a folder (default: the model's own)");
  rr->add_option("--data,-d", rep.data, "folder laid out like datasets/ (sst2/, mmlu/, cnn_dailymail/)");
  rr->add_option("--db", rep.db, "SQLite results database");
  rr->add_option("--targets", rep.targets, "a targets file instead of the built-in reports/papers.toml")
      ->check(CLI::ExistingFile);
  rr->add_option("--limit", rep.limit,
                 "the first N documents of each task in total (MMLU: per subject); not applied to calibration or "
                 "AdaInfer training sets")
      ->check(CLI::NonNegativeNumber);
  rr->add_option("--backend,-b", rep.backend, "backend: cpu or cuda");
  rr->add_option("--dtype", rep.dtype, "weights dtype: auto (cpu: as stored; cuda: bf16), f32, bf16, f16");
  rr->add_option("--threads", rep.threads, "CPU threads (0 = all cores)");
  rr->add_flag("--quiet,-q", rep.quiet, "no progress output");
  rr->add_option("--resume", rep.resume, "finish an interrupted reproduction run RUN and compare again");

  eeb::FetchArgs fa;
  auto* fe = app.add_subcommand("fetch", "download a model or dataset from the Hugging Face hub (or HF_ENDPOINT)");
  fe->add_option("repo", fa.repo, "org/name or org/name@revision")->required();
  fe->add_option("--type", fa.type, "model | dataset")->check(CLI::IsMember({"model", "dataset"}));
  fe->add_option("--files", fa.files, "glob patterns of the files to get (default: weights, config, tokenizer)");
  fe->add_option("--cache", fa.cache, "hub cache folder (default: HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub)");
  fe->add_flag("--offline", fa.offline, "no network: find it in the cache (also HF_HUB_OFFLINE=1)");
  fe->add_flag("--quiet,-q", fa.quiet, "no progress output");

  eeb::BenchArgs bn;
  auto* bb = app.add_subcommand("bench", "prefill/decode throughput (random weights, or --model FILE), next to measured ceilings");
  bb->add_option("--backend,-b", bn.backend, "cpu | cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  bb->add_option("--dtype", bn.dtype, "weights dtype (cpu: f32; cuda: bf16 (default), f16, f32)");
  bb->add_option("--shape", bn.shape, "model shape: 7b (Llama-2-7B), 1b (TinyLlama-1.1B), tiny")
      ->check(CLI::IsMember({"7b", "1b", "tiny"}));
  bb->add_option("--layers", bn.layers, "override the shape's depth")->check(CLI::Range(1, 1000));
  bb->add_option("--tokens", bn.tokens, "prefill length and decode context")->check(CLI::Range(1, 100000));
  bb->add_option("--reps", bn.reps, "timed repetitions (best kept; decode x10)")->check(CLI::Range(1, 1000));
  bb->add_option("--threads", bn.threads, "CPU threads (0 = all cores)");
  auto* bench_json = bb->add_option("--json", bn.json_out, "JSON output: on stdout, or into file OUT (the table on stdout)")
                         ->expected(0, 1);
  bb->add_option("--model,-m", bn.model, "a model file (.gguf, HF directory, ...) instead of random weights");
  bb->add_option("--prefill", bn.prefill, "with --model: prefill lengths, comma-separated")
      ->delimiter(',')->check(CLI::Range(1, 100000));
  bb->add_option("--decode", bn.decode, "with --model: tokens decoded one at a time after --context")
      ->check(CLI::Range(1, 100000));
  bb->add_option("--context", bn.context, "with --model: tokens in the cache before decoding")
      ->check(CLI::Range(0, 100000));

  eeb::LogitsArgs lg;
  auto* l = app.add_subcommand("logits", "top tokens and probabilities at every layer (logit lens)");
  l->add_option("--model,-m", lg.model, "model path")->required();
  l->add_option("--tokenizer", lg.tokenizer, "tokenizer: SentencePiece tokenizer.model, HF tokenizer.json, a .gguf or a folder");
  l->add_option("--prompt", lg.prompt, "prompt text")->required();
  l->add_option("--top", lg.top, "tokens per layer")->check(CLI::Range(1, 100));
  l->add_option("--backend,-b", lg.backend, "backend");
  l->add_option("--dtype", lg.dtype, "weights dtype: auto (cpu: as stored; cuda: bf16), f32, bf16, f16");
  l->add_option("--threads", lg.threads, "CPU threads");
  l->add_flag("--json", lg.json, "JSON output");
  l->add_flag("--no-bos", lg.no_bos, "do not prepend BOS");

  eeb::TokenizeArgs tka;
  auto* tz = eeb::add_tokenize_command(app, tka);

  eeb::MakeModelArgs mka;
  auto* mk = eeb::add_make_model_command(app, mka);

  std::string list_what, db = "results/eebench.db";
  auto* ls = app.add_subcommand("list", "list runs, strategies, tasks or backends");
  ls->add_option("what", list_what, "runs | strategies | tasks | backends")
      ->required()
      ->check(CLI::IsMember({"runs", "strategies", "tasks", "backends"}));
  ls->add_option("--db", db, "SQLite results database");

  std::string tasks_name, tasks_data = "data";
  auto* tk = app.add_subcommand("tasks", "inspect tasks: 'tasks show NAME' prints the spec and the first prompt");
  tk->require_subcommand(1);
  auto* tks = tk->add_subcommand("show", "print a task's spec (or template) and its first rendered prompt");
  tks->add_option("name", tasks_name, "task name or spec file (.yaml)")->required();
  tks->add_option("--data,-d", tasks_data, "folder laid out like datasets/");

  long show_run = 0;
  bool show_samples = false;
  auto* sh = app.add_subcommand("show", "show a run's results as a table");
  sh->add_option("run", show_run, "run id")->required();
  sh->add_option("--db", db, "SQLite results database");
  sh->add_flag("--samples", show_samples, "also list per-sample records");

  std::vector<long> report_runs;
  std::string report_format = "md", report_out;
  auto* rp = app.add_subcommand("report", "write a report of stored runs (Markdown, HTML, CSV or JSON)");
  rp->add_option("runs", report_runs, "run ids (default: every run in the database)");
  rp->add_option("--db", db, "SQLite results database");
  rp->add_option("--format,-f", report_format, "md | html | csv | json")
      ->check(CLI::IsMember({"md", "html", "csv", "json"}));
  rp->add_option("--out,-o", report_out, "output file, written atomically (default: standard output; csv needs it)");

  eeb::CompareArgs cmp;
  auto* cp = app.add_subcommand("compare", "check candidate runs against base runs; exit 1 on a regression");
  cp->add_option("base", cmp.base, "base run ids: 7, 7,8,9 or 7-9")->required();
  cp->add_option("candidate", cmp.candidate, "candidate run ids")->required();
  cp->add_option("--db", cmp.db, "SQLite results database (both sides)");
  cp->add_option("--base-db", cmp.base_db, "database of the base runs (default: --db)");
  cp->add_option("--candidate-db", cmp.candidate_db, "database of the candidate runs (default: --db)");
  cp->add_option("--max-acc-drop", cmp.options.max_acc_drop, "accuracy drop tolerated (fraction: 0.01 = 1 point)")
      ->check(CLI::Range(0.0, 1.0));
  cp->add_option("--alpha", cmp.options.alpha,
                 "significance level of the McNemar (accuracy) and Wilcoxon signed-rank (paired times) tests")
      ->check(CLI::Range(0.0, 1.0));
  cp->add_option("--max-slowdown", cmp.options.max_slowdown, "slowdown tolerated (fraction: 0.05 = 5 %)")
      ->check(CLI::NonNegativeNumber);
  cp->add_flag("--force", cmp.options.force, "compare timings even when the hardware fingerprints differ");
  cp->add_option("--junit", cmp.junit, "write JUnit XML (one testcase per trial x metric) to this file");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (r->parsed()) {
      for (const auto* o : r->get_options())
        if (o->count() > 0)
          for (std::string n : o->get_lnames()) {
            for (char& ch : n) ch = ch == '-' ? '_' : ch;
            run.given.insert(n == "timeout" ? "timeout_s" : n == "no_prefix_cache" ? "prefix_cache" : n);
          }
      if (cl.any()) return eeb::cmd_run_cluster(run, cl);
      return eeb::cmd_run(run);
    }
    if (mg->parsed()) return eeb::cmd_merge(merge_run, cluster_db);
    if (st->parsed()) return eeb::cmd_status(status_run, cluster_db);
    if (l->parsed()) return eeb::cmd_logits(lg);
    if (tz->parsed()) return eeb::cmd_tokenize(tka);
    if (bb->parsed()) {
      bn.json = bench_json->count() > 0 && bn.json_out.empty();
      return eeb::cmd_bench(bn);
    }
    if (mk->parsed()) return eeb::cmd_make_model(mka);
    if (fe->parsed()) return eeb::cmd_fetch(fa);
    if (rr->parsed()) {
      for (const auto* o : rr->get_options())
        if (o->count() > 0)
          for (const auto& n : o->get_lnames()) rep.given.insert(n);
      return eeb::cmd_reproduce(rep);
    }
    if (ls->parsed()) return eeb::cmd_list(list_what, db);
    if (tks->parsed()) return eeb::cmd_tasks_show(tasks_name, tasks_data);
    if (sh->parsed()) return eeb::cmd_show(show_run, db, show_samples);
    if (rp->parsed()) return eeb::cmd_report(report_runs, db, report_format, report_out);
    if (cp->parsed()) return eeb::cmd_compare(cmp);
  } catch (const eeb::Error& e) {
    std::fprintf(stderr, "eebench: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "eebench: error: out of memory\n");
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eebench: internal error: %s\n", e.what());
    return 4;
  }
  return 1;
}
