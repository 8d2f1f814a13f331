// The model files in ../shared/data/models load with the expected hyper-parameters, and
// independent properties of those files (RoPE tables, vocab entries, RoPE invariance) hold.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "model/model.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"
#include "tests/test_data.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

std::string model_path(const std::string& rel) { return shared_data() + "/models/" + rel; }

// Every tensor of a equals the same tensor of b after load_f32 (bit-exact).
void require_identical(const Model& a, const Model& b) {
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    INFO(name);
    CHECK(a.load_f32(name) == b.load_f32(name));
  }
}

// Attention logit q(p)·k(s) for one head, computed with float64 loops from the weight rows.
// interleaved: RoPE rotates pairs (2i, 2i+1); otherwise rotate-half pairs (i, i + hd/2).
double rope_score(const std::vector<float>& wq, const std::vector<float>& wk, const std::vector<double>& x,
                  int hd, int p, int s, bool interleaved) {
  const size_t in = x.size();
  auto project = [&](const std::vector<float>& w, int pos) {
    std::vector<double> v(hd);
    for (int r = 0; r < hd; ++r)
      for (size_t c = 0; c < in; ++c) v[r] += double(w[r * in + c]) * x[c];
    for (int i = 0; i < hd / 2; ++i) {
      const double a = pos * std::pow(10000.0, -2.0 * i / hd);
      const int r0 = interleaved ? 2 * i : i, r1 = interleaved ? 2 * i + 1 : i + hd / 2;
      const double v0 = v[r0], v1 = v[r1];
      v[r0] = v0 * std::cos(a) - v1 * std::sin(a);
      v[r1] = v0 * std::sin(a) + v1 * std::cos(a);
    }
    return v;
  };
  const auto q = project(wq, p), k = project(wk, s);
  double dot = 0;
  for (int r = 0; r < hd; ++r) dot += q[r] * k[r];
  return dot;
}

}  // namespace

TEST_CASE("load_f32 undoes the interleaved Q/K order so rotate-half RoPE gives the same scores", "[weights]") {
  // Stored rows are random (not produced by a writer); the invariant is that interleaved RoPE on the
  // stored rows and rotate-half RoPE on load_f32's rows give identical attention logits.
  const int hd = 8, in = 5;
  std::mt19937_64 rng(3);
  std::normal_distribution<float> nd;
  Model m;
  m.path = "<memory>";
  m.cfg.head_dim = hd;
  m.qk_interleaved = true;
  std::vector<std::vector<float>> stored;
  for (const char* n : {"self_attn.q_proj.weight", "self_attn.k_proj.weight"}) {
    auto buf = std::make_shared<std::vector<float>>(hd * in);
    for (auto& v : *buf) v = nd(rng);
    stored.push_back(*buf);
    TensorInfo t;
    t.name = tn_layer(0, n);
    t.shape = {hd, in};
    t.data = reinterpret_cast<const uint8_t*>(buf->data());
    t.nbytes = buf->size() * 4;
    m.tensors[t.name] = t;
    m.keepalive.push_back(buf);
  }
  const auto wq = m.load_f32(tn_layer(0, "self_attn.q_proj.weight"));
  const auto wk = m.load_f32(tn_layer(0, "self_attn.k_proj.weight"));
  // Row mapping spelled out: HF row i <- stored 2i, HF row hd/2 + i <- stored 2i + 1.
  for (int i = 0; i < hd / 2; ++i)
    for (int c = 0; c < in; ++c) {
      CHECK(wq[i * in + c] == stored[0][2 * i * in + c]);
      CHECK(wq[(hd / 2 + i) * in + c] == stored[0][(2 * i + 1) * in + c]);
    }
  std::vector<double> x(in);
  for (auto& v : x) v = nd(rng);
  for (auto [p, s] : {std::pair{0, 0}, {3, 1}, {17, 9}, {100, 2}}) {
    const double want = rope_score(stored[0], stored[1], x, hd, p, s, true);
    CHECK(rope_score(wq, wk, x, hd, p, s, false) == Approx(want).margin(1e-12));
  }
}

TEST_CASE("shared sst-lm-12L Hugging Face model loads", "[weights][data]") {
  SKIP_WITHOUT_DATA();
  const Model m = load_model(model_path("sst-lm-12L"));
  CHECK(m.format == "hf");
  CHECK(m.cfg.n_layers == 12);
  CHECK(m.cfg.dim == 128);
  CHECK(m.cfg.n_heads == 4);
  CHECK(m.cfg.n_kv_heads == 2);
  CHECK(m.cfg.head_dim == 32);
  CHECK(m.cfg.hidden_dim == 344);
  CHECK(m.cfg.vocab_size == 2048);
  CHECK(m.cfg.max_seq_len == 512);
  CHECK(m.cfg.norm_eps == Approx(1e-5f));
  CHECK_FALSE(m.cfg.tied_embeddings);
  CHECK_FALSE(m.qk_interleaved);
  CHECK(m.tensors.count(kLmHead) == 1);
  CHECK(m.tokenizer_model_path == model_path("sst-lm-12L") + "/tokenizer.model");
  CHECK(m.weights_checksum == load_model(model_path("sst-lm-12L")).weights_checksum);
  // Trained norm weights are finite and not all equal.
  const auto norm = m.load_f32(kFinalNorm);
  for (float v : norm) REQUIRE(std::isfinite(v));
  CHECK(*std::max_element(norm.begin(), norm.end()) > *std::min_element(norm.begin(), norm.end()));
}

