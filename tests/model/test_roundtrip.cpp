// Round trips: random model -> each writer (tests/model_writers.h) -> load_model() -> load_f32(),
// compared with the original within tolerances derived here from the number formats.
#include <cmath>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "model/model.h"
#include "core/error.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

Model small_model(bool tied = false, int hidden = 64, uint64_t seed = 7) {
  ModelConfig c = tiny_config(2, 32, 4, 2, hidden, 64);
  c.tied_embeddings = tied;
  return random_model(c, seed);
}

// Largest allowed |loaded - original| for element i of x stored as `dt` (rows of `cols` values).
double tolerance(DType dt, const std::vector<float>& x, size_t i, size_t cols) {
  const double a = std::fabs(double(x[i]));
  switch (dt) {
    case DType::F32: return 0;
    case DType::F16: return a * std::ldexp(1.0, -11) + std::ldexp(1.0, -25);  // half an ulp; subnormal step 2^-24
    case DType::BF16: return a * std::ldexp(1.0, -8);
    case DType::Q8_0: {  // half a quantisation step, plus the step itself being rounded to half
      const size_t row = i / cols, b = (i % cols) / 32 * 32;
      double amax = 0;
      for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(double(x[row * cols + b + j])));
      const double d = amax / 127;
      return d * 0.5 + 127 * d * std::ldexp(1.0, -11) + 1e-7 * amax;
    }
  }
  return 0;
}

// Every tensor of `orig` (but a tied lm_head) equals `loaded` within the stored dtype's tolerance.
void require_same_weights(const Model& orig, const Model& loaded) {
  for (const auto& [name, t] : orig.tensors) {
    if (orig.cfg.tied_embeddings && name == kLmHead) continue;
    INFO("tensor " << name);
    const std::vector<float> a = orig.load_f32(name), b = loaded.load_f32(name);
    REQUIRE(loaded.tensor(name).shape == t.shape);
    REQUIRE(a.size() == b.size());
    const DType dt = loaded.tensor(name).dtype;
    const size_t cols = t.shape.size() == 2 ? size_t(t.shape[1]) : a.size();
    size_t bad = 0;
    for (size_t i = 0; i < a.size(); ++i)
      if (!(std::fabs(double(a[i]) - double(b[i])) <= tolerance(dt, a, i, cols))) ++bad;
    CHECK(bad == 0);
  }
}

void require_config(const ModelConfig& a, const ModelConfig& b) {
  CHECK(a.dim == b.dim);
  CHECK(a.hidden_dim == b.hidden_dim);
  CHECK(a.n_layers == b.n_layers);
  CHECK(a.n_heads == b.n_heads);
  CHECK(a.n_kv_heads == b.n_kv_heads);
  CHECK(a.head_dim == b.head_dim);
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.max_seq_len == b.max_seq_len);
  CHECK(a.tied_embeddings == b.tied_embeddings);
  CHECK(a.rope_theta == Approx(b.rope_theta));
  CHECK(a.norm_eps == Approx(b.norm_eps));
}

}  // namespace

TEST_CASE("half and bfloat16 conversions match known bit patterns", "[weights]") {
  CHECK(f32_to_f16(1.0f) == 0x3c00);
  CHECK(f32_to_f16(-2.0f) == 0xc000);
  CHECK(f32_to_f16(65504.f) == 0x7bff);
  CHECK(f32_to_f16(65520.f) == 0x7c00);            // ties away from the largest finite to infinity
  CHECK(f32_to_f16(std::ldexp(1.f, -24)) == 0x0001);  // smallest subnormal
  CHECK(f32_to_f16(std::ldexp(1.f, -14)) == 0x0400);  // smallest normal
  CHECK(f32_to_f16(1.0f + std::ldexp(1.f, -11)) == 0x3c00);                        // tie -> even
  CHECK(f32_to_f16(1.0f + 3 * std::ldexp(1.f, -11)) == 0x3c02);                    // tie -> even (up)
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(f32_to_bf16(1.0f + std::ldexp(1.f, -8)) == 0x3f80);      // tie -> even
  CHECK(f32_to_bf16(1.0f + 3 * std::ldexp(1.f, -8)) == 0x3f82);  // tie -> even (up)
  // The loader's decoding (via load_f32 on an in-memory F16/BF16 tensor) of the same patterns.
  Model m;
  m.path = "<memory>";
  const uint16_t bits[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x3555, 0x3f80, 0xbfc0};
  auto buf = std::make_shared<std::vector<uint16_t>>(bits, bits + 8);
  TensorInfo t;
  t.name = "x";
  t.dtype = DType::F16;
  t.shape = {6};
  t.data = reinterpret_cast<const uint8_t*>(buf->data());
  t.nbytes = 12;
  m.tensors["x"] = t;
  t.dtype = DType::BF16;
  t.shape = {2};
  t.data += 12;
  t.nbytes = 4;
  m.tensors["y"] = t;
  m.keepalive.push_back(buf);
  const auto x = m.load_f32("x"), y = m.load_f32("y");
  CHECK(x == std::vector<float>{1.f, -2.f, 65504.f, std::ldexp(1.f, -24), std::ldexp(1.f, -14), 0.25f * (1 + 341 / 1024.f)});
  CHECK(y == std::vector<float>{1.f, -1.5f});
}

