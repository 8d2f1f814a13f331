// The tokenizer interface and its two implementations' factories:
//   - SentencePiece (libsentencepiece): HF tokenizer.model, or a GGUF vocabulary with
//     tokenizer.ggml.model = llama. Encoding matches Hugging Face's LlamaTokenizer.
//   - Hugging Face byte-level BPE (tokenizer/bpe.h): tokenizer.json (Llama-3, Qwen2/2.5/3, GPT-2),
//     or a GGUF vocabulary with tokenizer.ggml.model = gpt2.
// encode() never adds BOS/EOS. Whether the model expects BOS first is the tokenizer's own policy,
// decided once when it is loaded (add_bos(), bos_policy_description()); encode_for_model() applies it.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"

namespace eeb {

class Tokenizer {
 public:
  // A tokenizer file: tokenizer.model (SentencePiece) or tokenizer.json (byte-level BPE), told apart
  // by content; a directory holding one of them (load_tokenizer's rules).
  static std::unique_ptr<Tokenizer> from_file(const std::string& path);
  // A serialized SentencePiece ModelProto.
  static std::unique_ptr<Tokenizer> from_proto(const std::string& serialized, const std::string& origin);
  // The model's own tokenizer (HF tokenizer.model / tokenizer.json, or GGUF vocabulary); throws
  // Error if it has none.
  static std::unique_ptr<Tokenizer> for_model(const Model& m);
  virtual ~Tokenizer() = default;

  virtual std::vector<int> encode(const std::string& text) const = 0;  // no BOS/EOS
  virtual std::string decode(const std::vector<int>& ids) const = 0;
  virtual std::string piece(int id) const = 0;  // the vocabulary entry ("▁the", "Ġthe", "<|eot_id|>")
  virtual int bos() const = 0;                  // -1 when the tokenizer has none
  virtual int eos() const = 0;                  // -1 when the tokenizer has none
  virtual int vocab_size() const = 0;           // highest id + 1
  virtual std::string kind() const = 0;         // "sentencepiece" | "bpe"

  // The BOS policy: whether the model expects bos() before every text, and why (recorded with runs).
  bool add_bos() const { return add_bos_; }
  const std::string& bos_policy_description() const { return bos_policy_; }
  // BOS (when the policy says so and allow_bos) followed by encode(text).
  std::vector<int> encode_for_model(const std::string& text, bool allow_bos = true) const;
  const std::string& origin() const { return origin_; }  // the file errors name

  // Used by the factories: the policy is set once, right after loading.
  void set_bos_policy(bool add, const std::string& why);

 protected:
  explicit Tokenizer(std::string origin) : origin_(std::move(origin)) {}
  std::string origin_;

 private:
  bool add_bos_ = false;
  std::string bos_policy_ = "no BOS";
};

// The tokenizer of a model directory or a tokenizer file:
//   directory with tokenizer.model -> SentencePiece (a tokenizer.json next to it is HF's conversion
//     of the same model, e.g. Llama-2 or Mistral; the SentencePiece file is authoritative);
//   directory with tokenizer.json only -> byte-level BPE;
//   a file -> by content (JSON object: tokenizer.json; otherwise a SentencePiece model).
// tokenizer_config.json next to the file, when present, feeds the BOS policy.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir_or_file);

// Builds a serialized SentencePiece ModelProto (BPE, byte fallback, Llama normalizer settings) from a
// vocabulary embedded in a model file, so libsentencepiece does the encoding.
std::string sentencepiece_proto_from_vocab(const EmbeddedVocab& v);

}  // namespace eeb
