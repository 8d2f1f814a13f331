// An independent normal tail for the statistics tests: P(Z > z) by Simpson's rule on the density
// over [z, z + 12] (no erfc: the code under test may use it).
#pragma once
#include <cmath>

namespace eeb::testing {

inline double normal_tail(double z) {
  const int n = 200000;
  const double a = z, b = z + 12, h = (b - a) / n;
  auto phi = [](double x) { return std::exp(-x * x / 2) / std::sqrt(2 * M_PI); };
  double s = phi(a) + phi(b);
  for (int i = 1; i < n; ++i) s += phi(a + i * h) * (i % 2 ? 4 : 2);
  return s * h / 3;
}

}  // namespace eeb::testing
