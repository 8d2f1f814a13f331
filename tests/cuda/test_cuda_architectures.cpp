// The CUDA backend against the CPU backend (itself checked against the float64 reference in
// tests/cpu/test_architectures.cpp) on every architecture feature: RoPE scaling (llama3, linear:
// the same inverse-frequency table), explicit head_dim, q/k/v biases, per-head q/k RMSNorm and the
// sliding window, through both attention kernels.
#include <catch2/catch.hpp>

#include "tests/cuda/cuda_test_util.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

TEST_CASE("cuda matches the cpu backend on qwen2, qwen3 and mistral's sliding window", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  auto cfg = [](const char* arch, int head_dim) {
    ModelConfig c = tiny_config(2, 32, 4, 2);
    c.architecture = arch;
    c.head_dim = head_dim;
    return c;
  };
  ModelConfig qwen2 = cfg("qwen2", 8), qwen3 = cfg("qwen3", 16), mistral = cfg("mistral", 8);
  qwen2.tied_embeddings = true;
  mistral.sliding_window = 5;
  ModelConfig long_window = mistral;
  long_window.sliding_window = 37;  // spans several 32-key tiles and decode chunks
  for (const ModelConfig& c : {qwen2, qwen3, mistral, long_window}) {
    INFO(c.architecture << " window " << c.sliding_window);
    const Model m = random_model(c, 17);
    auto gpu = cuda_backend(m, "f32");
    auto cpu = cpu_backend(m);
    const auto ids = random_ids(90, c.vocab_size, 4);
    auto kg = gpu->new_cache(90), kc = cpu->new_cache(90);
    // A prefill block (flash kernel), then decode steps of 1-3 rows (split-K kernel).
    int p = 0;
    for (int n : {70, 1, 3, 1, 2, 13}) {
      auto hg = gpu->embed(std::span(ids).subspan(p, n), p), hc = cpu->embed(std::span(ids).subspan(p, n), p);
      run_layers(*gpu, 0, c.n_layers, *hg, *kg);
      run_layers(*cpu, 0, c.n_layers, *hc, *kc);
      CHECK(rel_err(hidden_of(*gpu, *hg), hidden_of(*cpu, *hc)) <= 1e-4);
      CHECK(rel_err(logits_of(*gpu, *hg), logits_of(*cpu, *hc)) <= 1e-4);
      p += n;
    }
  }
}

TEST_CASE("cuda matches the cpu backend with scaled RoPE", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  ModelConfig c = tiny_config(2, 32, 4, 2);
  c.head_dim = 16;  // explicit head_dim != hidden / heads
  c.rope_theta = 100.f;
  c.rope_type = "llama3";
  c.rope_factor = 8, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4, c.rope_original_max_pos = 64;
  for (const char* type : {"llama3", "linear"}) {
    INFO(type);
    c.rope_type = type;
    const Model m = random_model(c, 9);
    auto gpu = cuda_backend(m, "f32");
    auto cpu = cpu_backend(m);
    const auto ids = random_ids(40, c.vocab_size, 3);
    auto kg = gpu->new_cache(40), kc = cpu->new_cache(40);
    auto hg = gpu->embed(ids, 0), hc = cpu->embed(ids, 0);
    run_layers(*gpu, 0, c.n_layers, *hg, *kg);
    run_layers(*cpu, 0, c.n_layers, *hc, *kc);
    CHECK(rel_err(logits_of(*gpu, *hg), logits_of(*cpu, *hc)) <= 1e-4);
  }
}
