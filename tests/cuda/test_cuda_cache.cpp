// CUDA backend: KV-cache decode vs one prefill, long caches (many split-K chunks), truncate/rollback,
// hidden-state plumbing, input errors, device info, timers, the random-weights factory and the
// out-of-memory refusal.
#include <catch2/catch.hpp>

#include <span>

#include "tests/cuda/cuda_test_util.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

// Logits of rows [pos0, pos0 + n) computed by feeding `tokens` in blocks of the given sizes.
std::vector<float> run_in_blocks(Backend& b, const std::vector<int32_t>& tokens,
                                 const std::vector<int>& blocks) {
  const int L = b.config().n_layers, V = b.config().vocab_size;
  auto kv = b.new_cache(static_cast<int>(tokens.size()));
  std::vector<float> out;
  int pos = 0;
  for (int n : blocks) {
    auto h = b.embed(std::span(tokens).subspan(pos, n), pos);
    run_layers(b, 0, L, *h, *kv);
    std::vector<float> lg(static_cast<size_t>(n) * V);
    b.logits(*h, 0, n, lg.data());
    out.insert(out.end(), lg.begin(), lg.end());
    pos += n;
  }
  REQUIRE(pos == static_cast<int>(tokens.size()));
  return out;
}

}  // namespace

TEST_CASE("cuda f32: decoding through the KV cache equals one prefill", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  Model m = random_model(tiny_config(3, 64, 4, 2, 96, 128), 3);
  auto gpu = cuda_backend(m, "f32");
  auto tokens = random_ids(30, m.cfg.vocab_size, 8);
  const auto whole = run_in_blocks(*gpu, tokens, {30});
  std::vector<int> singles = {12, 5};  // prefill kernel, then split-K over a 12-position cache
  for (int i = 17; i < 30; ++i) singles.push_back(1);
  CHECK(rel_err(run_in_blocks(*gpu, tokens, singles), whole) <= 1e-4);
  CHECK(rel_err(run_in_blocks(*gpu, tokens, {3, 27}), whole) <= 1e-4);  // prefill with pos0 > 0
  CHECK(rel_err(run_in_blocks(*gpu, tokens, {8, 8, 8, 6}), whole) <= 1e-4);
  auto cpu = cpu_backend(m);
  CHECK(rel_err(whole, run_in_blocks(*cpu, tokens, {30})) <= 1e-4);
}

TEST_CASE("cuda f32: decode after a long prefill matches the CPU", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  auto cfg = tiny_config(2, 128, 4, 2, 96, 64);  // head_dim 32
  cfg.max_seq_len = 1024;
  Model m = random_model(cfg, 4);
  auto tokens = random_ids(703, cfg.vocab_size, 2);
  std::vector<int> blocks = {700, 1, 1, 1};
  auto gpu = cuda_backend(m, "f32");
  auto cpu = cpu_backend(m);
  const auto g = run_in_blocks(*gpu, tokens, blocks), c = run_in_blocks(*cpu, tokens, blocks);
  CHECK(rel_err(g, c) <= 1e-4);
  const size_t V = cfg.vocab_size;
  const std::vector<float> g_tail(g.end() - 3 * V, g.end()), c_tail(c.end() - 3 * V, c.end());
  CHECK(rel_err(g_tail, c_tail) <= 1e-4);
}

