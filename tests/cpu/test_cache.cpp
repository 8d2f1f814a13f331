// CPU backend: KV cache use (incremental decoding, chunked prefill, truncation), determinism,
// thread counts, hidden-state plumbing and error handling.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <thread>

#include "backends/registry.h"
#include "core/error.h"
#include "tests/cpu/reference.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

struct Out {
  std::vector<float> hidden, logits;  // final hidden and logits of every position, in order
};

// Feeds `tokens` in chunks of the given sizes through all layers with one cache.
Out run_chunks(Backend& b, const std::vector<int32_t>& tokens, const std::vector<int>& chunks,
               KVCache* kv_in = nullptr, int pos0 = 0) {
  const auto& c = b.config();
  std::unique_ptr<KVCache> own;
  if (!kv_in) own = b.new_cache(64);
  KVCache& kv = kv_in ? *kv_in : *own;
  Out o;
  int p = 0;
  for (int n : chunks) {
    auto h = b.embed(std::span(tokens).subspan(p, n), pos0 + p);
    run_layers(b, 0, c.n_layers, *h, kv);
    const size_t hs = o.hidden.size(), ls = o.logits.size();
    o.hidden.resize(hs + static_cast<size_t>(n) * c.dim);
    o.logits.resize(ls + static_cast<size_t>(n) * c.vocab_size);
    b.read_hidden(*h, 0, n, o.hidden.data() + hs);
    b.logits(*h, 0, n, o.logits.data() + ls);
    p += n;
  }
  return o;
}

void check_close(const Out& a, const Out& b, double tol) {
  REQUIRE(a.hidden.size() == b.hidden.size());
  CHECK(rel_diff(a.hidden, b.hidden) <= tol);
  CHECK(rel_diff(a.logits, b.logits) <= tol);
}

}  // namespace

TEST_CASE("incremental decoding with the KV cache equals one full prefill", "[cpu]") {
  for (auto cfg : {tiny_config(3, 32, 4, 2), tiny_config(2, 64, 4, 1), tiny_config(2, 64, 4, 4)}) {
    Model m = random_model(cfg, 5);
    auto b = make_backend("cpu", m, BackendOptions{});
    auto tokens = random_tokens(12, cfg.vocab_size, 8);
    Out full = run_chunks(*b, tokens, {12});
    check_close(run_chunks(*b, tokens, {5, 1, 1, 1, 1, 1, 1, 1}), full, 1e-5);
    check_close(run_chunks(*b, tokens, {3, 4, 1, 4}), full, 1e-5);
    check_close(run_chunks(*b, tokens, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}), full, 1e-5);
  }
}

