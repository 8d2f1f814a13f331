// Regression tests for what the fuzzers (fuzz/, scripts/fuzz.sh) and the mutated-input test found.
#include <catch2/catch.hpp>

#include "model/model.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tests/model_writers.h"
#include "tests/random_model.h"

using namespace eeb;
using namespace eeb::testing;

namespace {

// The message of the eeb::Error that f throws ("" if none).
template <class F> std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("eeb::Error escapes control characters so every message is one line", "[safety][findings]") {
  const std::string msg = Error("f\x01le", std::string("tensor a\nb\r\0c\td", 15)).what();
  CHECK(msg == "f\\x01le: tensor a\\nb\\r\\x00c\td");
}

TEST_CASE("fuzz_gguf: a metadata key with a newline gives a one-line error", "[safety][findings]") {
  TempDir dir("findings");
  GgufBuilder g;
  g.header(3, 0, 1);
  g.str("llama.block_cou\nnt");
  g.raw<uint32_t>(344866694);  // no such metadata type
  write_bytes(dir / "m.gguf", g.b);
  const std::string msg = error_of([&] { load_model(dir / "m.gguf"); });
  CHECK(msg == dir / "m.gguf" + ": metadata llama.block_cou\\nnt has unknown type 344866694");
}

TEST_CASE("mutated config.json: a number beyond double range is a JSON error, not an internal one", "[safety][findings]") {
  TempDir dir("findings");
  write_hf_dir(random_model(tiny_config(1, 16, 2, 1, 32, 32), 2), dir / "hf", DType::F32);
  write_text(dir / "hf/config.json", R"({"hidden_size": 1e309})");
  CHECK(error_of([&] { load_model(dir / "hf"); }) == dir / "hf/config.json" + ": not valid JSON (a number is out of range)");
}

TEST_CASE("an embedded vocabulary SentencePiece rejects names the model file once", "[safety][findings]") {
  TempDir dir("findings");
  const Model m = random_model(tiny_config(1, 16, 2, 1, 32, 32), 3);
  EmbeddedVocab v;
  v.tokens = {"<unk>", "<s>", "</s>", "<0x41>"};  // one byte piece: byte fallback needs all 256
  v.scores = {0, 0, 0, 0};
  v.types = {2, 3, 3, 6};
  write_gguf(m, dir / "v.gguf", DType::F32, 3, &v);
  const std::string msg = error_of([&] { Tokenizer::for_model(load_model(dir / "v.gguf")); });
  INFO(msg);
  CHECK(msg.find("not a SentencePiece model") != std::string::npos);
  CHECK(count(msg, dir / "v.gguf") == 1);
}
