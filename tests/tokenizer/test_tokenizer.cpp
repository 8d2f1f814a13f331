// Tokenizer tests: the Llama-2 tokenizer.model against a tokenizer synthesized from the vocabulary
// embedded in a GGUF file, known ids, and errors on bad input.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tests/test_data.h"
#include "tests/tokenizer/gguf_vocab_reader.h"

using eeb::Tokenizer;

namespace {

std::string data(const std::string& rel) { return eeb::testing::shared_data() + "/" + rel; }

const std::vector<std::string>& sample_strings() {
  static const std::vector<std::string> s = {
      "",
      "Hello world",
      "hello",
      " leading space",
      "  two leading spaces",
      "trailing space ",
      "trailing spaces   ",
      "multiple   inner    spaces",
      "\n",
      "line one\nline two\n\nline four",
      "tab\tseparated\tvalues",
      "\r\nwindows line",
      "it 's a charming and often affecting journey . ",
      "it 's a charming and often affecting journey . \nQuestion: Is this sentence positive or "
      "negative?\nAnswer:",
      "\nQuestion: Is this sentence positive or negative?\nAnswer:",
      " negative",
      " positive",
      "Answer: positive",
      "0123456789 3.14159 2024-01-01 1,000,000",
      "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
      "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer: B",
      "Ünïcödé façade naïve résumé",
      "Привет, мир",
      "日本語のテキストと中文文本",
      "emoji 😀🚀👍🏽 and flags 🇺🇸",
      "math ∑∫√∞ ≠ ≤ ≥",
      "punctuation!?.,;:'\"()[]{}<>/\\|@#$%^&*-_=+~`",
      "<s> literal special pieces </s> <unk>",
      "\x01\x02 control bytes \x7f",
      "ÿ",
      "▁already escaped",
      "a",
      " ",
      "   ",
      "\n\n\n",
  };
  return s;
}

// Pieces with ▁ turned back into spaces: what encode() covers when no byte fallback happens.
std::string joined_pieces(const Tokenizer& t, const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) s += t.piece(id);
  return s;
}

std::string escape_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ') out += "\xE2\x96\x81";
    else out += c;
  }
  return out;
}

// What the pieces of encode(s) spell: the dummy prefix ▁, then s with ▁ for spaces.
std::string prefixed_escaped(const std::string& s) {
  std::string out = "\xE2\x96\x81";
  out += escape_spaces(s);
  return out;
}

// sst-lm-12L's normalizer has remove_extra_whitespaces = true (sentencepiece's training default, unlike
// Llama-2): leading and trailing spaces go and inner runs of spaces become one.
std::string squeeze_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

int find_piece(const Tokenizer& t, const std::string& p) {
  for (int i = 0; i < t.vocab_size(); ++i)
    if (t.piece(i) == p) return i;
  return -1;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("eeb_tok_" + name)).string();
}

}  // namespace

TEST_CASE("Llama-2 tokenizer.model gives the well-known ids") {
  SKIP_WITHOUT_DATA();
  auto t = Tokenizer::from_file(data("tokenizers/llama2/tokenizer.model"));
  CHECK(t->vocab_size() == 32000);
  CHECK(t->bos() == 1);
  CHECK(t->eos() == 2);
  CHECK(t->piece(0) == "<unk>");
  CHECK(t->piece(1) == "<s>");
  CHECK(t->piece(13) == "<0x0A>");
  // HF LlamaTokenizer("Hello world") = [1, 15043, 3186]; "\n" = [1, 29871, 13] (▁ then the newline byte).
  CHECK(t->encode("Hello world") == std::vector<int>{15043, 3186});
  CHECK(t->encode("\n") == std::vector<int>{29871, 13});
  CHECK(t->encode("").empty());
  CHECK(t->decode({15043, 3186}) == "Hello world");
}

