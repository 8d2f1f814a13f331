// Random-weight models of real shapes (benchmarks, `eebench bench`): float32 tensors in memory, filled
// quickly from a SplitMix64 stream at sane scales (uniform, ±sqrt(3/fan_in); norms around 1).
#pragma once
#include <cstdint>

#include "model/model.h"

namespace eeb {

Model random_llama(const ModelConfig& c, uint64_t seed = 1);

// Named shapes: "7b" (Llama-2-7B), "1b" (TinyLlama-1.1B), "tiny" (dim 256, 4 layers). Error otherwise.
ModelConfig shape_config(const std::string& name);

}  // namespace eeb
