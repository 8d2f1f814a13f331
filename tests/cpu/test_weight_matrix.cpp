// eeb::cpu::matmul over typed weights (F32, BF16, F16, Q8_0) against a float64 loop over weights
// decoded here, for the decode path (n < 8 for BF16, < 16 otherwise: Highway GEMV, float32
// activations) and the prefill path (activations and F16 / Q8_0 weights rounded to bf16, oneDNN),
// odd shapes, row strides,
// beta 0 and 1, 1 and 2 threads; plus bit-identical repeat calls.
//
// Error bound per output, with S = sum_i |x_i w_i| and u = 2^-24 (float32 unit roundoff):
//   float32 accumulation of k products in any order: <= k·u·S (the worst case of recursive
//   summation; vector lanes and the final reduction only shorten the chains);
//   prefill rounds each x_i to bf16 (relative 2^-9, round to nearest) and, for F16 and Q8_0, each
//   w_i too (Q8_0's d·q is exact in float32 before that rounding): each product is off by at most
//   (2^-9 + 2^-9 + 2^-18)·|x_i w_i|.
// So |y - ref| <= (k·u + r)·S with r = 0 (decode), 2^-9 (prefill, BF16) or 2^-8 + 2^-18 (prefill,
// F16 / Q8_0), times 1.01 for the float32 rounding of beta·y and of S itself.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "backends/cpu/weight_matrix.h"
#include "tests/model_writers.h"

using namespace eeb;

