// llama2.c legacy checkpoints (karpathy/llama2.c run.c): 7 int32 header {dim, hidden_dim,
// n_layers, n_heads, n_kv_heads, vocab_size (negative: separate classifier), seq_len}, then float32
// token_embedding [V,D], rms_att [L,D], wq [L,D,D], wk [L,kv,D], wv [L,kv,D], wo [L,D,D],
// rms_ffn [L,D], w1 [L,H,D], w2 [L,D,H], w3 [L,H,D], rms_final [D], freq_cis_real and _imag
// [seq_len, head_size/2] (unused), and wcls [V,D] when not shared. Q/K rows are in interleaved-RoPE
// order (llama2.c's RoPE rotates adjacent pairs).
#include <cstring>

#include "backends/weights/loaders.h"
#include "harness/error.h"

namespace eeb {

Model load_llama2c(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  Model m;
  m.path = path;
  m.format = "llama2c";
  m.files.push_back(file);
  m.qk_interleaved = true;
  if (file->size() < 28)
    throw Error(path, "not a model file: too small for a llama2.c header (" + std::to_string(file->size()) + " bytes)");
  int32_t h[7];
  std::memcpy(h, file->data(), sizeof h);
  if (h[0] == 0x616b3432)  // "ak42": llama2.c's versioned export
    throw Error(path, "llama2.c version 1/2 exports are not supported; use the legacy export (version 0)");
  const bool shared = h[5] > 0;
  const int64_t D = h[0], H = h[1], L = h[2], NH = h[3], NKV = h[4], V = shared ? h[5] : -int64_t(h[5]),
                S = h[6];
  auto in = [&](int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  if (!in(D, 1, 1 << 16) || !in(H, 1, 1 << 18) || !in(L, 1, 1024) || !in(NH, 1, 4096) ||
      !in(NKV, 1, NH) || !in(V, 1, 1 << 22) || !in(S, 1, 1 << 22) || D % NH != 0 || NH % NKV != 0 ||
      (D / NH) % 2 != 0)
    throw Error(path, "unrecognised model file: not a Hugging Face directory, GGUF or llama2.c checkpoint (header: dim " + std::to_string(D) + ", hidden " +
                          std::to_string(H) + ", layers " + std::to_string(L) + ", heads " + std::to_string(NH) +
                          "/" + std::to_string(NKV) + ", vocab " + std::to_string(V) + ", seq_len " +
                          std::to_string(S) + ")");
  const int64_t hd = D / NH, KV = NKV * hd;
  auto& c = m.cfg;
  c.dim = int(D), c.hidden_dim = int(H), c.n_layers = int(L), c.n_heads = int(NH), c.n_kv_heads = int(NKV);
  c.head_dim = int(hd), c.vocab_size = int(V), c.max_seq_len = int(S);
  c.tied_embeddings = shared;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.f;
  const uint64_t floats = uint64_t(V * D + L * D + L * D * D + 2 * L * KV * D + L * D * D + L * D + 3 * L * H * D +
                                   D + S * hd + (shared ? 0 : V * D));
  const uint64_t expect = 28 + floats * 4;
  if (file->size() != expect)
    throw Error(path, "llama2.c checkpoint should be " + std::to_string(expect) + " bytes for its header, is " +
                          std::to_string(file->size()));
  const uint8_t* p = file->data() + 28;
  auto take = [&](const std::string& name, std::vector<int64_t> shape) {
    TensorInfo t;
    t.name = name;
    t.dtype = DType::F32;
    t.shape = shape;
    t.data = p;
    t.nbytes = t.numel() * 4;
    t.file = path;
    p += t.nbytes;
    m.tensors[name] = t;
  };
  auto per_layer = [&](const char* suffix, std::vector<int64_t> shape) {
    for (int l = 0; l < L; ++l) take(tn_layer(l, suffix), shape);
  };
  take(kEmbed, {V, D});
  per_layer("input_layernorm.weight", {D});
  per_layer("self_attn.q_proj.weight", {D, D});
  per_layer("self_attn.k_proj.weight", {KV, D});
  per_layer("self_attn.v_proj.weight", {KV, D});
  per_layer("self_attn.o_proj.weight", {D, D});
  per_layer("post_attention_layernorm.weight", {D});
  per_layer("mlp.gate_proj.weight", {H, D});
  per_layer("mlp.down_proj.weight", {D, H});
  per_layer("mlp.up_proj.weight", {H, D});
  take(kFinalNorm, {D});
  p += S * hd * 4;  // freq_cis_real + freq_cis_imag: S * hd/2 each
  if (!shared) take(kLmHead, {V, D});
  return m;
}

}  // namespace eeb
