// Which tokenizer a model or a file gets (load_tokenizer, Tokenizer::for_model), and the BOS policy
// every implementation shares.
#include "tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tokenizer/factories.h"

namespace eeb {

namespace fs = std::filesystem;

void Tokenizer::set_bos_policy(bool add, const std::string& why) {
  add_bos_ = add;
  bos_policy_ = why;
}

std::vector<int> Tokenizer::encode_for_model(const std::string& text, bool allow_bos) const {
  std::vector<int> ids;
  if (allow_bos && add_bos_) ids.push_back(bos());
  const std::vector<int> t = encode(text);
  ids.insert(ids.end(), t.begin(), t.end());
  return ids;
}

namespace {

// tokenizer_config.json next to a tokenizer file, or "".
std::string sibling_config(const std::string& file) {
  std::error_code ec;
  const fs::path p = fs::path(file).parent_path() / "tokenizer_config.json";
  return fs::is_regular_file(p, ec) ? p.string() : "";
}

std::unique_ptr<Tokenizer> sentencepiece_with_config(const std::string& path) {
  const std::string cfg = sibling_config(path);
  const int add = cfg.empty() ? -1 : read_add_bos_token(cfg);
  return sentencepiece_from_file(path, add, "tokenizer_config.json add_bos_token");
}

std::unique_ptr<Tokenizer> tokenizer_json_with_config(const std::string& path) {
  return bpe_from_tokenizer_json(path, sibling_config(path));
}

// The first bytes say what a file is: "GGUF", a JSON object, or (anything else) a SentencePiece model.
std::string file_head(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char buf[64];
  f.read(buf, sizeof buf);
  return std::string(buf, static_cast<size_t>(f.gcount()));
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path d(path);
    if (fs::is_regular_file(d / "tokenizer.model", ec)) return sentencepiece_with_config((d / "tokenizer.model").string());
    if (fs::is_regular_file(d / "tokenizer.json", ec)) return tokenizer_json_with_config((d / "tokenizer.json").string());
    throw Error(path, "no tokenizer.model or tokenizer.json in this directory");
  }
  check(fs::is_regular_file(path, ec), path, "tokenizer file not found");
  const std::string head = file_head(path);
  if (head.rfind("GGUF", 0) == 0) return Tokenizer::for_model(load_model(path));
  const size_t first = head.find_first_not_of(" \t\r\n");
  const bool json_name = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  if (json_name || (first != std::string::npos && head[first] == '{')) return tokenizer_json_with_config(path);
  return sentencepiece_with_config(path);
}

std::unique_ptr<Tokenizer> Tokenizer::from_file(const std::string& path) { return load_tokenizer(path); }

std::unique_ptr<Tokenizer> Tokenizer::from_proto(const std::string& serialized, const std::string& origin) {
  return sentencepiece_from_proto(serialized, origin, -1, "");
}

std::unique_ptr<Tokenizer> Tokenizer::for_model(const Model& m) {
  std::error_code ec;
  if (!m.tokenizer_model_path.empty()) return sentencepiece_with_config(m.tokenizer_model_path);
  if (m.format == "hf" && fs::is_regular_file(fs::path(m.path) / "tokenizer.json", ec))
    return tokenizer_json_with_config((fs::path(m.path) / "tokenizer.json").string());
  if (!m.vocab.empty()) {
    if (m.vocab.model == "gpt2") return bpe_from_gguf_vocab(m.vocab, m.path);
    std::string proto;
    try {
      proto = sentencepiece_proto_from_vocab(m.vocab);
    } catch (const Error& e) {  // "embedded vocabulary: ..." -> "<model>: embedded vocabulary: ..."
      throw Error(m.path, e.what());
    }
    return sentencepiece_from_proto(proto, m.path, m.vocab.add_bos, "tokenizer.ggml.add_bos_token");  // errors name m.path
  }
  throw Error(m.path,
              "model has no tokenizer (no tokenizer.model or tokenizer.json next to config.json and no embedded "
              "vocabulary); pass --tokenizer");
}

}  // namespace eeb
