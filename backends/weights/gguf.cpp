// GGUF v2/v3 (llama.cpp), architecture llama. Layout: "GGUF", u32 version, u64 tensor count,
// u64 metadata count, metadata key/values, tensor infos (name, n_dims, dims innermost first, ggml
// type, offset), padding to general.alignment, tensor data. Every read is bounds-checked.
#include <cstring>
#include <map>
#include <variant>

#include "backends/weights/loaders.h"
#include "harness/error.h"

namespace eeb {
namespace {

class Cursor {
 public:
  Cursor(const uint8_t* p, uint64_t n, std::string file) : p_(p), n_(n), file_(std::move(file)) {}
  template <class T> T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + off_, sizeof(T));
    off_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    uint64_t len = get<uint64_t>(what);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + off_), len);
    off_ += len;
    return s;
  }
  void need(uint64_t k, const char* what) {
    if (k > n_ - off_)
      throw Error(file_, std::string("truncated or corrupt GGUF: ") + what + " runs past the end of the file");
  }
  uint64_t off() const { return off_; }
  uint64_t left() const { return n_ - off_; }

 private:
  const uint8_t* p_;
  uint64_t n_, off_ = 0;
  std::string file_;
};

// Metadata values we keep: scalars as double/int/string, arrays of strings, floats and ints.
struct Value {
  std::variant<int64_t, double, std::string, std::vector<std::string>, std::vector<double>,
               std::vector<int64_t>, bool>
      v;
};

enum : uint32_t { U8, I8, U16, I16, U32, I32, F32_, BOOL, STRING, ARRAY, U64, I64, F64 };

int64_t read_int(Cursor& c, uint32_t t, const std::string& file) {
  switch (t) {
    case U8: return c.get<uint8_t>("value");
    case I8: return c.get<int8_t>("value");
    case U16: return c.get<uint16_t>("value");
    case I16: return c.get<int16_t>("value");
    case U32: return c.get<uint32_t>("value");
    case I32: return c.get<int32_t>("value");
    case U64: return static_cast<int64_t>(c.get<uint64_t>("value"));
    case I64: return c.get<int64_t>("value");
    case BOOL: return c.get<uint8_t>("value");
  }
  throw Error(file, "GGUF: bad integer type " + std::to_string(t));
}

uint64_t type_size(uint32_t t) {
  switch (t) {
    case U8: case I8: case BOOL: return 1;
    case U16: case I16: return 2;
    case U32: case I32: case F32_: return 4;
    case U64: case I64: case F64: return 8;
  }
  return 0;
}

Value read_value(Cursor& c, uint32_t t, const std::string& file, int depth = 0) {
  Value out;
  if (t == F32_) out.v = double(c.get<float>("value"));
  else if (t == F64) out.v = c.get<double>("value");
  else if (t == STRING) out.v = c.str("string");
  else if (t == BOOL) out.v = c.get<uint8_t>("value") != 0;
  else if (t == ARRAY) {
    if (depth > 0) throw Error(file, "GGUF: nested arrays are not supported");
    uint32_t et = c.get<uint32_t>("array type");
    uint64_t n = c.get<uint64_t>("array length");
    // Every element takes at least one byte (strings: 8), so n is bounded by what is left.
    uint64_t min_el = et == STRING ? 8 : type_size(et);
    if (min_el == 0) throw Error(file, "GGUF: bad array element type " + std::to_string(et));
    if (n > c.left() / min_el) throw Error(file, "GGUF: array length " + std::to_string(n) + " exceeds the file");
    if (et == STRING) {
      std::vector<std::string> v;
      v.reserve(n);
      for (uint64_t i = 0; i < n; ++i) v.push_back(c.str("array string"));
      out.v = std::move(v);
    } else if (et == F32_ || et == F64) {
      std::vector<double> v(n);
      for (auto& x : v) x = et == F32_ ? double(c.get<float>("array")) : c.get<double>("array");
      out.v = std::move(v);
    } else {
      std::vector<int64_t> v(n);
      for (auto& x : v) x = read_int(c, et, file);
      out.v = std::move(v);
    }
  } else {
    out.v = read_int(c, t, file);
  }
  return out;
}

