// eebench bench --model FILE: prefill and decode throughput of a backend on a real model file, next
// to the ceilings measured in the same process (backends/ceilings.h), so that "how far from the
// hardware" is read off one run: decode as (weight bytes read per token / time) over the read-only
// bandwidth, prefill as achieved FLOP/s over the GEMM library's rate on the same layer shapes at the
// type the backend holds the weights in. Rounds interleave model and ceilings (a slow moment of a
// shared machine hurts both); throughputs are medians over the rounds, ceilings the best.
//
// Timed like llama-bench (scripts/bench_vs_llamacpp.sh compares the two on the same file):
// prefill N = N tokens from an empty cache, logits of the last row; decode N = N single-token steps
// after C context tokens (C = 0 as llama-bench's tg), full logits at every step; one untimed warm-up
// of each before the first round.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/ceilings.h"
#include "backends/counting.h"
#include "backends/registry.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "harness/cli.h"
#include "harness/environment.h"
#include "harness/loaded_model.h"

namespace eeb {
namespace {

// A figure of /proc/self/status in bytes (VmHWM: peak resident set; VmRSS: now); 0 if absent.
uint64_t proc_status_bytes(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line))
    if (line.rfind(k, 0) == 0) {
      std::istringstream in(line.substr(k.size()));
      uint64_t kib = 0;
      in >> kib;
      return kib * 1024;
    }
  return 0;
}

