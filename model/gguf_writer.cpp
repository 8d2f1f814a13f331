#include "model/gguf_writer.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include "core/error.h"

namespace eeb {

uint64_t RandomTensor::numel() const {
  uint64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

namespace {

int parse_positive(const std::string& s, const std::string& spec, const char* what) {
  size_t used = 0;
  long v = 0;
  try {
    v = std::stol(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || v < 1 || v > (1 << 24))
    throw Error("--shape " + spec + ": " + what + " '" + s + "' is not a positive integer up to 16777216");
  return static_cast<int>(v);
}

}  // namespace

RandomModelShape random_model_shape(const std::string& spec) {
  RandomModelShape s;
  if (spec == "tinyllama-1.1b" || spec == "1b") {
    s = {"tinyllama-1.1b", 2048, 5632, 22, 32, 4, 32000, 2048};
  } else if (spec == "llama-2-7b" || spec == "7b") {
    s = {"llama-2-7b", 4096, 11008, 32, 32, 32, 32000, 4096};
  } else {
    std::vector<std::string> parts;
    std::stringstream in(spec);
    for (std::string p; std::getline(in, p, ',');) parts.push_back(p);
    if (parts.size() != 6 || spec.back() == ',')
      throw Error("unknown model shape '" + spec + "' (known: tinyllama-1.1b, llama-2-7b, or dim,hidden,layers,heads,kv_heads,vocab)");
    static const char* what[] = {"dim", "hidden", "layers", "heads", "kv_heads", "vocab"};
    int v[6];
    for (int i = 0; i < 6; ++i) v[i] = parse_positive(parts[i], spec, what[i]);
    s = {"custom", v[0], v[1], v[2], v[3], v[4], v[5], 2048};
  }
  auto bad = [&](const std::string& why) { return Error("--shape " + spec + ": " + why); };
  if (s.dim % s.n_heads != 0) throw bad("dim " + std::to_string(s.dim) + " is not a multiple of heads " + std::to_string(s.n_heads));
  if (s.head_dim() % 2 != 0) throw bad("the head dimension dim / heads must be even (RoPE rotates pairs)");
  if (s.n_heads % s.n_kv_heads != 0) throw bad("heads must be a multiple of kv_heads");
  if (s.vocab_size < 259) throw bad("vocab must be at least 259 (<unk>, <s>, </s> and the 256 byte tokens)");
  return s;
}

std::vector<RandomTensor> random_model_tensors(const RandomModelShape& s, DType type) {
  const uint64_t D = s.dim, H = s.hidden_dim, q = uint64_t(s.n_heads) * s.head_dim(),
                 kv = uint64_t(s.n_kv_heads) * s.head_dim(), V = s.vocab_size;
  std::vector<RandomTensor> t;
  auto add = [&](std::string name, std::vector<uint64_t> ne) {
    RandomTensor r;
    r.name = std::move(name);
    r.ne = std::move(ne);
    r.ones = r.ne.size() == 1;
    r.type = r.ones ? DType::F32 : type;  // as llama.cpp's converter: norms stay F32
    if (r.type == DType::Q8_0 && r.ne[0] % 32 != 0)
      throw Error("--dtype q8_0: tensor " + r.name + " has rows of " + std::to_string(r.ne[0]) +
                  " values, not a multiple of 32 (choose dim and hidden as multiples of 32)");
    t.push_back(std::move(r));
  };
  add("token_embd.weight", {D, V});
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", {D});
    add(b + "attn_q.weight", {D, q});
    add(b + "attn_k.weight", {D, kv});
    add(b + "attn_v.weight", {D, kv});
    add(b + "attn_output.weight", {q, D});
    add(b + "ffn_norm.weight", {D});
    add(b + "ffn_gate.weight", {D, H});
    add(b + "ffn_up.weight", {D, H});
    add(b + "ffn_down.weight", {H, D});
  }
  add("output_norm.weight", {D});
  add("output.weight", {D, V});
  uint64_t off = 0;
  for (auto& r : t) {
    r.offset = off;
    r.nbytes = dtype_bytes(r.type, r.numel());
    off += (r.nbytes + 31) / 32 * 32;
  }
  return t;
}

void random_tensor_values(uint64_t seed, size_t index, const RandomTensor& t, uint64_t first, uint64_t n, float* out) {
  if (t.ones) {
    std::fill(out, out + n, 1.f);
    return;
  }
  // SplitMix64 at counter key + i: any element is computable on its own (threads, tests). Four
  // 16-bit uniforms per output sum to an Irwin-Hall variable: close to normal, cheap, no libm.
  const uint64_t key = (seed + 1) * 0xD1B54A32D192ED03ull ^ (uint64_t(index) + 1) * 0x9E3779B97F4A7C15ull;
  const double mean = 4 * 32767.5, sd = std::sqrt(4 * (65536.0 * 65536.0 - 1) / 12);
  const float scale = static_cast<float>(kRandomWeightStd / sd), shift = static_cast<float>(mean);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t z = key + (first + i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const uint32_t sum = uint32_t(z & 0xffff) + uint32_t((z >> 16) & 0xffff) + uint32_t((z >> 32) & 0xffff) +
                         uint32_t(z >> 48);
    out[i] = (static_cast<float>(sum) - shift) * scale;
  }
}

namespace {

uint16_t to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | 0x7e00;                    // NaN
  if (ax >= 0x477ff000u) return sign | 0x7c00;                   // rounds to infinity
  if (ax < 0x38800000u)                                          // half subnormal: units of 2^-24
    return sign | static_cast<uint16_t>(std::nearbyint(std::fabs(f) * 16777216.f));  // exact scaling, ties to even
  uint32_t h = (ax - 0x38000000u) >> 13;                         // rebias the exponent by 127 - 15
  const uint32_t rest = ax & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) ++h;       // a carry moves into the exponent correctly
  return sign | static_cast<uint16_t>(h);
}

uint16_t to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

void put16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v & 0xff), p[1] = static_cast<uint8_t>(v >> 8); }

}  // namespace