namespace {

// The test's own decoders (independent of model/ and of the kernels).
double decode_f16(uint16_t h) {
  const int e = (h >> 10) & 31, f = h & 1023;
  const double v = e == 0 ? std::ldexp(f, -24) : std::ldexp(1024 + f, e - 25);
  return h & 0x8000 ? -v : v;
}
double decode_bf16(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
std::vector<double> decode(const std::vector<uint8_t>& b, DType t, size_t n) {
  std::vector<double> w(n);
  auto u16 = [&](size_t off) { return static_cast<uint16_t>(b[off] | (b[off + 1] << 8)); };
  for (size_t i = 0; i < n; ++i) switch (t) {
      case DType::F32: {
        float f;
        std::memcpy(&f, &b[4 * i], 4);
        w[i] = f;
        break;
      }
      case DType::F16: w[i] = decode_f16(u16(2 * i)); break;
      case DType::BF16: w[i] = decode_bf16(u16(2 * i)); break;
      case DType::Q8_0: {
        const size_t blk = i / 32 * 34;
        w[i] = decode_f16(u16(blk)) * static_cast<int8_t>(b[blk + 2 + i % 32]);
        break;
      }
    }
  return w;
}

struct Problem {
  DType type;
  int n, m, k;
  float beta;
  int threads;
};

// Runs one product, checks every output against the float64 reference and the bound above, checks
// the padding of Y is untouched, and returns Y for the determinism checks.
std::vector<float> check(const Problem& p, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> U(-1.0f, 1.0f);
  const int ldx = p.k + 3, ldy = p.m + 5;
  std::vector<float> wf(static_cast<size_t>(p.m) * p.k), X(static_cast<size_t>(p.n) * ldx, 1e30f);
  for (auto& v : wf) v = U(rng) * 0.5f;
  for (int j = 0; j < p.n; ++j)
    for (int i = 0; i < p.k; ++i) X[static_cast<size_t>(j) * ldx + i] = U(rng) * 2.0f;
  const std::vector<uint8_t> bytes = testing::encode(wf, p.type);
  const std::vector<double> w = decode(bytes, p.type, wf.size());
  cpu::WeightMatrix W{p.type, bytes.data(), p.m, p.k};
  REQUIRE(W.bytes() == bytes.size());

  const float pad = -7.25f;
  std::vector<float> Y(static_cast<size_t>(p.n) * ldy, pad), y0(Y.size());
  for (int j = 0; j < p.n; ++j)
    for (int r = 0; r < p.m; ++r)
      Y[static_cast<size_t>(j) * ldy + r] = p.beta == 0 ? std::numeric_limits<float>::quiet_NaN() : U(rng);
  y0 = Y;
  cpu::matmul(X.data(), p.n, p.k, ldx, W, Y.data(), ldy, p.beta, p.threads);

  const bool prefill = p.n >= (p.type == DType::BF16 ? 8 : 16) && p.type != DType::F32;  // weight_matrix.cpp
  const double r = !prefill ? 0 : p.type == DType::BF16 ? std::ldexp(1, -9) : std::ldexp(1, -8) + std::ldexp(1, -18);
  const double c = (p.k * std::ldexp(1, -24) + r) * 1.01;
  int bad = 0;
  double worst = 0;
  for (int j = 0; j < p.n; ++j) {
    for (int row = 0; row < p.m; ++row) {
      double ref = 0, S = 0;
      for (int i = 0; i < p.k; ++i) {
        const double xw = static_cast<double>(X[static_cast<size_t>(j) * ldx + i]) * w[static_cast<size_t>(row) * p.k + i];
        ref += xw;
        S += std::fabs(xw);
      }
      const double yin = y0[static_cast<size_t>(j) * ldy + row];
      if (p.beta != 0) ref += p.beta * yin, S += std::fabs(p.beta * yin);
      const double got = Y[static_cast<size_t>(j) * ldy + row];
      const double err = std::fabs(got - ref), bound = c * S + 1e-30;
      worst = std::max(worst, err / bound);
      if (!(err <= bound) && bad++ < 3)
        UNSCOPED_INFO("Y[" << j << "," << row << "] = " << got << ", reference " << ref << ", bound " << bound);
    }
    for (int row = p.m; row < ldy; ++row) REQUIRE(Y[static_cast<size_t>(j) * ldy + row] == pad);
  }
  INFO(dtype_name(p.type) << " n=" << p.n << " m=" << p.m << " k=" << p.k << " beta=" << p.beta << " threads="
                          << p.threads << ": " << cpu::matmul_method(W, p.n, p.threads) << ", worst error / bound " << worst);
  CHECK(bad == 0);
  return Y;
}

}  // namespace

TEST_CASE("typed matmul matches a float64 reference over the decoded weights", "[weight_matrix]") {
  struct Shape {
    int m, k;
  };
  // k not a multiple of the vector width (16 floats) for the 16-bit types, a multiple of 32 for
  // Q8_0; m not a multiple of 64; m > the bf16 tile of 64 rows for k = 2080 / 1030 (several tiles
  // per thread); k = 4200: a long row (x of 16 KiB) with a tail of 8.
  const std::vector<Shape> half_shapes{{7, 37}, {100, 130}, {300, 1030}, {40, 4200}};
  const std::vector<Shape> q8_shapes{{7, 32}, {100, 96}, {200, 2080}};
  uint32_t seed = 1;
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::Q8_0})
    for (const Shape& s : t == DType::Q8_0 ? q8_shapes : half_shapes)
      for (int n : {1, 2, 7, 12, 64, 130})
        for (float beta : {0.0f, 1.0f})
          for (int threads : {1, 2}) {
            if (s.m * s.k > 100000 && n == 130 && threads == 1) continue;  // the largest once
            check({t, n, s.m, s.k, beta, threads}, seed++);
          }
}

TEST_CASE("typed matmul repeats bit-identically (decode path: also across thread counts)", "[weight_matrix]") {
  for (DType t : {DType::BF16, DType::F16, DType::Q8_0})
    for (int n : {1, 5, 12, 64}) {
      const Problem p{t, n, 200, t == DType::Q8_0 ? 2080 : 1030, 1.0f, 2};
      const auto a = check(p, 99), b = check(p, 99);
      CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
      if (n < 8) {  // decode path: one dot product per output row, whatever the split
        Problem p1 = p;
        p1.threads = 1;
        const auto c = check(p1, 99);
        CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)) == 0);
      }
    }
}

TEST_CASE("dequantize_row decodes each type", "[weight_matrix]") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> U(-3.0f, 3.0f);
  std::vector<float> wf(3 * 64);
  for (auto& v : wf) v = U(rng);
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::Q8_0}) {
    const auto bytes = testing::encode(wf, t);
    const auto w = decode(bytes, t, wf.size());
    cpu::WeightMatrix W{t, bytes.data(), 3, 64};
    std::vector<float> row(64);
    cpu::dequantize_row(W, 2, row.data());
    for (int i = 0; i < 64; ++i) REQUIRE(row[i] == static_cast<float>(w[2 * 64 + i]));
  }
}
