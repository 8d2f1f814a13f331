// Byte-level BPE as Hugging Face `tokenizers` runs it (tokenizer.json with a ByteLevel
// pre-tokenizer: GPT-2, Llama-3, Qwen2/2.5/3), from a format-neutral description (BpeSpec) that the
// tokenizer.json reader (hf_json.cpp) and the GGUF vocabulary reader (gguf_bpe.cpp) fill.
//
// encode(text), in HF's order (tokenizers/src/tokenizer/mod.rs, added_vocabulary.rs):
//   1. split on added tokens with normalized = false, matched in the raw text (leftmost-longest);
//   2. normalize the rest (NFC/NFD/NFKC/NFKD through utf8proc, Lowercase);
//   3. split on added tokens with normalized = true;
//   4. pre-tokenize: each step splits every piece (Split: a PCRE2 regex in UTF + UCP mode;
//      ByteLevel: optional prefix space, optional GPT-2 regex);
//   5. BPE on each piece's bytes (the byte-level alphabet is applied to the vocabulary once at load
//      time instead of to the text): with ignore_merges a piece that is itself in the vocabulary is
//      one token; otherwise HF's merge loop (word.rs merge_all: lowest rank first, then leftmost).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace eeb {

struct BpeAddedToken {
  int id = -1;
  std::string content;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

struct BpePreStep {
  enum Kind { kSplit, kByteLevel } kind = kSplit;
  std::string regex;           // kSplit: the pattern (PCRE2 syntax; literal when `literal`)
  bool literal = false;        // kSplit: {"String": ...} patterns
  bool remove = false;         // kSplit: behavior Removed (else Isolated)
  bool add_prefix_space = false, use_regex = false;  // kByteLevel
};

struct BpeSpec {
  std::string origin;                                        // the file errors name
  std::vector<std::pair<std::string, int>> vocab;            // byte-level token strings -> id
  std::vector<std::pair<std::string, std::string>> merges;   // rank order
  std::vector<BpeAddedToken> added;
  std::vector<std::string> normalizers;                      // "NFC", "NFD", "NFKC", "NFKD", "Lowercase"
  std::vector<BpePreStep> pre;
  bool ignore_merges = false;
  int bos_id = -1, eos_id = -1;                              // -1 = none
  std::string unk_token;                                     // "" = none (unknown bytes are dropped, as HF)
};

// Validates the spec (every merge's parts and result in the vocabulary, ids unique, regexes compile)
// and builds the tokenizer; its BOS policy is left for the caller to set.
std::unique_ptr<Tokenizer> make_bpe_tokenizer(BpeSpec spec);

// The pre-tokenizer regexes of the tokenizers eebench knows (HF tokenizer.json strings).
extern const char* const kGpt2Regex;
extern const char* const kLlama3Regex;
extern const char* const kQwen2Regex;

// GPT-2's bytes_to_unicode(): the printable character that stands for each byte in byte-level vocabularies.
const std::string& byte_level_char(unsigned char b);

}  // namespace eeb
