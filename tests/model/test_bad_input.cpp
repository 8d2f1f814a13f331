// Bad model files: load_model() must throw eeb::Error with a one-line message naming the file and
// the problem, and must never crash or read out of bounds (run these under ASan/UBSan).
#include <algorithm>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "model/model.h"
#include "core/error.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;
namespace fs = std::filesystem;

namespace {

// load_model(path) throws eeb::Error whose one-line message contains `file` and `phrase`.
void require_error(const std::string& path, const std::string& file, const std::string& phrase) {
  INFO("loading " << path);
  try {
    load_model(path);
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.find(file) != std::string::npos);
    CHECK(msg.find(phrase) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
    return;
  }
  FAIL("no eeb::Error thrown");
}

Model small_model() { return random_model(tiny_config(2, 32, 4, 2, 64, 64), 11); }

// A safetensors file from a header string; `declared` overrides the header length field.
std::vector<uint8_t> safetensors_bytes(const std::string& header, size_t data_bytes, int64_t declared = -1) {
  std::vector<uint8_t> b(8 + header.size() + data_bytes, 0);
  const uint64_t n = declared >= 0 ? uint64_t(declared) : header.size();
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

// A GGUF prefix with the metadata a llama model needs (6 key/values); the caller adds tensor infos.
GgufBuilder llama_gguf(uint64_t n_tensors, uint64_t extra_kv = 0, const std::string& arch = "llama") {
  GgufBuilder g;
  g.header(3, n_tensors, 6 + extra_kv);
  g.kv_str("general.architecture", arch);
  g.kv_u32("llama.embedding_length", 32);
  g.kv_u32("llama.feed_forward_length", 64);
  g.kv_u32("llama.block_count", 1);
  g.kv_u32("llama.attention.head_count", 4);
  g.kv_u32("llama.context_length", 128);
  return g;
}

}  // namespace

TEST_CASE("bad safetensors files", "[weights][bad]") {
  TempDir dir;
  write_hf_dir(small_model(), dir / "m", DType::F32);
  const std::string m = dir / "m", st = dir / "m/model.safetensors";
  const std::string ok1 = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  struct Case { std::vector<uint8_t> bytes; std::string phrase; };
  const std::vector<Case> cases = {
      {{1, 2, 3, 4, 5}, "truncated safetensors file: 5 bytes"},
      {safetensors_bytes("{}", 0, 1000), "header length 1000 is larger than the file"},
      {safetensors_bytes("{}", 0, 200ll << 20), "exceeds the 100 MB limit"},
      {safetensors_bytes("{not json", 0), "not valid JSON"},
      {safetensors_bytes("[1, 2]", 0), "header is not a JSON object"},
      {safetensors_bytes(ok1, 4), "run past the end of the file"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "data_offsets span 8 bytes but shape [3] of F32 needs 12"},
      {safetensors_bytes(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8), "unsupported dtype F64 for tensor a"},
      {safetensors_bytes(R"({"a":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}})", 8), "unsupported dtype I8 for tensor a"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "are reversed"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "non-negative"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "needs dtype, shape and data_offsets"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
       "size overflows"},
  };
  for (const auto& c : cases) {
    write_bytes(st, c.bytes);
    require_error(m, "model.safetensors", c.phrase);
  }
}

TEST_CASE("safetensors missing a tensor or with a shape config.json contradicts", "[weights][bad]") {
  TempDir dir;
  Model model = small_model();
  model.tensors.erase(tn_layer(1, "mlp.up_proj.weight"));
  write_hf_dir(model, dir / "missing", DType::F32);
  require_error(dir / "missing", "model.safetensors", "missing tensor model.layers.1.mlp.up_proj.weight");

  Model wide = small_model();
  wide.cfg.hidden_dim = 80;  // config.json says 80, the tensors are 64 wide
  write_hf_dir(wide, dir / "shape", DType::F32);
  require_error(dir / "shape", "model.safetensors",
                "tensor model.layers.0.mlp.gate_proj.weight has shape [64, 32], config.json implies [80, 32]");
}

TEST_CASE("bad config.json", "[weights][bad]") {
  TempDir dir;
  write_hf_dir(small_model(), dir / "m", DType::F32);
  const std::string cfg = dir / "m/config.json";
  const auto cfg_bytes = read_bytes(cfg);
  const nlohmann::json good = nlohmann::json::parse(std::string(cfg_bytes.begin(), cfg_bytes.end()));
  auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = good;
    edit(j);
    write_text(cfg, j.dump());
  };
  write_text(cfg, "{\"hidden_size\": 32,");
  require_error(dir / "m", "config.json", "not valid JSON");
  write_text(cfg, "[]");
  require_error(dir / "m", "config.json", "expected a JSON object");
  with([](auto& j) { j.erase("hidden_size"); });
  require_error(dir / "m", "config.json", "missing required key \"hidden_size\"");
  with([](auto& j) { j["hidden_size"] = "32"; });
  require_error(dir / "m", "config.json", "\"hidden_size\" must be an integer, got string");
  with([](auto& j) { j["num_hidden_layers"] = -1; });
  require_error(dir / "m", "config.json", "\"num_hidden_layers\" = -1 is out of range");
  with([](auto& j) { j["tie_word_embeddings"] = 1; });
  require_error(dir / "m", "config.json", "\"tie_word_embeddings\" must be true or false");
  with([](auto& j) { j["rms_norm_eps"] = "small"; });
  require_error(dir / "m", "config.json", "\"rms_norm_eps\" must be a number");
  with([](auto& j) { j["architectures"] = nlohmann::json::array({"GPT2LMHeadModel"}); });
  require_error(dir / "m", "config.json", "unsupported architecture GPT2LMHeadModel");
  with([](auto& j) { j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}}; });
  require_error(dir / "m", "config.json", "\"rope_scaling\" of type llama3 needs a number low_freq_factor");
  for (const char* t : {"dynamic", "yarn", "longrope", "nope"}) {
    with([&](auto& j) { j["rope_scaling"] = {{"rope_type", t}, {"factor", 4.0}}; });
    require_error(dir / "m", "config.json", std::string("\"rope_scaling\" type '") + t + "' is not supported");
  }
  with([](auto& j) { j["rope_scaling"] = {{"type", "linear"}}; });
  require_error(dir / "m", "config.json", "needs a number factor");
  with([](auto& j) { j["rope_scaling"] = 2; });
  require_error(dir / "m", "config.json", "\"rope_scaling\" must be an object or null");
  with([](auto& j) { j["attention_bias"] = true; });
  require_error(dir / "m", "config.json", "\"attention_bias\" is true");
  with([](auto& j) { j["partial_rotary_factor"] = 0.5; });
  require_error(dir / "m", "config.json", "\"partial_rotary_factor\" is not 1");
  with([](auto& j) {
    j["architectures"] = nlohmann::json::array({"Qwen2ForCausalLM"});
    j["use_sliding_window"] = true;
  });
  require_error(dir / "m", "config.json", "\"use_sliding_window\" is true");
  with([](auto& j) { j["layer_types"] = {"full_attention", "sliding_attention"}; });
  require_error(dir / "m", "config.json", "\"layer_types\" has a layer that is not full_attention");
  with([](auto& j) { j["rope_scaling"] = nullptr; });  // null: no scaling
  CHECK_NOTHROW(load_model(dir / "m"));
  with([](auto& j) { j["num_key_value_heads"] = 3; });
  require_error(dir / "m", "model.safetensors", "not a multiple of the key/value head count 3");
  with([](auto& j) { j["hidden_size"] = 1 << 22; });
  require_error(dir / "m", "model.safetensors", "hidden size 4194304");
  with([](auto& j) { j["eos_token_id"] = {2, 7}; });
  CHECK(load_model(dir / "m").cfg.eos_id == 2);
}

