// The CUDA backend and the architecture table: RoPE scaling (llama3, linear, GGUF rope_freqs) comes
// from the same inverse-frequency table as the CPU backend and must match it; features its kernels
// do not implement (q/k/v biases, per-head q/k RMSNorm, sliding windows) are refused with one line
// before any device work, so that check runs on machines without a GPU too.
#include <catch2/catch.hpp>

#include "tests/cuda/cuda_test_util.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

#ifdef EEB_HAVE_CUDA
TEST_CASE("cuda refuses architecture features it does not implement", "[cuda]") {
  auto cfg = [](const char* arch) {
    ModelConfig c = tiny_config(1, 32, 4, 2);
    c.architecture = arch;
    return c;
  };
  ModelConfig mistral = cfg("mistral");
  mistral.sliding_window = 4;
  const std::pair<ModelConfig, const char*> cases[] = {
      {cfg("qwen2"), "q/k/v biases"}, {cfg("qwen3"), "per-head q/k RMSNorm"}, {mistral, "sliding-window"}};
  for (const auto& [c, phrase] : cases) {
    INFO(c.architecture);
    const Model m = random_model(c, 5);
    try {
      cuda_backend(m, "f32");
      FAIL("no error");
    } catch (const Error& e) {
      const std::string msg = e.what();
      CHECK(msg.find(phrase) != std::string::npos);
      CHECK(msg.find("not implemented on the CUDA backend") != std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
    }
  }
}
#endif

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
