// Every architecture of the table, end to end: a small random model of it is written as a Hugging
// Face directory and (where llama.cpp has a form for it) a GGUF file, loaded back, and run on the
// CPU backend; hidden states and logits after every layer must match the float64 reference in
// reference.h (written from transformers' modeling code) to 1e-4 relative, the HF directory and
// the GGUF file must agree, and the reference with the feature switched off must NOT match (so
// each case really exercises its feature).
#include <catch2/catch.hpp>

#include <functional>

#include "backends/registry.h"
#include "core/error.h"
#include "model/architecture.h"
#include "tests/cpu/reference.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

struct Run {
  std::vector<std::vector<float>> hidden, logits;  // after embedding and after each layer
};

// Feeds `tokens` through every layer in chunks of the given sizes (one KV cache), keeping each
// layer's hidden rows and the logit lens of each layer's output.
Run run_backend(const Model& m, const std::vector<int32_t>& tokens, const std::vector<int>& chunks) {
  auto b = make_backend("cpu", m, BackendOptions{});
  const auto& c = b->config();
  Run out;
  out.hidden.resize(c.n_layers + 1);
  out.logits.resize(c.n_layers + 1);
  auto kv = b->new_cache(static_cast<int>(tokens.size()));
  int p = 0;
  for (int n : chunks) {
    auto h = b->embed(std::span(tokens).subspan(p, n), p);
    for (int l = 0; l <= c.n_layers; ++l) {
      if (l > 0) b->run_layer(l - 1, *h, *kv);
      auto& hs = out.hidden[l];
      auto& ls = out.logits[l];
      hs.resize(hs.size() + static_cast<size_t>(n) * c.dim);
      ls.resize(ls.size() + static_cast<size_t>(n) * c.vocab_size);
      b->read_hidden(*h, 0, n, hs.data() + hs.size() - static_cast<size_t>(n) * c.dim);
      b->logits(*h, 0, n, ls.data() + ls.size() - static_cast<size_t>(n) * c.vocab_size);
    }
    p += n;
  }
  return out;
}

// The reference's hidden states and logits after every layer.
std::pair<std::vector<Vec>, std::vector<Vec>> reference(const RefModel& ref, const std::vector<int32_t>& tokens) {
  auto hs = ref_hiddens(ref, tokens, all_layers(ref.c.n_layers));
  std::vector<Vec> ls;
  for (const auto& h : hs) ls.push_back(ref_logits(ref, h, static_cast<int>(tokens.size())));
  return {hs, ls};
}

void check_run(const Run& got, const std::pair<std::vector<Vec>, std::vector<Vec>>& want, const char* what) {
  REQUIRE(got.hidden.size() == want.first.size());
  for (size_t l = 0; l < got.hidden.size(); ++l) {
    INFO(what << ": after layer " << static_cast<long>(l) - 1);
    CHECK(rel_diff(got.hidden[l], want.first[l]) <= 1e-4);
    CHECK(rel_diff(got.logits[l], want.second[l]) <= 1e-4);
  }
}

struct Case {
  const char* name;
  ModelConfig cfg;
  bool gguf;                                  // llama.cpp has a GGUF form of this config
  std::function<void(RefModel&)> ablate;      // switches the case's feature off in the reference
};

ModelConfig base(const char* arch, int dim, int heads, int kv_heads, int head_dim) {
  ModelConfig c = tiny_config(2, dim, heads, kv_heads, 48, 80);
  c.architecture = arch;
  c.head_dim = head_dim;
  c.rope_theta = 100.f;  // short wavelengths, so that scaled and unscaled RoPE differ within 24 tokens
  return c;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  {
    ModelConfig c = base("llama", 32, 4, 2, 16);  // explicit head_dim: 4 * 16 != 32
    c.rope_type = "llama3";
    c.rope_factor = 8, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4, c.rope_original_max_pos = 64;
    v.push_back({"llama, rope_scaling llama3, head_dim 16 with hidden 32", c, true,
                 [](RefModel& r) { r.c.rope_type = "default"; }});
  }
  {
    ModelConfig c = base("llama", 32, 4, 4, 8);
    c.rope_type = "linear";
    c.rope_factor = 4;
    v.push_back({"llama, rope_scaling linear", c, true, [](RefModel& r) { r.c.rope_type = "default"; }});
  }
  {
    ModelConfig c = base("qwen2", 32, 4, 2, 8);
    c.tied_embeddings = true;
    v.push_back({"qwen2: q/k/v bias, tied embeddings", c, true, [](RefModel& r) {
                   for (auto& l : r.layers) l.bq.clear(), l.bk.clear(), l.bv.clear();
                 }});
  }
  {
    ModelConfig c = base("qwen3", 32, 4, 2, 16);
    v.push_back({"qwen3: per-head q/k RMSNorm, head_dim 16 with hidden 32", c, true, [](RefModel& r) {
                   for (auto& l : r.layers) l.q_norm.clear(), l.k_norm.clear();
                 }});
  }
  {
    ModelConfig c = base("mistral", 32, 4, 2, 8);
    c.sliding_window = 5;
    v.push_back({"mistral: sliding window 5", c, false, [](RefModel& r) { r.c.sliding_window = 0; }});
  }
  return v;
}

}  // namespace

