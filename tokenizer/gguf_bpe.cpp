// A GGUF vocabulary with tokenizer.ggml.model = gpt2 -> byte-level BPE. llama.cpp names the
// pre-tokenizer (tokenizer.ggml.pre) instead of storing it; each known name maps to the regex (and
// normalizer) of the Hugging Face tokenizer.json it was converted from, so a GGUF file encodes as
// its HF original does. Defaults for add_bos_token follow llama.cpp (llama-vocab.cpp).
#include <map>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/factories.h"

namespace eeb {

namespace {

struct KnownPre {
  const char* regex;
  bool nfc, ignore_merges, add_bos;
  const char* family;
};

const KnownPre* known_pre(const std::string& pre) {
  static const std::map<std::string, KnownPre> m = {
      {"llama-bpe", {kLlama3Regex, false, true, true, "Llama-3"}},
      {"llama3", {kLlama3Regex, false, true, true, "Llama-3"}},
      {"llama-v3", {kLlama3Regex, false, true, true, "Llama-3"}},
      {"qwen2", {kQwen2Regex, true, false, false, "Qwen2"}},
      {"gpt2", {kGpt2Regex, false, false, false, "GPT-2"}},
      {"gpt-2", {kGpt2Regex, false, false, false, "GPT-2"}},
  };
  auto it = m.find(pre);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

std::unique_ptr<Tokenizer> bpe_from_gguf_vocab(const EmbeddedVocab& v, const std::string& origin) {
  check(v.model == "gpt2", origin, "not a byte-level BPE vocabulary (tokenizer.ggml.model = " + v.model + ")");
  const KnownPre* kp = known_pre(v.pre);
  check(kp, origin,
        v.pre.empty() ? "tokenizer.ggml.pre is missing (known: llama-bpe, qwen2, gpt2; llama.cpp's 'default' is not supported)"
                      : "unknown tokenizer.ggml.pre " + v.pre + " (known: llama-bpe, qwen2, gpt2)");
  check(!v.merges.empty(), origin, "tokenizer.ggml.merges is missing: a gpt2 vocabulary needs its merges");
  check(v.types.empty() || v.types.size() == v.tokens.size(), origin, "token types do not match the tokens");
  BpeSpec spec;
  spec.origin = origin;
  spec.vocab.reserve(v.tokens.size());
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const int type = v.types.empty() ? 1 : v.types[i];
    // Control (3) and user-defined (4) tokens are HF's added tokens (convert_hf_to_gguf.py writes
    // special added tokens as control, the others as user-defined): matched whole in text.
    if (type == 3 || type == 4) {
      BpeAddedToken a;
      a.id = static_cast<int>(i), a.content = v.tokens[i], a.special = type == 3;
      spec.added.push_back(std::move(a));
    } else {
      spec.vocab.emplace_back(v.tokens[i], static_cast<int>(i));
    }
  }
  spec.merges.reserve(v.merges.size());
  for (size_t r = 0; r < v.merges.size(); ++r) {
    const std::string& s = v.merges[r];
    const auto sp = s.find(' ');
    check(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos, origin,
          "tokenizer.ggml.merges[" + std::to_string(r) + "] \"" + s + "\" is not two tokens separated by one space");
    spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
  }
  if (kp->nfc) spec.normalizers.push_back("NFC");
  BpePreStep split;
  split.regex = kp->regex;
  BpePreStep bl;
  bl.kind = BpePreStep::kByteLevel;
  spec.pre = {split, bl};
  spec.ignore_merges = kp->ignore_merges;
  const int n = static_cast<int>(v.tokens.size());
  spec.bos_id = v.bos_id >= 0 && v.bos_id < n ? v.bos_id : -1;
  spec.eos_id = v.eos_id >= 0 && v.eos_id < n ? v.eos_id : -1;
  const int bos = spec.bos_id;
  auto t = make_bpe_tokenizer(std::move(spec));
  const bool add = v.add_bos >= 0 ? v.add_bos == 1 : kp->add_bos;
  const std::string why = v.add_bos >= 0 ? "tokenizer.ggml.add_bos_token = " + std::string(add ? "true" : "false")
                                         : std::string("llama.cpp's default for tokenizer.ggml.pre ") + v.pre;
  if (add) {
    check(bos >= 0, origin, "add_bos_token is true but tokenizer.ggml.bos_token_id is out of range");
    t->set_bos_policy(true, "BOS " + t->piece(bos) + " (id " + std::to_string(bos) + "): " + why);
  } else {
    t->set_bos_policy(false, "no BOS: " + why);
  }
  return t;
}

}  // namespace eeb