TEST_CASE("bad Hugging Face directories and shard indexes", "[weights][bad]") {
  TempDir dir;
  fs::create_directories(dir / "empty");
  require_error(dir / "empty", "empty", "no config.json");
  write_hf_dir(small_model(), dir / "m", DType::F32, 2);
  fs::copy_file(dir / "m/config.json", dir / "empty/config.json");
  require_error(dir / "empty", "empty", "no model.safetensors or model.safetensors.index.json");
  require_error(dir / "m/model-00001-of-00002.safetensors", "model-00001-of-00002.safetensors",
                "pass the Hugging Face model directory");
  require_error(dir / "nonexistent", "nonexistent", "no such file or directory");

  const std::string index = dir / "m/model.safetensors.index.json";
  const auto original = read_bytes(index);
  auto j = nlohmann::json::parse(std::string(original.begin(), original.end()));
  auto put = [&](const nlohmann::json& x) { write_text(index, x.dump()); };
  auto j2 = j;
  j2["weight_map"]["extra.weight"] = "model-00009-of-00009.safetensors";
  put(j2);
  require_error(dir / "m", "model-00009-of-00009.safetensors", "does not exist");
  j2 = j;
  j2["weight_map"]["extra.weight"] = "model-00001-of-00002.safetensors";
  put(j2);
  require_error(dir / "m", "model-00001-of-00002.safetensors", "tensor extra.weight listed in the index is not in this shard");
  j2 = j;
  j2["weight_map"]["extra.weight"] = "../m/model-00001-of-00002.safetensors";
  put(j2);
  require_error(dir / "m", "model.safetensors.index.json", "must be a plain file name");
  put(nlohmann::json{{"metadata", {}}});
  require_error(dir / "m", "model.safetensors.index.json", "missing \"weight_map\"");
  write_text(index, "{");
  require_error(dir / "m", "model.safetensors.index.json", "not valid JSON");
}

