#include "backends/cpu/cpu_kernels.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backends/cpu/typed_kernels.h"

namespace eeb::cpu {

// The output columns (rows of W, contiguous) are split over OpenMP threads in multiples of 64, one
// single-threaded sgemm / sgemv per thread.
void matmul(const float* X, int n, int k, int ldx, const float* W, int m, float* Y, int ldy,
            float beta, int threads) {
  if (n <= 0 || m <= 0) return;
  const int parts = std::max(1, std::min(threads, m / 64));
#pragma omp parallel num_threads(parts) if (parts > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();  // nt may be < parts
    const int per = (m / nt + 63) / 64 * 64;
    const int m0 = std::min(m, t * per), m1 = t == nt - 1 ? m : std::min(m, m0 + per);
    const float* w = W + static_cast<size_t>(m0) * k;
    if (m1 > m0 && n == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, m1 - m0, k, 1.0f, w, k, X, 1, beta, Y + m0, 1);
    else if (m1 > m0)
      detail::sgemm(true, n, m1 - m0, k, 1.0f, X, ldx, w, k, beta, Y + m0, ldy);
  }
}

void rmsnorm(const float* x, int n, int dim, const float* w, float eps, float* out, int threads) {
#pragma omp parallel for num_threads(threads) if (n > 1) schedule(static)
  for (int r = 0; r < n; ++r) {
    const float* xr = x + static_cast<size_t>(r) * dim;
    float* o = out + static_cast<size_t>(r) * dim;
    double ss = 0;
    for (int i = 0; i < dim; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / dim + eps));
#pragma omp simd
    for (int i = 0; i < dim; ++i) o[i] = xr[i] * inv * w[i];
  }
}

void add_row_bias(float* x, int n, int ld, const float* b, int threads) {
#pragma omp parallel for num_threads(threads) if (n > 1) schedule(static)
  for (int r = 0; r < n; ++r) {
    float* p = x + static_cast<size_t>(r) * ld;
#pragma omp simd
    for (int i = 0; i < ld; ++i) p[i] += b[i];
  }
}

void head_rmsnorm(float* x, int n, int ld, int heads, int hd, const float* w, float eps, int threads) {
#pragma omp parallel for num_threads(threads) if (n > 1) schedule(static)
  for (int r = 0; r < n; ++r)
    for (int h = 0; h < heads; ++h) {
      float* p = x + static_cast<size_t>(r) * ld + static_cast<size_t>(h) * hd;
      double ss = 0;
      for (int i = 0; i < hd; ++i) ss += static_cast<double>(p[i]) * p[i];
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / hd + eps));
      for (int i = 0; i < hd; ++i) p[i] = p[i] * inv * w[i];
    }
}

void rope(float* x, int n, int ld, int heads, int hd, int pos0, const float* cos_t,
          const float* sin_t, int threads, bool interleaved) {
  const int half = hd / 2;
  // Pair i is (i, i + half) (rotate-half) or (2i, 2i + 1) (interleaved).
  const int step = interleaved ? 2 : 1, mate = interleaved ? 1 : half;
#pragma omp parallel for num_threads(threads) if (n > 1) schedule(static)
  for (int r = 0; r < n; ++r) {
    const float* c = cos_t + static_cast<size_t>(pos0 + r) * half;
    const float* s = sin_t + static_cast<size_t>(pos0 + r) * half;
    for (int h = 0; h < heads; ++h) {
      float* p = x + static_cast<size_t>(r) * ld + static_cast<size_t>(h) * hd;
#pragma omp simd
      for (int i = 0; i < half; ++i) {
        const int j = i * step;
        const float a = p[j], b = p[j + mate];
        p[j] = a * c[i] - b * s[i];
        p[j + mate] = b * c[i] + a * s[i];
      }
    }
  }
}

void swiglu(float* gu, int n, int H, int threads) {
#pragma omp parallel for num_threads(threads) if (n > 1) schedule(static)
  for (int r = 0; r < n; ++r) {
    float* g = gu + static_cast<size_t>(r) * 2 * H;
    detail::silu_mul(g, g + H, H);
  }
}

// Tasks of (kv head g, chunk of up to 64 rows) run in parallel. A task gathers the query rows of
// g's `group` heads as a [rows · group, hd] block (row index r · group + head-in-group), computes
// S = scale · Q Kᵀ over the positions the chunk can see, the causal softmax, and O = S V (two
// single-threaded sgemms), then scatters O into the output. Chunks skip most of the masked triangle.
void attention(const AttentionArgs& a, AttentionScratch& sc, int threads) {
  const int group = a.n_heads / a.n_kv_heads, hd = a.hd, gw = group * hd;
  const int chunk = std::min(a.n, 64), n_chunks = (a.n + chunk - 1) / chunk;
  const int tasks = a.n_kv_heads * n_chunks;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const size_t per_q = static_cast<size_t>(chunk) * gw;
  const size_t per_s = static_cast<size_t>(chunk) * group * (static_cast<size_t>(a.pos0) + a.n);
  const int nt = std::max(1, std::min(threads, tasks));
  sc.q.resize(nt * per_q);
  sc.o.resize(nt * per_q);
  sc.s.resize(nt * per_s);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
  for (int task = 0; task < tasks; ++task) {
    const int tid = nt > 1 ? omp_get_thread_num() : 0;
    float* Q = &sc.q[tid * per_q];
    float* O = &sc.o[tid * per_q];
    float* S = &sc.s[tid * per_s];
    const int g = task % a.n_kv_heads, r0 = task / a.n_kv_heads * chunk;
    const int r1 = std::min(a.n, r0 + chunk), rows = (r1 - r0) * group, width = a.pos0 + r1;
    for (int r = r0; r < r1; ++r)
      std::memcpy(Q + static_cast<size_t>(r - r0) * gw,
                  a.q + static_cast<size_t>(r) * a.ldq + g * gw, gw * sizeof(float));
    // Scores over [0, width): positions below ns from the shared prefix, the rest from k.
    const int ns = std::min(a.n_shared, width);
    const size_t rest = static_cast<size_t>(ns) * a.ldkv + g * hd;
    if (ns > 0) detail::sgemm(true, rows, ns, hd, scale, Q, hd, a.k_shared + g * hd, a.ldkv, 0.0f, S, width);
    if (width > ns) detail::sgemm(true, rows, width - ns, hd, scale, Q, hd, a.k + rest, a.ldkv, 0.0f, S + ns, width);
    for (int i = 0; i < rows; ++i) {
      // Keys [lo, p] of the query at position p: all of them, or the sliding window's.
      const int p = a.pos0 + r0 + i / group;
      const int lo = a.window > 0 ? std::max(0, p - a.window + 1) : 0;
      float* row = S + static_cast<size_t>(i) * width;
      std::fill(row, row + lo, 0.0f);
      detail::softmax_row(row + lo, p + 1 - lo, width - lo);
    }
    if (ns > 0) detail::sgemm(false, rows, hd, ns, 1.0f, S, width, a.v_shared + g * hd, a.ldkv, 0.0f, O, hd);
    if (width > ns)
      detail::sgemm(false, rows, hd, width - ns, 1.0f, S + ns, width, a.v + rest, a.ldkv, ns > 0 ? 1.0f : 0.0f, O, hd);
    for (int r = r0; r < r1; ++r)
      std::memcpy(a.out + static_cast<size_t>(r) * a.ldo + g * gw,
                  O + static_cast<size_t>(r - r0) * gw, gw * sizeof(float));
  }
}

}  // namespace eeb::cpu
