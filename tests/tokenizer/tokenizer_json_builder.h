// Small synthetic tokenizer.json files for the BPE tests: the 256 byte-level characters as ids
// 0..255 (GPT-2's bytes_to_unicode, written out here independently of tokenizer/bpe.cpp), plus the
// merges a test names, with their results as ids 256, 257, ...
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace eeb::testing {

inline std::string bytes_to_unicode(unsigned char b) {
  auto printable = [](int c) { return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255); };
  int cp = b;
  if (!printable(b)) {
    cp = 256;
    for (int c = 0; c < b; ++c)
      if (!printable(c)) ++cp;
  }
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else {
    s += char(0xc0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3f));
  }
  return s;
}

// Text -> its byte-level spelling (what a vocabulary entry for that text looks like).
inline std::string byte_level(const std::string& text) {
  std::string s;
  for (unsigned char c : text) s += bytes_to_unicode(c);
  return s;
}

struct TokJson {
  nlohmann::ordered_json j;
  int next_id = 256;
  TokJson() {
    using nlohmann::ordered_json;
    ordered_json vocab = ordered_json::object();
    for (int b = 0; b < 256; ++b) vocab[bytes_to_unicode(static_cast<unsigned char>(b))] = b;
    j["version"] = "1.0";
    j["added_tokens"] = ordered_json::array();
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    j["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
    j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
    j["model"] = {{"type", "BPE"},    {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                  {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
                  {"vocab", vocab},   {"merges", ordered_json::array()}};
  }
  // Adds merge left+right (texts, not byte-level) and returns the merged token's id.
  int merge(const std::string& left, const std::string& right) {
    j["model"]["merges"].push_back(byte_level(left) + " " + byte_level(right));
    return token(left + right);
  }
  int token(const std::string& text) {  // a vocabulary entry (byte-level spelling of text)
    auto& v = j["model"]["vocab"];
    const std::string k = byte_level(text);
    if (!v.contains(k)) v[k] = next_id++;
    return v[k].get<int>();
  }
  int added(const std::string& content, bool special = true, bool lstrip = false, bool rstrip = false) {
    const int id = next_id++;
    j["added_tokens"].push_back({{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", lstrip},
                                 {"rstrip", rstrip}, {"normalized", !special}, {"special", special}});
    return id;
  }
  std::string dump() const { return j.dump(); }
};

}  // namespace eeb::testing
