// Hugging Face tokenizer.json (byte-level BPE) and tokenizer_config.json -> BpeSpec + BOS policy.
// Every field is type-checked before use, so a malformed file is one Error naming it, never a
// nlohmann exception. What is not implemented is refused by name rather than ignored.
#include <fstream>
#include <iterator>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/factories.h"

namespace eeb {

namespace {

using nlohmann::json;

json parse_json(const std::string& text, const std::string& origin) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    std::string m = e.what();
    if (auto p = m.find("] "); p != std::string::npos) m = m.substr(p + 2);  // drop "[json.exception...]"
    throw Error(origin, "not valid JSON: " + m);
  }
}

// Sequences nest; a file nesting them deeper than this is refused rather than recursed into.
constexpr size_t kMaxNesting = 32;
size_t nesting(const std::string& where) {
  size_t n = 0;
  for (char c : where) n += c == '[';
  return n;
}

struct Reader {
  const std::string& origin;
  const json& obj(const json& j, const std::string& what) const {
    check(j.is_object(), origin, what + " must be an object");
    return j;
  }
  std::string str(const json& j, const std::string& what) const {
    check(j.is_string(), origin, what + " must be a string");
    return j.get<std::string>();
  }
  bool flag(const json& o, const char* key, bool dflt, const std::string& where) const {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return dflt;
    check(it->is_boolean(), origin, where + "." + key + " must be true or false");
    return it->get<bool>();
  }
  std::string type(const json& o, const std::string& where) const {
    obj(o, where);
    auto it = o.find("type");
    check(it != o.end(), origin, where + " has no type");
    return str(*it, where + ".type");
  }
  int id(const json& j, const std::string& what) const {
    check(j.is_number_integer(), origin, what + " must be an integer id");
    const int64_t v = j.get<int64_t>();
    check(v >= 0 && v < (1 << 30), origin, what + " = " + std::to_string(v) + " is out of range");
    return static_cast<int>(v);
  }
};

void read_normalizer(const Reader& r, const json& n, std::vector<std::string>& out, const std::string& where) {
  check(nesting(where) <= kMaxNesting, r.origin, where.substr(0, where.find('[')) + " nests Sequences too deeply");
  if (n.is_null()) return;
  const std::string t = r.type(n, where);
  if (t == "NFC" || t == "NFD" || t == "NFKC" || t == "NFKD") return out.push_back(t);
  if (t == "Sequence") {
    auto it = n.find("normalizers");
    check(it != n.end() && it->is_array(), r.origin, where + ".normalizers must be an array");
    for (size_t i = 0; i < it->size(); ++i) read_normalizer(r, (*it)[i], out, where + ".normalizers[" + std::to_string(i) + "]");
    return;
  }
  throw Error(r.origin, "unsupported normalizer type " + t + " (supported: NFC, NFD, NFKC, NFKD, Sequence)");
}

void read_pre(const Reader& r, const json& p, std::vector<BpePreStep>& out, const std::string& where) {
  check(nesting(where) <= kMaxNesting, r.origin, where.substr(0, where.find('[')) + " nests Sequences too deeply");
  const std::string t = r.type(p, where);
  if (t == "Sequence") {
    auto it = p.find("pretokenizers");
    check(it != p.end() && it->is_array(), r.origin, where + ".pretokenizers must be an array");
    for (size_t i = 0; i < it->size(); ++i) read_pre(r, (*it)[i], out, where + ".pretokenizers[" + std::to_string(i) + "]");
    return;
  }
  BpePreStep s;
  if (t == "ByteLevel") {
    s.kind = BpePreStep::kByteLevel;
    s.add_prefix_space = r.flag(p, "add_prefix_space", true, where);
    s.use_regex = r.flag(p, "use_regex", true, where);
  } else if (t == "Split") {
    auto pat = p.find("pattern");
    check(pat != p.end() && pat->is_object() && pat->size() == 1, r.origin,
          where + ".pattern must be {\"Regex\": ...} or {\"String\": ...}");
    if (pat->contains("Regex")) s.regex = r.str(pat->at("Regex"), where + ".pattern.Regex");
    else if (pat->contains("String")) s.regex = r.str(pat->at("String"), where + ".pattern.String"), s.literal = true;
    else throw Error(r.origin, where + ".pattern must be {\"Regex\": ...} or {\"String\": ...}");
    auto beh = p.find("behavior");
    const std::string b = beh == p.end() ? "Isolated" : r.str(*beh, where + ".behavior");
    check(b == "Isolated" || b == "Removed", r.origin,
          "unsupported Split behavior " + b + " (supported: Isolated, Removed)");
    s.remove = b == "Removed";
    check(!r.flag(p, "invert", false, where), r.origin, "unsupported Split with invert = true");
  } else {
    throw Error(r.origin, "unsupported pre-tokenizer type " + t + " (supported: ByteLevel, Split, Sequence)");
  }
  out.push_back(std::move(s));
}