TEST_CASE("a fork shares its source's positions in place, copy on write keeps both exact", "[cpu]") {
  // The CPU backend's fork_cache copies nothing: every way of changing either side afterwards must
  // leave the other computing what an independent copy would (one whole prefill is the reference).
  auto cfg = tiny_config(3, 32, 4, 2);
  Model m = random_model(cfg, 6);
  auto b = make_backend("cpu", m, BackendOptions{});
  const auto tokens = random_tokens(12, cfg.vocab_size, 9);
  const std::vector<int32_t> prefix(tokens.begin(), tokens.begin() + 8);
  const std::vector<int32_t> suffix(tokens.begin() + 8, tokens.end());
  const Out full = run_chunks(*b, tokens, {12});
  auto tail_of = [&](const Out& o, int from) {  // rows [from, 12) of a whole-sequence output
    Out t;
    t.hidden.assign(o.hidden.begin() + static_cast<long>(from) * cfg.dim, o.hidden.end());
    t.logits.assign(o.logits.begin() + static_cast<long>(from) * cfg.vocab_size, o.logits.end());
    return t;
  };
  const Out want = tail_of(full, 8);
  auto source = [&] {
    auto kv = b->new_cache(8);
    run_chunks(*b, prefix, {8}, kv.get());
    return kv;
  };
  SECTION("plain fork") {
    auto src = source();
    auto f = b->fork_cache(*src, 8, 16);
    check_close(run_chunks(*b, suffix, {4}, f.get(), 8), want, 1e-5);
  }
  SECTION("the source destroyed first") {
    auto src = source();
    auto f = b->fork_cache(*src, 8, 16);
    src.reset();
    check_close(run_chunks(*b, suffix, {4}, f.get(), 8), want, 1e-5);
  }
  SECTION("the source rewritten below what the fork shares") {
    auto src = source();
    auto f = b->fork_cache(*src, 8, 16);
    src->truncate_all(3, cfg.n_layers);
    run_chunks(*b, random_tokens(5, cfg.vocab_size, 10), {5}, src.get(), 3);
    check_close(run_chunks(*b, suffix, {4}, f.get(), 8), want, 1e-5);
  }
  SECTION("several forks, a fork of a fork") {
    auto src = source();
    auto f1 = b->fork_cache(*src, 8, 16), f2 = b->fork_cache(*src, 8, 16);
    check_close(run_chunks(*b, suffix, {4}, f1.get(), 8), want, 1e-5);
    auto f3 = b->fork_cache(*f1, 10, 16);  // the prefix from src, two positions from f1
    f1.reset();
    check_close(run_chunks(*b, std::vector<int32_t>(suffix.begin() + 2, suffix.end()), {2}, f3.get(), 10),
                tail_of(full, 10), 1e-5);
    check_close(run_chunks(*b, suffix, {4}, f2.get(), 8), want, 1e-5);
  }
  SECTION("the fork rolled back below its shared positions and rewritten") {
    auto src = source();
    auto f = b->fork_cache(*src, 8, 16);
    f->truncate_all(5, cfg.n_layers);
    const std::vector<int32_t> rest(tokens.begin() + 5, tokens.end());
    check_close(run_chunks(*b, rest, {7}, f.get(), 5), tail_of(full, 5), 1e-5);
    // The source still holds the prefix: a new fork of it continues as the reference.
    auto g = b->fork_cache(*src, 8, 16);
    check_close(run_chunks(*b, suffix, {4}, g.get(), 8), want, 1e-5);
  }
}

TEST_CASE("truncate then re-run equals never having run the dropped positions", "[cpu]") {
  Model m = random_model(tiny_config(3, 32, 4, 2), 9);
  auto b = make_backend("cpu", m, BackendOptions{});
  const int L = m.cfg.n_layers;
  auto a = random_tokens(5, m.cfg.vocab_size, 1), dropped = random_tokens(4, m.cfg.vocab_size, 2),
       c = random_tokens(3, m.cfg.vocab_size, 3);
  std::vector<int32_t> ac(a);
  ac.insert(ac.end(), c.begin(), c.end());
  Out want = run_chunks(*b, ac, {5, 3});

  SECTION("truncate_all") {
    auto kv = b->new_cache(16);
    Out got = run_chunks(*b, a, {5}, kv.get());
    run_chunks(*b, dropped, {4}, kv.get(), 5);
    for (int l = 0; l < L; ++l) CHECK(kv->length(l) == 9);
    kv->truncate_all(5, L);
    for (int l = 0; l < L; ++l) CHECK(kv->length(l) == 5);
    Out tail = run_chunks(*b, c, {3}, kv.get(), 5);
    got.hidden.insert(got.hidden.end(), tail.hidden.begin(), tail.hidden.end());
    got.logits.insert(got.logits.end(), tail.logits.begin(), tail.logits.end());
    check_close(got, want, 1e-5);
  }
  SECTION("per-layer truncate after a partial (early-exited) run") {
    auto kv = b->new_cache(16);
    run_chunks(*b, a, {5}, kv.get());
    // Dropped tokens only reach layers 0 and 1, as after an early exit.
    auto h = b->embed(dropped, 5);
    run_layers(*b, 0, 2, *h, *kv);
    CHECK(kv->length(0) == 9);
    CHECK(kv->length(2) == 5);
    kv->truncate(0, 5);
    kv->truncate(1, 5);
    Out tail = run_chunks(*b, c, {3}, kv.get(), 5);
    Out want_tail{std::vector<float>(want.hidden.begin() + 5 * m.cfg.dim, want.hidden.end()),
                  std::vector<float>(want.logits.begin() + 5 * m.cfg.vocab_size, want.logits.end())};
    check_close(tail, want_tail, 1e-5);
  }
}

