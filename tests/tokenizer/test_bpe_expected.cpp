// Byte-level BPE against the ids of the official Hugging Face `tokenizers` library
// (shared/data/tokenizers/expected/*.jsonl, written by make_expected.js with addSpecialTokens false):
// every text, continuation, text + continuation and MMLU description + text, for Llama-3, Qwen3, GPT-2.
// The same ids again through a GGUF-style vocabulary (tokenizer.ggml.model = gpt2) built from each
// tokenizer.json, as llama.cpp's converter writes it.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/gguf_vocab_from_json.h"
#include "core/error.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"
#include "tests/test_data.h"
#include "tokenizer/tokenizer.h"

using eeb::Tokenizer;
using nlohmann::json;

namespace {

std::string data(const std::string& rel) { return eeb::testing::shared_data() + "/" + rel; }

std::vector<json> expected_lines(const std::string& name) {
  std::ifstream f(data("tokenizers/expected/" + name + ".jsonl"));
  REQUIRE(f);
  std::vector<json> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// Checks every encoding of the file; returns how many were compared.
size_t check_all(const Tokenizer& t, const std::vector<json>& lines) {
  size_t n = 0, bad = 0;
  auto cmp = [&](const std::string& text, const json& want, const std::string& what) {
    ++n;
    const std::vector<int> got = t.encode(text);
    if (got != want.get<std::vector<int>>()) {
      if (++bad <= 5) {
        UNSCOPED_INFO(what << ": " << json(text).dump() << "\n  got  " << json(got).dump() << "\n  want " << want.dump());
      }
    }
  };
  for (const auto& l : lines) {
    const std::string where = l.at("set").get<std::string>() + " " + std::to_string(l.at("i").get<int>());
    const std::string text = l.at("text");
    cmp(text, l.at("ids"), where);
    if (l.contains("description")) cmp(l.at("description").get<std::string>() + text, l.at("description_ids"), where + " description");
    if (l.contains("continuations"))
      for (const auto& c : l.at("continuations")) {
        cmp(c.at("text"), c.at("ids"), where + " continuation");
        cmp(text + c.at("text").get<std::string>(), c.at("full_ids"), where + " text+continuation");
      }
  }
  CHECK(bad == 0);
  return n;
}

// What llama.cpp's convert_hf_to_gguf.py writes for a tokenizer.json: tokens by id, special added
// tokens as control (3), other added tokens as user-defined (4), merges as "left right".
eeb::EmbeddedVocab gguf_vocab_of(const std::string& tokenizer_json, const std::string& pre) {
  return eeb::testing::gguf_vocab_from_tokenizer_json(tokenizer_json, pre);
}

// A GGUF file of a tiny random Llama whose metadata also holds v's merges, pre and add_bos_token:
// the test writer's file with those key/values spliced in after the header (a block padded to the
// 32-byte alignment, so every later offset keeps its alignment).
void write_gguf_with_bpe(const std::string& path, const eeb::EmbeddedVocab& v) {
  using eeb::testing::GgufBuilder;
  const eeb::Model m = eeb::testing::random_model(eeb::testing::tiny_config(1, 16, 2, 1, 32, 32), 1);
  eeb::testing::write_gguf(m, path, eeb::DType::F32, 3, &v);
  std::vector<uint8_t> file = eeb::testing::read_bytes(path);
  GgufBuilder kv;
  uint64_t n_kv = 0;
  kv.str("tokenizer.ggml.merges"), kv.raw<uint32_t>(GgufBuilder::ARRAY), kv.raw<uint32_t>(GgufBuilder::STRING);
  kv.raw<uint64_t>(v.merges.size());
  for (const auto& s : v.merges) kv.str(s);
  kv.kv_str("tokenizer.ggml.pre", v.pre);
  n_kv += 2;
  if (v.add_bos >= 0) kv.kv_bool("tokenizer.ggml.add_bos_token", v.add_bos == 1), ++n_kv;
  const std::string pad_key = "general.padding";
  const size_t fixed = kv.b.size() + 8 + pad_key.size() + 4 + 8;  // + a padding string key/value
  kv.kv_str(pad_key, std::string((32 - fixed % 32) % 32, ' '));
  ++n_kv;
  REQUIRE(kv.b.size() % 32 == 0);
  uint64_t old_kv;
  std::memcpy(&old_kv, file.data() + 16, 8);
  old_kv += n_kv;
  std::memcpy(file.data() + 16, &old_kv, 8);
  file.insert(file.begin() + 24, kv.b.begin(), kv.b.end());
  eeb::testing::write_bytes(path, file);
}

}  // namespace

TEST_CASE("GGUF gpt2 vocabularies (llama-bpe, qwen2, gpt2) give the same ids as their tokenizer.json") {
  SKIP_WITHOUT_DATA();
  for (const auto& [name, pre] : std::vector<std::pair<std::string, std::string>>{
           {"llama3", "llama-bpe"}, {"qwen3", "qwen2"}, {"gpt2", "gpt2"}}) {
    INFO("tokenizer " << name << ", pre " << pre);
    eeb::Model m;
    m.path = name + ".gguf";
    m.format = "gguf";
    m.vocab = gguf_vocab_of(data("tokenizers/" + name + "/tokenizer.json"), pre);
    auto t = Tokenizer::for_model(m);
    CHECK(t->kind() == "bpe");
    CHECK(t->add_bos() == (pre == "llama-bpe"));  // llama.cpp's defaults without add_bos_token
    CHECK(check_all(*t, expected_lines(name)) == 2046);
  }
}

TEST_CASE("a GGUF file's gpt2 vocabulary goes through the loader to the tokenizer") {
  SKIP_WITHOUT_DATA();
  eeb::testing::TempDir dir("gguf_bpe");
  eeb::EmbeddedVocab v = gguf_vocab_of(data("tokenizers/gpt2/tokenizer.json"), "gpt2");
  v.bos_id = v.eos_id = v.unk_id = 50256;
  v.add_bos = 1;
  write_gguf_with_bpe(dir / "m.gguf", v);
  const eeb::Model m = eeb::load_model(dir / "m.gguf");
  REQUIRE(m.vocab.merges.size() == 50000);
  CHECK(m.vocab.pre == "gpt2");
  auto t = Tokenizer::for_model(m);
  CHECK(t->add_bos());
  CHECK(t->bos() == 50256);
  CHECK(t->bos_policy_description().find("tokenizer.ggml.add_bos_token = true") != std::string::npos);
  const auto lines = expected_lines("gpt2");
  CHECK(t->encode(lines[0].at("text")) == lines[0].at("ids").get<std::vector<int>>());
  CHECK(eeb::load_tokenizer(dir / "m.gguf")->encode("Hello world") == t->encode("Hello world"));

  v.pre = "deepseek-llm";
  write_gguf_with_bpe(dir / "bad.gguf", v);
  const std::string bad = dir / "bad.gguf";
  try {
    Tokenizer::for_model(eeb::load_model(bad));
    FAIL("expected an Error");
  } catch (const eeb::Error& e) {
    CHECK(std::string(e.what()) == bad + ": unknown tokenizer.ggml.pre deepseek-llm (known: llama-bpe, qwen2, gpt2)");
  }
  v.pre = "gpt2";
  v.merges[7] = "Ġ nosuchtoken";
  write_gguf_with_bpe(dir / "merge.gguf", v);
  try {
    Tokenizer::for_model(eeb::load_model(dir / "merge.gguf"));
    FAIL("expected an Error");
  } catch (const eeb::Error& e) {
    CHECK(std::string(e.what()).find(dir / "merge.gguf: merge 7") == 0);
    CHECK(std::string(e.what()).find("not in the vocabulary") != std::string::npos);
  }
}

TEST_CASE("tokenizer.json BPE matches the Hugging Face tokenizers ids (llama3, qwen3, gpt2)") {
  SKIP_WITHOUT_DATA();
  for (const std::string name : {"llama3", "qwen3", "gpt2"}) {
    INFO("tokenizer " << name);
    auto t = eeb::load_tokenizer(data("tokenizers/" + name));
    CHECK(t->kind() == "bpe");
    const auto lines = expected_lines(name);
    REQUIRE(lines.size() == 346);
    CHECK(check_all(*t, lines) == 46 + 200 * 5 + 100 * 10);  // 2,046 encodings (SOURCES.md)
  }
}