void check_decoder(const Reader& r, const json& d, const std::string& where) {
  check(nesting(where) <= kMaxNesting, r.origin, where.substr(0, where.find('[')) + " nests Sequences too deeply");
  if (d.is_null()) return;
  const std::string t = r.type(d, where);
  if (t == "ByteLevel") return;
  if (t == "Sequence") {
    auto it = d.find("decoders");
    check(it != d.end() && it->is_array(), r.origin, where + ".decoders must be an array");
    for (size_t i = 0; i < it->size(); ++i) check_decoder(r, (*it)[i], where + ".decoders[" + std::to_string(i) + "]");
    return;
  }
  throw Error(r.origin, "unsupported decoder type " + t + " (supported: ByteLevel)");
}

// The token a TemplateProcessing post-processor puts before the text, if any.
struct TemplateBos {
  bool found = false;
  int id = -1;
  std::string name;
};
void read_post(const Reader& r, const json& p, TemplateBos& bos, const std::string& where) {
  check(nesting(where) <= kMaxNesting, r.origin, where.substr(0, where.find('[')) + " nests Sequences too deeply");
  if (p.is_null()) return;
  const std::string t = r.type(p, where);
  if (t == "ByteLevel") return;
  if (t == "Sequence") {
    auto it = p.find("processors");
    check(it != p.end() && it->is_array(), r.origin, where + ".processors must be an array");
    for (size_t i = 0; i < it->size(); ++i) read_post(r, (*it)[i], bos, where + ".processors[" + std::to_string(i) + "]");
    return;
  }
  if (t != "TemplateProcessing")
    throw Error(r.origin, "unsupported post-processor type " + t + " (supported: ByteLevel, TemplateProcessing, Sequence)");
  auto single = p.find("single");
  check(single != p.end() && single->is_array(), r.origin, where + ".single must be an array");
  size_t before = 0;
  std::string name;
  for (const auto& piece : *single) {
    r.obj(piece, where + ".single[]");
    if (piece.contains("Sequence")) break;
    auto sp = piece.find("SpecialToken");
    check(sp != piece.end() && sp->is_object() && sp->contains("id"), r.origin,
          where + ".single entries must be {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}");
    name = r.str(sp->at("id"), where + ".single[].SpecialToken.id");
    ++before;
  }
  if (before == 0) return;
  check(before == 1, r.origin, "post-processor template puts " + std::to_string(before) +
                                   " tokens before the text (one BOS token is supported)");
  auto st = p.find("special_tokens");
  check(st != p.end() && st->is_object() && st->contains(name), r.origin,
        where + ".special_tokens has no entry for " + name);
  const json& e = r.obj(st->at(name), where + ".special_tokens." + name);
  auto ids = e.find("ids");
  check(ids != e.end() && ids->is_array() && ids->size() == 1, r.origin,
        where + ".special_tokens." + name + ".ids must be one id");
  bos = {true, r.id((*ids)[0], where + ".special_tokens." + name + ".ids[0]"), name};
}

