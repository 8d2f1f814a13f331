// Byte-level BPE semantics on small synthetic tokenizer.json files (ids worked out by hand from the
// BPE rules), the BOS policy of each kind of tokenizer, round trips on the real files, and refusals.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/model_writers.h"
#include "tests/test_data.h"
#include "tests/tokenizer/tokenizer_json_builder.h"
#include "tokenizer/factories.h"
#include "tokenizer/tokenizer.h"

using eeb::Tokenizer;
using eeb::testing::TempDir;
using eeb::testing::TokJson;
using Ids = std::vector<int>;

namespace {

std::string data(const std::string& rel) { return eeb::testing::shared_data() + "/" + rel; }

std::unique_ptr<Tokenizer> from_json(const TokJson& t, const std::string& config = "") {
  return eeb::bpe_from_tokenizer_json_text(t.dump(), "t/tokenizer.json", config, config.empty() ? "" : "t/tokenizer_config.json");
}

// The message of the Error f throws (fails the test when it throws none or another type).
template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const eeb::Error& e) {
    return e.what();
  }
  FAIL("expected an eeb::Error");
  return "";
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE("BPE merges by rank, then leftmost; bytes without merges stay bytes") {
  TokJson a;
  const int ab = a.merge("a", "b");
  a.merge("b", "c");
  CHECK(from_json(a)->encode("abc") == Ids{ab, 'c'});  // "a b" has the lower rank

  TokJson b;
  const int bc = b.merge("b", "c");
  b.merge("a", "b");
  CHECK(from_json(b)->encode("abc") == Ids{'a', bc});

  TokJson c;  // "aaa": the leftmost pair merges first
  const int aa = c.merge("a", "a");
  CHECK(from_json(c)->encode("aaa") == Ids{aa, 'a'});
  CHECK(from_json(c)->encode("aaaa") == Ids{aa, aa});

  TokJson d;  // chains: h+e, l+l, he+ll, hell+o
  d.merge("h", "e");
  d.merge("l", "l");
  d.merge("he", "ll");
  const int hello = d.merge("hell", "o");
  auto t = from_json(d);
  // GPT-2's regex keeps the space with the word; no merge takes the space (Ġ) in " hello".
  const Ids ids = t->encode("hello hello");
  CHECK(ids == Ids{hello, ' ', hello});
  CHECK(t->piece(' ') == "\xC4\xA0");  // Ġ: the byte-level space (byte 32 -> U+0120)
  CHECK(t->decode(ids) == "hello hello");
  CHECK(t->encode("") == Ids{});
}

TEST_CASE("ignore_merges emits a pre-token that is in the vocabulary whole") {
  TokJson t;
  const int abc = t.token("abc");  // in the vocabulary, but no merge builds it
  CHECK(from_json(t)->encode("abc") == Ids{'a', 'b', 'c'});
  t.j["model"]["ignore_merges"] = true;
  CHECK(from_json(t)->encode("abc") == Ids{abc});
  CHECK(from_json(t)->encode("abcd") == Ids{'a', 'b', 'c', 'd'});
}

TEST_CASE("added tokens are matched in the text before pre-tokenization") {
  TokJson t;
  const int x = t.added("<x>");
  const int xl = t.added("<xl>");
  const int s = t.added("[s]", true, /*lstrip=*/true, /*rstrip=*/true);
  auto tok = from_json(t);
  CHECK(tok->encode("a<x>b") == Ids{'a', x, 'b'});
  CHECK(tok->encode("<xl><x>") == Ids{xl, x});   // longest match first
  CHECK(tok->encode("<x") == Ids{'<', 'x'});
  CHECK(tok->encode("a [s] b") == Ids{'a', s, 'b'});  // lstrip/rstrip take the spaces
  CHECK(tok->piece(x) == "<x>");
  CHECK(tok->decode({'a', x, 'b'}) == "a<x>b");
}

TEST_CASE("NFC normalizer composes before the bytes are split") {
  TokJson t;
  t.j["normalizer"] = {{"type", "NFC"}};
  // e + U+0301 (combining acute) -> U+00E9 = C3 A9; without the normalizer the three bytes stay.
  CHECK(from_json(t)->encode("e\xCC\x81") == Ids{0xC3, 0xA9});
  t.j["normalizer"] = nullptr;
  CHECK(from_json(t)->encode("e\xCC\x81") == Ids{'e', 0xCC, 0x81});
  t.j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFKC"}}}}};
  CHECK(from_json(t)->encode("\xEF\xAC\x81") == Ids{'f', 'i'});  // U+FB01 ligature fi
}