TEST_CASE("cpu backend is deterministic and thread counts agree", "[cpu]") {
  auto cfg = tiny_config(2, 128, 8, 2, 320, 500);
  Model m = random_model(cfg, 19);
  auto tokens = random_tokens(40, cfg.vocab_size, 4);
  auto b1 = make_backend("cpu", m, BackendOptions{.threads = 1});
  auto b2 = make_backend("cpu", m, BackendOptions{.threads = 2});
  Out x = run_chunks(*b2, tokens, {33, 7});
  Out y = run_chunks(*b2, tokens, {33, 7});
  CHECK(std::memcmp(x.logits.data(), y.logits.data(), x.logits.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(x.hidden.data(), y.hidden.data(), x.hidden.size() * sizeof(float)) == 0);
  Out z = run_chunks(*b1, tokens, {33, 7});
  check_close(z, x, 1e-5);
  // Alternating between backends with different thread counts keeps each one's results.
  Out w = run_chunks(*b2, tokens, {33, 7});
  CHECK(std::memcmp(x.logits.data(), w.logits.data(), x.logits.size() * sizeof(float)) == 0);
}

TEST_CASE("slice, concat and read_hidden copy rows and positions", "[cpu]") {
  Model m = random_model(tiny_config(2, 32, 4, 2), 23);
  auto b = make_backend("cpu", m, BackendOptions{});
  const int D = m.cfg.dim;
  auto tokens = random_tokens(7, m.cfg.vocab_size, 5);
  auto h = b->embed(tokens, 4);
  CHECK(h->n_tokens() == 7);
  CHECK(h->pos0() == 4);
  std::vector<float> all(7 * D);
  b->read_hidden(*h, 0, 7, all.data());
  auto s1 = b->slice(*h, 0, 3), s2 = b->slice(*h, 3, 4);
  CHECK(s2->pos0() == 7);
  CHECK(s2->n_tokens() == 4);
  const Hidden* parts[] = {s1.get(), s2.get()};
  auto cat = b->concat(parts);
  CHECK(cat->pos0() == 4);
  std::vector<float> back(7 * D);
  b->read_hidden(*cat, 0, 7, back.data());
  CHECK(back == all);
  std::vector<float> row(D);
  b->read_hidden(*h, 6, 1, row.data());
  CHECK(std::equal(row.begin(), row.end(), all.begin() + 6 * D));
  const Hidden* wrong[] = {s2.get(), s1.get()};
  CHECK_THROWS_AS(b->concat(wrong), Error);
  CHECK_THROWS_AS(b->concat({}), Error);
}

TEST_CASE("cpu backend rejects misuse with eeb::Error", "[cpu]") {
  Model m = random_model(tiny_config(2, 32, 4, 2), 29);
  auto b = make_backend("cpu", m, BackendOptions{});
  auto tokens = random_tokens(5, m.cfg.vocab_size, 6);
  auto kv = b->new_cache(6);

  auto wrong_pos = b->embed(tokens, 2);
  CHECK_THROWS_WITH(b->run_layer(0, *wrong_pos, *kv), Catch::Contains("position"));
  auto h = b->embed(tokens, 0);
  CHECK_THROWS_AS(b->run_layer(-1, *h, *kv), Error);
  CHECK_THROWS_WITH(b->run_layer(2, *h, *kv), Catch::Contains("layer 2"));
  CHECK_NOTHROW(b->run_layer(0, *h, *kv));
  CHECK_THROWS_AS(b->run_layer(0, *h, *kv), Error);  // layer 0 already holds positions 0..4
  auto more = b->embed(random_tokens(2, m.cfg.vocab_size, 7), 5);
  CHECK_NOTHROW(b->run_layer(1, *h, *kv));
  CHECK_THROWS_WITH(b->run_layer(0, *more, *kv), Catch::Contains("capacity"));
  CHECK(kv->length(0) == 5);

  CHECK_THROWS_AS(kv->truncate(0, 6), Error);
  CHECK_THROWS_AS(kv->truncate(5, 0), Error);
  CHECK_THROWS_AS(kv->length(-1), Error);
  CHECK_THROWS_AS(b->new_cache(0), Error);
  std::vector<int32_t> bad{0, m.cfg.vocab_size};
  CHECK_THROWS_AS(b->embed(bad, 0), Error);
  CHECK_THROWS_AS(b->embed(tokens, -1), Error);
  std::vector<float> out(10 * m.cfg.vocab_size);
  CHECK_THROWS_AS(b->logits(*h, 3, 3, out.data()), Error);
  CHECK_THROWS_AS(b->read_hidden(*h, -1, 1, out.data()), Error);
  CHECK_THROWS_AS(b->slice(*h, 5, 1), Error);
  CHECK_THROWS_AS(b->exit_features(*h, 5), Error);
  std::vector<int32_t> tgt{0, m.cfg.vocab_size};
  std::vector<double> lp(2);
  CHECK_THROWS_AS(b->token_logprobs(*h, 0, tgt, lp.data()), Error);
  std::vector<int32_t> tgt6(6, 0);
  std::vector<double> lp6(6);
  CHECK_THROWS_AS(b->token_logprobs(*h, 0, tgt6, lp6.data()), Error);

  // A cache or hidden from a differently shaped backend.
  Model other = random_model(tiny_config(3, 64, 4, 2), 30);
  auto b2 = make_backend("cpu", other, BackendOptions{});
  auto kv2 = b2->new_cache(8);
  auto h2 = b2->embed(tokens, 0);
  CHECK_THROWS_AS(b->run_layer(0, *h2, *kv), Error);
  auto kv3 = b->new_cache(8);
  auto h3 = b->embed(tokens, 0);
  CHECK_THROWS_AS(b->run_layer(0, *h3, *kv2), Error);

  // An empty block is a no-op.
  auto empty = b->embed({}, 0);
  CHECK_NOTHROW(b->run_layer(0, *empty, *kv3));
  CHECK(kv3->length(0) == 0);
}

TEST_CASE("cpu backend options and the registry", "[cpu]") {
  Model m = random_model(tiny_config(1), 31);
  CHECK_THROWS_WITH(make_backend("cpu", m, BackendOptions{.dtype = "q4"}), Catch::Contains("dtype 'q4' is not supported"));
  CHECK_THROWS_AS(make_backend("cpu", m, BackendOptions{.threads = -1}), Error);
  CHECK_THROWS_WITH(make_backend("nope", m, BackendOptions{}), Catch::Contains("cpu"));
  CHECK_THROWS_AS(make_backend("nope", m, BackendOptions{}), Error);
  auto list = list_backends();
  REQUIRE(list.size() >= 2);
  CHECK(list[0].name == "cpu");
  CHECK(list[0].available);
#ifndef EEB_HAVE_CUDA
  CHECK_THROWS_WITH(make_backend("cuda", m, BackendOptions{}), Catch::Contains("no CUDA support"));
  CHECK_FALSE(list[1].available);
#endif
  // A model whose tensor shapes do not match its config.
  Model bad = random_model(tiny_config(1), 32);
  bad.cfg.hidden_dim = 50;
  CHECK_THROWS_AS(make_backend("cpu", bad, BackendOptions{}), Error);
}

TEST_CASE("the default timer measures wall-clock time", "[cpu]") {
  // Invariants, not timings: a 20 ms sleep inside the region is counted, and the region lies inside
  // a steady_clock measurement taken around it.
  Model m = random_model(tiny_config(1), 33);
  auto b = make_backend("cpu", m, BackendOptions{});
  auto t = b->new_timer();
  const auto outer0 = std::chrono::steady_clock::now();
  t->start();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double s = t->stop_seconds();
  const double outer = std::chrono::duration<double>(std::chrono::steady_clock::now() - outer0).count();
  CHECK(s >= 0.020);
  CHECK(s <= outer);
}
