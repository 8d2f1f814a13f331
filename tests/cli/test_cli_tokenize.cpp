// eebench tokenize end to end: ids against the Hugging Face reference ids of shared/data
// (tokenizers/expected), the BOS policy, --jsonl --json line by line, and refusals.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/cli/cli_util.h"
#include "tests/test_data.h"

using namespace eeb::testing;
using nlohmann::json;

namespace {

std::vector<json> expected(const std::string& name) {
  std::ifstream f(shared_data() + "/tokenizers/expected/" + name + ".jsonl");
  std::vector<json> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("eebench tokenize --jsonl --json: one line per input, HF ids, BOS per policy", "[cli]") {
  SKIP_WITHOUT_DATA();
  const std::string dir = temp_dir("cli_tokenize");
  for (const std::string name : {"llama3", "qwen3", "gpt2"}) {
    INFO(name);
    const auto lines = expected(name);
    REQUIRE(lines.size() > 40);
    {
      std::ofstream in(dir + "/in.jsonl");
      for (size_t i = 0; i < 40; ++i)  // strings and {"text": ...} objects alternately
        in << (i % 2 ? json{{"text", lines[i].at("text")}} : lines[i].at("text")).dump() << "\n";
    }
    const std::string tok = q(shared_data() + "/tokenizers/" + name);
    for (bool no_bos : {false, true}) {
      auto r = run_cmd("tokenize --tokenizer " + tok + " --jsonl " + q(dir + "/in.jsonl") + " --json" +
                       (no_bos ? " --no-bos" : ""));
      REQUIRE(r.status == 0);
      std::istringstream out(r.output);
      size_t n = 0;
      for (std::string line; std::getline(out, line); ++n) {
        REQUIRE(n < 40);
        const json got = json::parse(line);
        std::vector<int> want = lines[n].at("ids");
        if (name == "llama3" && !no_bos) want.insert(want.begin(), 128000);  // Llama-3 expects BOS
        CHECK(got.at("ids").get<std::vector<int>>() == want);
        CHECK(got.at("pieces").size() == want.size());
      }
      CHECK(n == 40);
    }
  }
}

TEST_CASE("eebench tokenize --text: policy recorded, pieces shown; bad input is one error line", "[cli]") {
  SKIP_WITHOUT_DATA();
  auto r = run_cmd("tokenize --tokenizer " + q(shared_data() + "/tokenizers/qwen3") + " --text 'Hello world' --json");
  REQUIRE(r.status == 0);
  const json j = json::parse(r.output);
  CHECK(j.at("ids") == json({9707, 1879}));
  CHECK(j.at("pieces") == json({"Hello", "\xC4\xA0world"}));
  CHECK(j.at("add_bos") == false);
  CHECK(j.at("bos_policy").get<std::string>().find("no BOS") == 0);

  auto sp = run_cmd("tokenize -m " + q(shared_data() + "/models/sst-lm-12L") + " --text 'it is'");
  REQUIRE(sp.status == 0);
  CHECK(sp.output.find("sentencepiece") != std::string::npos);
  CHECK(sp.output.find("\n1\t\"<s>\"") != std::string::npos);

  const std::string dir = temp_dir("cli_tokenize_bad");
  std::ofstream(dir + "/tokenizer.json") << "{\"model\": {\"type\": \"WordPiece\"}}";
  auto bad = run_cmd("tokenize --tokenizer " + q(dir + "/tokenizer.json") + " --text x");
  CHECK(bad.status == 2);
  CHECK(bad.output.find("eebench: error: " + dir + "/tokenizer.json: unsupported tokenizer model type WordPiece") !=
        std::string::npos);
  std::ofstream(dir + "/in.jsonl") << "\"ok\"\n[1]\n";
  auto bl = run_cmd("tokenize --tokenizer " + q(shared_data() + "/tokenizers/gpt2") + " --jsonl " + q(dir + "/in.jsonl"));
  CHECK(bl.status == 2);
  CHECK(bl.output.find(dir + "/in.jsonl:2: expected a JSON string") != std::string::npos);
  CHECK(run_cmd("tokenize --text x").status == 2);  // no tokenizer
}
