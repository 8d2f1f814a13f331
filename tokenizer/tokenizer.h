// Tokenizer over SentencePiece (libsentencepiece). Encoding matches Hugging Face's LlamaTokenizer:
// encode() returns pieces without BOS; callers prepend bos() where HF would.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"

namespace sentencepiece { class SentencePieceProcessor; }

namespace eeb {

class Tokenizer {
 public:
  static std::unique_ptr<Tokenizer> from_file(const std::string& path);   // tokenizer.model
  static std::unique_ptr<Tokenizer> from_proto(const std::string& serialized, const std::string& origin);
  // The model's own tokenizer (HF tokenizer.model or GGUF vocabulary); throws Error if it has none.
  static std::unique_ptr<Tokenizer> for_model(const Model& m);
  ~Tokenizer();

  std::vector<int> encode(const std::string& text) const;  // no BOS/EOS
  std::string decode(const std::vector<int>& ids) const;
  std::string piece(int id) const;
  int bos() const;
  int eos() const;
  int vocab_size() const;

 private:
  Tokenizer();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string origin_;
};

// Builds a serialized SentencePiece ModelProto (BPE, byte fallback, Llama normalizer settings) from a
// vocabulary embedded in a model file, so libsentencepiece does the encoding.
std::string sentencepiece_proto_from_vocab(const EmbeddedVocab& v);

}  // namespace eeb