// tokenizer_config.json: bos_token / eos_token (a string, null or {"content": ...}) and add_bos_token.
struct HfConfig {
  std::optional<bool> add_bos;
  std::string bos, eos;
};
HfConfig read_config(const std::string& text, const std::string& origin) {
  HfConfig c;
  if (origin.empty()) return c;
  const json j = parse_json(text, origin);
  Reader r{origin};
  r.obj(j, "tokenizer_config.json");
  auto token = [&](const char* key) -> std::string {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return "";
    if (it->is_string()) return it->get<std::string>();
    check(it->is_object() && it->contains("content"), origin, std::string(key) + " must be a string or {\"content\": ...}");
    return r.str(it->at("content"), std::string(key) + ".content");
  };
  c.bos = token("bos_token");
  c.eos = token("eos_token");
  if (auto it = j.find("add_bos_token"); it != j.end() && !it->is_null()) {
    check(it->is_boolean(), origin, "add_bos_token must be true or false");
    c.add_bos = it->get<bool>();
  }
  return c;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path, "cannot read the file");
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

std::unique_ptr<Tokenizer> bpe_from_tokenizer_json_text(const std::string& json_text, const std::string& origin,
                                                        const std::string& config_text,
                                                        const std::string& config_origin) {
  const json j = parse_json(json_text, origin);
  const Reader r{origin};
  r.obj(j, "tokenizer.json");
  BpeSpec spec;
  spec.origin = origin;

  auto model_it = j.find("model");
  check(model_it != j.end(), origin, "no model section: not a tokenizer.json");
  const json& m = r.obj(*model_it, "model");
  const std::string type = m.contains("type") ? r.str(m.at("type"), "model.type") : "BPE";
  check(type == "BPE", origin, "unsupported tokenizer model type " + type + " (only byte-level BPE is)");
  auto vocab = m.find("vocab");
  check(vocab != m.end() && vocab->is_object(), origin, "model.vocab must be an object of token: id");
  spec.vocab.reserve(vocab->size());
  for (auto it = vocab->begin(); it != vocab->end(); ++it)
    spec.vocab.emplace_back(it.key(), r.id(it.value(), "model.vocab[\"" + it.key() + "\"]"));
  auto merges = m.find("merges");
  check(merges != m.end() && merges->is_array(), origin, "model.merges must be an array");
  spec.merges.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& x = (*merges)[i];
    const std::string where = "model.merges[" + std::to_string(i) + "]";
    if (x.is_string()) {  // "left right": exactly one space (HF: BadMerges otherwise)
      const std::string s = x.get<std::string>();
      const auto sp = s.find(' ');
      check(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos, origin,
            where + " \"" + s + "\" is not two tokens separated by one space");
      spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else {
      check(x.is_array() && x.size() == 2, origin, where + " must be \"left right\" or [left, right]");
      spec.merges.emplace_back(r.str(x[0], where + "[0]"), r.str(x[1], where + "[1]"));
    }
  }
  spec.ignore_merges = r.flag(m, "ignore_merges", false, "model");
  check(!r.flag(m, "byte_fallback", false, "model"), origin,
        "unsupported BPE with byte_fallback (a SentencePiece-style tokenizer.json: use the tokenizer.model)");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (auto it = m.find(k); it != m.end() && !it->is_null())
      check(r.str(*it, std::string("model.") + k).empty(), origin, std::string("unsupported BPE with ") + k);
  if (auto it = m.find("dropout"); it != m.end() && !it->is_null()) {
    check(it->is_number(), origin, "model.dropout must be a number or null");
    check(it->get<double>() == 0, origin, "unsupported BPE dropout (encoding would be random)");
  }
  if (auto it = m.find("unk_token"); it != m.end() && !it->is_null()) spec.unk_token = r.str(*it, "model.unk_token");

  if (auto it = j.find("added_tokens"); it != j.end() && !it->is_null()) {
    check(it->is_array(), origin, "added_tokens must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      const json& a = r.obj((*it)[i], where);
      check(a.contains("id") && a.contains("content"), origin, where + " needs id and content");
      BpeAddedToken t;
      t.id = r.id(a.at("id"), where + ".id");
      t.content = r.str(a.at("content"), where + ".content");
      t.special = r.flag(a, "special", false, where);
      t.lstrip = r.flag(a, "lstrip", false, where);
      t.rstrip = r.flag(a, "rstrip", false, where);
      t.single_word = r.flag(a, "single_word", false, where);
      t.normalized = r.flag(a, "normalized", !t.special, where);
      spec.added.push_back(std::move(t));
    }
  }

  if (auto it = j.find("normalizer"); it != j.end()) read_normalizer(r, *it, spec.normalizers, "normalizer");
  auto pre = j.find("pre_tokenizer");
  check(pre != j.end() && !pre->is_null(), origin, "no pre_tokenizer: not a byte-level BPE (only those are supported)");
  read_pre(r, *pre, spec.pre, "pre_tokenizer");
  bool byte_level = false;
  for (const auto& s : spec.pre) {
    check(!(byte_level && s.kind == BpePreStep::kSplit), origin,
          "unsupported pre-tokenizer: a Split after ByteLevel");
    byte_level = byte_level || s.kind == BpePreStep::kByteLevel;
  }
  check(byte_level, origin, "the pre-tokenizer has no ByteLevel step: not a byte-level BPE (only those are supported)");
  if (auto it = j.find("decoder"); it != j.end()) check_decoder(r, *it, "decoder");
  TemplateBos tbos;
  if (auto it = j.find("post_processor"); it != j.end()) read_post(r, *it, tbos, "post_processor");

  const HfConfig cfg = read_config(config_text, config_origin);
  auto id_of = [&](const std::string& name, const std::string& what) {
    for (const auto& a : spec.added)
      if (a.content == name) return a.id;
    for (const auto& [tok, id] : spec.vocab)
      if (tok == name) return id;
    throw Error(config_origin, what + " \"" + name + "\" is not in the vocabulary of " + origin);
  };
  spec.bos_id = tbos.found ? tbos.id : cfg.bos.empty() ? -1 : id_of(cfg.bos, "bos_token");
  spec.eos_id = cfg.eos.empty() ? -1 : id_of(cfg.eos, "eos_token");
  if (spec.eos_id < 0 && config_origin.empty())  // GPT-2's files: <|endoftext|> ends texts
    for (const auto& a : spec.added)
      if (a.special && a.content == "<|endoftext|>") spec.eos_id = a.id;
  const std::string bos_name = tbos.found ? tbos.name : cfg.bos;
  const int bos_id = spec.bos_id;

  auto t = make_bpe_tokenizer(std::move(spec));
  const std::string named = bos_name + " (id " + std::to_string(bos_id) + ")";
  if (cfg.add_bos.has_value()) {
    if (!*cfg.add_bos) {
      t->set_bos_policy(false, "no BOS: tokenizer_config.json add_bos_token = false");
    } else {
      check(bos_id >= 0, config_origin, "add_bos_token is true but there is no bos_token");
      t->set_bos_policy(true, "BOS " + named + ": tokenizer_config.json add_bos_token = true");
    }
  } else if (tbos.found) {
    t->set_bos_policy(true, "BOS " + named + ": tokenizer.json post-processor template");
  } else if (bos_name == "<|begin_of_text|>") {
    // Meta's first Llama-3 tokenizer.json had no BOS template (later ones add it); the models were
    // trained with it and Meta's reference code prepends it.
    t->set_bos_policy(true, "BOS " + named + ": Llama-3 (tokenizer_config.json bos_token; the tokenizer.json "
                            "has no BOS template, as Meta's first release, but Llama-3 models expect it)");
  } else {
    t->set_bos_policy(false, "no BOS: neither the tokenizer.json post-processor nor tokenizer_config.json adds one");
  }
  return t;
}

int read_add_bos_token(const std::string& config_path) {
  const HfConfig c = read_config(read_file(config_path), config_path);
  return c.add_bos.has_value() ? int(*c.add_bos) : -1;
}

std::unique_ptr<Tokenizer> bpe_from_tokenizer_json(const std::string& path, const std::string& config_path) {
  return bpe_from_tokenizer_json_text(read_file(path), path, config_path.empty() ? "" : read_file(config_path),
                                      config_path);
}

}  // namespace eeb