TEST_CASE("cuda: truncate rolls back the cache", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  Model m = random_model(tiny_config(3, 32, 4, 2), 6);
  const int L = m.cfg.n_layers, V = m.cfg.vocab_size;
  auto gpu = cuda_backend(m, "f32");
  auto prefix = random_ids(10, V, 1), a = random_ids(3, V, 2), b = random_ids(3, V, 3);
  auto kv = gpu->new_cache(16);
  CHECK(kv->capacity() == 16);
  auto h = gpu->embed(prefix, 0);
  run_layers(*gpu, 0, L, *h, *kv);
  auto step = [&](int32_t t, int pos) {
    auto x = gpu->embed(std::span(&t, 1), pos);
    run_layers(*gpu, 0, L, *x, *kv);
    std::vector<float> lg(V);
    gpu->logits(*x, 0, 1, lg.data());
    return lg;
  };
  for (int i = 0; i < 3; ++i) step(a[i], 10 + i);
  for (int l = 0; l < L; ++l) CHECK(kv->length(l) == 13);
  kv->truncate_all(10, L);
  for (int l = 0; l < L; ++l) CHECK(kv->length(l) == 10);
  std::vector<float> got;
  for (int i = 0; i < 3; ++i) {
    auto lg = step(b[i], 10 + i);
    got.insert(got.end(), lg.begin(), lg.end());
  }
  std::vector<int32_t> all = prefix;
  all.insert(all.end(), b.begin(), b.end());
  const auto want = run_in_blocks(*gpu, all, {13});
  CHECK(rel_err(got, std::vector<float>(want.end() - 3 * V, want.end())) <= 1e-4);

  // Layers are independent; a layer's cache must hold exactly h.pos0() positions.
  kv->truncate(0, 5);
  CHECK(kv->length(0) == 5);
  CHECK(kv->length(1) == 13);
  CHECK_THROWS_AS(kv->truncate(0, 6), Error);
  CHECK_THROWS_AS(kv->truncate(L, 0), Error);
  CHECK_THROWS_AS(kv->length(-1), Error);
  auto x = gpu->embed(std::span(b).first(1), 6);
  CHECK_THROWS_AS(gpu->run_layer(0, *x, *kv), Error);  // cache holds 5, hidden starts at 6
  CHECK_THROWS_AS(gpu->run_layer(L, *x, *kv), Error);
  auto y = gpu->embed(std::span(prefix).first(4), 13);
  CHECK_THROWS_AS(gpu->run_layer(1, *y, *kv), Error);  // positions 13..16 exceed capacity 16
}

TEST_CASE("cuda: capacity, ownership and input errors", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  Model m = random_model(tiny_config(2, 32, 4, 2), 7);
  auto gpu = cuda_backend(m, "bf16");
  auto other = cuda_backend(m, "bf16");
  auto cpu = cpu_backend(m);
  auto toks = random_ids(6, m.cfg.vocab_size, 1);
  auto kv = gpu->new_cache(4);
  auto h = gpu->embed(toks, 0);
  CHECK_THROWS_AS(gpu->run_layer(0, *h, *kv), Error);  // 6 positions, capacity 4
  auto kv2 = gpu->new_cache(8);
  auto foreign_h = other->embed(toks, 0);
  CHECK_THROWS_AS(gpu->run_layer(0, *foreign_h, *kv2), Error);
  auto foreign_kv = other->new_cache(8);
  CHECK_THROWS_AS(gpu->run_layer(0, *h, *foreign_kv), Error);
  auto cpu_h = cpu->embed(toks, 0);
  CHECK_THROWS_AS(gpu->run_layer(0, *cpu_h, *kv2), Error);
  CHECK_THROWS_AS(gpu->new_cache(0), Error);
  const int32_t bad[] = {m.cfg.vocab_size};
  CHECK_THROWS_AS(gpu->embed(bad, 0), Error);
  CHECK_THROWS_AS(gpu->embed(toks, -1), Error);
  std::vector<float> out(static_cast<size_t>(7) * m.cfg.vocab_size);
  CHECK_THROWS_AS(gpu->logits(*h, 2, 5, out.data()), Error);
  CHECK_THROWS_AS(gpu->read_hidden(*h, -1, 1, out.data()), Error);
  BackendOptions o;
  o.dtype = "q4";
  CHECK_THROWS_AS(make_backend("cuda", m, o), Error);
  o.dtype = "bf16";
  o.device = 1 << 20;
  CHECK_THROWS_AS(make_backend("cuda", m, o), Error);
}