TEST_CASE("every architecture matches the float64 reference at every layer, HF and GGUF", "[cpu][arch]") {
  const auto tokens = random_tokens(24, 80, 5);
  for (const auto& k : cases()) {
    SECTION(k.name) {
      const Model orig = random_model(k.cfg, 21);
      const RefModel ref(orig);
      const auto want = reference(ref, tokens);
      TempDir dir;
      write_hf_dir(orig, dir / "hf", DType::F32);
      const Model hf = load_model(dir / "hf");
      CHECK(hf.cfg.architecture == k.cfg.architecture);
      const Run from_hf = run_backend(hf, tokens, {24});
      check_run(from_hf, want, "HF directory");
      // Chunked: prefill, single-token decode steps, a longer block (the window slides over cached keys).
      check_run(run_backend(hf, tokens, {7, 1, 1, 15}), want, "HF directory, chunked");

      RefModel off = ref;
      k.ablate(off);
      const auto without = reference(off, tokens);
      CHECK(rel_diff(from_hf.logits.back(), without.second.back()) > 1e-3);

      if (k.gguf) {
        write_gguf(orig, dir / "m.gguf", DType::F32);
        const Model gg = load_model(dir / "m.gguf");
        const Run from_gguf = run_backend(gg, tokens, {24});
        check_run(from_gguf, want, "GGUF");
        for (size_t l = 0; l < from_hf.logits.size(); ++l) {
          INFO("HF vs GGUF after layer " << static_cast<long>(l) - 1);
          CHECK(rel_diff(from_gguf.logits[l], from_hf.logits[l]) <= 1e-5);
        }
      }
    }
  }
}

TEST_CASE("the loaders read each architecture's features from the files", "[cpu][arch]") {
  TempDir dir;
  for (const auto& k : cases()) {
    INFO(k.name);
    const Model orig = random_model(k.cfg, 22);
    write_hf_dir(orig, dir / k.cfg.architecture, DType::BF16);
    const Model hf = load_model(dir / k.cfg.architecture);
    CHECK(hf.cfg.head_dim == k.cfg.head_dim);
    CHECK(hf.cfg.rope_type == k.cfg.rope_type);
    CHECK(hf.cfg.sliding_window == k.cfg.sliding_window);
    CHECK(hf.cfg.qkv_bias == (k.cfg.architecture == "qwen2"));
    CHECK(hf.cfg.qk_norm == (k.cfg.architecture == "qwen3"));
    CHECK(hf.cfg.tied_embeddings == k.cfg.tied_embeddings);
    if (k.cfg.rope_type == "llama3") {
      // GGUF carries llama3 scaling as llama.cpp's rope_freqs tensor, not as a rope type.
      write_gguf(orig, dir / "l3.gguf", DType::F16);
      const Model gg = load_model(dir / "l3.gguf");
      CHECK(gg.cfg.rope_freq_factors.size() == static_cast<size_t>(k.cfg.head_dim / 2));
      CHECK(gg.cfg.rope_type == "default");
    }
  }
}

TEST_CASE("architecture table: names, shapes and memory estimate", "[cpu][arch]") {
  for (const auto& a : architectures()) {
    INFO(a.name);
    CHECK(architecture_for_hf_class(a.hf_class) == &a);
    if (a.gguf_arch) CHECK(architecture_for_gguf(a.gguf_arch)->name == std::string(a.gguf_arch));
    ModelConfig c = tiny_config(2, 32, 4, 2, 48, 80);
    c.architecture = a.name;
    const Model m = random_model(c, 3);
    // weight_elements() counts exactly the tensors a random model of the config has.
    uint64_t n = 0;
    for (const auto& [name, t] : m.tensors) n += t.numel();
    CHECK(weight_elements(m.cfg) == n);
    CHECK_NOTHROW(validate_model(m));
  }
  CHECK_THROWS_WITH(architecture("gpt2"), Catch::Contains("unknown architecture 'gpt2' (known: llama, mistral, qwen2, qwen3)"));
}