TEST_CASE("bad GGUF files", "[weights][bad]") {
  TempDir dir;
  const std::string p = dir / "bad.gguf";
  auto check = [&](const std::vector<uint8_t>& bytes, const std::string& phrase) {
    write_bytes(p, bytes);
    require_error(p, "bad.gguf", phrase);
  };
  check({'G', 'G', 'U', 'X', 3, 0, 0, 0}, "not a GGUF file (bad magic)");
  check({}, "bad magic");
  check({'G', 'G', 'U', 'F', 3, 0}, "truncated GGUF: version runs past the end of the file");
  for (uint32_t v : {1u, 99u}) {
    GgufBuilder g;
    g.header(v, 0, 0);
    check(g.b, "unsupported GGUF version " + std::to_string(v));
  }
  GgufBuilder g;
  g.header(3, 1000000000000ull, 0);
  check(g.b, "absurd tensor count 1000000000000");
  g = {};
  g.header(3, 0, 1000000000000ull);
  check(g.b, "absurd metadata count 1000000000000");
  g = {};
  g.header(3, 0, 1);
  g.raw<uint64_t>(1000);  // key length far beyond the file
  g.b.insert(g.b.end(), 20, 'a');
  check(g.b, "metadata key length 1000 runs past the end of the file");
  g = {};
  g.header(3, 0, 1);
  g.str("tokenizer.ggml.tokens");
  g.raw<uint32_t>(GgufBuilder::ARRAY), g.raw<uint32_t>(GgufBuilder::STRING), g.raw<uint64_t>(1ull << 60);
  check(g.b, "array length 1152921504606846976 runs past the end of the file");
  g = {};
  g.header(3, 0, 1);
  g.str("x"), g.raw<uint32_t>(13), g.raw<uint32_t>(0);
  check(g.b, "metadata x has unknown type 13");
  g = llama_gguf(0, 0, "gpt2");
  check(g.b, "unsupported architecture 'gpt2'");
  g = llama_gguf(0, 1);
  g.kv_u32("general.alignment", 48);
  check(g.b, "general.alignment 48 is not a power of two");
  g = {};
  g.header(3, 0, 1);
  g.kv_str("general.architecture", "llama");
  check(g.b, "missing metadata llama.embedding_length");

  g = llama_gguf(1);
  g.tensor_info("token_embd.weight", {64, 32}, 2 /* Q4_0 */, 0);
  g.pad_to(32);
  g.b.resize(g.b.size() + 4096);
  check(g.b, "unsupported tensor type 2 for tensor token_embd.weight");
  g = llama_gguf(1);
  g.tensor_info("token_embd.weight", {64, 32}, 0, 64);
  g.pad_to(32);
  g.b.resize(g.b.size() + 64 * 32 * 4);  // 64 bytes short
  check(g.b, "tensor token_embd.weight data (8192 bytes at offset 64) runs past the end of the file");
  g = llama_gguf(1);
  g.tensor_info("token_embd.weight", {64, 32}, 0, 4);
  g.pad_to(32);
  g.b.resize(g.b.size() + 64 * 32 * 4 + 32);
  check(g.b, "offset 4 is not a multiple of the alignment 32");
  g = llama_gguf(1);
  g.tensor_info("token_embd.weight", {1ll << 40, 1ll << 40}, 0, 0);
  check(g.b, "size overflows");
}

