// CUDA backend throughput on random bf16 weights shaped like Llama-2-7B (dim 4096, hidden 11008,
// 32 heads, 32 kv heads, 32 layers, vocab 32000), generated on the GPU (no host copy of the weights).
//
//   BM_copy              device-to-device cudaMemcpy of 1 GiB: bandwidth counted as read + write
//   BM_gemm_bf16/M/N/K   cuBLAS bf16 x bf16 -> f32 GEMM (FP32 accumulation), as the backend calls it
//   BM_prefill/N         N tokens through every layer + LM head of the last row
//   BM_decode/C          one token after a C-token context, logits to the host (cache rolled back)
//
// At the end it prints the device, prefill TFLOP/s as a share of the GEMM rate (goal >= 60%) and
// decode weight bytes per token / time as a share of the copy bandwidth (goal >= 80%).
// Without a CUDA device (or a CUDA build) it prints "no CUDA device: <why>" and exits 0.
// Environment: EEB_BENCH_LAYERS (default 32), EEB_BENCH_TOKENS (default 2048), EEB_BENCH_DTYPE
// (default bf16).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "backends/backend.h"
#include "backends/counting.h"
#include "bench/bench_util.h"
#ifdef EEB_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/event_seconds.h"
#endif

using namespace eeb;

#ifdef EEB_HAVE_CUDA
namespace {

using bench::env_int;
using bench::env_str;
int bench_tokens() { return env_int("EEB_BENCH_TOKENS", 2048); }

ModelConfig bench_config() { return bench::bench_shape("7b"); }

// One backend for the whole process, released in main() before the CUDA runtime shuts down.
std::unique_ptr<Backend> g_backend;
Backend& backend() {
  if (!g_backend) {
    BackendOptions o;
    o.dtype = env_str("EEB_BENCH_DTYPE", "bf16");
    g_backend = make_cuda_backend_random(bench_config(), o, 1234);
  }
  return *g_backend;
}

std::vector<int32_t> tokens(int n) { return bench::synthetic_tokens(n, 32000); }

// Best (least disturbed) iteration of each measurement, for the summary.
double g_copy_gbs = 0;
std::map<std::string, double> g_gemm_tflops;
double g_prefill_tflops = 0, g_prefill_tps = 0, g_decode_s = 0, g_decode_kv_bytes = 0;

void BM_copy(benchmark::State& state) {
  const size_t bytes = size_t(1) << 30;
  void *src = nullptr, *dst = nullptr;
  EEB_CUDA_CHECK(cudaMalloc(&src, bytes));
  EEB_CUDA_CHECK(cudaMalloc(&dst, bytes));
  EEB_CUDA_CHECK(cudaMemset(src, 1, bytes));
  EEB_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));  // warm-up
  double best = 1e30;
  for (auto _ : state) {
    const double s = cuda_event_seconds(
        [&] { EEB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0)); });
    state.SetIterationTime(s);
    best = std::min(best, s);
  }
  EEB_CUDA_CHECK(cudaFree(src));
  EEB_CUDA_CHECK(cudaFree(dst));
  state.counters["GB/s"] = benchmark::Counter(2.0 * bytes * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  g_copy_gbs = std::max(g_copy_gbs, 2.0 * bytes * 1e-9 / best);
}

// Y[M, N] = X[M, K] · W[N, K]ᵀ in the backend's layout: cublasGemmEx(T, N, m = N, n = M, k = K).
void BM_gemm_bf16(benchmark::State& state) {
  const int M = static_cast<int>(state.range(0)), N = static_cast<int>(state.range(1)),
            K = static_cast<int>(state.range(2));
  void *w = nullptr, *x = nullptr, *y = nullptr;
  EEB_CUDA_CHECK(cudaMalloc(&w, size_t(N) * K * 2));
  EEB_CUDA_CHECK(cudaMalloc(&x, size_t(M) * K * 2));
  EEB_CUDA_CHECK(cudaMalloc(&y, size_t(M) * N * 4));
  EEB_CUDA_CHECK(cudaMemset(w, 0x3c, size_t(N) * K * 2));  // small finite bf16 values
  EEB_CUDA_CHECK(cudaMemset(x, 0x3c, size_t(M) * K * 2));
  cublasHandle_t h = nullptr;
  EEB_CUBLAS_CHECK(cublasCreate(&h));
  const float alpha = 1.0f, beta = 0.0f;
  auto gemm = [&] {
    EEB_CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, w, CUDA_R_16BF, K,
                                  x, CUDA_R_16BF, K, &beta, y, CUDA_R_32F, N, CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT));
  };
  gemm();  // warm-up (heuristics, workspace)
  double best = 1e30;
  for (auto _ : state) {
    const double s = cuda_event_seconds([&] {
      for (int i = 0; i < 10; ++i) gemm();
    }) / 10;
    state.SetIterationTime(s);
    best = std::min(best, s);
  }
  EEB_CUBLAS_CHECK(cublasDestroy(h));
  EEB_CUDA_CHECK(cudaFree(w));
  EEB_CUDA_CHECK(cudaFree(x));
  EEB_CUDA_CHECK(cudaFree(y));
  const double flops = 2.0 * M * N * K;
  state.counters["TFLOP/s"] =
      benchmark::Counter(flops * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
  g_gemm_tflops[std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K)] =
      flops * 1e-12 / best;
}

