// Tokenizer over libsentencepiece, plus a SentencePiece ModelProto synthesized from a vocabulary
// embedded in a model file (GGUF tokenizer.ggml.*).
//
// libsentencepiece's installed headers do not ship sentencepiece_model.pb.h, so the ModelProto is
// written with a small protobuf wire encoder. Field numbers are those of sentencepiece_model.proto
// (google/sentencepiece, src/sentencepiece_model.proto; see docs/TASKS.md for the check).
#include "tokenizer/factories.h"

#include <sentencepiece_processor.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace eeb {

namespace {

// ---- protobuf wire format (proto2) ----
enum WireType : uint32_t { kVarint = 0, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_tag(std::string& out, uint32_t field, WireType wt) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | wt);
}
// int32 and enum fields: negative values are sign-extended to 64 bits (10-byte varint).
void put_int(std::string& out, uint32_t field, int64_t v) {
  put_tag(out, field, kVarint);
  put_varint(out, static_cast<uint64_t>(v));
}
void put_bool(std::string& out, uint32_t field, bool v) { put_int(out, field, v ? 1 : 0); }
void put_bytes(std::string& out, uint32_t field, const std::string& s) {
  put_tag(out, field, kLengthDelimited);
  put_varint(out, s.size());
  out += s;
}
void put_float(std::string& out, uint32_t field, float f) {
  put_tag(out, field, kFixed32);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

// ModelProto.SentencePiece.Type (same numbering as llama.cpp's token types, 0 = undefined).
enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// Fields of sentencepiece_model.proto.
namespace f {
constexpr uint32_t kModelPieces = 1, kModelTrainerSpec = 2, kModelNormalizerSpec = 3;
constexpr uint32_t kPiecePiece = 1, kPieceScore = 2, kPieceType = 3;
constexpr uint32_t kTrainerModelType = 3, kTrainerVocabSize = 4, kTrainerByteFallback = 35,
                   kTrainerUnkId = 40, kTrainerBosId = 41, kTrainerEosId = 42, kTrainerPadId = 43,
                   kTrainerUnkPiece = 45, kTrainerBosPiece = 46, kTrainerEosPiece = 47;
constexpr uint32_t kNormName = 1, kNormCharsmap = 2, kNormAddDummyPrefix = 3,
                   kNormRemoveExtraWhitespaces = 4, kNormEscapeWhitespaces = 5;
constexpr int kModelTypeBpe = 2;
}  // namespace f

// One line: libsentencepiece's messages are "<CODE>: <text>"; a protobuf parse failure names a
// source line of the library instead of the problem.
std::string status_text(const sentencepiece::util::Status& s) {
  std::string t = s.ToString();
  if (t.find("ParseFromArray") != std::string::npos) return "not a serialized ModelProto";
  for (char& c : t)
    if (c == '\n' || c == '\r') c = ' ';
  return t;
}

}  // namespace

std::string sentencepiece_proto_from_vocab(const EmbeddedVocab& v) {
  const std::string origin = "embedded vocabulary";
  if (v.model != "llama")
    throw Error(origin, "unsupported tokenizer model " + v.model +
                            " (supported: llama for SentencePiece, gpt2 for byte-level BPE)");
  const size_t n = v.tokens.size();
  check(n > 0, origin, "no tokens");
  check(n <= 0x7fffffff, origin, "too many tokens");
  check(v.scores.empty() || v.scores.size() == n, origin,
        "scores has " + std::to_string(v.scores.size()) + " entries for " + std::to_string(n) +
            " tokens");
  check(v.types.empty() || v.types.size() == n, origin,
        "token types has " + std::to_string(v.types.size()) + " entries for " + std::to_string(n) +
            " tokens");
  auto in_range = [&](int id) { return id >= 0 && static_cast<size_t>(id) < n; };
  check(in_range(v.unk_id), origin, "unknown token id " + std::to_string(v.unk_id) + " out of range");
  check(in_range(v.bos_id), origin, "BOS token id " + std::to_string(v.bos_id) + " out of range");
  check(in_range(v.eos_id), origin, "EOS token id " + std::to_string(v.eos_id) + " out of range");

  std::string pieces;
  bool any_byte = false;
  for (size_t i = 0; i < n; ++i) {
    const std::string& tok = v.tokens[i];
    check(!tok.empty(), origin, "token " + std::to_string(i) + " is empty");
    int type = kNormal;
    if (!v.types.empty()) {
      const int32_t t = v.types[i];
      check(t >= 0 && t <= 6, origin,
            "token " + std::to_string(i) + " has invalid type " + std::to_string(t));
      type = t == 0 ? kNormal : t;
    } else if (static_cast<int>(i) == v.unk_id) {
      type = kUnknown;
    } else if (static_cast<int>(i) == v.bos_id || static_cast<int>(i) == v.eos_id) {
      type = kControl;
    } else if (tok.size() == 6 && tok.compare(0, 3, "<0x") == 0 && tok[5] == '>') {
      type = kByte;
    }
    any_byte = any_byte || type == kByte;
    std::string sp;
    put_bytes(sp, f::kPiecePiece, tok);
    put_float(sp, f::kPieceScore, v.scores.empty() ? 0.f : v.scores[i]);
    put_int(sp, f::kPieceType, type);
    put_bytes(pieces, f::kModelPieces, sp);
  }

  std::string trainer;
  put_int(trainer, f::kTrainerModelType, f::kModelTypeBpe);
  put_int(trainer, f::kTrainerVocabSize, static_cast<int64_t>(n));
  put_bool(trainer, f::kTrainerByteFallback, any_byte);
  put_int(trainer, f::kTrainerUnkId, v.unk_id);
  put_int(trainer, f::kTrainerBosId, v.bos_id);
  put_int(trainer, f::kTrainerEosId, v.eos_id);
  put_int(trainer, f::kTrainerPadId, -1);
  // SentencePieceProcessor::bos_id()/eos_id()/unk_id() look the ids up by these piece strings.
  put_bytes(trainer, f::kTrainerUnkPiece, v.tokens[v.unk_id]);
  put_bytes(trainer, f::kTrainerBosPiece, v.tokens[v.bos_id]);
  put_bytes(trainer, f::kTrainerEosPiece, v.tokens[v.eos_id]);

  // Llama's normalizer: no character mapping, dummy prefix, whitespace kept as is and escaped to ▁.
  std::string norm;
  put_bytes(norm, f::kNormName, "identity");
  put_bytes(norm, f::kNormCharsmap, "");
  put_bool(norm, f::kNormAddDummyPrefix, v.add_dummy_prefix);
  put_bool(norm, f::kNormRemoveExtraWhitespaces, false);
  put_bool(norm, f::kNormEscapeWhitespaces, true);

  std::string model = std::move(pieces);
  put_bytes(model, f::kModelTrainerSpec, trainer);
  put_bytes(model, f::kModelNormalizerSpec, norm);
  return model;
}