void encode_values(DType type, const float* x, uint64_t n, uint8_t* out) {
  switch (type) {
    case DType::F32: std::memcpy(out, x, n * 4); return;
    case DType::F16: for (uint64_t i = 0; i < n; ++i) put16(out + 2 * i, to_f16(x[i])); return;
    case DType::BF16: for (uint64_t i = 0; i < n; ++i) put16(out + 2 * i, to_bf16(x[i])); return;
    case DType::Q8_0:
      for (uint64_t b = 0; b < n / 32; ++b, x += 32, out += 34) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.f, id = d != 0 ? 1.f / d : 0.f;
        put16(out, to_f16(d));
        for (int j = 0; j < 32; ++j)
          out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(std::round(x[j] * id), -127.f, 127.f)));
      }
      return;
  }
}

namespace {

// Little-endian GGUF metadata and tensor-info bytes.
struct Header {
  std::vector<uint8_t> b;
  uint64_t n_kv = 0;
  enum : uint32_t { U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9 };
  template <class T> void raw(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  void str(const std::string& s) {
    raw<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
  void key(const std::string& k, uint32_t type) { str(k), raw(type), ++n_kv; }
  void kv_str(const std::string& k, const std::string& v) { key(k, STRING), str(v); }
  void kv_u32(const std::string& k, uint32_t v) { key(k, U32), raw(v); }
  void kv_f32(const std::string& k, float v) { key(k, F32), raw(v); }
  void kv_bool(const std::string& k, bool v) { key(k, BOOL), raw<uint8_t>(v); }
};

uint32_t ggml_type(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q8_0: return 8;
    case DType::BF16: return 30;
  }
  return 0;
}

uint32_t file_type(DType t) {  // llama_ftype: ALL_F32, MOSTLY_F16, MOSTLY_Q8_0, MOSTLY_BF16
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q8_0: return 7;
    case DType::BF16: return 32;
  }
  return 0;
}

// Bijective base 26 ("a".."z", "aa", ...): distinct pieces for the normal tokens.
std::string letters(uint64_t k) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('a' + k % 26));
    k = k / 26;
  } while (k-- > 0);
  return s;
}

