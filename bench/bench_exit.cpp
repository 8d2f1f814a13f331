// Cost of AdaInfer's per-layer exit check on a 1B-shaped model (issue: ≤ 3% of one layer's time,
// excluding the LM head the features need, which is measured and reported separately).
//   BM_layer_decode:  one transformer layer, one token, after a 256-token context
//   BM_layer_prefill: one layer over a 128-token block
//   BM_exit_check:    features (top-1, top-2, softmax over the vocabulary) + classifier decision,
//                     from logits already on the host
//   BM_lm_head:       final norm + LM head for one row (what the features need; reported apart)
// The ratio exit_check / layer_decode is the figure the goal is about. The layer runs in the type the
// weights are held in: EEB_BENCH_DTYPE=f32|bf16|f16 converts the random f32 model once (as --dtype),
// EEB_BENCH_MODEL=FILE benchmarks a model file as stored (e.g. a Q8_0 GGUF from eebench make-model).
#include <benchmark/benchmark.h>

#include <cstdio>

#include "backends/registry.h"
#include "backends/cpu/logit_stats.h"
#include "bench/bench_util.h"
#include "strategies/exit_classifier.h"

using namespace eeb;

namespace {

Model bench_model() {
  const std::string file = bench::env_str("EEB_BENCH_MODEL", "");
  return file.empty() ? random_llama(bench::bench_shape("1b", 1), 1) : load_model(file);
}

struct Fixture {
  Model model;
  std::unique_ptr<Backend> b;
  Fixture() : model(bench_model()) {
    BackendOptions o;
    o.dtype = bench::env_str("EEB_BENCH_DTYPE", "auto");
    o.threads = bench::env_int("EEB_BENCH_THREADS", 0);
    b = make_backend("cpu", model, o);
    std::printf("model %s, weights held as %s, %d threads\n", model.path.empty() ? "random 1b (1 layer)" : model.path.c_str(),
                b->dtype().c_str(), o.threads);
  }
  static Fixture& get() {
    static Fixture f;
    return f;
  }
};

void BM_layer_decode(benchmark::State& st) {
  auto& f = Fixture::get();
  std::vector<int32_t> ctx(256, 7);
  auto kv = f.b->new_cache(257);
  auto h = f.b->embed(ctx, 0);
  f.b->run_layer(0, *h, *kv);
  int32_t t = 3;
  for (auto _ : st) {
    auto x = f.b->embed(std::span<const int32_t>(&t, 1), 256);
    f.b->run_layer(0, *x, *kv);
    kv->truncate(0, 256);
  }
}
BENCHMARK(BM_layer_decode)->Unit(benchmark::kMicrosecond)->MinTime(2.0);

void BM_layer_prefill(benchmark::State& st) {
  auto& f = Fixture::get();
  std::vector<int32_t> ctx(128, 7);
  auto kv = f.b->new_cache(128);
  for (auto _ : st) {
    auto h = f.b->embed(ctx, 0);
    f.b->run_layer(0, *h, *kv);
    kv->truncate(0, 0);
  }
}
BENCHMARK(BM_layer_prefill)->Unit(benchmark::kMicrosecond)->MinTime(2.0);

void BM_exit_check(benchmark::State& st) {
  auto& f = Fixture::get();
  const int V = f.model.cfg.vocab_size;
  std::vector<float> logits(V);
  std::vector<int32_t> one{5};
  auto h = f.b->embed(one, 0);
  f.b->logits(*h, 0, 1, logits.data());
  ExitClassifier clf;
  clf.w = {1.5, 2.0};
  clf.bias = -1.0;
  double sink = 0;
  for (auto _ : st) {
    ExitFeatures feat = logit_stats::exit_features(logits.data(), V);
    sink += clf.decision(feat) > 0;
    benchmark::DoNotOptimize(sink);
  }
}
BENCHMARK(BM_exit_check)->Unit(benchmark::kMicrosecond)->MinTime(2.0);

void BM_lm_head(benchmark::State& st) {
  auto& f = Fixture::get();
  std::vector<float> logits(f.model.cfg.vocab_size);
  std::vector<int32_t> one{5};
  auto h = f.b->embed(one, 0);
  for (auto _ : st) f.b->logits(*h, 0, 1, logits.data());
}
BENCHMARK(BM_lm_head)->Unit(benchmark::kMicrosecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