// ---- the SentencePiece tokenizer ----

namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(std::string origin)
      : Tokenizer(std::move(origin)), sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}

  void load_file(const std::string& path) {
    const auto st = sp_->Load(path);
    if (!st.ok()) throw Error(path, "not a SentencePiece model: " + status_text(st));
    check(sp_->GetPieceSize() > 0, path, "not a SentencePiece model: no pieces");
  }
  void load_proto(const std::string& serialized) {
    const auto st = sp_->LoadFromSerializedProto(serialized);
    if (!st.ok()) throw Error(origin_, "not a SentencePiece model: " + status_text(st));
    check(sp_->GetPieceSize() > 0, origin_, "not a SentencePiece model: no pieces");
  }

  std::vector<int> encode(const std::string& text) const override {
    std::vector<int> ids;
    const auto st = sp_->Encode(text, &ids);
    if (!st.ok()) throw Error(origin_, "encode failed: " + status_text(st));
    return ids;
  }
  std::string decode(const std::vector<int>& ids) const override {
    std::string out;
    const auto st = sp_->Decode(ids, &out);
    if (!st.ok()) throw Error(origin_, "decode failed: " + status_text(st));
    return out;
  }
  std::string piece(int id) const override {
    check(id >= 0 && id < vocab_size(), origin_,
          "token id " + std::to_string(id) + " out of range (vocabulary of " +
              std::to_string(vocab_size()) + ")");
    return sp_->IdToPiece(id);
  }
  int bos() const override { return sp_->bos_id(); }
  int eos() const override { return sp_->eos_id(); }
  int vocab_size() const override { return sp_->GetPieceSize(); }
  std::string kind() const override { return "sentencepiece"; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

// LlamaTokenizer's add_bos_token defaults to true; a GGUF file or tokenizer_config.json may say otherwise.
void set_sentencepiece_policy(Tokenizer& t, int explicit_add_bos, const std::string& source) {
  const int bos = t.bos();
  const std::string name = bos >= 0 ? t.piece(bos) + " (id " + std::to_string(bos) + ")" : "";
  if (explicit_add_bos == 0) return t.set_bos_policy(false, "no BOS: " + source + " = false");
  if (bos < 0) {
    if (explicit_add_bos == 1)
      throw Error(t.origin(), source + " = true but the vocabulary has no BOS piece");
    return t.set_bos_policy(false, "no BOS: the SentencePiece model has no BOS piece");
  }
  if (explicit_add_bos == 1) return t.set_bos_policy(true, "BOS " + name + ": " + source + " = true");
  t.set_bos_policy(true, "BOS " + name + ": SentencePiece default (LlamaTokenizer add_bos_token = true)");
}

}  // namespace

std::unique_ptr<Tokenizer> sentencepiece_from_file(const std::string& path, int explicit_add_bos,
                                                   const std::string& policy_source) {
  std::error_code ec;
  check(std::filesystem::is_regular_file(path, ec), path, "tokenizer file not found");
  auto t = std::make_unique<SentencePieceTokenizer>(path);
  t->load_file(path);
  set_sentencepiece_policy(*t, explicit_add_bos, policy_source);
  return t;
}

std::unique_ptr<Tokenizer> sentencepiece_from_proto(const std::string& serialized, const std::string& origin,
                                                    int explicit_add_bos, const std::string& policy_source) {
  auto t = std::make_unique<SentencePieceTokenizer>(origin);
  t->load_proto(serialized);
  set_sentencepiece_policy(*t, explicit_add_bos, policy_source);
  return t;
}

}  // namespace eeb
