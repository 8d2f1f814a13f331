// A naive float64 forward pass of the Llama family for the backend tests, written from Hugging Face
// transformers' modeling code (modeling_llama.py, modeling_rope_utils.py, modeling_qwen2.py,
// modeling_qwen3.py, modeling_mistral.py / masking_utils.py): plain loops, no BLAS, no KV cache
// (every call recomputes full causal attention over the whole sequence). Reads the tensors of
// the Model directly by their HF names, independent of the backend's weight conversion and of the
// architecture table (any stored type, decoded here). Covers q/k/v biases (Qwen2: present when the tensors are), per-head q/k
// RMSNorm (Qwen3: likewise), RoPE scaling (linear, llama3, GGUF rope_freqs) and Mistral's
// sliding window.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "model/model.h"

namespace eeb::testing {

using Vec = std::vector<double>;

struct RefModel {
  struct Layer {
    Vec attn_norm, wq, wk, wv, wo, ffn_norm, wg, wu, wd;
    Vec bq, bk, bv, q_norm, k_norm;  // empty when the model has none
  };
  ModelConfig c;
  bool interleaved = false;  // Q/K rows as stored in interleaved-RoPE order (llama2.c, GGUF)
  Vec embed, final_norm, lm_head;
  std::vector<Layer> layers;

  // The tensor's values as stored, decoded here (independently of model/dequantize): F32, BF16
  // (the high half of a float32), IEEE F16, Q8_0 (per 32 values: f16 scale d, 32 int8 q, x = d·q).
  static double half_to_double(uint16_t h) {
    const int e = (h >> 10) & 0x1f, f = h & 0x3ff;
    const double v = e == 0 ? std::ldexp(f, -24) : e == 31 ? (f ? NAN : INFINITY) : std::ldexp(1024 + f, e - 25);
    return (h & 0x8000) ? -v : v;
  }
  static Vec get(const Model& m, const std::string& name) {
    const TensorInfo& t = m.tensors.at(name);
    const uint64_t n = t.numel();
    Vec out(n);
    const uint8_t* p = t.data;
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t h = 0;
      switch (t.dtype) {
        case DType::F32: {
          float f;
          std::memcpy(&f, p + 4 * i, 4);
          out[i] = f;
          break;
        }
        case DType::BF16: {
          std::memcpy(&h, p + 2 * i, 2);
          const uint32_t bits = uint32_t(h) << 16;
          float f;
          std::memcpy(&f, &bits, 4);
          out[i] = f;
          break;
        }
        case DType::F16:
          std::memcpy(&h, p + 2 * i, 2);
          out[i] = half_to_double(h);
          break;
        case DType::Q8_0: {
          const uint8_t* blk = p + (i / 32) * 34;
          std::memcpy(&h, blk, 2);
          out[i] = half_to_double(h) * static_cast<int8_t>(blk[2 + i % 32]);
          break;
        }
      }
    }
    return out;
  }
  explicit RefModel(const Model& m) : c(m.cfg), interleaved(m.qk_interleaved) {
    embed = get(m, kEmbed);
    final_norm = get(m, kFinalNorm);
    lm_head = c.tied_embeddings ? embed : get(m, kLmHead);
    for (int l = 0; l < c.n_layers; ++l) {
      auto L = [&](const char* s) { return get(m, "model.layers." + std::to_string(l) + "." + s); };
      auto opt = [&](const char* s) {
        const std::string n = "model.layers." + std::to_string(l) + "." + s;
        return m.tensors.count(n) ? get(m, n) : Vec{};
      };
      layers.push_back({L("input_layernorm.weight"), L("self_attn.q_proj.weight"),
                        L("self_attn.k_proj.weight"), L("self_attn.v_proj.weight"),
                        L("self_attn.o_proj.weight"), L("post_attention_layernorm.weight"),
                        L("mlp.gate_proj.weight"), L("mlp.up_proj.weight"), L("mlp.down_proj.weight"),
                        opt("self_attn.q_proj.bias"), opt("self_attn.k_proj.bias"),
                        opt("self_attn.v_proj.bias"), opt("self_attn.q_norm.weight"),
                        opt("self_attn.k_norm.weight")});
    }
  }
};