TEST_CASE("shared stories260K llama2.c model loads", "[weights][data]") {
  SKIP_WITHOUT_DATA();
  const std::string path = model_path("stories260K/stories260K.bin");
  const Model m = load_model(path);
  const auto& c = m.cfg;
  CHECK(m.format == "llama2c");
  CHECK(c.dim == 64);
  CHECK(c.hidden_dim == 172);
  CHECK(c.n_layers == 5);
  CHECK(c.n_heads == 8);
  CHECK(c.n_kv_heads == 4);
  CHECK(c.head_dim == 8);
  CHECK(c.vocab_size == 512);
  CHECK(c.max_seq_len == 512);
  CHECK(c.tied_embeddings);
  CHECK(c.norm_eps == Approx(1e-5f));
  CHECK(m.qk_interleaved);
  CHECK(m.tensors.count(kLmHead) == 0);
  // Independent layout check: the region the loader skips as freq_cis holds cos(pos * theta_i)
  // right after rms_final, which only lines up if every tensor before it was sized correctly.
  const auto& fin = m.tensor(kFinalNorm);
  const float* freq = reinterpret_cast<const float*>(fin.data + fin.nbytes);
  for (int pos : {0, 1, 7, 511})
    for (int i = 0; i < 4; ++i)
      CHECK(freq[pos * 4 + i] == Approx(std::cos(pos * std::pow(10000.0, -2.0 * i / 8))).margin(1e-5));
  CHECK(fin.data + fin.nbytes + 2 * 512 * 4 * 4 == m.files[0]->data() + m.files[0]->size());
}

TEST_CASE("shared tiny Llama-2 GGUF loads with its vocabulary", "[weights][data]") {
  SKIP_WITHOUT_DATA();
  const Model m = load_model(model_path("llama-2-tiny-random.gguf"));
  CHECK(m.format == "gguf");
  CHECK(m.qk_interleaved);
  CHECK(m.cfg.n_layers == 1);
  CHECK(m.cfg.dim == 8);
  CHECK(m.cfg.n_heads == 2);
  CHECK(m.cfg.n_kv_heads == 2);
  CHECK(m.cfg.head_dim == 4);
  CHECK(m.cfg.hidden_dim == 32);
  CHECK(m.cfg.vocab_size == 32000);
  CHECK(m.cfg.max_seq_len == 4096);
  CHECK(m.cfg.bos_id == 1);
  CHECK(m.cfg.eos_id == 2);
  CHECK_FALSE(m.cfg.tied_embeddings);
  CHECK(m.tensor(kEmbed).dtype == DType::F16);
  CHECK(m.tensor(kFinalNorm).dtype == DType::F32);
  const auto& v = m.vocab;
  REQUIRE(v.tokens.size() == 32000);
  CHECK(v.scores.size() == 32000);
  CHECK(v.types.size() == 32000);
  CHECK(v.model == "llama");
  CHECK(v.tokens[0] == "<unk>");
  CHECK(v.tokens[1] == "<s>");
  CHECK(v.tokens[2] == "</s>");
  CHECK(v.tokens[3] == "<0x00>");
  CHECK(v.types[0] == 2);
  CHECK(v.types[1] == 3);
  CHECK(v.types[3] == 6);
  CHECK(v.bos_id == 1);
  CHECK(v.eos_id == 2);
  CHECK(v.unk_id == 0);
  CHECK(v.add_dummy_prefix);
}

TEST_CASE("shared models convert to the other formats losslessly", "[weights][data]") {
  SKIP_WITHOUT_DATA();
  TempDir dir;
  const Model st = load_model(model_path("stories260K/stories260K.bin"));
  write_gguf(st, dir / "st.gguf", DType::F32);
  write_hf_dir(st, dir / "st_hf", DType::F32, 2);
  write_llama2c(st, dir / "st.bin");
  require_identical(st, load_model(dir / "st.gguf"));
  require_identical(st, load_model(dir / "st_hf"));
  const Model again = load_model(dir / "st.bin");
  require_identical(st, again);
  CHECK(again.weights_checksum == st.weights_checksum);  // byte-identical tensors

  const Model gg = load_model(model_path("llama-2-tiny-random.gguf"));
  write_hf_dir(gg, dir / "gg_hf", DType::F16);  // F16 -> F16 is exact
  require_identical(gg, load_model(dir / "gg_hf"));
  write_gguf(gg, dir / "gg.gguf", DType::F16, 3, &gg.vocab);
  const Model gg2 = load_model(dir / "gg.gguf");
  CHECK(gg2.weights_checksum == gg.weights_checksum);  // same permuted F16 bytes as llama.cpp wrote
  CHECK(gg2.vocab.tokens == gg.vocab.tokens);

  const Model sst = load_model(model_path("sst-lm-12L"));
  write_gguf(sst, dir / "sst.gguf", DType::F32);
  require_identical(sst, load_model(dir / "sst.gguf"));
}
