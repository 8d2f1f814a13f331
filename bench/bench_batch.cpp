// Several documents per forward pass (--batch-docs): documents/s of full-depth multiple-choice
// scoring one document at a time (score_choices, batch 1) and in batches of 8 and 16
// (score_choices_batch), side by side in one process:
//   BM_sst2/N        the first 64 SST-2 validation documents on the shared sst-lm-12L (an error
//                    row when ../shared/data, relative to the working directory, is absent;
//                    EEBENCH_TEST_DATA overrides the path)
//   BM_1b_short/N    a TinyLlama-1.1B-shaped random model (EEB_BENCH_LAYERS, default 4 layers:
//                    documents/s scale with depth, the batch ratio does not), 16 SST-2-like
//                    documents: contexts of 24-71 tokens, 2 one-token choices
//   BM_1b_choices/N  the same model, 16 documents of 32-63 context tokens with 4 choices of 8
//                    tokens (HellaSwag-like): the continuations are batched across documents too
// Environment: EEB_BENCH_THREADS (default 0 = all cores). On a shared machine run the sizes
// interleaved: --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true (docs/PERF.md).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <utility>

#include "backends/registry.h"
#include "bench/bench_util.h"
#include "strategies/batch_scoring.h"
#include "strategies/scoring.h"
#include "tasks/task.h"
#include "tokenizer/tokenizer.h"

using namespace eeb;

namespace {

BackendOptions opts() {
  BackendOptions o;
  o.threads = bench::env_int("EEB_BENCH_THREADS", 0);
  return o;
}

// Scores every request, N at a time (N = 1: today's one-document path).
void score_all(Backend& b, const std::vector<Request>& reqs, int N, std::span<const int> plan) {
  if (N == 1) {
    for (const auto& r : reqs) benchmark::DoNotOptimize(score_choices(b, r, plan));
    return;
  }
  for (size_t i = 0; i < reqs.size(); i += N) {
    const size_t n = std::min<size_t>(N, reqs.size() - i);
    benchmark::DoNotOptimize(score_choices_batch(b, std::span(reqs).subspan(i, n), plan));
  }
}

void run(benchmark::State& st, Backend& b, const std::vector<Request>& reqs) {
  const auto plan = all_layers(b.config().n_layers);
  const int N = static_cast<int>(st.range(0));
  // Warm-up, once per workload and batch size (repetitions interleave): scratch sized for it.
  static std::set<std::pair<const void*, int>> warmed;
  if (warmed.insert({&reqs, N}).second) score_all(b, reqs, N, plan);
  for (auto _ : st) score_all(b, reqs, N, plan);
  st.counters["docs_per_s"] =
      benchmark::Counter(static_cast<double>(reqs.size()), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["batch"] = N;
}

struct Sst2 {
  std::string dir = bench::env_str("EEBENCH_TEST_DATA", "../shared/data");  // run from the checkout
  std::unique_ptr<Model> model;
  std::unique_ptr<Backend> b;
  std::vector<Doc> docs;
  std::vector<Request> reqs;
  Sst2() {
    if (!std::filesystem::exists(dir + "/models/sst-lm-12L")) return;
    model = std::make_unique<Model>(load_model(dir + "/models/sst-lm-12L"));
    auto tok = Tokenizer::for_model(*model);
    b = make_backend("cpu", *model, opts());
    TaskOptions o;
    o.data_dir = dir + "/datasets";
    o.limit = 64;
    docs = make_task("sst2")->load(o);
    for (size_t i = 0; i < docs.size(); ++i)
      reqs.push_back(make_request(docs[i], static_cast<int>(i), *tok, true, model->cfg.max_seq_len));
  }
  static Sst2& get() {
    static Sst2 s;
    return s;
  }
};

void BM_sst2(benchmark::State& st) {
  auto& s = Sst2::get();
  if (!s.b) {
    st.SkipWithError("shared data not found (EEBENCH_TEST_DATA)");
    return;
  }
  run(st, *s.b, s.reqs);
}
BENCHMARK(BM_sst2)->Arg(1)->Arg(8)->Arg(16)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

struct OneB {
  Model model;
  std::unique_ptr<Backend> b;
  std::vector<Doc> docs = std::vector<Doc>(16);
  std::vector<Request> shorts, choices;
  OneB() : model(random_llama(bench::bench_shape("1b", 4), 1)) {
    b = make_backend("cpu", model, opts());
    const int V = model.cfg.vocab_size;
    for (int i = 0; i < 16; ++i) {
      docs[i].id = std::to_string(i);
      Request r;
      r.index = i;
      r.doc = &docs[i];
      auto toks = bench::synthetic_tokens(200, V);
      std::rotate(toks.begin(), toks.begin() + 11 * i, toks.end());  // different documents
      r.context.assign(toks.begin(), toks.begin() + 24 + (i * 37) % 48);
      r.continuations = {{toks[100]}, {toks[101]}};
      shorts.push_back(r);
      r.context.assign(toks.begin(), toks.begin() + 32 + (i * 19) % 32);
      r.continuations.clear();
      for (int c = 0; c < 4; ++c) r.continuations.emplace_back(toks.begin() + 120 + 8 * c, toks.begin() + 128 + 8 * c);
      choices.push_back(r);
    }
  }
  static OneB& get() {
    static OneB s;
    return s;
  }
};

void BM_1b_short(benchmark::State& st) { run(st, *OneB::get().b, OneB::get().shorts); }
BENCHMARK(BM_1b_short)->Arg(1)->Arg(8)->Arg(16)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

void BM_1b_choices(benchmark::State& st) { run(st, *OneB::get().b, OneB::get().choices); }
BENCHMARK(BM_1b_choices)->Arg(1)->Arg(8)->Arg(16)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
