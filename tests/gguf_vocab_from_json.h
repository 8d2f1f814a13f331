// A GGUF-style vocabulary (tokenizer.ggml.model = gpt2) built from a Hugging Face tokenizer.json, as
// llama.cpp's converter lays it out: ids in order, added tokens typed control (3) or user-defined (4),
// merges as "a b" strings. The caller sets pre, BOS/EOS ids and add_bos.
#pragma once
#include <algorithm>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/model.h"

namespace eeb::testing {

inline EmbeddedVocab gguf_vocab_from_tokenizer_json(const std::string& tokenizer_json, const std::string& pre) {
  std::ifstream in(tokenizer_json);
  const nlohmann::json j = nlohmann::json::parse(in);
  EmbeddedVocab v;
  v.model = "gpt2";
  v.pre = pre;
  const auto& vocab = j.at("model").at("vocab");
  size_t n = vocab.size();
  for (const auto& a : j.at("added_tokens")) n = std::max<size_t>(n, a.at("id").get<size_t>() + 1);
  v.tokens.assign(n, "");
  v.types.assign(n, 1);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) v.tokens[it.value().get<size_t>()] = it.key();
  for (const auto& a : j.at("added_tokens")) {
    const size_t id = a.at("id");
    v.tokens[id] = a.at("content");
    v.types[id] = a.at("special").get<bool>() ? 3 : 4;
  }
  for (const auto& m : j.at("model").at("merges"))
    v.merges.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
  v.scores.assign(n, 0.f);
  v.bos_id = v.eos_id = v.unk_id = 0;
  return v;
}

}  // namespace eeb::testing