TEST_CASE("cuda: slice, concat and read_hidden", "[cuda]") {
  SKIP_WITHOUT_CUDA();
  Model m = random_model(tiny_config(2, 32, 4, 2), 8);
  const int D = m.cfg.dim;
  auto gpu = cuda_backend(m, "f32");
  auto toks = random_ids(10, m.cfg.vocab_size, 5);
  auto kv = gpu->new_cache(10);
  auto h = gpu->embed(toks, 0);
  run_layers(*gpu, 0, 2, *h, *kv);
  const auto all = hidden_of(*gpu, *h);
  auto s = gpu->slice(*h, 3, 4);
  CHECK(s->pos0() == 3);
  CHECK(s->n_tokens() == 4);
  CHECK(hidden_of(*gpu, *s) == std::vector<float>(all.begin() + 3 * D, all.begin() + 7 * D));
  auto a = gpu->slice(*h, 0, 3), b = gpu->slice(*h, 7, 3), e = gpu->slice(*h, 7, 0);
  const Hidden* parts[] = {a.get(), s.get(), e.get(), b.get()};
  auto c = gpu->concat(parts);
  CHECK(c->pos0() == 0);
  CHECK(c->n_tokens() == 10);
  CHECK(hidden_of(*gpu, *c) == all);
  const Hidden* gap[] = {a.get(), b.get()};
  CHECK_THROWS_AS(gpu->concat(gap), Error);
  CHECK_THROWS_AS(gpu->slice(*h, 8, 3), Error);
  std::vector<float> row(D);
  gpu->read_hidden(*h, 9, 1, row.data());
  CHECK(row == std::vector<float>(all.end() - D, all.end()));
  auto empty = gpu->embed(std::span<const int32_t>(), 4);
  CHECK(empty->n_tokens() == 0);
  auto kv4 = gpu->new_cache(8);
  kv4->truncate_all(0, 2);
  CHECK_NOTHROW(gpu->run_layer(0, *gpu->embed(std::span<const int32_t>(), 0), *kv4));
}

TEST_CASE("cuda: device info, description and timer", "[cuda]") {
  SKIP_WITHOUT_CUDA();
#ifdef EEB_HAVE_CUDA
  const CudaDeviceInfo info = cuda_device_info(0);
  WARN("GPU: " << info.name << " | " << info.uuid << " | driver " << info.driver << " | runtime "
               << info.runtime << " | cuBLAS " << info.cublas << " | sm_" << info.sm << " | "
               << info.free_mem / (1 << 20) << " MiB free of " << info.total_mem / (1 << 20));
  CHECK(!info.name.empty());
  CHECK(info.uuid.rfind("GPU-", 0) == 0);
  CHECK(info.uuid.size() == 40);
  CHECK(!info.driver.empty());
  CHECK(!info.runtime.empty());
  CHECK(!info.cublas.empty());
  CHECK(info.total_mem >= info.free_mem);
  CHECK(info.sm >= 50);
  CHECK_THROWS_AS(cuda_device_info(-1), Error);
  Model m = random_model(tiny_config(2, 32, 4, 2), 9);
  auto gpu = cuda_backend(m, "");
  CHECK(gpu->name() == "cuda");
  CHECK(gpu->dtype() == "bf16");  // the default
  CHECK(gpu->device_description() == info.name);
  auto t = gpu->new_timer();
  t->start();
  auto kv = gpu->new_cache(8);
  auto h = gpu->embed(random_ids(8, m.cfg.vocab_size, 1), 0);
  run_layers(*gpu, 0, 2, *h, *kv);
  const double sec = t->stop_seconds();
  CHECK(sec >= 0.0);
  CHECK(sec < 60.0);
  gpu->synchronize();
#endif
}

TEST_CASE("cuda: random-weights factory and the out-of-memory refusal", "[cuda]") {
  SKIP_WITHOUT_CUDA();
#ifdef EEB_HAVE_CUDA
  const ModelConfig cfg = tiny_config(2, 64, 4, 2, 96, 100);
  BackendOptions o;
  o.dtype = "bf16";
  auto run = [&](uint64_t seed) {
    auto b = make_cuda_backend_random(cfg, o, seed);
    auto kv = b->new_cache(6);
    auto h = b->embed(random_ids(6, cfg.vocab_size, 3), 0);
    run_layers(*b, 0, cfg.n_layers, *h, *kv);
    return logits_of(*b, *h);
  };
  const auto a = run(1), b = run(1), c = run(2);
  for (float x : a) REQUIRE(std::isfinite(x));
  CHECK(a == b);
  CHECK(a != c);
  // ~50 TB of weights: refused before anything is allocated, with the numbers in the message.
  ModelConfig huge = tiny_config(1000, 65536, 512, 512, 131072, 32000);  // head_dim 128
  try {
    make_cuda_backend_random(huge, o, 1);
    FAIL("a model far larger than the device was accepted");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("GiB") != std::string::npos);
    CHECK(msg.find("free") != std::string::npos);
  }
#endif
}
