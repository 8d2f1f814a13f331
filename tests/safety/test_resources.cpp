// Host memory check before a model goes on the CPU backend (harness/resources.h), with fake limits.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "harness/resources.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

// Float32 bytes of every weight, counted from the config alone (independent of the tensor map).
uint64_t f32_bytes_from_config(const ModelConfig& c) {
  const uint64_t D = c.dim, H = c.hidden_dim, V = c.vocab_size, q = uint64_t(c.n_heads) * c.head_dim,
                 kv = uint64_t(c.n_kv_heads) * c.head_dim;
  const uint64_t layer = 2 * D + q * D + 2 * kv * D + D * q + 3 * H * D;
  return 4 * (V * D + (c.tied_embeddings ? 0 : V * D) + D + c.n_layers * layer);
}

}  // namespace

TEST_CASE("cpu_backend_bytes counts every weight the CPU backend holds as float32", "[safety][resources]") {
  for (bool tied : {false, true}) {
    ModelConfig c = tiny_config(3, 32, 4, 2, 48, 64);
    c.tied_embeddings = tied;
    const Model m = random_model(c, 3);
    CHECK(cpu_backend_bytes(m) == f32_bytes_from_config(c));
  }
  // Stored as BF16 (half the bytes on disk): the backend still holds float32.
  TempDir dir("resources");
  const Model m = random_model(tiny_config(2, 32, 4, 2, 64, 64), 4);
  write_hf_dir(m, dir / "bf16", DType::BF16);
  const Model loaded = load_model(dir / "bf16");
  CHECK(loaded.stored_bytes() * 2 == f32_bytes_from_config(m.cfg));
  CHECK(cpu_backend_bytes(loaded) == f32_bytes_from_config(m.cfg));
}

TEST_CASE("check_host_memory refuses a model above the limit with both numbers in one line", "[safety][resources]") {
  Model m = random_model(tiny_config(2, 32, 4, 2, 64, 64), 5);
  m.path = "/models/tiny";
  const uint64_t need = cpu_backend_bytes(m);
  CHECK_NOTHROW(check_host_memory(m, need, need));
  CHECK_NOTHROW(check_host_memory(m, need, std::nullopt));  // unknown: refuse nothing
  try {
    check_host_memory(m, need, 4096);  // a fake, tiny machine
    FAIL("no error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.rfind("/models/tiny: ", 0) == 0);
    CHECK(msg.find(std::to_string(need) + " bytes") != std::string::npos);
    CHECK(msg.find("4096 bytes") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

TEST_CASE("host_memory_available reads MemAvailable from a meminfo file", "[safety][resources]") {
  TempDir dir("meminfo");
  write_text(dir / "good", "MemTotal:       16384000 kB\nMemFree:         1000 kB\nMemAvailable:    8192 kB\n");
  write_text(dir / "none", "MemTotal:       16384000 kB\n");
  write_text(dir / "bad", "MemAvailable:    lots\n");
  CHECK(host_memory_available(dir / "good") == std::optional<uint64_t>(8192ull * 1024));
  CHECK_FALSE(host_memory_available(dir / "none").has_value());
  CHECK_FALSE(host_memory_available(dir / "bad").has_value());
  CHECK_FALSE(host_memory_available(dir / "missing").has_value());
  const auto real = host_memory_available();  // this machine, when it has /proc
  if (real) CHECK(*real > 0);
}
