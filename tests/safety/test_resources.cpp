// Host memory check before a model goes on the CPU backend (harness/resources.h), with fake limits.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "harness/resources.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

// Elements of every weight, counted from the config alone (independent of the tensor map): the
// matrices (embedding, LM head unless tied, linear weights) and the vectors (norm weights).
uint64_t matrix_elements(const ModelConfig& c) {
  const uint64_t D = c.dim, H = c.hidden_dim, V = c.vocab_size, q = uint64_t(c.n_heads) * c.head_dim,
                 kv = uint64_t(c.n_kv_heads) * c.head_dim;
  return V * D * (c.tied_embeddings ? 1 : 2) + c.n_layers * (q * D + 2 * kv * D + D * q + 3 * H * D);
}
uint64_t vector_elements(const ModelConfig& c) { return c.dim + c.n_layers * 2 * uint64_t(c.dim); }
uint64_t f32_bytes_from_config(const ModelConfig& c) { return 4 * (matrix_elements(c) + vector_elements(c)); }

}  // namespace

TEST_CASE("cpu_backend_bytes counts the weights as the CPU backend holds them", "[safety][resources]") {
  const ModelConfig c0 = tiny_config(3, 32, 4, 2, 48, 64);
  const uint64_t extra = cpu_kv_scratch_bytes(c0);
  // At least a float32 KV cache of kEstimateContext positions (or max_seq_len) in every layer.
  CHECK(extra >= 2ull * 4 * std::min(c0.max_seq_len, kEstimateContext) * c0.n_kv_heads * c0.head_dim * c0.n_layers);
  for (bool tied : {false, true}) {
    ModelConfig c = c0;
    c.tied_embeddings = tied;
    const Model m = random_model(c, 3);  // float32 in memory: held in place, vectors copied
    for (const char* dt : {"auto", "f32"})
      CHECK(cpu_backend_bytes(m, dt) == f32_bytes_from_config(c) + 4 * vector_elements(c) + extra);
    // bf16: each matrix converted once (2 bytes an element) beside the float32 it came from.
    CHECK(cpu_backend_bytes(m, "bf16") == f32_bytes_from_config(c) + 2 * matrix_elements(c) + 4 * vector_elements(c) + extra);
  }
  // Stored as BF16: held as stored (half the float32 bytes) unless converted.
  TempDir dir("resources");
  const Model m = random_model(tiny_config(2, 32, 4, 2, 64, 64), 4);
  write_hf_dir(m, dir / "bf16", DType::BF16);
  const Model loaded = load_model(dir / "bf16");
  const ModelConfig& c = m.cfg;
  const uint64_t stored = 2 * (matrix_elements(c) + vector_elements(c)), kv = cpu_kv_scratch_bytes(c);
  CHECK(loaded.stored_bytes() == stored);
  CHECK(cpu_backend_bytes(loaded, "auto") == stored + 4 * vector_elements(c) + kv);
  CHECK(cpu_backend_bytes(loaded, "bf16") == stored + 4 * vector_elements(c) + kv);
  CHECK(cpu_backend_bytes(loaded, "f32") == stored + 4 * matrix_elements(c) + 4 * vector_elements(c) + kv);
  CHECK_THROWS_WITH(cpu_backend_bytes(loaded, "int4"), Catch::Contains("dtype 'int4' is not supported"));
}

TEST_CASE("check_host_memory refuses a model above the limit with both numbers in one line", "[safety][resources]") {
  Model m = random_model(tiny_config(2, 32, 4, 2, 64, 64), 5);
  m.path = "/models/tiny";
  const uint64_t need = cpu_backend_bytes(m, "auto");
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
