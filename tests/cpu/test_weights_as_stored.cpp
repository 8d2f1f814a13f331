// The CPU backend over weights as stored (backends/cpu/cpu_weights.h): BF16 / F16 safetensors and
// Q8_0 GGUF files run in their own type (--dtype auto), against the float64 reference of
// tests/cpu/reference.h over the same stored values (decoded by the reference itself); --dtype
// conversions; what the backend reports it holds; tensors it cannot hold.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "backends/registry.h"
#include "core/error.h"
#include "tests/cpu/reference.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

// Next-token log-probabilities at every position of `tokens` and the row's argmax.
struct Scores {
  std::vector<double> logprob;
  std::vector<int32_t> argmax;
  std::vector<double> margin;  // reference only: top-1 minus top-2 log-probability
};

Scores backend_scores(Backend& b, const std::vector<int32_t>& tokens) {
  const int n = static_cast<int>(tokens.size());
  auto kv = b.new_cache(n);
  auto h = b.embed(tokens, 0);
  run_layers(b, 0, b.config().n_layers, *h, *kv);
  Scores s;
  s.logprob.resize(n - 1);
  s.argmax.resize(n - 1);
  const std::vector<int32_t> targets(tokens.begin() + 1, tokens.end());
  b.token_logprobs(*h, 0, targets, s.logprob.data(), s.argmax.data());
  return s;
}

Scores reference_scores(const Model& m, const std::vector<int32_t>& tokens) {
  const RefModel ref(m);
  const int n = static_cast<int>(tokens.size()), V = m.cfg.vocab_size;
  const auto hs = ref_hiddens(ref, tokens, all_layers(m.cfg.n_layers));
  const Vec lg = ref_logits(ref, hs.back(), n);
  Scores s;
  for (int r = 0; r + 1 < n; ++r) {
    const double* p = &lg[static_cast<size_t>(r) * V];
    const double mx = *std::max_element(p, p + V);
    double z = 0;
    for (int i = 0; i < V; ++i) z += std::exp(p[i] - mx);
    s.logprob.push_back(p[tokens[r + 1]] - mx - std::log(z));
    std::vector<double> sorted(p, p + V);
    std::sort(sorted.rbegin(), sorted.rend());
    s.argmax.push_back(static_cast<int32_t>(std::max_element(p, p + V) - p));
    s.margin.push_back(sorted[0] - sorted[1]);
  }
  return s;
}

// The accuracy rule: log-likelihoods within `bound` nats of the reference, and the same
// top-1 token wherever the reference's margin exceeds 0.05 nats.
void check_scores(const Scores& got, const Scores& want, double bound) {
  REQUIRE(got.logprob.size() == want.logprob.size());
  double worst = 0;
  int decided = 0;
  for (size_t i = 0; i < want.logprob.size(); ++i) {
    INFO("position " << i << ": " << got.logprob[i] << " vs reference " << want.logprob[i]);
    worst = std::max(worst, std::abs(got.logprob[i] - want.logprob[i]));
    CHECK(std::abs(got.logprob[i] - want.logprob[i]) <= bound);
    if (want.margin[i] > 0.05) {
      ++decided;
      CHECK(got.argmax[i] == want.argmax[i]);
    }
  }
  CHECK(decided > 0);  // the argmax rule was exercised
  UNSCOPED_INFO("max |log p - reference| = " << worst);
}

// Matrices the backend holds, counted from the config: embedding, LM head unless tied, 7 per layer.
int64_t matrix_count(const ModelConfig& c) { return (c.tied_embeddings ? 1 : 2) + 7 * int64_t(c.n_layers); }
uint64_t matrix_elements(const ModelConfig& c) {
  const uint64_t D = c.dim, H = c.hidden_dim, V = c.vocab_size, q = uint64_t(c.n_heads) * c.head_dim,
                 kv = uint64_t(c.n_kv_heads) * c.head_dim;
  return V * D * (c.tied_embeddings ? 1 : 2) + c.n_layers * (2 * q * D + 2 * kv * D + 3 * H * D);
}

// m with every matrix (2-D tensor) decoded by the reference and re-encoded as `dt` by the test's
// writer (round to nearest even): the weights a --dtype conversion should produce. Vectors, row
// order and flags stay.
Model rounded(const Model& m, DType dt) {
  Model out = m;
  for (auto& [name, t] : out.tensors) {
    if (t.shape.size() != 2) continue;
    const Vec v = RefModel::get(m, name);
    auto buf = std::make_shared<std::vector<uint8_t>>(encode(std::vector<float>(v.begin(), v.end()), dt));
    t.dtype = dt, t.data = buf->data(), t.nbytes = buf->size();
    out.keepalive.push_back(buf);
  }
  return out;
}

