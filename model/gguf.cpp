// GGUF v2/v3 (llama.cpp), the architectures of model/architecture.h with a GGUF form (llama, qwen2,
// qwen3); tensor names map through that table, and a name it does not know is an error. Layout:
// "GGUF", u32 version, u64 tensor count, u64 metadata count, metadata key/values, tensor infos
// (name, u32 n_dims, u64 dims innermost first, u32 ggml type, u64 offset), padding to
// general.alignment, tensor data. Every read goes
// through a bounds-checked cursor; every tensor's data range is checked against the file.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <variant>

#include "model/architecture.h"
#include "model/loaders.h"
#include "core/error.h"

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
    const uint64_t len = get<uint64_t>(what);
    if (len > left())
      throw Error(file_, std::string("corrupt GGUF: ") + what + " length " + std::to_string(len) +
                             " runs past the end of the file");
    std::string s(reinterpret_cast<const char*>(p_ + off_), len);
    off_ += len;
    return s;
  }
  void need(uint64_t k, const char* what) {
    if (k > left())
      throw Error(file_, std::string("truncated GGUF: ") + what + " runs past the end of the file");
  }
  uint64_t off() const { return off_; }
  uint64_t left() const { return n_ - off_; }

 private:
  const uint8_t* p_;
  uint64_t n_, off_ = 0;
  std::string file_;
};

// A metadata value: integers (incl. bool), floats, a string, or an array of one of those.
using Value = std::variant<int64_t, double, std::string, std::vector<std::string>, std::vector<double>,
                           std::vector<int64_t>>;

enum : uint32_t { U8, I8, U16, I16, U32, I32, F32_, BOOL, STRING, ARRAY, U64, I64, F64 };

uint64_t scalar_size(uint32_t t) {
  switch (t) {
    case U8: case I8: case BOOL: return 1;
    case U16: case I16: return 2;
    case U32: case I32: case F32_: return 4;
    case U64: case I64: case F64: return 8;
    default: return 0;
  }
}

int64_t read_int(Cursor& c, uint32_t t) {
  switch (t) {
    case U8: case BOOL: return c.get<uint8_t>("value");
    case I8: return c.get<int8_t>("value");
    case U16: return c.get<uint16_t>("value");
    case I16: return c.get<int16_t>("value");
    case U32: return c.get<uint32_t>("value");
    case I32: return c.get<int32_t>("value");
    case I64: return c.get<int64_t>("value");
    default: {  // U64: clamp so that huge values fail the range checks instead of wrapping
      const uint64_t v = c.get<uint64_t>("value");
      return v > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(v);
    }
  }
}

Value read_value(Cursor& c, uint32_t t, const std::string& file, const std::string& key) {
  if (t == F32_) return double(c.get<float>("value"));
  if (t == F64) return c.get<double>("value");
  if (t == STRING) return c.str("string");
  if (t != ARRAY) return read_int(c, t);
  const uint32_t et = c.get<uint32_t>("array type");
  const uint64_t n = c.get<uint64_t>("array length");
  // Every element takes at least one byte (a string at least its 8-byte length): bound n by the file.
  const uint64_t min_el = et == STRING ? 8 : scalar_size(et);
  if (min_el == 0) throw Error(file, "metadata " + key + ": unsupported array element type " + std::to_string(et));
  if (n > c.left() / min_el)
    throw Error(file, "metadata " + key + ": array length " + std::to_string(n) + " runs past the end of the file");
  if (et == STRING) {
    std::vector<std::string> v;
    v.reserve(n);
    for (uint64_t i = 0; i < n; ++i) v.push_back(c.str("array string"));
    return v;
  }
  if (et == F32_ || et == F64) {
    std::vector<double> v(n);
    for (auto& x : v) x = et == F32_ ? double(c.get<float>("array")) : c.get<double>("array");
    return v;
  }
  std::vector<int64_t> v(n);
  for (auto& x : v) x = read_int(c, et);
  return v;
}

