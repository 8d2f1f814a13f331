// eeb::cpu::matmul over typed weights on the projection shapes of TinyLlama-1.1B and Llama-2-7B
// (random weights made here), against the ceilings measured in the same run.
//
//   BM_read_bw                      plain read of 1 GiB (sum of floats, OpenMP): the decode ceiling
//   BM_matmul/<shape>/<type>/n<N>   matmul as the backend calls it (label: the kernel chosen)
//   BM_reference/<shape>/<type>/n<N> weights dequantised to f32 + OpenBLAS sgemm: the alternative
//                                   the prefill choice is measured against (BM_matmul/.../f32 is
//                                   plain sgemm / sgemv: the F32 ceiling)
//   BM_decode_layer/7b/<type>       n = 1 through one 7B layer's four matrices (405 MB in BF16,
//                                   far past the caches): GB/s vs BM_read_bw is the decode goal
// Counters: GFLOP/s (2·n·m·k) and GB/s (weight bytes + activations + outputs).
// Environment: EEB_BENCH_THREADS (default 2). OpenBLAS runs single-threaded inside our OpenMP
// threads, as in the backend. The machine may be shared: compare ratios within one run.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/weight_matrix.h"
#include "bench/bench_util.h"

using namespace eeb;

namespace {

int threads() { return bench::env_int("EEB_BENCH_THREADS", 2); }

struct Shape {
  const char* model;
  const char* name;
  int m, k;
};
// The backend's fused projections: qkv = q + 2·kv rows, gate|up = 2·hidden rows.
const Shape kShapes[] = {
    {"1b", "qkv", 2048 + 2 * 256, 2048}, {"1b", "o", 2048, 2048},    {"1b", "gate_up", 2 * 5632, 2048},
    {"1b", "down", 2048, 5632},          {"1b", "lm_head", 32000, 2048}, {"7b", "qkv", 3 * 4096, 4096},
    {"7b", "o", 4096, 4096},             {"7b", "gate_up", 2 * 11008, 4096}, {"7b", "down", 4096, 11008},
    {"7b", "lm_head", 32000, 4096},
};

uint64_t g_rng = 88172645463325252ull;
uint32_t next_u32() {
  g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
  return static_cast<uint32_t>(g_rng >> 32);
}
float next_weight() { return (static_cast<int32_t>(next_u32()) * (1.0f / 2147483648.0f)) * 0.05f; }
uint16_t f16_bits(float f) {  // |f| < 65504, flushes below the normal range (benchmark data only)
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t e = (x >> 23) & 0xff;
  const uint16_t s = static_cast<uint16_t>((x >> 16) & 0x8000);
  return e < 113 ? s : static_cast<uint16_t>(s | ((e - 112) << 10) | ((x >> 13) & 0x3ff));
}

// Random weights of one shape and type; only the most recent few are kept (7B matrices are large).
struct Weights {
  std::vector<uint8_t> bytes;
  cpu::WeightMatrix W;
};
const Weights& weights(DType t, int m, int k) {
  static std::map<std::tuple<DType, int, int>, std::unique_ptr<Weights>> cache;
  auto& w = cache[{t, m, k}];
  if (w) return *w;
  if (cache.size() > 6) {  // drop the others
    for (auto it = cache.begin(); it != cache.end();)
      it = it->second && &it->second != &w ? cache.erase(it) : std::next(it);
  }
  w = std::make_unique<Weights>();
  w->W = cpu::WeightMatrix{t, nullptr, m, k};
  w->bytes.resize(w->W.bytes());
  uint8_t* p = w->bytes.data();
  const size_t n = static_cast<size_t>(m) * k;
  for (size_t i = 0; i < n; ++i) {
    const float f = next_weight();
    uint32_t b;
    std::memcpy(&b, &f, 4);
    switch (t) {
      case DType::F32: std::memcpy(p + 4 * i, &f, 4); break;
      case DType::BF16: { const uint16_t h = static_cast<uint16_t>(b >> 16); std::memcpy(p + 2 * i, &h, 2); break; }
      case DType::F16: { const uint16_t h = f16_bits(f); std::memcpy(p + 2 * i, &h, 2); break; }
      case DType::Q8_0: {
        uint8_t* blk = p + i / 32 * 34;
        if (i % 32 == 0) { const uint16_t d = f16_bits(0.05f / 127); std::memcpy(blk, &d, 2); }
        blk[2 + i % 32] = static_cast<uint8_t>(next_u32() % 255 - 127);
        break;
      }
    }
  }
  w->W.data = w->bytes.data();
  return *w;
}

std::vector<float> activations(int n, int k) {
  std::vector<float> x(static_cast<size_t>(n) * k);
  for (auto& v : x) v = next_weight() * 20;
  return x;
}

void set_counters(benchmark::State& state, double flops, double bytes) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_matmul(benchmark::State& state, Shape s, DType t, int n, bool reference) {
  const Weights& w = weights(t, s.m, s.k);
  const auto x = activations(n, s.k);
  std::vector<float> y(static_cast<size_t>(n) * s.m);
  const int th = threads();
  auto run = [&] {
    if (reference)
      cpu::matmul_reference(x.data(), n, s.k, s.k, w.W, y.data(), s.m, 0.0f, th);
    else
      cpu::matmul(x.data(), n, s.k, s.k, w.W, y.data(), s.m, 0.0f, th);
  };
  run();  // primitive creation, page faults
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(reference ? (t == DType::F32 ? "OpenBLAS sgemm" : "dequantise to f32 + OpenBLAS sgemm")
                           : cpu::matmul_method(w.W, n, th));
  set_counters(state, 2.0 * n * s.m * s.k, static_cast<double>(w.W.bytes()) + 4.0 * n * (s.k + s.m));
}

// Decode through one 7B layer: the four fused projections, n = 1.
void BM_decode_layer(benchmark::State& state, DType t) {
  std::vector<std::unique_ptr<Weights>> own;
  std::vector<const cpu::WeightMatrix*> Ws;
  double bytes = 0, flops = 0;
  for (const Shape& s : kShapes)
    if (std::string(s.model) == "7b" && std::string(s.name) != "lm_head") {
      own.push_back(std::make_unique<Weights>(weights(t, s.m, s.k)));  // copies: the cache holds few
      own.back()->W.data = own.back()->bytes.data();
      Ws.push_back(&own.back()->W);
      bytes += static_cast<double>(own.back()->W.bytes());
      flops += 2.0 * s.m * s.k;
    }
  const auto x = activations(1, 11008 * 2);
  std::vector<float> y(2 * 11008);
  const int th = threads();
  for (auto _ : state)
    for (const auto* W : Ws) cpu::matmul(x.data(), 1, W->cols, W->cols, *W, y.data(), W->rows, 0.0f, th);
  state.SetLabel(cpu::matmul_method(*Ws[0], 1, th));
  set_counters(state, flops, bytes);
}

// The read ceiling: sum 1 GiB of floats on `threads` OpenMP threads (fixed static split), with 8
// independent 4-float accumulators so the loop is bound by the loads, not by the add latency (one
// accumulator chain caps a core near 14 GB/s here, below the kernels it is meant to judge).
void BM_read_bw(benchmark::State& state) {
  using f4 = float __attribute__((vector_size(16)));
  const size_t n = (size_t(1) << 30) / sizeof(f4);
  static std::vector<f4> buf(n, f4{1, 1, 1, 1});
  const int th = threads();
  for (auto _ : state) {
    float total = 0;
#pragma omp parallel num_threads(th) reduction(+ : total)
    {
      const size_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      const size_t i0 = n / nt * t / 8 * 8, i1 = t == nt - 1 ? n : n / nt * (t + 1) / 8 * 8;
      f4 a[8] = {};
      for (size_t i = i0; i < i1; i += 8)
        for (int u = 0; u < 8; ++u) a[u] += buf[i + u];
      for (int u = 1; u < 8; ++u) a[0] += a[u];
      total += a[0][0] + a[0][1] + a[0][2] + a[0][3];
    }
    benchmark::DoNotOptimize(total);
  }
  state.SetLabel("sum of 1 GiB of floats");
  set_counters(state, 0, static_cast<double>(n * sizeof(f4)));
}

// With --benchmark_repetitions, the fastest repetition too: on a shared machine it is the figure
// least disturbed by other processes (the mean and median are printed as well).
benchmark::internal::Benchmark* setup(benchmark::internal::Benchmark* b) {
  return b->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  });
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  openblas_set_num_threads(1);  // as the backend: one OpenMP pool, OpenBLAS inside it
  std::printf("threads %d; OpenBLAS %s (core %s); cblas_sbgemm %s\n", threads(), openblas_get_config(),
              openblas_get_corename(),
              dlsym(RTLD_DEFAULT, "cblas_sbgemm") ? "exported" : "not exported by this OpenBLAS build");
  setup(benchmark::RegisterBenchmark("BM_read_bw", BM_read_bw));
  const std::pair<DType, const char*> types[] = {
      {DType::F32, "f32"}, {DType::BF16, "bf16"}, {DType::F16, "f16"}, {DType::Q8_0, "q8_0"}};
  for (auto [t, tn] : types)
    if (t != DType::F32)
      setup(benchmark::RegisterBenchmark((std::string("BM_decode_layer/7b/") + tn).c_str(), BM_decode_layer, t));
  for (const Shape& s : kShapes)
    for (auto [t, tn] : types)
      for (int n : {1, 4, 8, 16, 128, 512})
        for (bool ref : {false, true}) {
          if (ref && (n < 128 || t == DType::F32)) continue;  // the sgemm alternative, for prefill
          const std::string name = std::string(ref ? "BM_reference/" : "BM_matmul/") + s.model + "_" + s.name +
                                   "/" + tn + "/n" + std::to_string(n);
          setup(benchmark::RegisterBenchmark(name.c_str(), BM_matmul, s, t, n, ref));
        }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