// A random model whose tied LM head has a trained model's logit scale. random_model draws the
// embedding N(0, 1); used as the LM head over unit-RMS rows that gives logits of std sqrt(dim) = 8
// and log-probabilities near -40, far outside what a trained model produces, and the error of
// bf16-rounded activations (the oneDNN prefill path) grows with the logit scale. Scaling the
// embedding by 1/sqrt(dim) gives logits of std 1, as the untied LM head has.
Model random_model_for(const ModelConfig& c, uint64_t seed) {
  Model m = random_model(c, seed);
  if (!c.tied_embeddings) return m;
  TensorInfo& e = m.tensors.at(kEmbed);
  auto buf = std::make_shared<std::vector<float>>(m.load_f32(kEmbed));
  for (float& x : *buf) x /= std::sqrt(static_cast<float>(c.dim));
  e.data = reinterpret_cast<const uint8_t*>(buf->data());
  m.keepalive.push_back(buf);
  return m;
}

ModelConfig test_config(bool tied = false, int hidden = 96) {
  ModelConfig c = tiny_config(2, 64, 4, 2, hidden, 128);
  c.tied_embeddings = tied;
  return c;
}

}  // namespace

TEST_CASE("BF16 and F16 safetensors run as stored and match a float64 reference over the same weights",
          "[cpu][weights]") {
  TempDir dir("stored16");
  for (bool tied : {false, true}) {
    const Model src = random_model_for(test_config(tied), 11);
    const auto tokens = random_tokens(24, src.cfg.vocab_size, 5);
    for (DType dt : {DType::BF16, DType::F16}) {
      INFO(dtype_name(dt) << (tied ? ", tied embeddings" : ""));
      const std::string path = dir / (std::string(dtype_name(dt)) + (tied ? "_tied" : ""));
      write_hf_dir(src, path, dt);
      const Model m = load_model(path);
      auto b = make_backend("cpu", m, BackendOptions{.threads = 2, .dtype = "auto"});
      const std::string name = dt == DType::BF16 ? "bf16" : "f16";
      CHECK(b->dtype() == name);
      const auto held = b->held_weights();
      REQUIRE(held.size() == 1);
      CHECK(held.at(name).tensors == matrix_count(m.cfg));
      CHECK(held.at(name).bytes == 2 * matrix_elements(m.cfg));
      check_scores(backend_scores(*b, tokens), reference_scores(m, tokens), 0.02);
    }
  }
}

// Q8_0 bound: the reference runs over the dequantised weights, so what is left is the kernels'
// arithmetic. 0.05 nats leaves room for a kernel that also rounds the activations to 8 bits per
// 32-value block (as llama.cpp's Q8_0 dot products and AMX INT8 tiles do: a relative error of
// about 2^-8 per product), where float32 activations stay far inside 0.02.
TEST_CASE("Q8_0 GGUF runs as stored and matches a float64 reference over the dequantised weights",
          "[cpu][weights]") {
  TempDir dir("storedq8");
  // hidden 96: every matrix is Q8_0. hidden 80: down_proj rows (80) are not whole Q8_0 blocks, so
  // the writer stores them as F16, as llama.cpp's converter does: a file of two types.
  for (int hidden : {96, 80}) {
    INFO("hidden " << hidden);
    const Model src = random_model(test_config(false, hidden), 12);
    const std::string path = dir / ("q8_" + std::to_string(hidden) + ".gguf");
    write_gguf(src, path, DType::Q8_0);
    const Model m = load_model(path);
    REQUIRE(m.qk_interleaved);  // the Q/K rows as llama.cpp stores them
    auto b = make_backend("cpu", m, BackendOptions{.threads = 2});  // default: auto
    const auto held = b->held_weights();
    const auto& c = m.cfg;
    if (hidden == 96) {
      CHECK(b->dtype() == "q8_0");
      REQUIRE(held.size() == 1);
      CHECK(held.at("q8_0").tensors == matrix_count(c));
      CHECK(held.at("q8_0").bytes == matrix_elements(c) / 32 * 34);
    } else {
      CHECK(b->dtype() == "q8_0+f16");
      REQUIRE(held.size() == 2);
      CHECK(held.at("f16").tensors == c.n_layers);
      CHECK(held.at("f16").bytes == 2ull * c.n_layers * c.dim * c.hidden_dim);
      CHECK(held.at("q8_0").tensors == matrix_count(c) - c.n_layers);
    }
    const auto tokens = random_tokens(24, c.vocab_size, 6);
    check_scores(backend_scores(*b, tokens), reference_scores(m, tokens), 0.05);
  }
}

TEST_CASE("llama2.c files (F32, interleaved Q/K rows) run without a repacked copy", "[cpu][weights]") {
  TempDir dir("storedl2c");
  const Model src = random_model(test_config(), 13);
  write_llama2c(src, dir / "m.bin");
  const Model m = load_model(dir / "m.bin");
  REQUIRE(m.qk_interleaved);
  auto b = make_backend("cpu", m, BackendOptions{.threads = 2});
  CHECK(b->dtype() == "f32");
  CHECK(b->held_weights().at("f32").bytes == 4 * matrix_elements(m.cfg));
  const auto tokens = random_tokens(20, m.cfg.vocab_size, 7);
  const Scores got = backend_scores(*b, tokens), want = reference_scores(m, tokens);
  for (size_t i = 0; i < want.logprob.size(); ++i) CHECK(std::abs(got.logprob[i] - want.logprob[i]) <= 1e-4);
}

