// model/gguf_writer (eebench make-model): the file loads through load_model() with the shape, types
// and vocabulary asked for, and its bytes equal the regenerated values encoded by the test-only
// encoders of tests/model_writers.h (written independently of the writer).
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "model/gguf_writer.h"
#include "model/model.h"
#include "tests/model_writers.h"
#include "tests/temp_dir.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

// dim 64, hidden 96 (multiples of 32 for Q8_0), 2 layers, 4 heads of 16, 2 kv heads, vocab 300.
const char* kShape = "64,96,2,4,2,300";

// GGUF name -> Hugging Face name over the tensors a model has.
std::map<std::string, std::string> gguf_to_hf(const Model& m) {
  std::map<std::string, std::string> r;
  for (const auto& [hf, t] : m.tensors) r[gguf_name(hf)] = hf;
  return r;
}

}  // namespace

TEST_CASE("make-model GGUF: shape, types, vocabulary and bytes in every dtype", "[weights][gguf_writer]") {
  const RandomModelShape s = random_model_shape(kShape);
  TempDir dir("gguf_writer");
  for (DType dt : {DType::F32, DType::BF16, DType::F16, DType::Q8_0}) {
    INFO(dtype_name(dt));
    const std::string path = dir.str() + "/m.gguf";
    const uint64_t size = write_random_gguf(path, s, dt, 42, 2);
    CHECK(std::filesystem::file_size(path) == size);
    const Model m = load_model(path);  // validates shapes against the config
    CHECK(m.cfg.architecture == "llama");
    CHECK(m.cfg.dim == 64);
    CHECK(m.cfg.hidden_dim == 96);
    CHECK(m.cfg.n_layers == 2);
    CHECK(m.cfg.n_heads == 4);
    CHECK(m.cfg.n_kv_heads == 2);
    CHECK(m.cfg.head_dim == 16);
    CHECK(m.cfg.vocab_size == 300);
    CHECK_FALSE(m.cfg.tied_embeddings);
    CHECK(m.qk_interleaved);
    // 1 embedding + 9 per layer + final norm + LM head.
    CHECK(m.tensors.size() == 1 + 9 * 2 + 2);

    // Vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then distinct normal pieces.
    REQUIRE(m.vocab.tokens.size() == 300);
    CHECK(m.vocab.model == "llama");
    CHECK(m.vocab.tokens[0] == "<unk>");
    CHECK(m.vocab.tokens[1] == "<s>");
    CHECK(m.vocab.tokens[2] == "</s>");
    CHECK(m.vocab.tokens[3 + 0x0A] == "<0x0A>");
    CHECK(m.vocab.tokens[258] == "<0xFF>");
    CHECK(m.vocab.types[0] == 2);
    CHECK(m.vocab.types[1] == 3);
    CHECK(m.vocab.types[100] == 6);
    CHECK(m.vocab.types[299] == 1);
    CHECK(std::set<std::string>(m.vocab.tokens.begin(), m.vocab.tokens.end()).size() == 300);
    CHECK(m.vocab.bos_id == 1);
    CHECK(m.vocab.eos_id == 2);

    const std::vector<RandomTensor> plan = random_model_tensors(s, dt);
    const auto hf = gguf_to_hf(m);
    REQUIRE(hf.size() == plan.size());
    for (size_t i = 0; i < plan.size(); ++i) {
      const RandomTensor& p = plan[i];
      INFO(p.name);
      REQUIRE(hf.count(p.name));
      const TensorInfo& t = m.tensor(hf.at(p.name));
      CHECK(t.dtype == (t.shape.size() == 1 ? DType::F32 : dt));
      // GGUF dims innermost first, PyTorch shapes outermost first.
      CHECK(std::vector<uint64_t>(t.shape.rbegin(), t.shape.rend()) == p.ne);
      std::vector<float> v(p.numel());
      random_tensor_values(42, i, p, 0, v.size(), v.data());
      const std::vector<uint8_t> want = encode(v, t.dtype);  // tests/model_writers.h
      REQUIRE(t.nbytes == want.size());
      CHECK(std::memcmp(t.data, want.data(), want.size()) == 0);
    }
  }
}

