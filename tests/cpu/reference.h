// A naive float64 Llama forward pass for the CPU backend tests: plain loops, no BLAS, no KV cache
// (every call recomputes full causal attention over the whole sequence). Reads the F32 tensors of
// the Model directly, independent of the backend's weight conversion.
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
  };
  ModelConfig c;
  bool interleaved = false;  // Q/K rows as stored in interleaved-RoPE order (llama2.c, GGUF)
  Vec embed, final_norm, lm_head;
  std::vector<Layer> layers;

  static Vec get(const Model& m, const std::string& name) {
    const TensorInfo& t = m.tensors.at(name);
    if (t.dtype != DType::F32) throw std::runtime_error("reference reads F32 tensors only: " + name);
    std::vector<float> f(t.nbytes / sizeof(float));
    std::memcpy(f.data(), t.data, t.nbytes);
    return Vec(f.begin(), f.end());
  }
  explicit RefModel(const Model& m) : c(m.cfg), interleaved(m.qk_interleaved) {
    embed = get(m, kEmbed);
    final_norm = get(m, kFinalNorm);
    lm_head = c.tied_embeddings ? embed : get(m, kLmHead);
    for (int l = 0; l < c.n_layers; ++l) {
      auto L = [&](const char* s) { return get(m, "model.layers." + std::to_string(l) + "." + s); };
      layers.push_back({L("input_layernorm.weight"), L("self_attn.q_proj.weight"),
                        L("self_attn.k_proj.weight"), L("self_attn.v_proj.weight"),
                        L("self_attn.o_proj.weight"), L("post_attention_layernorm.weight"),
                        L("mlp.gate_proj.weight"), L("mlp.up_proj.weight"), L("mlp.down_proj.weight")});
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

// Rotary embedding; row r is position r. Pair i of a head is (x_i, x_{i+hd/2}) in the rotate-half
// convention, (x_{2i}, x_{2i+1}) in the interleaved one; both rotate by r · theta^(-2i/hd).
inline void ref_rope(Vec& x, int n, int heads, int hd, double theta, bool interleaved) {
  const int half = hd / 2;
  for (int r = 0; r < n; ++r)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < half; ++i) {
        const double a = r * std::pow(theta, -2.0 * i / hd);
        double* p = &x[(static_cast<size_t>(r) * heads + h) * hd];
        double& x0 = interleaved ? p[2 * i] : p[i];
        double& x1 = interleaved ? p[2 * i + 1] : p[i + half];
        const double u = x0, v = x1;
        x0 = u * std::cos(a) - v * std::sin(a);
        x1 = v * std::cos(a) + u * std::sin(a);
      }
}

// One transformer block over the whole sequence x[n, dim] (positions 0..n-1), in place.
inline void ref_layer(const RefModel& m, int layer, Vec& x, int n) {
  const auto& c = m.c;
  const auto& w = m.layers.at(layer);
  const int D = c.dim, hd = c.head_dim, nh = c.n_heads, nkv = c.n_kv_heads, H = c.hidden_dim;
  Vec xn = ref_rmsnorm(x, n, D, w.attn_norm, c.norm_eps);
  Vec q = ref_linear(xn, n, D, w.wq, nh * hd), k = ref_linear(xn, n, D, w.wk, nkv * hd),
      v = ref_linear(xn, n, D, w.wv, nkv * hd);
  ref_rope(q, n, nh, hd, c.rope_theta, m.interleaved);
  ref_rope(k, n, nkv, hd, c.rope_theta, m.interleaved);
  Vec att(static_cast<size_t>(n) * nh * hd, 0.0);
  for (int h = 0; h < nh; ++h) {
    const int g = h / (nh / nkv);
    for (int t = 0; t < n; ++t) {
      Vec s(t + 1);
      double mx = -1e300;
      for (int j = 0; j <= t; ++j) {
        double d = 0;
        for (int i = 0; i < hd; ++i) d += q[(t * nh + h) * hd + i] * k[(j * nkv + g) * hd + i];
        s[j] = d / std::sqrt(static_cast<double>(hd));
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (auto& e : s) sum += (e = std::exp(e - mx));
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