TEST_CASE("Split pre-tokenizer with a regex, then ByteLevel without one") {
  TokJson t;
  const int ab = t.merge("a", "b");
  t.j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers",
                           {{{"type", "Split"}, {"pattern", {{"Regex", "\\p{N}"}}}, {"behavior", "Isolated"}, {"invert", false}},
                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  // Digits are isolated, so the "a" and "b" on either side of "1" cannot merge.
  CHECK(from_json(t)->encode("a1b") == Ids{'a', '1', 'b'});
  CHECK(from_json(t)->encode("ab") == Ids{ab});
  // use_regex false and no Split: one pre-token, so merges cross the space.
  TokJson u;
  const int asp = u.merge("a", " ");
  u.j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
  CHECK(from_json(u)->encode("a b") == Ids{asp, 'b'});
  u.j["pre_tokenizer"]["add_prefix_space"] = true;
  CHECK(from_json(u)->encode("a") == Ids{' ', 'a'});
}

TEST_CASE("BOS policy: decided once from the tokenizer's own files") {
  SECTION("tokenizer_config.json add_bos_token, template, or neither") {
    TokJson t;
    const int bos = t.added("<s>");
    auto none = from_json(t);
    CHECK_FALSE(none->add_bos());
    CHECK(none->bos() == -1);
    CHECK(none->bos_policy_description().find("no BOS") == 0);

    auto cfg_true = from_json(t, R"({"bos_token": "<s>", "add_bos_token": true})");
    CHECK(cfg_true->add_bos());
    CHECK(cfg_true->bos() == bos);
    CHECK(cfg_true->encode_for_model("a") == Ids{bos, 'a'});
    CHECK(cfg_true->encode_for_model("a", false) == Ids{'a'});
    CHECK(cfg_true->bos_policy_description().find("add_bos_token = true") != std::string::npos);

    auto cfg_obj = from_json(t, R"({"bos_token": {"content": "<s>", "__type": "AddedToken"}, "add_bos_token": false})");
    CHECK_FALSE(cfg_obj->add_bos());
    CHECK(cfg_obj->bos() == bos);

    t.j["post_processor"] = nlohmann::ordered_json::parse(R"({"type": "Sequence", "processors": [
        {"type": "ByteLevel"},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "special_tokens": {"<s>": {"id": "<s>", "ids": [)" + std::to_string(bos) + R"(], "tokens": ["<s>"]}}}]})");
    auto tmpl = from_json(t);
    CHECK(tmpl->add_bos());
    CHECK(tmpl->bos() == bos);
    CHECK(tmpl->bos_policy_description().find("template") != std::string::npos);
    CHECK_FALSE(from_json(t, R"({"add_bos_token": false})")->add_bos());  // the config wins
  }
  SECTION("the shared tokenizers") {
    SKIP_WITHOUT_DATA();
    auto llama3 = eeb::load_tokenizer(data("tokenizers/llama3"));
    CHECK(llama3->add_bos());
    CHECK(llama3->bos() == 128000);
    CHECK(llama3->piece(128000) == "<|begin_of_text|>");
    CHECK(llama3->bos_policy_description().find("<|begin_of_text|>") != std::string::npos);
    CHECK(llama3->eos() == 128001);
    auto qwen = eeb::load_tokenizer(data("tokenizers/qwen3"));
    CHECK_FALSE(qwen->add_bos());
    CHECK(qwen->bos() == -1);
    CHECK(qwen->eos() == 151645);
    CHECK(qwen->bos_policy_description().find("add_bos_token = false") != std::string::npos);
    auto gpt2 = eeb::load_tokenizer(data("tokenizers/gpt2/tokenizer.json"));
    CHECK_FALSE(gpt2->add_bos());
    CHECK(gpt2->eos() == 50256);
    auto llama2 = eeb::load_tokenizer(data("tokenizers/llama2/tokenizer.model"));
    CHECK(llama2->kind() == "sentencepiece");
    CHECK(llama2->add_bos());
    CHECK(llama2->bos() == 1);
    CHECK(llama2->bos_policy_description().find("<s>") != std::string::npos);
  }
}

