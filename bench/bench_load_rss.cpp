// Peak resident memory of a model loaded on the CPU backend, against its weight bytes (issue 12:
// peak RSS ≤ 1.15× the weights as stored). Not a timing benchmark: one fresh process per file.
//
//   bench_load_rss MODEL [--dtype auto|f32|bf16|f16] [--tokens N] [--threads T]
//       loads MODEL, puts it on the cpu backend, prefills N tokens (default 64) and decodes 8, and
//       prints one JSON line: stored weight bytes, the resources estimate, VmHWM / VmRSS after each
//       step (from /proc/self/status), peak / weight bytes, and (peak - the process's start) / weight
//       bytes: the start (shared libraries, ~160 MB with CUDA's libraries linked in) does not grow
//       with the model.
//   bench_load_rss --write PATH --format hf|gguf --type bf16|f16|q8_0|f32 [--shape 1b] [--layers L]
//       writes a random-weight model of that shape (model/random_weights.h) with the test writers
//       (tests/model_writers.h): an HF directory or a GGUF file, to measure the above on.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "backends/cpu/cpu_weights.h"
#include "backends/registry.h"
#include "bench/bench_util.h"
#include "core/error.h"
#include "tests/model_writers.h"

using namespace eeb;

namespace {

// kB fields of /proc/self/status, in bytes.
uint64_t status_bytes(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line))
    if (line.rfind(k, 0) == 0) return std::strtoull(line.c_str() + k.size(), nullptr, 10) * 1024;
  return 0;
}

DType parse_type(const std::string& t) {
  if (t == "f32") return DType::F32;
  if (t == "bf16") return DType::BF16;
  if (t == "f16") return DType::F16;
  if (t == "q8_0") return DType::Q8_0;
  throw Error("--type must be f32, bf16, f16 or q8_0");
}

int write_model(const std::string& path, const std::string& format, const std::string& type,
                const std::string& shape, int layers) {
  ModelConfig c = shape_config(shape);
  if (layers > 0) c.n_layers = layers;
  const Model m = random_llama(c, 1);
  if (format == "hf")
    testing::write_hf_dir(m, path, parse_type(type));
  else if (format == "gguf")
    testing::write_gguf(m, path, parse_type(type));
  else
    throw Error("--format must be hf or gguf");
  std::printf("wrote %s (%s %s, %d layers)\n", path.c_str(), shape.c_str(), type.c_str(), c.n_layers);
  return 0;
}

int measure(const std::string& path, const std::string& dtype, int tokens, int threads) {
  const uint64_t base_hwm = status_bytes("VmHWM");
  const Model m = load_model(path);
  const uint64_t hwm_load = status_bytes("VmHWM");
  const cpu::HeldBytes est = cpu::held_bytes(m, dtype);
  auto b = make_backend("cpu", m, BackendOptions{.threads = threads, .dtype = dtype});
  const uint64_t hwm_backend = status_bytes("VmHWM");
  const auto toks = bench::synthetic_tokens(tokens + 8, m.cfg.vocab_size);
  auto kv = b->new_cache(tokens + 8);
  auto h = b->embed(std::span(toks).first(tokens), 0);
  run_layers(*b, 0, m.cfg.n_layers, *h, *kv);
  std::vector<double> lp(1);
  b->token_logprobs(*h, tokens - 1, std::span(toks).subspan(tokens, 1), lp.data());
  for (int i = 0; i < 8; ++i) {
    auto d = b->embed(std::span(toks).subspan(tokens + i, 1), tokens + i);
    run_layers(*b, 0, m.cfg.n_layers, *d, *kv);
    b->token_logprobs(*d, 0, std::span(toks).subspan(tokens + i, 1), lp.data());
  }
  const uint64_t hwm_run = status_bytes("VmHWM"), rss = status_bytes("VmRSS");
  const uint64_t weights = m.stored_bytes();
  std::printf("{\"model\": \"%s\", \"dtype\": \"%s\", \"held\": \"%s\", \"weight_bytes\": %llu, "
              "\"estimate_held_bytes\": %llu, \"hwm_start\": %llu, \"hwm_after_load\": %llu, "
              "\"hwm_after_backend\": %llu, \"hwm_after_run\": %llu, \"rss_end\": %llu, "
              "\"peak_over_weights\": %.4f, \"peak_above_start_over_weights\": %.4f, \"tokens\": %d}\n",
              path.c_str(), dtype.c_str(), b->dtype().c_str(), (unsigned long long)weights,
              (unsigned long long)est.total(), (unsigned long long)base_hwm, (unsigned long long)hwm_load,
              (unsigned long long)hwm_backend, (unsigned long long)hwm_run, (unsigned long long)rss,
              double(hwm_run) / double(weights), double(hwm_run - base_hwm) / double(weights), tokens);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string model, write, format = "gguf", type = "bf16", shape = "1b", dtype = "auto";
    int layers = 0, tokens = 64, threads = 0;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw Error(a + " needs a value");
        return argv[++i];
      };
      if (a == "--write") write = next();
      else if (a == "--format") format = next();
      else if (a == "--type") type = next();
      else if (a == "--shape") shape = next();
      else if (a == "--layers") layers = std::atoi(next().c_str());
      else if (a == "--dtype") dtype = next();
      else if (a == "--tokens") tokens = std::atoi(next().c_str());
      else if (a == "--threads") threads = std::atoi(next().c_str());
      else if (model.empty() && a.rfind("--", 0) != 0) model = a;
      else throw Error("unknown argument " + a);
    }
    if (!write.empty()) return write_model(write, format, type, shape, layers);
    if (model.empty() || tokens < 1) throw Error("usage: bench_load_rss MODEL [--dtype D] [--tokens N] [--threads T]");
    return measure(model, dtype, tokens, threads);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_load_rss: %s\n", e.what());
    return 1;
  }
}
