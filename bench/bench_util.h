// What every benchmark shares: settings from the environment, the synthetic token stream and the
// random-weight models of real shapes (model/random_weights.h shape_config: "1b", "7b", "tiny").
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/random_weights.h"

namespace eeb::bench {

inline int env_int(const char* name, int def) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : def;
}
inline std::string env_str(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v && *v ? v : def;
}

// A deterministic token stream that touches many embedding rows (no two neighbours equal).
inline std::vector<int32_t> synthetic_tokens(int n, int vocab) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (i * 7919 + 13) % vocab;
  return t;
}

// A named shape with EEB_BENCH_LAYERS overriding its depth (default `layers`, or the shape's own).
inline ModelConfig bench_shape(const std::string& shape, int layers = 0) {
  ModelConfig c = shape_config(shape);
  if (layers > 0) c.n_layers = layers;
  c.n_layers = std::max(1, env_int("EEB_BENCH_LAYERS", c.n_layers));
  return c;
}

}  // namespace eeb::bench