TEST_CASE("the real tokenizers round-trip text and spell it with their pieces") {
  SKIP_WITHOUT_DATA();
  const std::vector<std::string> texts = {"Hello world", " leading", "multiple   spaces\n\n\ttabs", "Ünïcödé façade",
                                          "日本語のテキスト", "emoji 😀🚀👍🏽", "<|endoftext|> and <|im_start|>",
                                          "don't I'LL 12345678", "\r\n", ""};
  for (const std::string name : {"llama3", "qwen3", "gpt2"}) {
    auto t = eeb::load_tokenizer(data("tokenizers/" + name));
    for (const auto& s : texts) {
      INFO(name << ": " << s);
      const Ids ids = t->encode(s);
      CHECK(t->decode(ids) == s);  // every text here is already NFC
      if (s.find("<|") != std::string::npos) continue;  // added tokens are spelled as themselves
      std::string spelled;
      for (int id : ids) spelled += t->piece(id);
      CHECK(spelled == eeb::testing::byte_level(s));
      CHECK(t->vocab_size() > 50000);
    }
  }
}

TEST_CASE("bad tokenizer.json files: one line naming the file and the problem") {
  TempDir dir("tokjson");
  auto expect = [&](const std::string& text, const std::string& what) {
    const std::string p = dir / "tokenizer.json";
    eeb::testing::write_text(p, text);
    const std::string msg = error_of([&] { eeb::load_tokenizer(p); });
    INFO(msg);
    CHECK(msg.rfind(p + ": ", 0) == 0);
    CHECK(msg.find(what) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  };
  TokJson ok;
  const std::string good = ok.dump();
  expect("{", "not valid JSON");
  expect(good.substr(0, good.size() / 2), "not valid JSON");
  expect("{}", "no model section");
  expect("[1]", "tokenizer.json must be an object");
  auto with = [&](const std::string& key, const nlohmann::ordered_json& v) {
    TokJson t;
    t.j[key] = v;
    return t.dump();
  };
  expect(with("pre_tokenizer", {{"type", "Metaspace"}}), "unsupported pre-tokenizer type Metaspace");
  expect(with("normalizer", {{"type", "Precompiled"}}), "unsupported normalizer type Precompiled");
  expect(with("decoder", {{"type", "WordPiece"}}), "unsupported decoder type WordPiece");
  expect(with("post_processor", {{"type", "RobertaProcessing"}}), "unsupported post-processor type RobertaProcessing");
  expect(with("pre_tokenizer", nullptr), "no pre_tokenizer");
  expect(with("pre_tokenizer", nlohmann::ordered_json::parse(R"({"type": "Sequence", "pretokenizers": [
             {"type": "Split", "pattern": {"Regex": "(("}, "behavior": "Isolated"},
             {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})")),
         "regex does not compile");
  expect(with("pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Isolated"}}),
         "no ByteLevel step");
  nlohmann::ordered_json deep = {{"type", "NFC"}};
  for (int i = 0; i < 100; ++i) deep = {{"type", "Sequence"}, {"normalizers", {deep}}};
  expect(with("normalizer", deep), "nests Sequences too deeply");
  TokJson m;
  m.j["model"]["type"] = "Unigram";
  expect(m.dump(), "unsupported tokenizer model type Unigram");
  TokJson mg;
  mg.j["model"]["merges"].push_back("zz q");
  expect(mg.dump(), "merge 0 (\"zz q\") refers to \"zz\", which is not in the vocabulary");
  TokJson mr;
  mr.j["model"]["merges"].push_back("a b");  // "ab" itself is not in the vocabulary
  expect(mr.dump(), "makes \"ab\"");
  TokJson bf;
  bf.j["model"]["byte_fallback"] = true;
  expect(bf.dump(), "byte_fallback");
  TokJson vid;
  vid.j["model"]["vocab"]["a"] = "one";
  expect(vid.dump(), "model.vocab[\"a\"] must be an integer id");
  TokJson dup;
  dup.j["model"]["vocab"]["zz"] = 97;
  expect(dup.dump(), "is given to both");

  if (eeb::testing::have_shared_data()) {  // a truncated real file
    const std::string real = slurp(data("tokenizers/gpt2/tokenizer.json"));
    expect(real.substr(0, real.size() / 3), "not valid JSON");
  }
}

TEST_CASE("bad tokenizer_config.json and text are errors too") {
  TokJson t;
  t.added("<s>");
  CHECK(error_of([&] { from_json(t, "{\"add_bos_token\": 1}"); }).find("t/tokenizer_config.json: add_bos_token must be") == 0);
  CHECK(error_of([&] { from_json(t, "{\"bos_token\": \"<nope>\"}"); }).find("\"<nope>\" is not in the vocabulary") != std::string::npos);
  CHECK(error_of([&] { from_json(t, "not json"); }).find("t/tokenizer_config.json: not valid JSON") == 0);
  CHECK(error_of([&] { from_json(t)->encode("bad \xff byte"); }).find("not valid UTF-8") != std::string::npos);
  CHECK(error_of([&] { from_json(t)->piece(100000); }).find("out of range") != std::string::npos);
}