// y[n, out] = x[n, in] · W[out, in]^T
inline Vec ref_linear(const Vec& x, int n, int in, const Vec& W, int out) {
  Vec y(static_cast<size_t>(n) * out, 0.0);
  for (int r = 0; r < n; ++r)
    for (int o = 0; o < out; ++o) {
      double s = 0;
      for (int i = 0; i < in; ++i) s += x[r * in + i] * W[static_cast<size_t>(o) * in + i];
      y[static_cast<size_t>(r) * out + o] = s;
    }
  return y;
}

inline Vec ref_rmsnorm(const Vec& x, int n, int dim, const Vec& w, double eps) {
  Vec y(x.size());
  for (int r = 0; r < n; ++r) {
    double ss = 0;
    for (int i = 0; i < dim; ++i) ss += x[r * dim + i] * x[r * dim + i];
    const double inv = 1.0 / std::sqrt(ss / dim + eps);
    for (int i = 0; i < dim; ++i) y[r * dim + i] = x[r * dim + i] * inv * w[i];
  }
  return y;
}

// Inverse frequencies as transformers computes them: _compute_default_rope_parameters
// (1 / base^(2i/d)), "linear" (divided by factor), "llama3" (_compute_llama3_parameters); a GGUF
// rope_freqs tensor divides them (llama.cpp's freq_factors).
inline Vec ref_inv_freq(const ModelConfig& c) {
  const int d = c.head_dim;
  Vec inv(d / 2);
  for (int i = 0; i < d / 2; ++i) inv[i] = 1.0 / std::pow(static_cast<double>(c.rope_theta), (2.0 * i) / d);
  if (!c.rope_freq_factors.empty()) {
    for (int i = 0; i < d / 2; ++i) inv[i] /= c.rope_freq_factors[i];
  } else if (c.rope_type == "linear") {
    for (auto& x : inv) x /= c.rope_factor;
  } else if (c.rope_type == "llama3") {
    const double factor = c.rope_factor, lo = c.rope_low_freq_factor, hi = c.rope_high_freq_factor;
    const double old_len = c.rope_original_max_pos;
    const double low_freq_wavelen = old_len / lo, high_freq_wavelen = old_len / hi;
    for (auto& x : inv) {
      const double wavelen = 2 * M_PI / x;
      double llama = wavelen > low_freq_wavelen ? x / factor : x;  // torch.where(wavelen > low, inv/f, inv)
      const double smooth = (old_len / wavelen - lo) / (hi - lo);
      const double smoothed = (1 - smooth) * llama / factor + smooth * llama;
      const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
      x = medium ? smoothed : llama;
    }
  }
  return inv;
}

// Rotary embedding; row r is position r. Pair i of a head is (x_i, x_{i+hd/2}) in the rotate-half
// convention, (x_{2i}, x_{2i+1}) in the interleaved one; both rotate by r · inv_freq[i].
inline void ref_rope(Vec& x, int n, int heads, int hd, const Vec& inv_freq, bool interleaved) {
  const int half = hd / 2;
  for (int r = 0; r < n; ++r)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < half; ++i) {
        const double a = r * inv_freq[i];
        double* p = &x[(static_cast<size_t>(r) * heads + h) * hd];
        double& x0 = interleaved ? p[2 * i] : p[i];
        double& x1 = interleaved ? p[2 * i + 1] : p[i + half];
        const double u = x0, v = x1;
        x0 = u * std::cos(a) - v * std::sin(a);
        x1 = v * std::cos(a) + u * std::sin(a);
      }
}
// x[r] += b for every row.
inline void ref_add_bias(Vec& x, const Vec& b) {
  if (b.empty()) return;
  for (size_t i = 0; i < x.size(); ++i) x[i] += b[i % b.size()];
}