TEST_CASE("tokenizer built from the GGUF vocabulary matches the Llama-2 tokenizer.model") {
  SKIP_WITHOUT_DATA();
  auto ref = Tokenizer::from_file(data("tokenizers/llama2/tokenizer.model"));
  const std::string gguf = data("models/llama-2-tiny-random.gguf");
  const eeb::EmbeddedVocab v = eeb::testing::GgufVocabReader::read(gguf);
  REQUIRE(v.model == "llama");
  REQUIRE(v.tokens.size() == 32000);
  REQUIRE(v.scores.size() == 32000);
  REQUIRE(v.types.size() == 32000);

  eeb::Model m;
  m.path = gguf;
  m.format = "gguf";
  m.vocab = v;
  auto emb = Tokenizer::for_model(m);
  CHECK(emb->vocab_size() == ref->vocab_size());
  CHECK(emb->bos() == ref->bos());
  CHECK(emb->eos() == ref->eos());
  for (int id = 0; id < ref->vocab_size(); id += 97) CHECK(emb->piece(id) == ref->piece(id));

  for (const std::string& s : sample_strings()) {
    INFO("text: \"" << s << "\"");
    const auto a = ref->encode(s);
    const auto b = emb->encode(s);
    CHECK(a == b);
    CHECK(ref->decode(a) == emb->decode(b));
  }
  // Every string built from the sample pieces also agrees (combinations exercise the merges).
  const auto& ss = sample_strings();
  for (size_t i = 0; i + 1 < ss.size(); ++i) {
    const std::string s = ss[i] + ss[i + 1];
    INFO("text: \"" << s << "\"");
    CHECK(ref->encode(s) == emb->encode(s));
  }
  // Real task text: every SST-2 dev line and the raw lines of one MMLU file.
  int n_lines = 0;
  for (const std::string rel : {"datasets/sst2/dev.tsv", "datasets/mmlu/test/high_school_us_history_test.csv"}) {
    std::ifstream in(data(rel));
    std::string line;
    while (std::getline(in, line)) {
      ++n_lines;
      if (ref->encode(line) != emb->encode(line)) FAIL_CHECK("differs on " << rel << ": " << line);
    }
  }
  CHECK(n_lines > 1000);
}

TEST_CASE("sst-lm-12L tokenizer: ids are the pieces of the escaped text") {
  SKIP_WITHOUT_DATA();
  auto t = Tokenizer::from_file(data("models/sst-lm-12L/tokenizer.model"));
  CHECK(t->vocab_size() == 2048);
  CHECK(t->piece(0) == "<unk>");
  CHECK(t->piece(1) == "<s>");
  CHECK(t->piece(2) == "</s>");
  CHECK(t->bos() == 1);
  CHECK(t->eos() == 2);

  // ASCII text seen in training: no byte fallback, so the pieces spell "▁" + the normalized text
  // with ▁ for spaces.
  for (const std::string s :
       {"it 's a charming and often affecting journey . ", "Answer: positive", "negative",
        " positive", "a  movie ", "Question: Is this sentence positive or negative?"}) {
    INFO("text: \"" << s << "\"");
    const auto ids = t->encode(s);
    REQUIRE(!ids.empty());
    for (int id : ids) CHECK((id > 2 && id < t->vocab_size()));
    CHECK(joined_pieces(*t, ids) == prefixed_escaped(squeeze_spaces(s)));
    CHECK(t->decode(ids) == squeeze_spaces(s));
  }
  CHECK(t->encode("it 's . ") == t->encode("it 's ."));
  CHECK(t->encode("   ").empty());

  // Single-piece words: "positive" becomes the one piece "▁positive" when the vocabulary has it.
  for (const std::string w : {"positive", "negative"}) {
    const int id = find_piece(*t, "\xE2\x96\x81" + w);
    if (id >= 0) CHECK(t->encode(w) == std::vector<int>{id});
  }

  // A character outside the vocabulary falls back to its UTF-8 bytes: € = E2 82 AC.
  const int e2 = find_piece(*t, "<0xE2>"), x82 = find_piece(*t, "<0x82>"), ac = find_piece(*t, "<0xAC>");
  REQUIRE(e2 >= 0);
  REQUIRE(x82 >= 0);
  REQUIRE(ac >= 0);
  const auto euro = t->encode("\xE2\x82\xAC");
  REQUIRE(euro.size() >= 3);
  CHECK(std::vector<int>(euro.end() - 3, euro.end()) == std::vector<int>{e2, x82, ac});
  CHECK(t->decode(euro) == "\xE2\x82\xAC");

  // Newlines are bytes too (no newline piece in a Llama-style vocabulary).
  const auto nl = t->encode("a\nb");
  CHECK(t->decode(nl) == "a\nb");
  CHECK(std::find(nl.begin(), nl.end(), find_piece(*t, "<0x0A>")) != nl.end());

  for (const std::string& s : sample_strings()) {
    if (s.find("\xE2\x96\x81") != std::string::npos) continue;  // a literal ▁ decodes as a space
    INFO("text: \"" << s << "\"");
    CHECK(t->decode(t->encode(s)) == squeeze_spaces(s));
  }
}