void put_vocab(Header& h, int vocab) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};  // unknown, control, control
  static const char* hex = "0123456789ABCDEF";
  for (int c = 0; c < 256; ++c) {
    tokens.push_back(std::string("<0x") + hex[c >> 4] + hex[c & 15] + ">");
    types.push_back(6);  // byte
  }
  for (uint64_t k = 0; tokens.size() < size_t(vocab); ++k) {
    tokens.push_back((k % 2 ? "" : "\xE2\x96\x81") + letters(k / 2));  // "▁abc" (word start) or "abc"
    types.push_back(1);
  }
  h.kv_str("tokenizer.ggml.model", "llama");
  h.kv_str("tokenizer.ggml.pre", "default");
  h.key("tokenizer.ggml.tokens", Header::ARRAY), h.raw<uint32_t>(Header::STRING), h.raw<uint64_t>(tokens.size());
  for (const auto& t : tokens) h.str(t);
  h.key("tokenizer.ggml.scores", Header::ARRAY), h.raw<uint32_t>(Header::F32), h.raw<uint64_t>(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) h.raw<float>(types[i] == 1 ? -static_cast<float>(i - 259) : 0.f);
  h.key("tokenizer.ggml.token_type", Header::ARRAY), h.raw<uint32_t>(Header::I32), h.raw<uint64_t>(types.size());
  for (int32_t t : types) h.raw(t);
  h.kv_u32("tokenizer.ggml.unknown_token_id", 0);
  h.kv_u32("tokenizer.ggml.bos_token_id", 1);
  h.kv_u32("tokenizer.ggml.eos_token_id", 2);
  h.kv_bool("tokenizer.ggml.add_bos_token", true);
  h.kv_bool("tokenizer.ggml.add_eos_token", false);
  h.kv_bool("tokenizer.ggml.add_space_prefix", true);
}

std::vector<uint8_t> header_bytes(const RandomModelShape& s, DType type, uint64_t seed,
                                  const std::vector<RandomTensor>& tensors) {
  Header h;
  const std::string a = "llama.";
  h.kv_str("general.architecture", "llama");
  h.kv_str("general.name", "eebench random " + s.name + " " + dtype_name(type) + " seed " + std::to_string(seed));
  h.kv_u32("general.file_type", file_type(type));
  h.kv_u32("general.alignment", 32);
  h.kv_u32(a + "vocab_size", s.vocab_size);
  h.kv_u32(a + "context_length", s.context_length);
  h.kv_u32(a + "embedding_length", s.dim);
  h.kv_u32(a + "block_count", s.n_layers);
  h.kv_u32(a + "feed_forward_length", s.hidden_dim);
  h.kv_u32(a + "rope.dimension_count", s.head_dim());
  h.kv_u32(a + "attention.head_count", s.n_heads);
  h.kv_u32(a + "attention.head_count_kv", s.n_kv_heads);
  h.kv_f32(a + "attention.layer_norm_rms_epsilon", s.norm_eps);
  h.kv_f32(a + "rope.freq_base", s.rope_theta);
  put_vocab(h, s.vocab_size);
  for (const auto& t : tensors) {
    h.str(t.name);
    h.raw<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (auto d : t.ne) h.raw<uint64_t>(d);
    h.raw(ggml_type(t.type));
    h.raw(t.offset);
  }
  Header out;  // magic, version, counts, then the body built above
  out.b = {'G', 'G', 'U', 'F'};
  out.raw<uint32_t>(3);
  out.raw<uint64_t>(tensors.size());
  out.raw<uint64_t>(h.n_kv);
  out.b.insert(out.b.end(), h.b.begin(), h.b.end());
  while (out.b.size() % 32) out.b.push_back(0);
  return out.b;
}

