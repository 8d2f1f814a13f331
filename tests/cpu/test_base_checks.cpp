// The argument checks live once in the Backend base: a backend that implements only the do_*
// methods (and counts how often they are reached) refuses misuse with exactly the message the CPU
// backend gives, and its do_* methods are never called with bad arguments.
#include <catch2/catch.hpp>

#include "backends/registry.h"
#include "core/error.h"
#include "tests/cpu/reference.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

class FakeHidden : public Hidden {
 public:
  FakeHidden(int n, int pos0) : Hidden(n, pos0) {}
};
class FakeCache : public KVCache {
 public:
  FakeCache(int cap, int layers) : KVCache("backend fake", cap, layers) {}
};

// Shape-only backend: does no math, records every do_* call.
class FakeBackend : public Backend {
 public:
  explicit FakeBackend(const ModelConfig& c) : c_(c) {}
  int calls = 0;
  std::string name() const override { return "fake"; }
  std::string device_description() const override { return "none"; }
  const ModelConfig& config() const override { return c_; }
  std::string dtype() const override { return "f32"; }

 protected:
  std::unique_ptr<KVCache> do_new_cache(int cap) override {
    ++calls;
    return std::make_unique<FakeCache>(cap, c_.n_layers);
  }
  std::unique_ptr<Hidden> do_embed(std::span<const int32_t> t, int pos0) override {
    ++calls;
    return std::make_unique<FakeHidden>(static_cast<int>(t.size()), pos0);
  }
  void do_run_layer(int, Hidden&, KVCache&) override { ++calls; }
  void do_logits(const Hidden&, int, int, float*) override { ++calls; }
  void do_read_hidden(const Hidden&, int, int, float*) override { ++calls; }
  std::unique_ptr<Hidden> do_slice(const Hidden&, int row0, int n) override {
    ++calls;
    return std::make_unique<FakeHidden>(n, row0);
  }
  std::unique_ptr<Hidden> do_concat(std::span<const Hidden* const> p, int rows) override {
    ++calls;
    return std::make_unique<FakeHidden>(rows, p[0]->pos0());
  }

 private:
  ModelConfig c_;
};

// The message of the Error f throws, without the "backend <name>: " prefix.
template <class F>
std::string error_of(const std::string& backend, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    const std::string m = e.what(), pre = "backend " + backend + ": ";
    return m.rfind(pre, 0) == 0 ? m.substr(pre.size()) : "NO PREFIX: " + m;
  }
  return "no error";
}

}  // namespace

TEST_CASE("bad rows and wrong KV lengths give the base's Error on every backend", "[cpu]") {
  const ModelConfig c = tiny_config(2, 32, 4, 2);
  Model m = random_model(c, 41);
  auto cpu = make_backend("cpu", m, BackendOptions{});
  FakeBackend fake(c);
  const auto tokens = random_tokens(5, c.vocab_size, 2);
  std::vector<float> out(16 * c.vocab_size);
  std::vector<double> lp(8);

  // Runs the same misuse on a backend; returns the messages in order.
  auto misuse = [&](Backend& b) {
    std::vector<std::string> msgs;
    const std::string n = b.name();
    auto kv = b.new_cache(6);
    auto h = b.embed(tokens, 0);
    auto late = b.embed(tokens, 3);
    msgs.push_back(error_of(n, [&] { b.run_layer(0, *late, *kv); }));      // kv length 0 != pos0 3
    msgs.push_back(error_of(n, [&] { b.run_layer(2, *h, *kv); }));         // layer out of range
    msgs.push_back(error_of(n, [&] { b.run_layer(-1, *h, *kv); }));
    b.run_layer(0, *h, *kv);
    msgs.push_back(error_of(n, [&] { b.run_layer(0, *h, *kv); }));         // again: length 5 != 0
    auto more = b.embed(random_tokens(2, c.vocab_size, 3), 5);
    msgs.push_back(error_of(n, [&] { b.run_layer(0, *more, *kv); }));      // past capacity 6
    msgs.push_back(error_of(n, [&] { b.logits(*h, 3, 3, out.data()); }));  // rows [3, 6) of 5
    msgs.push_back(error_of(n, [&] { b.read_hidden(*h, -1, 1, out.data()); }));
    msgs.push_back(error_of(n, [&] { b.slice(*h, 5, 1); }));
    msgs.push_back(error_of(n, [&] { b.exit_features(*h, 5); }));
    const std::vector<int32_t> tgt{0, c.vocab_size};
    msgs.push_back(error_of(n, [&] { b.token_logprobs(*h, 0, tgt, lp.data()); }));
    msgs.push_back(error_of(n, [&] { b.embed(std::vector<int32_t>{-1}, 0); }));
    msgs.push_back(error_of(n, [&] { b.embed(tokens, -1); }));
    msgs.push_back(error_of(n, [&] { b.new_cache(0); }));
    const Hidden* gap[] = {h.get(), h.get()};  // positions 0..4 then 0..4: not consecutive
    msgs.push_back(error_of(n, [&] { b.concat(gap); }));
    msgs.push_back(error_of(n, [&] { kv->truncate(0, 6); }));
    msgs.push_back(error_of(n, [&] { kv->length(2); }));
    CHECK(kv->length(0) == 5);  // refused calls changed nothing
    CHECK(kv->length(1) == 0);
    return msgs;
  };
  const auto from_cpu = misuse(*cpu);
  const auto from_fake = misuse(fake);
  REQUIRE(from_cpu.size() == from_fake.size());
  for (size_t i = 0; i < from_cpu.size(); ++i) {
    INFO("misuse " << i);
    CHECK(from_cpu[i] != "no error");
    CHECK(from_cpu[i].rfind("NO PREFIX", 0) != 0);
    CHECK(from_fake[i] == from_cpu[i]);
  }
  CHECK(from_cpu[0].find("position") != std::string::npos);
  CHECK(from_cpu[4].find("capacity") != std::string::npos);
  // new_cache, 2 embeds, 1 good run_layer, 1 more embed: every refused call stopped in the base.
  CHECK(fake.calls == 5);
}