// One transformer block over the whole sequence x[n, dim] (positions 0..n-1), in place.
inline void ref_layer(const RefModel& m, int layer, Vec& x, int n) {
  const auto& c = m.c;
  const auto& w = m.layers.at(layer);
  const int D = c.dim, hd = c.head_dim, nh = c.n_heads, nkv = c.n_kv_heads, H = c.hidden_dim;
  Vec xn = ref_rmsnorm(x, n, D, w.attn_norm, c.norm_eps);
  Vec q = ref_linear(xn, n, D, w.wq, nh * hd), k = ref_linear(xn, n, D, w.wk, nkv * hd),
      v = ref_linear(xn, n, D, w.wv, nkv * hd);
  ref_add_bias(q, w.bq);  // Qwen2: nn.Linear(..., bias=True)
  ref_add_bias(k, w.bk);
  ref_add_bias(v, w.bv);
  if (!w.q_norm.empty()) {  // Qwen3: q_norm / k_norm over head_dim of each head, before RoPE
    q = ref_rmsnorm(q, n * nh, hd, w.q_norm, c.norm_eps);
    k = ref_rmsnorm(k, n * nkv, hd, w.k_norm, c.norm_eps);
  }
  const Vec inv_freq = ref_inv_freq(c);
  ref_rope(q, n, nh, hd, inv_freq, m.interleaved);
  ref_rope(k, n, nkv, hd, inv_freq, m.interleaved);
  // masking_utils.sliding_window_overlay: key j is visible from query t iff j > t - sliding_window.
  const int W = c.sliding_window;
  Vec att(static_cast<size_t>(n) * nh * hd, 0.0);
  for (int h = 0; h < nh; ++h) {
    const int g = h / (nh / nkv);
    for (int t = 0; t < n; ++t) {
      Vec s(t + 1);
      double mx = -1e300;
      for (int j = 0; j <= t; ++j) {
        if (W > 0 && !(j > t - W)) {
          s[j] = -1e300;
          continue;
        }
        double d = 0;
        for (int i = 0; i < hd; ++i) d += q[(t * nh + h) * hd + i] * k[(j * nkv + g) * hd + i];
        s[j] = d / std::sqrt(static_cast<double>(hd));
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (auto& e : s) sum += (e = e <= -1e299 ? 0.0 : std::exp(e - mx));
      for (int j = 0; j <= t; ++j)
        for (int i = 0; i < hd; ++i)
          att[(t * nh + h) * hd + i] += s[j] / sum * v[(j * nkv + g) * hd + i];
    }
  }
  Vec o = ref_linear(att, n, nh * hd, w.wo, D);
  for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
  xn = ref_rmsnorm(x, n, D, w.ffn_norm, c.norm_eps);
  Vec gt = ref_linear(xn, n, D, w.wg, H), up = ref_linear(xn, n, D, w.wu, H);
  for (size_t i = 0; i < gt.size(); ++i) gt[i] = gt[i] / (1.0 + std::exp(-gt[i])) * up[i];
  Vec d = ref_linear(gt, n, H, w.wd, D);
  for (size_t i = 0; i < x.size(); ++i) x[i] += d[i];
}

inline Vec ref_embed(const RefModel& m, const std::vector<int32_t>& tokens) {
  const int D = m.c.dim;
  Vec x(tokens.size() * D);
  for (size_t r = 0; r < tokens.size(); ++r)
    for (int i = 0; i < D; ++i) x[r * D + i] = m.embed[static_cast<size_t>(tokens[r]) * D + i];
  return x;
}

// Hidden states of the whole sequence: [0] the embeddings, [i + 1] after running order[i].
inline std::vector<Vec> ref_hiddens(const RefModel& m, const std::vector<int32_t>& tokens,
                                    const std::vector<int>& order) {
  std::vector<Vec> hs{ref_embed(m, tokens)};
  for (int l : order) {
    hs.push_back(hs.back());
    ref_layer(m, l, hs.back(), static_cast<int>(tokens.size()));
  }
  return hs;
}

inline Vec ref_logits(const RefModel& m, const Vec& hidden, int n) {
  Vec xn = ref_rmsnorm(hidden, n, m.c.dim, m.final_norm, m.c.norm_eps);
  return ref_linear(xn, n, m.c.dim, m.lm_head, m.c.vocab_size);
}

inline std::vector<int> all_layers(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i;
  return v;
}

inline std::vector<int32_t> random_tokens(int n, int vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % vocab);
  return t;
}

// max |a - b| / max |b|
template <class A, class B>
double rel_diff(const A& a, const B& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    den = std::max(den, std::abs(static_cast<double>(b[i])));
  }
  return den > 0 ? num / den : num;
}

}  // namespace eeb::testing