TEST_CASE("make-model GGUF: values are N(0, 0.02)-like, norms 1, deterministic per seed", "[weights][gguf_writer]") {
  const RandomModelShape s = random_model_shape(kShape);
  TempDir dir("gguf_writer_stats");
  const std::string a = dir.str() + "/a.gguf", b = dir.str() + "/b.gguf", c = dir.str() + "/c.gguf";
  write_random_gguf(a, s, DType::F32, 5, 1);
  write_random_gguf(b, s, DType::F32, 5, 2);  // another thread count: the same file
  write_random_gguf(c, s, DType::F32, 6, 2);
  CHECK(read_bytes(a) == read_bytes(b));
  CHECK(read_bytes(a) != read_bytes(c));

  const Model m = load_model(a);
  double sum = 0, sum2 = 0, n = 0, amax = 0;
  for (const auto& [name, t] : m.tensors) {
    const std::vector<float> x = m.load_f32(name);
    if (t.shape.size() == 1) {
      for (float f : x) REQUIRE(f == 1.f);
      continue;
    }
    for (float f : x) {
      REQUIRE(std::isfinite(f));
      sum += f, sum2 += double(f) * f, n += 1, amax = std::max(amax, std::fabs(double(f)));
    }
  }
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  CHECK(std::fabs(mean) < 1e-3);
  CHECK(sd == Approx(0.02).epsilon(0.03));
  CHECK(amax <= 0.02 * std::sqrt(12.0) + 1e-6);  // four uniforms: bounded at 2·sqrt(3)·σ
  CHECK(amax > 0.02 * 2.5);                       // but with tails (n is ~100k values)
}

TEST_CASE("make-model shapes: named, custom, and one-line errors", "[gguf_writer]") {
  const RandomModelShape t = random_model_shape("tinyllama-1.1b");
  CHECK(t.dim == 2048);
  CHECK(t.hidden_dim == 5632);
  CHECK(t.n_layers == 22);
  CHECK(t.n_heads == 32);
  CHECK(t.n_kv_heads == 4);
  CHECK(t.vocab_size == 32000);
  const RandomModelShape l = random_model_shape("llama-2-7b");
  CHECK(l.dim == 4096);
  CHECK(l.hidden_dim == 11008);
  CHECK(l.n_kv_heads == 32);
  // The 7B file in BF16: 6.74e9 parameters x 2 bytes, norms f32, plus the header.
  double params = 0, bytes = 0;
  for (const auto& r : random_model_tensors(l, DType::BF16)) params += double(r.numel()), bytes += double(r.nbytes);
  CHECK(params == Approx(6.738e9).epsilon(1e-3));
  CHECK(bytes == Approx(2 * params).epsilon(1e-4));

  auto msg = [](const std::string& spec) {
    try {
      random_model_shape(spec);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(msg("llama-3-8b"), Catch::Contains("unknown model shape 'llama-3-8b'"));
  CHECK_THAT(msg("64,96,2,4,2"), Catch::Contains("unknown model shape"));
  CHECK_THAT(msg("64,96,2,4,2,300,"), Catch::Contains("unknown model shape"));
  CHECK_THAT(msg("64,96,x,4,2,300"), Catch::Contains("layers 'x' is not a positive integer"));
  CHECK_THAT(msg("64,96,0,4,2,300"), Catch::Contains("layers '0' is not a positive integer"));
  CHECK_THAT(msg("64,96,2,5,1,300"), Catch::Contains("not a multiple of heads 5"));
  CHECK_THAT(msg("64,96,2,4,3,300"), Catch::Contains("multiple of kv_heads"));
  CHECK_THAT(msg("64,96,2,4,2,100"), Catch::Contains("vocab must be at least 259"));
  CHECK_THROWS_WITH(random_model_tensors(random_model_shape("64,80,2,4,2,300"), DType::Q8_0),
                    Catch::Contains("ffn_down.weight has rows of 80 values, not a multiple of 32"));
}