TEST_CASE("for_model prefers tokenizer.model, and fails without any tokenizer") {
  SKIP_WITHOUT_DATA();
  eeb::Model m;
  m.path = "some/model";
  m.tokenizer_model_path = data("models/sst-lm-12L/tokenizer.model");
  m.vocab.tokens = {"<unk>", "<s>", "</s>"};  // would fail: tokenizer.model wins
  CHECK(Tokenizer::for_model(m)->vocab_size() == 2048);

  eeb::Model none;
  none.path = "some/model";
  try {
    Tokenizer::for_model(none);
    FAIL("expected an Error");
  } catch (const eeb::Error& e) {
    CHECK(std::string(e.what()).find("some/model: model has no tokenizer") == 0);
    CHECK(std::string(e.what()).find("--tokenizer") != std::string::npos);
  }
}

TEST_CASE("tokenizer files that are not SentencePiece models are rejected") {
  const std::string p = temp_path("corrupt.model");
  {
    std::ofstream f(p, std::ios::binary);
    f << "this is not a protobuf \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
  }
  try {
    Tokenizer::from_file(p);
    FAIL("expected an Error");
  } catch (const eeb::Error& e) {
    CHECK(std::string(e.what()).find(p + ": not a SentencePiece model") == 0);
  }
  std::remove(p.c_str());
  CHECK_THROWS_AS(Tokenizer::from_file(temp_path("does_not_exist.model")), eeb::Error);
  CHECK_THROWS_AS(Tokenizer::from_proto("\x0a\xff", "blob"), eeb::Error);

  if (eeb::testing::have_shared_data()) {  // a truncated real model
    std::ifstream in(data("models/sst-lm-12L/tokenizer.model"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    REQUIRE(bytes.size() > 1000);
    CHECK_THROWS_AS(Tokenizer::from_proto(bytes.substr(0, bytes.size() / 2), "half"), eeb::Error);
  }
}

TEST_CASE("embedded vocabularies are validated") {
  eeb::EmbeddedVocab v;
  v.tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81" "a", "b"};
  v.scores = {0, 0, 0, -1, -2};
  v.types = {2, 3, 3, 1, 1};
  auto t = Tokenizer::from_proto(eeb::sentencepiece_proto_from_vocab(v), "tiny");
  CHECK(t->vocab_size() == 5);
  CHECK(t->bos() == 1);
  CHECK(t->eos() == 2);
  CHECK(t->encode("a") == std::vector<int>{3});
  CHECK(t->encode("ab") == std::vector<int>{3, 4});
  CHECK(t->encode("c") == std::vector<int>{0});  // no byte pieces: unknown

  auto expect_error = [](eeb::EmbeddedVocab bad, const std::string& what) {
    try {
      (void)eeb::sentencepiece_proto_from_vocab(bad);
      FAIL("expected an Error containing " << what);
    } catch (const eeb::Error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(what) != std::string::npos);
    }
  };
  eeb::EmbeddedVocab bad = v;
  bad.model = "gpt2";
  expect_error(bad, "unsupported tokenizer model gpt2");
  bad = v;
  bad.scores.pop_back();
  expect_error(bad, "scores");
  bad = v;
  bad.types[4] = 9;
  expect_error(bad, "invalid type");
  bad = v;
  bad.bos_id = 7;
  expect_error(bad, "BOS");
  bad = v;
  bad.tokens[4] = "";
  expect_error(bad, "empty");
  expect_error(eeb::EmbeddedVocab{}, "no tokens");

  // Structural problems libsentencepiece finds come back as Error too.
  bad = v;
  bad.tokens[4] = bad.tokens[3];  // duplicate piece
  CHECK_THROWS_AS(Tokenizer::from_proto(eeb::sentencepiece_proto_from_vocab(bad), "dup"), eeb::Error);
  bad = v;
  bad.types[0] = 1;  // no unknown piece
  CHECK_THROWS_AS(Tokenizer::from_proto(eeb::sentencepiece_proto_from_vocab(bad), "nounk"), eeb::Error);
  bad = v;
  bad.tokens[4] = "<0x41>";
  bad.types[4] = 6;  // one byte piece, not all 256
  CHECK_THROWS_AS(Tokenizer::from_proto(eeb::sentencepiece_proto_from_vocab(bad), "bytes"), eeb::Error);

  eeb::Model m;
  m.path = "x.gguf";
  m.vocab = v;
  for (const auto& [model, what] : std::vector<std::pair<std::string, std::string>>{
           {"bert", "unsupported tokenizer model bert"}, {"gpt2", "tokenizer.ggml.pre is missing"}}) {
    m.vocab.model = model;
    try {
      Tokenizer::for_model(m);
      FAIL("expected an Error");
    } catch (const eeb::Error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find("x.gguf: ") == 0);
      CHECK(std::string(e.what()).find(what) != std::string::npos);
    }
  }
  CHECK_THROWS_AS(t->piece(5), eeb::Error);
  CHECK_THROWS_AS(t->piece(-1), eeb::Error);
  CHECK_THROWS_AS(t->decode({5}), eeb::Error);
}