TEST_CASE("GGUF files whose tensors contradict the metadata", "[weights][bad]") {
  TempDir dir;
  Model m = small_model();
  m.cfg.n_heads = 8;  // the file says 8 heads of 8: q_proj would need 64 rows
  m.cfg.n_kv_heads = 4;
  write_gguf(m, dir / "heads.gguf", DType::F32);
  require_error(dir / "heads.gguf", "heads.gguf", "the GGUF metadata implies [64, 32]");
  // A complete file cut short: the last tensor's data runs past the end.
  write_gguf(small_model(), dir / "cut.gguf", DType::F16);
  auto bytes = read_bytes(dir / "cut.gguf");
  bytes.resize(bytes.size() - 100);
  write_bytes(dir / "cut.gguf", bytes);
  require_error(dir / "cut.gguf", "cut.gguf", "runs past the end of the file");
  // A required tensor absent from the file.
  m = small_model();
  m.tensors.erase(kFinalNorm);
  write_gguf(m, dir / "nonorm.gguf", DType::F32);
  require_error(dir / "nonorm.gguf", "nonorm.gguf", "missing tensor model.norm.weight");
}

TEST_CASE("bad llama2.c files", "[weights][bad]") {
  TempDir dir;
  const std::string p = dir / "model.bin";
  write_llama2c(small_model(), p);
  auto bytes = read_bytes(p);
  const size_t full = bytes.size();
  bytes.resize(full - 4);
  write_bytes(p, bytes);
  require_error(p, "model.bin", "should be " + std::to_string(full) + " bytes for its header, is " +
                                    std::to_string(full - 4) + " bytes");
  write_text(p, "this is a text file, not a model, but it is long enough to have a header");
  require_error(p, "model.bin", "unrecognised model file");
  write_text(p, "tiny");
  require_error(p, "model.bin", "4 bytes is too small for a llama2.c header");
  write_text(p, "");
  require_error(p, "model.bin", "0 bytes is too small");
  const int32_t v2[9] = {0x616b3432, 2, 32, 64, 2, 4, 2, 64, 128};
  write_bytes(p, v2, sizeof v2);
  require_error(p, "model.bin", "llama2.c export version 2 is not supported");
  const int32_t odd[7] = {30, 64, 2, 4, 2, 64, 128};  // dim not divisible by heads
  write_bytes(p, odd, sizeof odd);
  require_error(p, "model.bin", "unrecognised model file");
  fs::create_directories(dir / "d.bin");
  require_error(dir / "d.bin", "d.bin", "no config.json");
}

