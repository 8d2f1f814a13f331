// Positions beyond the model's max_position_embeddings are refused (issue 10, defect 7): the CPU
// backend used to extend its RoPE tables silently and return numbers for positions the model never saw.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/registry.h"
#include "core/error.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

void require_position_error(const std::function<void()>& fn, const std::string& range) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("backend cpu") != std::string::npos);
    CHECK(msg.find(range) != std::string::npos);
    CHECK(msg.find("max_position_embeddings") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
    return;
  }
  FAIL("expected an eeb::Error");
}

}  // namespace

TEST_CASE("cpu: positions beyond max_position_embeddings are refused", "[cpu]") {
  ModelConfig cfg = tiny_config(2);
  cfg.max_seq_len = 16;
  Model m = random_model(cfg, 7);
  auto b = make_backend("cpu", m, BackendOptions{});
  const std::vector<int32_t> toks(16, 3);
  auto kv = b->new_cache(32);  // room in the cache is not room in the model

  // Exactly the model's range: fine.
  auto h = b->embed(toks, 0);
  run_layers(*b, 0, cfg.n_layers, *h, *kv);
  CHECK(kv->length(0) == 16);

  // One position past it, as a decode step or as a prefill: refused before anything runs.
  require_position_error([&] { b->embed(std::span(toks).first(1), 16); }, "[16, 17)");
  require_position_error([&] { b->embed(std::span(toks).first(2), 15); }, "[15, 17)");
  require_position_error([&] { b->embed(std::vector<int32_t>(17, 3), 0); }, "[0, 17)");
  // A negative position is refused by the base class too (its own message: no such position).
  CHECK_THROWS_WITH(b->embed(std::span(toks).first(1), -1), "backend cpu: embed: negative position -1");
  CHECK(kv->length(0) == 16);
  CHECK_NOTHROW(b->embed(std::span(toks).first(1), 15));
  CHECK_NOTHROW(b->embed(std::span(toks).first(0), 16));  // an empty block at the end is no position
}
