// eebench bench: prefill and decode throughput of a backend on random weights of a real shape (with
// --model: on a real file, harness/cli_bench_model.cpp), next to
// the hardware ceilings measured in the same process (backends/ceilings.h), so the goal ratios
// (prefill ≥ 60% of the GEMM rate, decode ≥ 80% of the copy bandwidth) are read off one run.
#include <algorithm>
#include <cstdio>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/registry.h"
#include "backends/ceilings.h"
#include "backends/counting.h"
#include "model/random_weights.h"
#include "harness/cli.h"
#include "harness/environment.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "harness/resources.h"

namespace eeb {

namespace {

double prefill_flops(const ModelConfig& c, int n) { return layers_flops(c, 0, n) + lm_head_flops_per_row(c); }

template <class F>
double best_of(Backend& b, int reps, F&& f) {
  f();  // warm-up: scratch buffers, library heuristics
  double best = 1e30;
  for (int i = 0; i < std::max(1, reps); ++i) {
    auto t = b.new_timer();
    f();
    best = std::min(best, t->stop_seconds());
  }
  return best;
}

}  // namespace

int cmd_bench(const BenchArgs& a) {
  if (!a.model.empty()) return cmd_bench_model(a);
  ModelConfig c = shape_config(a.shape);
  if (a.layers > 0) c.n_layers = a.layers;
  if (a.tokens < 1 || a.tokens + 1 > c.max_seq_len)
    throw Error("--tokens must be in [1, " + std::to_string(c.max_seq_len - 1) + "]");
  BackendOptions opt;
  opt.threads = a.threads;
  const BackendInfo info = backend_info(a.backend);
  opt.dtype = a.dtype.empty() ? info.default_bench_dtype : a.dtype;
  if (info.weights_in_host_memory) {  // the random model and the backend's float32 copy exist together for a moment
    double params = double(c.vocab_size) * c.dim * 2 + c.dim;
    params += double(c.n_layers) * (double(c.dim) * (c.n_heads + 2 * c.n_kv_heads) * c.head_dim +
                                    double(c.n_heads) * c.head_dim * c.dim + 3.0 * c.dim * c.hidden_dim + 2.0 * c.dim);
    const double need = params * 4 * 2;
    const auto avail = host_memory_available();
    if (avail && need > double(*avail)) {
      char msg[200];
      std::snprintf(msg, sizeof msg, "bench: shape %s with %d layers needs %.1f GB of host memory, %.1f GB available"
                    " (use --layers or a smaller --shape)", a.shape.c_str(), c.n_layers, need / 1e9, double(*avail) / 1e9);
      throw Error(msg);
    }
  }
  auto b = make_backend_random(a.backend, c, opt, 1234);
  const int n = a.tokens;
  std::vector<int32_t> toks(n + 1);
  for (int i = 0; i <= n; ++i) toks[i] = (i * 7919 + 13) % c.vocab_size;
  std::vector<float> out(c.vocab_size);

  auto kv = b->new_cache(n + 1);
  auto prefill = [&] {
    auto cache = b->new_cache(n);
    auto h = b->embed(std::span(toks).first(n), 0);
    run_layers(*b, 0, c.n_layers, *h, *cache);
    b->logits(*h, n - 1, 1, out.data());
  };
  auto decode = [&] {
    auto h = b->embed(std::span(toks).subspan(n, 1), n);
    run_layers(*b, 0, c.n_layers, *h, *kv);
    b->logits(*h, 0, 1, out.data());
    kv->truncate_all(n, c.n_layers);
  };
  {
    auto h = b->embed(std::span(toks).first(n), 0);
    run_layers(*b, 0, c.n_layers, *h, *kv);
  }
  // Side by side: each round measures the model and the ceilings once; the best of every quantity
  // over the rounds is kept, so a slow moment of a shared machine hurts all of them alike.
  double prefill_s = 1e30, decode_s = 1e30;
  Ceilings ceil;
  for (int r = 0; r < std::max(1, a.reps); ++r) {
    prefill_s = std::min(prefill_s, best_of(*b, 1, prefill));
    decode_s = std::min(decode_s, best_of(*b, 10, decode));
    const Ceilings now = measure_ceilings(a.backend, b->dtype(), n, c.hidden_dim, c.dim, 1, a.threads);
    if (now.copy_gbs > ceil.copy_gbs) ceil.copy_gbs = now.copy_gbs, ceil.copy_what = now.copy_what;
    if (now.gemm_tflops > ceil.gemm_tflops) ceil.gemm_tflops = now.gemm_tflops, ceil.gemm_what = now.gemm_what;
  }

  const double pf = prefill_flops(c, n), wb = weight_bytes_per_token(c, b->dtype());
  const double prefill_tflops = pf * 1e-12 / prefill_s, decode_gbs = wb * 1e-9 / decode_s;
  const Environment env = capture_environment(a.backend, 0);
  nlohmann::json j = {
      {"device", info.is_gpu ? env.gpu_name + " (" + env.gpu_uuid + ")" : env.cpu_model},
      {"backend", a.backend}, {"dtype", b->dtype()}, {"threads", a.threads},
      {"model", {{"shape", a.shape}, {"dim", c.dim}, {"hidden_dim", c.hidden_dim}, {"n_layers", c.n_layers},
                 {"n_heads", c.n_heads}, {"n_kv_heads", c.n_kv_heads}, {"vocab_size", c.vocab_size}}},
      {"tokens", n},
      {"prefill", {{"seconds", prefill_s}, {"tokens_per_s", n / prefill_s}, {"tflops", prefill_tflops},
                   {"share_of_gemm", prefill_tflops / ceil.gemm_tflops}}},
      {"decode", {{"seconds_per_token", decode_s}, {"tokens_per_s", 1 / decode_s}, {"weight_gb_per_token", wb * 1e-9},
                  {"weight_gbs", decode_gbs}, {"share_of_copy", decode_gbs / ceil.copy_gbs}}},
      {"ceilings", {{"copy_gbs", ceil.copy_gbs}, {"copy", ceil.copy_what}, {"gemm_tflops", ceil.gemm_tflops},
                    {"gemm", ceil.gemm_what}}}};
  if (a.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  if (!a.json_out.empty()) write_file_atomic(a.json_out, j.dump(2) + "\n");
  std::printf("device: %s; backend %s, weights %s\n", j["device"].get<std::string>().c_str(), a.backend.c_str(),
              b->dtype().c_str());
  std::printf("model: random, shape %s: dim %d, hidden %d, %d heads / %d kv heads, %d layers, vocab %d\n",
              a.shape.c_str(), c.dim, c.hidden_dim, c.n_heads, c.n_kv_heads, c.n_layers, c.vocab_size);
  std::printf("ceilings: %s %.1f GB/s (read + write); %s %.2f TFLOP/s\n", ceil.copy_what.c_str(), ceil.copy_gbs,
              ceil.gemm_what.c_str(), ceil.gemm_tflops);
  std::printf("prefill %d tokens: %.1f tokens/s, %.2f TFLOP/s = %.1f%% of the GEMM rate (goal >= 60%%)\n", n,
              n / prefill_s, prefill_tflops, 100 * prefill_tflops / ceil.gemm_tflops);
  std::printf("decode after %d tokens: %.2f tokens/s, %.2f ms/token, weights %.3f GB/token -> %.1f GB/s = %.1f%% "
              "of the copy bandwidth (goal >= 80%%)\n",
              n, 1 / decode_s, 1e3 * decode_s, wb * 1e-9, decode_gbs, 100 * decode_gbs / ceil.copy_gbs);
  return 0;
}

}  // namespace eeb