// Truncations and random byte corruptions of valid files: either a model or an eeb::Error, nothing else.
TEST_CASE("corrupted model files never crash the loaders", "[weights][bad]") {
  const Model m = random_model(tiny_config(1, 8, 2, 1, 32, 32), 5);
  EmbeddedVocab v;
  for (int i = 0; i < 32; ++i) {
    std::string tok = "t";
    v.tokens.push_back(tok += std::to_string(i));
    v.scores.push_back(0), v.types.push_back(1);
  }
  TempDir dir;
  write_gguf(m, dir / "g.gguf", DType::Q8_0, 3, &v);
  write_hf_dir(m, dir / "hf", DType::BF16);
  write_llama2c(m, dir / "l.bin");
  std::mt19937_64 rng(42);
  int loaded = 0, errors = 0;
  for (const std::string& src : {dir / "g.gguf", dir / "hf/model.safetensors", dir / "l.bin"}) {
    const auto good = read_bytes(src);
    const std::string target = src.find("hf/") != std::string::npos ? dir / "hf" : src;
    auto attempt = [&](const std::vector<uint8_t>& bytes) {
      fs::remove(src);  // a fresh file: truncating one in place makes ext4 flush it on close (slow)
      write_bytes(src, bytes);
      try {
        load_model(target);
        ++loaded;
      } catch (const Error& e) {
        ++errors;
        REQUIRE(std::string(e.what()).find('\n') == std::string::npos);
      }
    };
    for (size_t n = 0; n < good.size(); n += n < 1200 ? 1 : 97) attempt({good.begin(), good.begin() + n});
    const size_t head = std::min<size_t>(good.size(), 1200);
    for (int i = 0; i < 1500; ++i) {
      auto bytes = good;
      for (int k = 0, flips = 1 + int(rng() % 3); k < flips; ++k) {
        const size_t at = rng() % head;
        bytes[at] = rng() % 4 == 0 ? uint8_t(rng()) : uint8_t(bytes[at] ^ (1u << (rng() % 8)));
      }
      attempt(bytes);
    }
    write_bytes(src, good);
    CHECK_NOTHROW(load_model(target));
  }
  CHECK(errors > 1000);
  CHECK(loaded > 0);  // corruptions of payload bytes (e.g. in llama2.c weights) still load
}

TEST_CASE("tensors the architecture does not know are refused, never dropped", "[weights][bad]") {
  TempDir dir;
  // A Llama checkpoint with q/k/v biases (or Qwen3's q_norm) would otherwise run without them.
  Model m = small_model();
  {
    Model qwen = random_model([] {
      auto c = tiny_config(2, 32, 4, 2, 64, 64);
      c.architecture = "qwen2";
      return c;
    }(), 12);
    qwen.cfg.architecture = "llama";  // the same tensors, declared as Llama
    write_hf_dir(qwen, dir / "bias", DType::F32);
    require_error(dir / "bias", "model.safetensors",
                  "tensor model.layers.0.self_attn.k_proj.bias is not part of the llama architecture");
  }
  {
    ModelConfig c = tiny_config(2, 32, 4, 2, 64, 64);
    c.architecture = "qwen3";
    Model q3 = random_model(c, 13);
    q3.cfg.architecture = "qwen2";
    q3.cfg.qk_norm = false;
    write_hf_dir(q3, dir / "qnorm", DType::F32);
    require_error(dir / "qnorm", "model.safetensors", "missing tensor model.layers.0.self_attn.q_proj.bias");
  }
  // A tensor of a layer the config does not have.
  {
    ModelConfig c = tiny_config(3, 32, 4, 2, 64, 64);
    Model deep = random_model(c, 14);
    deep.cfg.n_layers = 2;
    write_hf_dir(deep, dir / "deep", DType::F32);
    require_error(dir / "deep", "model.safetensors", "belongs to layer 2 but the model has 2 layers");
  }
  // GGUF: an unmapped tensor name (it used to be skipped silently) and an unsupported RoPE scaling.
  {
    write_gguf(m, dir / "ok.gguf", DType::F32);
    auto b = read_bytes(dir / "ok.gguf");
    const std::string from = "blk.1.ffn_up.weight", to = "blk.1.ffn_xx.weight";
    auto it = std::search(b.begin(), b.end(), from.begin(), from.end());
    REQUIRE(it != b.end());
    std::copy(to.begin(), to.end(), it);
    write_bytes(dir / "unknown.gguf", b);
    require_error(dir / "unknown.gguf", "unknown.gguf", "tensor blk.1.ffn_xx.weight is not part of the llama architecture");
  }
  {
    GgufBuilder g = llama_gguf(0, 1);
    g.kv_str("llama.rope.scaling.type", "yarn");
    write_bytes(dir / "yarn.gguf", g.b);
    require_error(dir / "yarn.gguf", "yarn.gguf", "rope.scaling.type 'yarn' is not supported");
  }
}