// Typed access to the metadata, with range checks before any narrowing conversion.
struct Meta {
  std::map<std::string, Value> kv;
  std::string file;
  const Value* find(const std::string& k) const {
    auto it = kv.find(k);
    return it == kv.end() ? nullptr : &it->second;
  }
  std::string str(const std::string& k, const std::string& dflt) const {
    const Value* v = find(k);
    if (!v) return dflt;
    if (auto s = std::get_if<std::string>(v)) return *s;
    throw Error(file, "metadata " + k + " must be a string");
  }
  double num(const std::string& k, double dflt, bool required = false) const {
    const Value* v = find(k);
    if (!v) {
      if (required) throw Error(file, "missing metadata " + k);
      return dflt;
    }
    if (auto i = std::get_if<int64_t>(v)) return double(*i);
    if (auto d = std::get_if<double>(v)) return *d;
    throw Error(file, "metadata " + k + " must be a number");
  }
  int integer(const std::string& k, int dflt, bool required = false, double lo = 0, double hi = 1 << 30) const {
    const double v = num(k, dflt, required);
    if (!(v >= lo && v <= hi) || v != std::floor(v))
      throw Error(file, "metadata " + k + " = " + std::to_string(v) + " is out of range");
    return static_cast<int>(v);
  }
  float positive(const std::string& k, double dflt) const {
    const double v = num(k, dflt);
    if (!(v > 0 && v < 1e12)) throw Error(file, "metadata " + k + " = " + std::to_string(v) + " is out of range");
    return static_cast<float>(v);
  }
  template <class T> const T* array(const std::string& k, const char* what) const {
    const Value* v = find(k);
    if (!v) return nullptr;
    if (auto a = std::get_if<T>(v)) return a;
    throw Error(file, "metadata " + k + " must be " + what);
  }
};

void read_vocab(const Meta& meta, Model& m) {
  const auto* toks = meta.array<std::vector<std::string>>("tokenizer.ggml.tokens", "an array of strings");
  if (!toks) return;
  EmbeddedVocab& v = m.vocab;
  const size_t n = toks->size();
  v.model = meta.str("tokenizer.ggml.model", "llama");
  v.tokens = *toks;
  if (auto s = meta.array<std::vector<double>>("tokenizer.ggml.scores", "an array of floats")) {
    if (s->size() != n) throw Error(meta.file, "tokenizer.ggml.scores must have one float per token");
    v.scores.assign(s->begin(), s->end());
  } else {
    v.scores.assign(n, 0.f);
  }
  if (auto t = meta.array<std::vector<int64_t>>("tokenizer.ggml.token_type", "an array of integers")) {
    if (t->size() != n) throw Error(meta.file, "tokenizer.ggml.token_type must have one integer per token");
    v.types.clear();
    for (int64_t x : *t) v.types.push_back(x >= 0 && x <= 6 ? int32_t(x) : 1);  // unknown kinds: normal
  } else {
    v.types.assign(n, 1);
  }
  const double last = n ? double(n - 1) : 0;
  v.unk_id = meta.integer("tokenizer.ggml.unknown_token_id", 0, false, 0, last);
  v.bos_id = meta.integer("tokenizer.ggml.bos_token_id", 1, false, 0, last);
  v.eos_id = meta.integer("tokenizer.ggml.eos_token_id", 2, false, 0, last);
  v.add_dummy_prefix = meta.num("tokenizer.ggml.add_space_prefix", 1) != 0;
  if (auto mg = meta.array<std::vector<std::string>>("tokenizer.ggml.merges", "an array of strings")) v.merges = *mg;
  v.pre = meta.str("tokenizer.ggml.pre", "");
  if (meta.find("tokenizer.ggml.add_bos_token")) v.add_bos = meta.num("tokenizer.ggml.add_bos_token", 0) != 0;
  m.cfg.bos_id = v.bos_id;
  m.cfg.eos_id = v.eos_id;
}

DType ggml_dtype(uint32_t type, const std::string& file, const std::string& name) {
  switch (type) {
    case 0: return DType::F32;
    case 1: return DType::F16;
    case 8: return DType::Q8_0;
    case 30: return DType::BF16;
  }
  // ggml's type numbers (ggml.h enum ggml_type), named so that the refusal says what the file holds.
  static const char* const kNames[] = {"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0",
                                       "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS",
                                       "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
                                       "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4",
                                       "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0"};
  const std::string what = type < std::size(kNames) ? std::string(kNames[type]) + "; " : std::string("unknown; ");
  throw Error(file, "unsupported tensor type " + std::to_string(type) + " for tensor " + name + " (" + what +
                        "F32, F16, BF16 and Q8_0 are supported)");
}

}  // namespace