TEST_CASE("HF safetensors round trip in F32, F16 and BF16", "[weights]") {
  const Model orig = small_model();
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    INFO("dtype " << dtype_name(dt));
    TempDir dir;
    write_hf_dir(orig, dir / "m", dt);
    const Model m = load_model(dir / "m");
    CHECK(m.format == "hf");
    CHECK_FALSE(m.qk_interleaved);
    require_config(orig.cfg, m.cfg);
    CHECK(m.tensor(kEmbed).dtype == dt);
    CHECK(m.tokenizer_model_path.empty());
    require_same_weights(orig, m);
  }
}

TEST_CASE("sharded HF directory loads the same as a single file", "[weights]") {
  const Model orig = small_model(true);
  TempDir dir;
  write_hf_dir(orig, dir / "one", DType::F32);
  write_hf_dir(orig, dir / "three", DType::F32, 3);
  CHECK(std::filesystem::exists(dir / "three/model-00002-of-00003.safetensors"));
  const Model a = load_model(dir / "one"), b = load_model(dir / "three");
  CHECK(b.files.size() == 3);
  CHECK(b.cfg.tied_embeddings);
  CHECK(b.tensors.count(kLmHead) == 0);
  require_same_weights(orig, b);
  CHECK(a.weights_checksum == b.weights_checksum);  // same names, dtypes, shapes and bytes
}

TEST_CASE("GGUF round trip in every dtype, versions 2 and 3", "[weights]") {
  for (bool tied : {false, true}) {
    const Model orig = small_model(tied, 48);  // 48: down_proj rows fall back to F16 under Q8_0
    for (DType dt : {DType::F32, DType::F16, DType::BF16, DType::Q8_0})
      for (int version : {2, 3}) {
        INFO("dtype " << dtype_name(dt) << " version " << version << " tied " << tied);
        TempDir dir;
        write_gguf(orig, dir / "m.gguf", dt, version);
        const Model m = load_model(dir / "m.gguf");
        CHECK(m.format == "gguf");
        CHECK(m.qk_interleaved);
        require_config(orig.cfg, m.cfg);
        CHECK(m.tensors.count(kLmHead) == (tied ? 0u : 1u));
        CHECK(m.tensor(tn_layer(0, "self_attn.q_proj.weight")).dtype == dt);
        if (dt == DType::Q8_0) {
          CHECK(m.tensor(tn_layer(0, "mlp.down_proj.weight")).dtype == DType::F16);
          CHECK(m.tensor(kFinalNorm).dtype == DType::F32);
        }
        require_same_weights(orig, m);
      }
  }
}

TEST_CASE("HF and GGUF files of the same weights load identically", "[weights]") {
  const Model orig = small_model();
  TempDir dir;
  write_hf_dir(orig, dir / "hf", DType::F32);
  write_gguf(orig, dir / "m.gguf", DType::F32);
  const Model hf = load_model(dir / "hf"), gg = load_model(dir / "m.gguf");
  REQUIRE(hf.tensors.size() == gg.tensors.size());
  for (const auto& [name, t] : hf.tensors) {
    INFO(name);
    CHECK(hf.load_f32(name) == gg.load_f32(name));
  }
  // The stored Q rows really are permuted: the raw bytes differ from HF's.
  const auto& q = gg.tensor(tn_layer(0, "self_attn.q_proj.weight"));
  CHECK(std::memcmp(q.data, hf.tensor(q.name).data, q.nbytes) != 0);
}

TEST_CASE("llama2.c round trip, shared and separate classifier", "[weights]") {
  for (bool tied : {true, false}) {
    INFO("tied " << tied);
    const Model orig = small_model(tied);
    TempDir dir;
    write_llama2c(orig, dir / "m.bin");
    const Model m = load_model(dir / "m.bin");
    CHECK(m.format == "llama2c");
    CHECK(m.qk_interleaved);
    require_config(orig.cfg, m.cfg);
    CHECK(m.tensors.count(kLmHead) == (tied ? 0u : 1u));
    require_same_weights(orig, m);
  }
}

