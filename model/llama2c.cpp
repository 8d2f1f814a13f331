// llama2.c checkpoints (karpathy/llama2.c export.py), all float32, Q/K rows in interleaved-RoPE
// order (llama2.c rotates adjacent pairs, like Meta's original weights).
//
// Legacy (version 0): 7 int32 header {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size
// (negative: separate classifier), seq_len}, then token_embedding [V,D], rms_att [L,D], wq [L,D,D],
// wk [L,kv,D], wv [L,kv,D], wo [L,D,D], rms_ffn [L,D], w1 [L,H,D], w2 [L,D,H], w3 [L,H,D],
// rms_final [D], freq_cis_real and _imag [seq_len, head_size/2] (unused), wcls [V,D] if not shared.
//
// Version 1: 256-byte header: u32 magic "ak42", i32 version, the same 7 int32 (vocab positive),
// u8 shared_classifier, zero padding; then rms_att [L,D], rms_ffn [L,D], rms_final [D],
// token_embedding, wq, wk, wv, wo, w1, w2, w3 (stacked as above), wcls [V,D] if not shared.
// Version 2 (int8 groups with f32 scales) is not supported.
#include <algorithm>
#include <cstring>

#include "model/architecture.h"
#include "model/loaders.h"
#include "core/error.h"

namespace eeb {
namespace {

constexpr uint32_t kMagic = 0x616b3432;  // "ak42" as a little-endian u32

struct Header {
  int64_t D, H, L, NH, NKV, V, S;
  bool shared;
};

// Checks the header against sane bounds; the message says why this is not a model file.
void check_header(const Header& h, const std::string& path) {
  auto in = [](int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  const bool ok = in(h.D, 1, 1 << 16) && in(h.H, 1, 1 << 18) && in(h.L, 1, 1024) && in(h.NH, 1, 4096) &&
                  in(h.NKV, 1, h.NH) && in(h.V, 1, 1 << 22) && in(h.S, 1, 1 << 22) && h.D % h.NH == 0 &&
                  h.NH % h.NKV == 0 && (h.D / h.NH) % 2 == 0;
  if (!ok)
    throw Error(path, "unrecognised model file: not a Hugging Face directory, GGUF file or llama2.c checkpoint "
                      "(as a llama2.c header: dim " + std::to_string(h.D) + ", hidden " + std::to_string(h.H) +
                          ", layers " + std::to_string(h.L) + ", heads " + std::to_string(h.NH) + "/" +
                          std::to_string(h.NKV) + ", vocab " + std::to_string(h.V) + ", seq_len " +
                          std::to_string(h.S) + ")");
}

// Walks the float32 payload, creating TensorInfo views; sizes are checked before any view is made.
struct Layout {
  Model& m;
  const uint8_t* p;
  const std::string& path;
  void take(const std::string& name, std::vector<int64_t> shape) {
    TensorInfo t;
    t.name = name;
    t.dtype = DType::F32;
    t.shape = std::move(shape);
    t.data = p;
    t.nbytes = t.numel() * 4;
    t.file = path;
    p += t.nbytes;
    m.tensors[name] = std::move(t);
  }
  // The file's order is fixed by llama2.c; the names come from the architecture table.
  void take(Role r, std::vector<int64_t> shape) { take(tensor_name(m.cfg, r), std::move(shape)); }
  void per_layer(int64_t L, Role r, const std::vector<int64_t>& shape) {
    for (int l = 0; l < L; ++l) take(tensor_name(m.cfg, r, l), shape);
  }
};

}  // namespace

Model load_llama2c(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  Model m;
  m.path = path;
  m.format = "llama2c";
  m.files.push_back(file);
  m.qk_interleaved = true;
  const uint64_t size = file->size();
  if (size < 28)
    throw Error(path, "unrecognised model file: " + std::to_string(size) + " bytes is too small for a llama2.c header");
  int32_t w[9] = {};
  std::memcpy(w, file->data(), std::min<uint64_t>(size, sizeof w));
  int version = 0;
  if (static_cast<uint32_t>(w[0]) == kMagic) {
    version = w[1];
    if (version != 1)
      throw Error(path, "llama2.c export version " + std::to_string(version) +
                            " is not supported (legacy version 0 and float32 version 1 are)");
    if (size < 256) throw Error(path, "truncated llama2.c version 1 header (" + std::to_string(size) + " bytes)");
  }
  const int32_t* hp = version == 1 ? w + 2 : w;
  Header h{hp[0], hp[1], hp[2], hp[3], hp[4], 0, hp[6], false};
  if (version == 1) {
    h.V = hp[5];
    h.shared = file->data()[36] != 0;
  } else {
    h.shared = hp[5] > 0;
    h.V = h.shared ? hp[5] : -int64_t(hp[5]);
  }
  check_header(h, path);
  const int64_t D = h.D, H = h.H, L = h.L, V = h.V, S = h.S, hd = D / h.NH, KV = h.NKV * hd;
  auto& c = m.cfg;
  c.dim = int(D), c.hidden_dim = int(H), c.n_layers = int(L), c.n_heads = int(h.NH), c.n_kv_heads = int(h.NKV);
  c.head_dim = int(hd), c.vocab_size = int(V), c.max_seq_len = int(S);
  c.tied_embeddings = h.shared;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.f;

  // Exact size check before any view is made (bounds above keep every product far from overflow).
  const int64_t layer_floats = 2 * D + 2 * D * D + 2 * KV * D + 3 * H * D;
  const int64_t floats = V * D + L * layer_floats + D + (version == 0 ? S * hd : 0) + (h.shared ? 0 : V * D);
  const uint64_t header = version == 0 ? 28 : 256, expect = header + uint64_t(floats) * 4;
  if (size != expect)
    throw Error(path, "llama2.c checkpoint (version " + std::to_string(version) + ") should be " +
                          std::to_string(expect) + " bytes for its header, is " + std::to_string(size) + " bytes");

  Layout lay{m, file->data() + header, path};
  if (version == 0) {
    lay.take(Role::Embed, {V, D});
    lay.per_layer(L, Role::AttnNorm, {D});
  } else {
    lay.per_layer(L, Role::AttnNorm, {D});
    lay.per_layer(L, Role::FfnNorm, {D});
    lay.take(Role::FinalNorm, {D});
    lay.take(Role::Embed, {V, D});
  }
  lay.per_layer(L, Role::Wq, {D, D});
  lay.per_layer(L, Role::Wk, {KV, D});
  lay.per_layer(L, Role::Wv, {KV, D});
  lay.per_layer(L, Role::Wo, {D, D});
  if (version == 0) lay.per_layer(L, Role::FfnNorm, {D});
  lay.per_layer(L, Role::Wgate, {H, D});  // w1
  lay.per_layer(L, Role::Wdown, {D, H});  // w2
  lay.per_layer(L, Role::Wup, {H, D});    // w3
  if (version == 0) {
    lay.take(Role::FinalNorm, {D});
    lay.p += S * hd * 4;  // freq_cis_real + freq_cis_imag: S * hd/2 floats each
  }
  if (!h.shared) lay.take(Role::LmHead, {V, D});
  return m;
}

}  // namespace eeb