std::vector<double> load_average() {
  std::ifstream f("/proc/loadavg");
  std::vector<double> v(3, 0.0);
  f >> v[0] >> v[1] >> v[2];
  return v;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The one type a requested weight dtype names ("f32", "bf16", "f16", "q8_0": every matrix converted
// to it); anything else ("auto": each weight as stored) means the stored types. The request, not the
// backend's dtype() answer, decides: that answer may list several types ("bf16+f32").
std::optional<DType> uniform_type(const std::string& d) {
  if (d == "f32") return DType::F32;
  if (d == "bf16") return DType::BF16;
  if (d == "f16") return DType::F16;
  if (d == "q8_0") return DType::Q8_0;
  return std::nullopt;
}

std::string lower_name(DType t) {
  std::string s = dtype_name(t);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Bytes of tensor t as the backend holds it (1-D tensors as float32).
uint64_t held_bytes(const TensorInfo& t, std::optional<DType> held) {
  if (!held) return t.nbytes;
  if (t.shape.size() < 2) return t.numel() * 4;
  return dtype_bytes(*held, t.numel());
}

struct WeightFigures {
  uint64_t stored = 0, held = 0;  // every tensor
  double per_token = 0;           // read by one decode step: all but the embedding (one row of it)
  std::string gemm_dtype;         // the type the projections are multiplied in
};

WeightFigures weight_figures(const Model& m, const std::string& requested_dtype) {
  const std::optional<DType> held = uniform_type(requested_dtype);
  WeightFigures w;
  std::map<DType, uint64_t> by_type;  // 2-D bytes per held type
  for (const auto& [name, t] : m.tensors) {
    const uint64_t b = held_bytes(t, held);
    w.stored += t.nbytes, w.held += b;
    if (name == kEmbed) {
      w.per_token += double(b) / double(std::max<int64_t>(1, t.shape[0])) + (m.cfg.tied_embeddings ? double(b) : 0.0);
    } else {
      w.per_token += double(b);
    }
    if (t.shape.size() >= 2) by_type[held ? *held : t.dtype] += b;
  }
  DType most = DType::F32;
  uint64_t best = 0;
  for (const auto& [t, b] : by_type)
    if (b > best) best = b, most = t;
  w.gemm_dtype = lower_name(most);
  return w;
}

// The seven projections of one layer for n tokens (q, k, v, o, gate, up, down).
std::vector<GemmShape> layer_shapes(const ModelConfig& c, int n) {
  const int q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
  return {{n, q, c.dim}, {n, kv, c.dim}, {n, kv, c.dim}, {n, c.dim, q},
          {n, c.hidden_dim, c.dim}, {n, c.hidden_dim, c.dim}, {n, c.dim, c.hidden_dim}};
}

}  // namespace

int cmd_bench_model(const BenchArgs& a) {
  if (a.prefill.empty()) throw Error("--prefill needs at least one length");
  BackendOptions opt;  // the backend's own default dtype unless --dtype names one
  opt.threads = a.threads;
  if (!a.dtype.empty()) opt.dtype = a.dtype;
  const std::vector<double> load_before = load_average();
  LoadedModel lm = load_for_backend(a.model, "", a.backend, opt);
  Backend& b = *lm.backend;
  const ModelConfig& c = b.config();
  const int longest = *std::max_element(a.prefill.begin(), a.prefill.end());
  if (longest > c.max_seq_len || a.context + a.decode > c.max_seq_len)
    throw Error(a.model, "--prefill " + std::to_string(longest) + " / --context + --decode " +
                             std::to_string(a.context + a.decode) + " exceed the model's context length " +
                             std::to_string(c.max_seq_len));
  const uint64_t rss_loaded = proc_status_bytes("VmRSS");
  const int L = c.n_layers, C = a.context, N = a.decode;
  std::vector<int32_t> toks(std::max(longest, C + N));
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>((i * 7919 + 13) % c.vocab_size);
  std::vector<float> out(c.vocab_size);

  auto prefill = [&](int n) {
    auto cache = b.new_cache(n);
    auto h = b.embed(std::span(toks).first(n), 0);
    run_layers(b, 0, L, *h, *cache);
    b.logits(*h, n - 1, 1, out.data());
  };
  auto kv = b.new_cache(C + N);
  if (C > 0) {
    auto h = b.embed(std::span(toks).first(C), 0);
    run_layers(b, 0, L, *h, *kv);
  }
  auto decode = [&](int steps) {
    for (int i = 0; i < steps; ++i) {
      auto h = b.embed(std::span(toks).subspan(C + i, 1), C + i);
      run_layers(b, 0, L, *h, *kv);
      b.logits(*h, 0, 1, out.data());
    }
    kv->truncate_all(C, L);
  };
  auto timed = [&](auto&& f) {
    auto t = b.new_timer();
    f();
    return t->stop_seconds();
  };
  for (int n : a.prefill) prefill(n);  // warm-up: scratch buffers, page faults of the mapped weights
  decode(1);

  const WeightFigures w = weight_figures(lm.model, opt.dtype);
  std::vector<std::vector<double>> pf_s(a.prefill.size());
  std::vector<double> dec_s;
  std::vector<Ceilings> ceil(a.prefill.size());
  uint64_t peak_rss = 0;
  for (int r = 0; r < std::max(1, a.reps); ++r) {
    for (size_t i = 0; i < a.prefill.size(); ++i) pf_s[i].push_back(timed([&] { prefill(a.prefill[i]); }));
    dec_s.push_back(timed([&] { decode(N); }));
    // The model's peak, before the ceilings' own buffers (2.5 GiB at most) raise the high-water mark.
    if (r == 0) peak_rss = proc_status_bytes("VmHWM");
    for (size_t i = 0; i < a.prefill.size(); ++i) {
      const Ceilings now = measure_ceilings(a.backend, w.gemm_dtype, layer_shapes(c, a.prefill[i]), 1, a.threads);
      Ceilings& best = ceil[i];
      if (now.copy_gbs > best.copy_gbs) best.copy_gbs = now.copy_gbs, best.copy_what = now.copy_what;
      if (now.read_gbs > best.read_gbs) best.read_gbs = now.read_gbs, best.read_what = now.read_what;
      if (now.gemm_tflops > best.gemm_tflops) best.gemm_tflops = now.gemm_tflops, best.gemm_what = now.gemm_what;
      if (now.gemm_f32_tflops > best.gemm_f32_tflops)
        best.gemm_f32_tflops = now.gemm_f32_tflops, best.gemm_f32_what = now.gemm_f32_what;
    }
  }
  double read_gbs = 0, copy_gbs = 0;
  std::string read_what, copy_what;
  for (const auto& x : ceil) {
    if (x.read_gbs > read_gbs) read_gbs = x.read_gbs, read_what = x.read_what;
    if (x.copy_gbs > copy_gbs) copy_gbs = x.copy_gbs, copy_what = x.copy_what;
  }
  // A backend without a read-only figure (GPU): judge decode against the copy bandwidth.
  const double bw = read_gbs > 0 ? read_gbs : copy_gbs;
  const std::string bw_name = read_gbs > 0 ? "read" : "copy";

  const Environment env = capture_environment(a.backend, 0);
  const BackendInfo info = backend_info(a.backend);
  std::map<std::string, uint64_t> stored_types;
  for (const auto& [name, t] : lm.model.tensors) stored_types[dtype_name(t.dtype)] += t.nbytes;
  nlohmann::json j = {
      {"mode", "model"},
      {"machine", {{"device", info.is_gpu ? env.gpu_name + " (" + env.gpu_uuid + ")" : env.cpu_model},
                   {"cpu", env.cpu_model}, {"hostname", env.hostname},
                   {"hardware_threads", std::thread::hardware_concurrency()},
                   {"load_average_before", load_before}, {"load_average_after", load_average()}}},
      {"build", {{"eebench", env.eebench_version}, {"git_sha", env.git_sha}, {"git_dirty", env.git_dirty},
                 {"compiler", env.compiler}, {"build_type", env.build_type}}},
      {"backend", a.backend}, {"dtype", b.dtype()}, {"threads", a.threads}, {"reps", std::max(1, a.reps)},
      {"model", {{"path", a.model}, {"format", lm.model.format}, {"architecture", c.architecture},
                 {"dim", c.dim}, {"hidden_dim", c.hidden_dim}, {"n_layers", c.n_layers}, {"n_heads", c.n_heads},
                 {"n_kv_heads", c.n_kv_heads}, {"vocab_size", c.vocab_size}, {"stored_types_bytes", stored_types}}},
      {"memory", {{"weight_bytes_stored", w.stored}, {"weight_bytes_held", w.held},
                  {"rss_after_load_bytes", rss_loaded}, {"peak_rss_bytes", peak_rss},
                  {"peak_rss_with_ceilings_bytes", proc_status_bytes("VmHWM")}}},
      {"ceilings", {{"read_gbs", read_gbs}, {"read", read_what}, {"copy_gbs", copy_gbs}, {"copy", copy_what}}}};
  for (size_t i = 0; i < a.prefill.size(); ++i) {
    const int n = a.prefill[i];
    const double s = median(pf_s[i]), flops = layers_flops(c, 0, n) + lm_head_flops_per_row(c);
    const double tflops = flops * 1e-12 / s;
    j["prefill"].push_back({{"tokens", n}, {"seconds", s}, {"seconds_reps", pf_s[i]}, {"tokens_per_s", n / s},
                            {"flops", flops}, {"tflops", tflops}, {"gemm_dtype", w.gemm_dtype},
                            {"gemm_tflops", ceil[i].gemm_tflops}, {"gemm", ceil[i].gemm_what},
                            {"gemm_f32_tflops", ceil[i].gemm_f32_tflops}, {"gemm_f32", ceil[i].gemm_f32_what},
                            {"share_of_gemm", tflops / ceil[i].gemm_tflops}});
  }
  const double ds = median(dec_s) / N;
  j["decode"] = {{"tokens", N}, {"context", C}, {"seconds_per_token", ds}, {"tokens_per_s", 1 / ds},
                 {"seconds_reps", dec_s}, {"weight_bytes_per_token", w.per_token},
                 {"weight_gbs", w.per_token * 1e-9 / ds}, {"bandwidth", bw_name},
                 {"share_of_bandwidth", w.per_token * 1e-9 / ds / bw}};

  if (a.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  if (!a.json_out.empty()) write_file_atomic(a.json_out, j.dump(2) + "\n");
  const double gib = 1024.0 * 1024 * 1024;
  std::printf("device: %s; backend %s, weights held as %s, %d threads (0 = all), load average %.1f -> %.1f\n",
              j["machine"]["device"].get<std::string>().c_str(), a.backend.c_str(), b.dtype().c_str(), a.threads,
              load_before[0], j["machine"]["load_average_after"][0].get<double>());
  std::printf("model: %s (%s): dim %d, hidden %d, %d/%d heads, %d layers, vocab %d; weights %.2f GB stored, "
              "%.2f GB held; peak RSS %.2f GiB\n",
              a.model.c_str(), lm.model.format.c_str(), c.dim, c.hidden_dim, c.n_heads, c.n_kv_heads, c.n_layers,
              c.vocab_size, w.stored * 1e-9, w.held * 1e-9, peak_rss / gib);
  std::printf("ceilings: %s %.1f GB/s; %s %.1f GB/s (read + write)\n", read_what.c_str(), read_gbs, copy_what.c_str(),
              copy_gbs);
  std::printf("%-14s %12s %12s %14s %s\n", "test", "tokens/s", "rate", "ceiling", "share");
  for (const auto& p : j["prefill"])
    std::printf("%-14s %12.2f %8.1f GF/s %8.1f GF/s %5.1f%%  (%s; f32 sgemm %.1f GF/s)\n",
                ("prefill " + std::to_string(p["tokens"].get<int>())).c_str(), p["tokens_per_s"].get<double>(),
                1e3 * p["tflops"].get<double>(), 1e3 * p["gemm_tflops"].get<double>(),
                100 * p["share_of_gemm"].get<double>(), p["gemm"].get<std::string>().c_str(),
                1e3 * p["gemm_f32_tflops"].get<double>());
  std::printf("%-14s %12.2f %8.1f GB/s %8.1f GB/s %5.1f%%  (%.3f GB of weights per token, %s bandwidth)\n",
              ("decode " + std::to_string(N) + (C ? "@" + std::to_string(C) : "")).c_str(), 1 / ds,
              w.per_token * 1e-9 / ds, bw, 100 * w.per_token * 1e-9 / ds / bw, w.per_token * 1e-9, bw_name.c_str());
  return 0;
}

}  // namespace eeb