Model load_gguf(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  Model m;
  m.path = path;
  m.format = "gguf";
  m.files.push_back(file);
  Cursor c(file->data(), file->size(), path);
  if (file->size() < 4 || std::memcmp(file->data(), "GGUF", 4) != 0) throw Error(path, "not a GGUF file (bad magic)");
  c.get<uint32_t>("magic");
  const uint32_t version = c.get<uint32_t>("version");
  if (version != 2 && version != 3) {
    const bool swapped = version == 0x02000000 || version == 0x03000000;
    throw Error(path, "unsupported GGUF version " + std::to_string(version) +
                          (swapped ? " (a big-endian file?)" : "") + "; versions 2 and 3 are supported");
  }
  const uint64_t n_tensors = c.get<uint64_t>("tensor count"), n_kv = c.get<uint64_t>("metadata count");
  // Minimum encoded sizes: a tensor info takes >= 32 bytes, a key/value >= 13.
  if (n_tensors > 1000000 || n_tensors > c.left() / 32)
    throw Error(path, "absurd tensor count " + std::to_string(n_tensors) + " for a " + std::to_string(file->size()) + "-byte file");
  if (n_kv > 1000000 || n_kv > c.left() / 13)
    throw Error(path, "absurd metadata count " + std::to_string(n_kv) + " for a " + std::to_string(file->size()) + "-byte file");
  Meta meta{{}, path};
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.str("metadata key");
    const uint32_t t = c.get<uint32_t>("metadata type");
    if (t > F64) throw Error(path, "metadata " + key + " has unknown type " + std::to_string(t));
    meta.kv[key] = read_value(c, t, path, key);
  }
  const std::string arch_name = meta.str("general.architecture", "");
  const Architecture* arch = architecture_for_gguf(arch_name);
  if (!arch)
    throw Error(path, "unsupported architecture '" + arch_name + "' in general.architecture (supported: " +
                          known_gguf_archs() + ")");
  m.qk_interleaved = arch->gguf_qk_interleaved;  // llama.cpp permutes Llama's Q/K rows to interleaved-RoPE order

  auto& cfg = m.cfg;
  set_architecture(cfg, *arch);
  const std::string a = arch_name + ".";
  cfg.dim = meta.integer(a + "embedding_length", 0, true);
  cfg.hidden_dim = meta.integer(a + "feed_forward_length", 0, true);
  cfg.n_layers = meta.integer(a + "block_count", 0, true);
  cfg.n_heads = meta.integer(a + "attention.head_count", 0, true);
  cfg.n_kv_heads = meta.integer(a + "attention.head_count_kv", cfg.n_heads);
  cfg.max_seq_len = meta.integer(a + "context_length", 2048);
  cfg.rope_theta = meta.positive(a + "rope.freq_base", 10000.0);
  cfg.norm_eps = meta.positive(a + "attention.layer_norm_rms_epsilon", 1e-5);
  const int rope_dims = meta.integer(a + "rope.dimension_count", cfg.n_heads > 0 ? cfg.dim / cfg.n_heads : 0);
  cfg.head_dim = meta.integer(a + "attention.key_length", rope_dims);
  if (rope_dims != cfg.head_dim)
    throw Error(path, "metadata " + a + "rope.dimension_count " + std::to_string(rope_dims) + " differs from the head dim " +
                          std::to_string(cfg.head_dim) + "; partial rotary embeddings are not supported");
  if (meta.find(a + "attention.value_length") && meta.integer(a + "attention.value_length", 0) != cfg.head_dim)
    throw Error(path, "metadata " + a + "attention.value_length differs from attention.key_length; not supported");
  if (const std::string st = meta.str(a + "rope.scaling.type", "none"); st == "linear") {
    cfg.rope_type = "linear";
    cfg.rope_factor = meta.positive(a + "rope.scaling.factor", 1.0);
  } else if (st != "none") {
    throw Error(path, "metadata " + a + "rope.scaling.type '" + st + "' is not supported (none and linear are)");
  }
  const int align = meta.integer("general.alignment", 32, false, 1, 1 << 24);
  if ((align & (align - 1)) != 0) throw Error(path, "general.alignment " + std::to_string(align) + " is not a power of two");

  struct Info { std::string name; std::vector<uint64_t> dims; uint32_t type; uint64_t offset; };
  std::vector<Info> infos;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Info t;
    t.name = c.str("tensor name");
    const uint32_t nd = c.get<uint32_t>("tensor dimension count");
    if (nd == 0 || nd > 4) throw Error(path, "tensor " + t.name + " has " + std::to_string(nd) + " dimensions (1 to 4 allowed)");
    for (uint32_t d = 0; d < nd; ++d) t.dims.push_back(c.get<uint64_t>("tensor dimension"));
    t.type = c.get<uint32_t>("tensor type");
    t.offset = c.get<uint64_t>("tensor offset");
    infos.push_back(std::move(t));
  }
  const uint64_t data0 = (c.off() + align - 1) / align * align;
  const uint64_t data_len = data0 <= file->size() ? file->size() - data0 : 0;
  for (const auto& t : infos) {
    const DType dt = ggml_dtype(t.type, path, t.name);
    uint64_t numel = 1;
    for (auto d : t.dims) {
      if (d > (uint64_t(1) << 40)) throw Error(path, "tensor " + t.name + " has absurd dimension " + std::to_string(d));
      numel = checked_mul(numel, d, path, "tensor " + t.name);
    }
    if (dt == DType::Q8_0 && t.dims[0] % 32 != 0)
      throw Error(path, "Q8_0 tensor " + t.name + " has rows of " + std::to_string(t.dims[0]) +
                            " values, not a whole number of 32-value blocks");
    const uint64_t nbytes = dt == DType::Q8_0 ? numel / 32 * 34 : checked_mul(numel, dtype_bytes(dt, 1), path, "tensor " + t.name);
    if (t.offset % align != 0)
      throw Error(path, "tensor " + t.name + " offset " + std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(align));
    if (t.offset > data_len || nbytes > data_len - t.offset)
      throw Error(path, "tensor " + t.name + " data (" + std::to_string(nbytes) + " bytes at offset " + std::to_string(t.offset) +
                            ") runs past the end of the file");
    int layer = -1;
    const TensorSpec* spec = match_gguf(*arch, t.name, &layer);
    if (!spec) throw Error(path, "tensor " + t.name + " is not part of the " + arch_name + " architecture");
    if (spec->role == Role::RopeFreqs) {  // Llama-3.1 RoPE frequency divisors: part of the config
      if (dt != DType::F32 || t.dims.size() != 1)
        throw Error(path, "tensor " + t.name + " must be a 1-D F32 tensor");
      cfg.rope_freq_factors.resize(t.dims[0]);
      std::memcpy(cfg.rope_freq_factors.data(), file->data() + data0 + t.offset, nbytes);
      for (float f : cfg.rope_freq_factors)
        if (!(f > 0 && f < 1e9)) throw Error(path, "tensor " + t.name + " holds a non-positive or absurd factor");
      continue;
    }
    const std::string name = hf_name(*spec, layer);
    TensorInfo ti;
    ti.name = name;
    ti.dtype = dt;
    for (auto it = t.dims.rbegin(); it != t.dims.rend(); ++it) ti.shape.push_back(static_cast<int64_t>(*it));
    ti.data = file->data() + data0 + t.offset;
    ti.nbytes = nbytes;
    ti.file = path;
    if (m.tensors.count(name)) throw Error(path, "tensor " + t.name + " appears twice");
    m.tensors[name] = std::move(ti);
  }
  cfg.tied_embeddings = !m.tensors.count(tensor_name(cfg, Role::LmHead));
  read_vocab(meta, m);
  if (auto it = m.tensors.find(tensor_name(cfg, Role::Embed)); it != m.tensors.end() && !it->second.shape.empty())
    cfg.vocab_size = static_cast<int>(std::min<int64_t>(it->second.shape[0], 1 << 30));
  else
    cfg.vocab_size = static_cast<int>(std::min<size_t>(m.vocab.tokens.size(), 1 << 30));
  return m;
}

}  // namespace eeb