TEST_CASE("llama2.c version 1 export loads", "[weights]") {
  // Written here per export.py version1_export: 256-byte header, norms first, no freq_cis.
  const Model orig = small_model(false);
  const auto& c = orig.cfg;
  std::vector<float> f;
  auto add = [&](const std::string& n) {
    auto x = interleaved_f32(orig, n);
    f.insert(f.end(), x.begin(), x.end());
  };
  auto per_layer = [&](const char* s) {
    for (int l = 0; l < c.n_layers; ++l) add(tn_layer(l, s));
  };
  per_layer("input_layernorm.weight");
  per_layer("post_attention_layernorm.weight");
  add(kFinalNorm);
  add(kEmbed);
  for (const char* s : {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                        "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.down_proj.weight", "mlp.up_proj.weight"})
    per_layer(s);
  add(kLmHead);
  std::vector<uint8_t> out(256 + f.size() * 4, 0);
  const int32_t hdr[9] = {0x616b3432, 1, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.max_seq_len};
  std::memcpy(out.data(), hdr, sizeof hdr);
  out[36] = 0;  // separate classifier
  std::memcpy(out.data() + 256, f.data(), f.size() * 4);
  TempDir dir;
  write_bytes(dir / "v1.bin", out);
  const Model m = load_model(dir / "v1.bin");
  require_config(orig.cfg, m.cfg);
  require_same_weights(orig, m);
}

TEST_CASE("GGUF embedded vocabulary round trip", "[weights]") {
  const Model orig = small_model();
  EmbeddedVocab v;
  for (int i = 0; i < orig.cfg.vocab_size; ++i) {
    v.tokens.push_back(i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "\xe2\x96\x81tok" + std::to_string(i));
    v.scores.push_back(-0.5f * i);
    v.types.push_back(i == 0 ? 2 : i < 3 ? 3 : 1);
  }
  v.add_dummy_prefix = false;
  v.bos_id = 1, v.eos_id = 2, v.unk_id = 0;
  TempDir dir;
  write_gguf(orig, dir / "v.gguf", DType::F16, 3, &v);
  const Model m = load_model(dir / "v.gguf");
  CHECK(m.vocab.model == "llama");
  CHECK(m.vocab.tokens == v.tokens);
  CHECK(m.vocab.scores == v.scores);
  CHECK(m.vocab.types == v.types);
  CHECK(m.vocab.add_dummy_prefix == false);
  CHECK(m.vocab.bos_id == 1);
  CHECK(m.vocab.eos_id == 2);
  CHECK(m.cfg.bos_id == 1);
}

TEST_CASE("weights checksum is stable and sees a one-byte change", "[weights]") {
  const Model orig = small_model();
  TempDir dir;
  write_gguf(orig, dir / "a.gguf", DType::F16);
  const Model a1 = load_model(dir / "a.gguf"), a2 = load_model(dir / "a.gguf");
  CHECK(a1.weights_checksum.size() == 16);
  CHECK(a1.weights_checksum == a2.weights_checksum);
  // Flip one byte of the last tensor's data (the file's last bytes are tensor data or padding).
  auto bytes = read_bytes(dir / "a.gguf");
  const auto& t = a1.tensor(kEmbed);
  const size_t at = size_t(t.data - a1.files[0]->data()) + 5;
  bytes[at] ^= 0x01;
  write_bytes(dir / "b.gguf", bytes);
  const Model b = load_model(dir / "b.gguf");
  CHECK(b.weights_checksum != a1.weights_checksum);
  // Different formats of the same weights hash differently only through dtype/bytes: F32 HF vs F32 GGUF
  // differ because GGUF stores Q/K permuted.
  write_hf_dir(orig, dir / "hf", DType::F32);
  write_hf_dir(orig, dir / "hf2", DType::F32, 2);
  CHECK(load_model(dir / "hf").weights_checksum == load_model(dir / "hf2").weights_checksum);
}

TEST_CASE("validate_model accepts a random model and names the shape problem", "[weights]") {
  Model m = small_model();
  m.format = "hf";
  REQUIRE_NOTHROW(validate_model(m));
  m.tensors[tn_layer(1, "self_attn.k_proj.weight")].shape = {8, 32};
  try {
    validate_model(m);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "<memory>: tensor model.layers.1.self_attn.k_proj.weight has shape [8, 32], config.json implies [16, 32]");
  }
  m = small_model();
  m.cfg.n_kv_heads = 3;
  CHECK_THROWS_WITH(validate_model(m), Catch::Contains("not a multiple of the key/value head count"));
  m = small_model();
  m.cfg.n_layers = 5000;
  CHECK_THROWS_WITH(validate_model(m), Catch::Contains("layer count 5000"));
  m = small_model();
  m.cfg.dim = 1 << 21;
  CHECK_THROWS_WITH(validate_model(m), Catch::Contains("hidden size"));
  m = small_model();
  CHECK_THROWS_WITH(m.tensor("nope"), Catch::Contains("missing tensor nope"));
}