class OutFile {
 public:
  OutFile(const std::string& tmp, const std::string& target) : tmp_(tmp), target_(target) {
    f_ = std::fopen(tmp.c_str(), "wb");
    if (!f_) throw Error(target, std::string("cannot write: ") + std::strerror(errno));
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 22);
  }
  ~OutFile() {
    if (f_) std::fclose(f_), std::remove(tmp_.c_str());  // unfinished: leave nothing behind
  }
  void write(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n) throw Error(target_, std::string("write failed: ") + std::strerror(errno));
  }
  void zeros(size_t n) {
    static const uint8_t z[32] = {};
    write(z, n);
  }
  void commit() {
    const bool ok = std::fflush(f_) == 0 && ::fsync(fileno(f_)) == 0;
    const int err = errno;
    std::fclose(f_);
    f_ = nullptr;
    if (!ok || std::rename(tmp_.c_str(), target_.c_str()) != 0) {
      std::remove(tmp_.c_str());
      throw Error(target_, std::string("write failed: ") + std::strerror(ok ? errno : err));
    }
  }

 private:
  std::string tmp_, target_;
  FILE* f_ = nullptr;
};

}  // namespace

uint64_t write_random_gguf(const std::string& path, const RandomModelShape& s, DType type, uint64_t seed, int threads) {
  namespace fs = std::filesystem;
  const std::vector<RandomTensor> tensors = random_model_tensors(s, type);
  const std::vector<uint8_t> header = header_bytes(s, type, seed, tensors);
  const RandomTensor& last = tensors.back();
  const uint64_t total = header.size() + last.offset + last.nbytes;
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) != 0) throw Error(path, "cannot write into " + dir.string() + ": " + std::strerror(errno));
  const double free_bytes = double(vfs.f_bavail) * double(vfs.f_frsize);
  if (free_bytes < double(total)) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "needs %.2f GB of disk space, %.2f GB free", total * 1e-9, free_bytes * 1e-9);
    throw Error(path, msg);
  }
  const int T = std::max(1, threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  OutFile out(path + ".tmp-" + std::to_string(::getpid()), path);
  out.write(header.data(), header.size());
  // Chunks of whole Q8_0 blocks, split over T threads, each generating and encoding its part.
  const uint64_t chunk = uint64_t(1) << 22;
  std::vector<float> vals(chunk);
  std::vector<uint8_t> bytes(chunk * 4);
  uint64_t written = 0;
  for (size_t ti = 0; ti < tensors.size(); ++ti) {
    const RandomTensor& t = tensors[ti];
    out.zeros(t.offset - written);
    const uint64_t n = t.numel();
    for (uint64_t c0 = 0; c0 < n; c0 += chunk) {
      const uint64_t cn = std::min(chunk, n - c0);
      auto work = [&](int k) {
        const uint64_t a = cn * k / T / 32 * 32, b = k + 1 == T ? cn : cn * (k + 1) / T / 32 * 32;
        if (b <= a) return;
        random_tensor_values(seed, ti, t, c0 + a, b - a, vals.data() + a);
        encode_values(t.type, vals.data() + a, b - a, bytes.data() + dtype_bytes(t.type, a));
      };
      if (T == 1 || cn < 65536) {
        for (int k = 0; k < T; ++k) work(k);
      } else {
        std::vector<std::thread> pool;
        for (int k = 1; k < T; ++k) pool.emplace_back(work, k);
        work(0);
        for (auto& th : pool) th.join();
      }
      out.write(bytes.data(), dtype_bytes(t.type, cn));
    }
    written = t.offset + t.nbytes;
  }
  out.commit();
  return total;
}

}  // namespace eeb