void BM_prefill(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Backend& b = backend();
  const auto& c = b.config();
  const auto toks = tokens(n);
  std::vector<float> out(c.vocab_size);
  auto run = [&] {
    auto kv = b.new_cache(n);
    auto h = b.embed(toks, 0);
    run_layers(b, 0, c.n_layers, *h, *kv);
    b.logits(*h, n - 1, 1, out.data());
  };
  run();  // warm-up: scratch buffers, cuBLAS heuristics
  double best = 1e30;
  for (auto _ : state) {
    auto t = b.new_timer();
    run();
    const double s = t->stop_seconds();
    state.SetIterationTime(s);
    best = std::min(best, s);
  }
  const double flops = layers_flops(c, 0, n) + lm_head_flops_per_row(c);
  state.counters["tokens/s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["TFLOP/s"] =
      benchmark::Counter(flops * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
  g_prefill_tflops = flops * 1e-12 / best;
  g_prefill_tps = n / best;
}

void BM_decode(benchmark::State& state) {
  const int ctx = static_cast<int>(state.range(0));
  Backend& b = backend();
  const auto& c = b.config();
  const auto toks = tokens(ctx + 1);
  auto kv = b.new_cache(ctx + 1);
  {
    auto h = b.embed(std::span(toks).first(ctx), 0);
    run_layers(b, 0, c.n_layers, *h, *kv);
  }
  std::vector<float> out(c.vocab_size);
  auto step = [&] {
    auto h = b.embed(std::span(toks).subspan(ctx, 1), ctx);
    run_layers(b, 0, c.n_layers, *h, *kv);
    b.logits(*h, 0, 1, out.data());
    kv->truncate_all(ctx, c.n_layers);
  };
  step();  // warm-up
  double best = 1e30;
  for (auto _ : state) {
    auto t = b.new_timer();
    step();
    const double s = t->stop_seconds();
    state.SetIterationTime(s);
    best = std::min(best, s);
  }
  const double wb = weight_bytes_per_token(c, b.dtype());
  g_decode_kv_bytes = 2.0 * ctx * c.n_kv_heads * c.head_dim * sizeof(float) * c.n_layers;
  state.counters["tokens/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weights GB/s"] =
      benchmark::Counter(wb * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  g_decode_s = best;
}

void print_summary() {
  const CudaDeviceInfo d = cuda_device_info(0);
  const ModelConfig c = bench_config();
  const std::string dtype = g_backend ? g_backend->dtype() : env_str("EEB_BENCH_DTYPE", "bf16");
  std::printf("\ndevice: %s (%s), driver %s, CUDA runtime %s, cuBLAS %s, sm_%d\n", d.name.c_str(),
              d.uuid.c_str(), d.driver.c_str(), d.runtime.c_str(), d.cublas.c_str(), d.sm);
  std::printf("model: random %s, dim %d, hidden %d, %d heads / %d kv heads, %d layers, vocab %d\n",
              dtype.c_str(), c.dim, c.hidden_dim, c.n_heads, c.n_kv_heads, c.n_layers,
              c.vocab_size);
  double gemm = 0;
  for (const auto& [shape, t] : g_gemm_tflops) {
    std::printf("cuBLAS bf16 GEMM %s: %.1f TFLOP/s\n", shape.c_str(), t);
    gemm = std::max(gemm, t);
  }
  if (g_copy_gbs > 0) std::printf("device-to-device copy: %.0f GB/s (read + write)\n", g_copy_gbs);
  if (g_prefill_tflops > 0 && gemm > 0)
    std::printf("prefill %d tokens: %.0f tokens/s, %.1f TFLOP/s = %.1f%% of the best GEMM rate "
                "%.1f TFLOP/s (goal >= 60%%)\n",
                bench_tokens(), g_prefill_tps, g_prefill_tflops, 100 * g_prefill_tflops / gemm,
                gemm);
  if (g_decode_s > 0 && g_copy_gbs > 0) {
    const double wb = weight_bytes_per_token(c, dtype);
    std::printf("decode after %d tokens: %.1f tokens/s, %.2f ms/token; weights %.2f GB/token -> "
                "%.0f GB/s = %.1f%% of copy bandwidth (goal >= 80%%); with the f32 KV cache "
                "(%.2f GB/token read): %.1f%%\n",
                bench_tokens(), 1 / g_decode_s, 1e3 * g_decode_s, wb * 1e-9, wb * 1e-9 / g_decode_s,
                100 * wb * 1e-9 / g_decode_s / g_copy_gbs, g_decode_kv_bytes * 1e-9,
                100 * (wb + g_decode_kv_bytes) * 1e-9 / g_decode_s / g_copy_gbs);
  }
}

}  // namespace
#endif

int main(int argc, char** argv) {
#ifdef EEB_HAVE_CUDA
  std::string why;
  if (!cuda_device_available(&why)) {
    std::printf("no CUDA device: %s\n", why.c_str());
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const int n = bench_tokens();
  try {
    benchmark::RegisterBenchmark("BM_copy", BM_copy)
        ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);
    for (auto [M, N, K] : {std::tuple{4096, 4096, 4096}, std::tuple{n, 11008, 4096},
                           std::tuple{n, 4096, 11008}})
      benchmark::RegisterBenchmark("BM_gemm_bf16", BM_gemm_bf16)
          ->Args({M, N, K})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(10);
    benchmark::RegisterBenchmark("BM_prefill", BM_prefill)
        ->Arg(n)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(5);
    benchmark::RegisterBenchmark("BM_decode", BM_decode)
        ->Arg(n)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(50);
    benchmark::RunSpecifiedBenchmarks();
    print_summary();
    g_backend.reset();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda: %s\n", e.what());
    return 1;
  }
  benchmark::Shutdown();
  return 0;
#else
  (void)argc;
  (void)argv;
  std::printf("no CUDA device: this build has no CUDA backend (nvcc/cuBLAS not found at configure "
              "time)\n");
  return 0;
#endif
}