std::string map_name(const std::string& g, const std::string& file) {
  static const std::map<std::string, std::string> top = {
      {"token_embd.weight", kEmbed}, {"output_norm.weight", kFinalNorm}, {"output.weight", kLmHead}};
  static const std::map<std::string, std::string> blk = {
      {"attn_norm.weight", "input_layernorm.weight"},   {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},     {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"}};
  if (auto it = top.find(g); it != top.end()) return it->second;
  if (g.rfind("blk.", 0) == 0) {
    auto dot = g.find('.', 4);
    if (dot != std::string::npos) {
      std::string num = g.substr(4, dot - 4);
      if (!num.empty() && num.size() < 6 && num.find_first_not_of("0123456789") == std::string::npos)
        if (auto it = blk.find(g.substr(dot + 1)); it != blk.end())
          return "model.layers." + num + "." + it->second;
    }
  }
  return "";  // not a tensor eebench uses (e.g. rope_freqs.weight)
}

}  // namespace

Model load_gguf(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  Model m;
  m.path = path;
  m.format = "gguf";
  m.files.push_back(file);
  m.qk_interleaved = true;
  Cursor c(file->data(), file->size(), path);
  c.need(4, "magic");
  if (std::memcmp(file->data(), "GGUF", 4) != 0) throw Error(path, "not a GGUF file (bad magic)");
  c.get<uint32_t>("magic");
  uint32_t version = c.get<uint32_t>("version");
  if (version != 2 && version != 3)
    throw Error(path, "unsupported GGUF version " + std::to_string(version) + " (2 and 3 are)");
  uint64_t n_tensors = c.get<uint64_t>("tensor count"), n_kv = c.get<uint64_t>("metadata count");
  if (n_tensors > 1000000 || n_tensors > c.left() / 24)
    throw Error(path, "absurd tensor count " + std::to_string(n_tensors));
  if (n_kv > 1000000 || n_kv > c.left() / 12)
    throw Error(path, "absurd metadata count " + std::to_string(n_kv));
  std::map<std::string, Value> kv;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.str("metadata key");
    uint32_t t = c.get<uint32_t>("metadata type");
    if (t > F64) throw Error(path, "metadata " + key + " has unknown type " + std::to_string(t));
    kv[key] = read_value(c, t, path);
  }
  auto get_str = [&](const std::string& k) -> std::string {
    auto it = kv.find(k);
    if (it == kv.end()) return "";
    if (auto s = std::get_if<std::string>(&it->second.v)) return *s;
    throw Error(path, "metadata " + k + " must be a string");
  };
  auto get_num = [&](const std::string& k, double dflt, bool required = false) -> double {
    auto it = kv.find(k);
    if (it == kv.end()) {
      if (required) throw Error(path, "missing metadata " + k);
      return dflt;
    }
    if (auto i = std::get_if<int64_t>(&it->second.v)) return double(*i);
    if (auto d = std::get_if<double>(&it->second.v)) return *d;
    if (auto b = std::get_if<bool>(&it->second.v)) return *b;
    throw Error(path, "metadata " + k + " must be a number");
  };
  const std::string arch = get_str("general.architecture");
  if (arch != "llama") throw Error(path, "unsupported architecture '" + arch + "' (llama is)");
  auto& cfg = m.cfg;
  auto num_int = [&](const std::string& k, double dflt, bool req) {
    double v = get_num(k, dflt, req);
    if (!(v >= 0 && v <= double(1 << 30))) throw Error(path, "metadata " + k + " out of range");
    return static_cast<int>(v);
  };
  cfg.dim = num_int("llama.embedding_length", 0, true);
  cfg.hidden_dim = num_int("llama.feed_forward_length", 0, true);
  cfg.n_layers = num_int("llama.block_count", 0, true);
  cfg.n_heads = num_int("llama.attention.head_count", 0, true);
  cfg.n_kv_heads = num_int("llama.attention.head_count_kv", cfg.n_heads, false);
  cfg.max_seq_len = num_int("llama.context_length", 2048, false);
  cfg.rope_theta = static_cast<float>(get_num("llama.rope.freq_base", 10000.0));
  cfg.norm_eps = static_cast<float>(get_num("llama.attention.layer_norm_rms_epsilon", 1e-5));
  cfg.head_dim = cfg.n_heads ? cfg.dim / cfg.n_heads : 0;
  const uint64_t align = static_cast<uint64_t>(get_num("general.alignment", 32));
  if (align == 0 || (align & (align - 1)) != 0) throw Error(path, "general.alignment must be a power of two");

  struct Info { std::string name; std::vector<uint64_t> dims; uint32_t type; uint64_t offset; };
  std::vector<Info> infos;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Info t;
    t.name = c.str("tensor name");
    uint32_t nd = c.get<uint32_t>("tensor dims");
    if (nd == 0 || nd > 4) throw Error(path, "tensor " + t.name + " has " + std::to_string(nd) + " dimensions");
    for (uint32_t d = 0; d < nd; ++d) t.dims.push_back(c.get<uint64_t>("tensor dim"));
    t.type = c.get<uint32_t>("tensor type");
    t.offset = c.get<uint64_t>("tensor offset");
    infos.push_back(std::move(t));
  }
  const uint64_t data0 = (c.off() + align - 1) / align * align;
  if (data0 > file->size()) throw Error(path, "truncated GGUF: no tensor data");
  const uint64_t data_len = file->size() - data0;
  for (const auto& t : infos) {
    DType dt;
    switch (t.type) {
      case 0: dt = DType::F32; break;
      case 1: dt = DType::F16; break;
      case 8: dt = DType::Q8_0; break;
      case 30: dt = DType::BF16; break;
      default: throw Error(path, "unsupported tensor type " + std::to_string(t.type) + " for tensor " + t.name);
    }
    uint64_t numel = 1;
    for (auto d : t.dims) numel = checked_mul(numel, d, path, "tensor " + t.name);
    if (dt == DType::Q8_0 && (t.dims[0] % 32 != 0))
      throw Error(path, "Q8_0 tensor " + t.name + " has a row length not a multiple of 32");
    const uint64_t bytes = dtype_bytes(dt, numel);
    if (t.offset > data_len || bytes > data_len - t.offset)
      throw Error(path, "tensor " + t.name + " data runs past the end of the file");
    std::string name = map_name(t.name, path);
    if (name.empty()) continue;
    TensorInfo ti;
    ti.name = name;
    ti.dtype = dt;
    for (auto it = t.dims.rbegin(); it != t.dims.rend(); ++it) ti.shape.push_back(static_cast<int64_t>(*it));
    ti.data = file->data() + data0 + t.offset;
    ti.nbytes = bytes;
    ti.file = path;
    if (m.tensors.count(name)) throw Error(path, "tensor " + t.name + " appears twice");
    m.tensors[name] = ti;
  }
  if (auto it = kv.find("llama.rope.dimension_count"); it != kv.end()) {
    int rd = num_int("llama.rope.dimension_count", 0, false);
    if (rd != cfg.head_dim) throw Error(path, "partial rotary embeddings (rope.dimension_count " + std::to_string(rd) + ") are not supported");
  }
  cfg.tied_embeddings = !m.tensors.count(kLmHead);
  if (m.tensors.count(kEmbed)) cfg.vocab_size = static_cast<int>(m.tensors[kEmbed].shape[0]);

  // Embedded SentencePiece vocabulary.
  auto& v = m.vocab;
  if (kv.count("tokenizer.ggml.tokens")) {
    v.model = get_str("tokenizer.ggml.model");
    auto* toks = std::get_if<std::vector<std::string>>(&kv["tokenizer.ggml.tokens"].v);
    if (!toks) throw Error(path, "tokenizer.ggml.tokens must be a string array");
    v.tokens = *toks;
    if (kv.count("tokenizer.ggml.scores")) {
      auto* s = std::get_if<std::vector<double>>(&kv["tokenizer.ggml.scores"].v);
      if (!s || s->size() != v.tokens.size()) throw Error(path, "tokenizer.ggml.scores must have one float per token");
      v.scores.assign(s->begin(), s->end());
    } else {
      v.scores.assign(v.tokens.size(), 0.f);
    }
    if (kv.count("tokenizer.ggml.token_type")) {
      auto* t = std::get_if<std::vector<int64_t>>(&kv["tokenizer.ggml.token_type"].v);
      if (!t || t->size() != v.tokens.size()) throw Error(path, "tokenizer.ggml.token_type must have one int per token");
      v.types.assign(t->begin(), t->end());
    } else {
      v.types.assign(v.tokens.size(), 1);
    }
    v.unk_id = static_cast<int>(get_num("tokenizer.ggml.unknown_token_id", 0));
    v.bos_id = static_cast<int>(get_num("tokenizer.ggml.bos_token_id", 1));
    v.eos_id = static_cast<int>(get_num("tokenizer.ggml.eos_token_id", 2));
    v.add_dummy_prefix = get_num("tokenizer.ggml.add_space_prefix", 1) != 0;
    cfg.bos_id = v.bos_id;
    cfg.eos_id = v.eos_id;
    const int nt = static_cast<int>(v.tokens.size());
    for (int id : {v.unk_id, v.bos_id, v.eos_id})
      if (id < 0 || id >= nt) throw Error(path, "special token id " + std::to_string(id) + " outside the vocabulary");
  }
  return m;
}

}  // namespace eeb
