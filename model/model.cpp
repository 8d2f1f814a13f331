// Model-level helpers: dtypes, dequantisation (load_f32), shape validation, checksum, and the
// load_model() dispatcher over the format loaders (hf.cpp, gguf.cpp, llama2c.cpp).
#include "model/model.h"

#include <xxhash.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "model/architecture.h"
#include "model/half.h"
#include "model/loaders.h"
#include "core/error.h"

namespace eeb {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::Q8_0: return "Q8_0";
  }
  return "?";
}

uint64_t dtype_bytes(DType t, uint64_t n) {
  switch (t) {
    case DType::F32: return n * 4;
    case DType::F16:
    case DType::BF16: return n * 2;
    case DType::Q8_0: return n / 32 * 34;  // block: f16 scale + 32 int8
  }
  return 0;
}

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& file, const std::string& what) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) throw Error(file, what + ": size overflows");
  return a * b;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (auto d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

std::string tn_layer(int layer, const char* suffix) {
  return "model.layers." + std::to_string(layer) + "." + suffix;
}

const TensorInfo& Model::tensor(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw Error(path, "missing tensor " + name);
  return it->second;
}

uint64_t Model::stored_bytes() const {
  uint64_t s = 0;
  for (const auto& [n, t] : tensors) s += t.nbytes;
  return s;
}

void Model::check_files_unchanged() const {
  for (const auto& f : files) f->check_unchanged();
}

static bool ends_with(const std::string& s, const char* suffix) {
  const size_t k = std::strlen(suffix);
  return s.size() >= k && s.compare(s.size() - k, k, suffix) == 0;
}

// Q and K weights are the rows RoPE rotates (the only ones a Q/K permutation touches).
static bool is_qk(const ModelConfig& c, const std::string& name) {
  int layer = 0;
  const TensorSpec* s = match_hf(architecture(c.architecture), name, &layer);
  return s && (s->role == Role::Wq || s->role == Role::Wk);
}

void dequantize(DType dt, const uint8_t* p, uint64_t n, float* out) {
  uint16_t h;
  switch (dt) {
    case DType::F32:
      if (n) std::memcpy(out, p, n * 4);
      break;
    case DType::F16:
      for (uint64_t i = 0; i < n; ++i) std::memcpy(&h, p + 2 * i, 2), out[i] = f16_to_f32(h);
      break;
    case DType::BF16:
      for (uint64_t i = 0; i < n; ++i) std::memcpy(&h, p + 2 * i, 2), out[i] = bf16_to_f32(h);
      break;
    case DType::Q8_0:
      for (uint64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = p + b * 34;
        std::memcpy(&h, blk, 2);
        const float d = f16_to_f32(h);
        for (int j = 0; j < 32; ++j) out[b * 32 + j] = d * static_cast<float>(static_cast<int8_t>(blk[2 + j]));
      }
      break;
  }
}

std::vector<float> Model::load_f32(const std::string& name) const {
  const TensorInfo& t = tensor(name);
  const uint64_t n = t.numel();
  if (t.dtype == DType::Q8_0 && n % 32 != 0)
    throw Error(t.file, "Q8_0 tensor " + name + " has " + std::to_string(n) + " elements, not a multiple of 32");
  if (dtype_bytes(t.dtype, n) != t.nbytes || (n && !t.data))
    throw Error(t.file, "tensor " + name + " has " + std::to_string(t.nbytes) + " bytes, its shape needs " +
                            std::to_string(dtype_bytes(t.dtype, n)));
  std::vector<float> out(n);
  dequantize(t.dtype, t.data, n, out.data());
  if (!(qk_interleaved && is_qk(cfg, name))) return out;

  // Stored rows of each head are in interleaved-RoPE order (llama.cpp / Meta): HF row i < hd/2 sits
  // at 2i and HF row hd/2 + i at 2i + 1. Undo it so backends see the rotate-half convention.
  const int64_t hd = cfg.head_dim;
  if (t.shape.size() != 2 || hd < 2 || hd % 2 || t.shape[0] % hd)
    throw Error(t.file, "tensor " + name + " with shape " + shape_str(t.shape) +
                            " cannot be split into heads of " + std::to_string(hd) + " rows");
  const int64_t rows = t.shape[0], cols = t.shape[1];
  std::vector<float> hf(out.size());
  for (int64_t h0 = 0; h0 < rows; h0 += hd)
    for (int64_t i = 0; i < hd / 2; ++i) {
      std::memcpy(&hf[(h0 + i) * cols], &out[(h0 + 2 * i) * cols], cols * 4);
      std::memcpy(&hf[(h0 + hd / 2 + i) * cols], &out[(h0 + 2 * i + 1) * cols], cols * 4);
    }
  return hf;
}

// Where the hyper-parameters came from, for "X implies shape Y" messages.
static std::string config_source(const Model& m) {
  if (m.format == "hf") return "config.json";
  if (m.format == "gguf") return "the GGUF metadata";
  if (m.format == "llama2c") return "the llama2.c header";
  return "the config";
}

void validate_model(const Model& m) {
  const auto& c = m.cfg;
  // The file to blame for model-wide problems: the only weights file, else what the user named.
  const std::string f = m.files.size() == 1 ? m.files[0]->path() : m.path;
  const std::string src = config_source(m);
  auto sane = [&](int64_t v, int64_t lo, int64_t hi, const char* what) {
    if (v < lo || v > hi)
      throw Error(f, std::string(what) + " " + std::to_string(v) + " (from " + src + ") is outside [" +
                         std::to_string(lo) + ", " + std::to_string(hi) + "]");
  };
  constexpr int64_t kMaxDim = 1 << 20;
  sane(c.dim, 1, kMaxDim, "hidden size");
  sane(c.hidden_dim, 1, kMaxDim, "intermediate size");
  sane(c.n_layers, 1, 4096, "layer count");
  sane(c.n_heads, 1, kMaxDim, "attention head count");
  sane(c.n_kv_heads, 1, c.n_heads, "key/value head count");
  sane(c.head_dim, 2, kMaxDim, "head dim");
  sane(c.vocab_size, 1, 1 << 22, "vocabulary size");
  sane(c.max_seq_len, 1, 1 << 24, "maximum sequence length");
  sane(int64_t(c.n_heads) * c.head_dim, 1, kMaxDim, "attention width (heads * head dim)");
  if (c.n_heads % c.n_kv_heads != 0)
    throw Error(f, "attention head count " + std::to_string(c.n_heads) + " is not a multiple of the key/value head count " +
                       std::to_string(c.n_kv_heads) + " (from " + src + ")");
  if (c.head_dim % 2 != 0) throw Error(f, "head dim " + std::to_string(c.head_dim) + " must be even for rotary embeddings");
  if (!(c.norm_eps > 0 && c.norm_eps < 1)) throw Error(f, "RMS norm epsilon " + std::to_string(c.norm_eps) + " is not in (0, 1)");
  if (!(c.rope_theta > 1 && c.rope_theta < 1e12f)) throw Error(f, "rope theta " + std::to_string(c.rope_theta) + " is not sane");

  if (c.sliding_window < 0) throw Error(f, "sliding window " + std::to_string(c.sliding_window) + " is negative");
  rope_inv_freq(c);  // refuses an unknown rope type or a rope_freqs of the wrong length

  // Every tensor the architecture needs, with the shape the config implies; nothing it does not know.
  const Architecture& arch = architecture(c.architecture);
  auto expect = [&](const std::string& name, const std::vector<int64_t>& shape) {
    auto it = m.tensors.find(name);
    if (it == m.tensors.end()) throw Error(f, "missing tensor " + name);
    const TensorInfo& t = it->second;
    if (t.shape != shape)
      throw Error(t.file, "tensor " + name + " has shape " + shape_str(t.shape) + ", " + src + " implies " + shape_str(shape));
    if (t.dtype == DType::Q8_0 && t.numel() % 32 != 0)
      throw Error(t.file, "Q8_0 tensor " + name + " has a size not a multiple of 32");
    if (t.nbytes != dtype_bytes(t.dtype, t.numel()) || !t.data)
      throw Error(t.file, "tensor " + name + " has " + std::to_string(t.nbytes) + " bytes of data, its shape needs " +
                              std::to_string(dtype_bytes(t.dtype, t.numel())));
  };
  for (const auto& s : arch.tensors) {
    if (!s.hf) continue;
    for (int l = 0; l < (s.per_layer ? c.n_layers : 1); ++l) {
      const std::string name = hf_name(s, l);
      if (tensor_needed(s, c) || (s.optional && s.shape(c).size() && m.tensors.count(name))) expect(name, s.shape(c));
    }
  }
  for (const auto& [name, t] : m.tensors) {
    int layer = -1;
    const TensorSpec* s = match_hf(arch, name, &layer);
    if (!s || !(tensor_needed(*s, c) || s->optional))
      throw Error(t.file, "tensor " + name + " is not part of the " + c.architecture + " architecture");
    if (s->per_layer && layer >= c.n_layers)
      throw Error(t.file, "tensor " + name + " belongs to layer " + std::to_string(layer) + " but the model has " +
                              std::to_string(c.n_layers) + " layers");
  }
}

void compute_checksum(Model& m) {
  XXH3_state_t* st = XXH3_createState();
  if (!st) throw Error(m.path, "out of memory computing the weights checksum");
  XXH3_64bits_reset(st);
  // Each field is length-prefixed so that no two different models hash the same byte stream.
  auto put = [&](const void* p, uint64_t n) {
    XXH3_64bits_update(st, &n, sizeof n);
    if (n) XXH3_64bits_update(st, p, n);
  };
  for (const auto& [name, t] : m.tensors) {  // std::map: sorted by name
    put(name.data(), name.size());
    const char* dt = dtype_name(t.dtype);
    put(dt, std::strlen(dt));
    put(t.shape.data(), t.shape.size() * sizeof(int64_t));
    put(t.data, t.data ? t.nbytes : 0);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(XXH3_64bits_digest(st)));
  XXH3_freeState(st);
  m.weights_checksum = buf;
}

Model load_model(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) throw Error(path, "no such file or directory");
  Model m;
  if (fs::is_directory(path, ec)) {
    m = load_hf_dir(path);
  } else if (ends_with(path, ".safetensors") || ends_with(path, ".json")) {
    throw Error(path, "pass the Hugging Face model directory (with config.json), not a file inside it");
  } else {
    bool gguf_magic = false;
    {
      MappedFile probe(path);
      gguf_magic = probe.size() >= 4 && std::memcmp(probe.data(), "GGUF", 4) == 0;
    }
    if (gguf_magic || ends_with(path, ".gguf"))
      m = load_gguf(path);  // a .gguf without the magic gets a "bad magic" error there
    else
      m = load_llama2c(path);
  }
  validate_model(m);
  compute_checksum(m);
  m.check_files_unchanged();  // the checksum covers the bytes of the files as they were mapped
  return m;
}

}  // namespace eeb
