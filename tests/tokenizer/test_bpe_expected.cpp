// Byte-level BPE against the ids of the official Hugging Face `tokenizers` library
// (shared/data/tokenizers/expected/*.jsonl, written by make_expected.js with addSpecialTokens false):
// every text, continuation, text + continuation and MMLU description + text, for Llama-3, Qwen3, GPT-2.
// The same ids again through a GGUF-style vocabulary (tokenizer.ggml.model = gpt2) built from each
// tokenizer.json, as llama.cpp's converter writes it.
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
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

}  // namespace

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