TEST_CASE("dtype conversions (--dtype) convert every matrix once into the type asked for", "[cpu][weights]") {
  TempDir dir("storedconv");
  const Model src = random_model(test_config(), 14);
  const auto tokens = random_tokens(20, src.cfg.vocab_size, 8);
  write_hf_dir(src, dir / "bf16", DType::BF16);
  const Model m = load_model(dir / "bf16");

  // f32 from BF16: the same values widened exactly, so float32 arithmetic over the BF16 values: the
  // float64 reference over them to 1e-4 (BF16 held as stored rounds the prefill activations to bf16
  // and is held to the 0.02 of the test above).
  auto as_f32 = make_backend("cpu", m, BackendOptions{.threads = 2, .dtype = "f32"});
  CHECK(as_f32->dtype() == "f32");
  CHECK(as_f32->held_weights().at("f32").bytes == 4 * matrix_elements(m.cfg));
  auto as_stored = make_backend("cpu", m, BackendOptions{.threads = 2, .dtype = "auto"});
  const Scores ref = reference_scores(m, tokens), a = backend_scores(*as_f32, tokens);
  for (size_t i = 0; i < a.logprob.size(); ++i) CHECK(std::abs(a.logprob[i] - ref.logprob[i]) <= 1e-4);
  check_scores(backend_scores(*as_stored, tokens), ref, 0.02);

  // bf16 / f16 from float32: the reference runs over the float32 matrices rounded by the test.
  for (DType dt : {DType::BF16, DType::F16}) {
    const std::string name = dt == DType::BF16 ? "bf16" : "f16";
    INFO("--dtype " << name);
    auto b = make_backend("cpu", src, BackendOptions{.threads = 2, .dtype = name});
    CHECK(b->dtype() == name);
    CHECK(b->held_weights().at(name).bytes == 2 * matrix_elements(src.cfg));
    check_scores(backend_scores(*b, tokens), reference_scores(rounded(src, dt), tokens), 0.02);
  }
  // Q8_0 to bf16: dequantised, then rounded (Q/K rows stay in the file's interleaved order).
  write_gguf(src, dir / "q8.gguf", DType::Q8_0);
  const Model q8 = load_model(dir / "q8.gguf");
  auto q = make_backend("cpu", q8, BackendOptions{.threads = 2, .dtype = "bf16"});
  CHECK(q->dtype() == "bf16");
  check_scores(backend_scores(*q, tokens), reference_scores(rounded(q8, DType::BF16), tokens), 0.02);

  CHECK_THROWS_WITH(make_backend("cpu", m, BackendOptions{.dtype = "q4_0"}),
                    Catch::Contains("dtype 'q4_0' is not supported"));
}

TEST_CASE("weights the CPU backend cannot hold: one-line errors naming the tensor and the file", "[cpu][weights][bad]") {
  auto message = [](const Model& m, const std::string& dtype) {
    try {
      make_backend("cpu", m, BackendOptions{.dtype = dtype});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // A value F16 cannot represent: refused, not turned into infinity.
  Model big = random_model(test_config(), 15);
  const std::string wq = "model.layers.1.self_attn.q_proj.weight";
  auto buf = std::make_shared<std::vector<float>>(big.load_f32(wq));
  (*buf)[3] = 1e5f;
  big.tensors[wq].data = reinterpret_cast<const uint8_t*>(buf->data());
  big.keepalive.push_back(buf);
  big.tensors[wq].file = "/models/big.safetensors";
  std::string msg = message(big, "f16");
  CHECK(msg.rfind("/models/big.safetensors: tensor " + wq + ": values beyond the F16 range", 0) == 0);
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(message(big, "bf16") == "no error");

  // A Q8_0 matrix whose rows are not whole 32-value blocks (a model built in memory: the GGUF
  // loader refuses such files itself, see tests/model).
  Model odd = random_model(tiny_config(1, 48, 4, 2, 64, 64), 16);
  TensorInfo& e = odd.tensors.at(kEmbed);
  auto q8 = std::make_shared<std::vector<uint8_t>>(encode(odd.load_f32(kEmbed), DType::Q8_0));
  e.dtype = DType::Q8_0, e.data = q8->data(), e.nbytes = q8->size(), e.file = "/models/odd.gguf";
  odd.keepalive.push_back(q8);
  msg = message(odd, "auto");
  CHECK(msg == "/models/odd.gguf: tensor model.embed_tokens.weight: Q8_0 rows of 48 values are not a whole number of "
               "32-value blocks");
}
