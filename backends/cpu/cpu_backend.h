// The CPU backend ("cpu"): weights held as stored (F32, BF16, F16, Q8_0; cpu_weights.h), typed
// matrix products (weight_matrix.h), OpenMP for element-wise work. Deterministic run to run for a
// given thread count. Not safe for concurrent calls on one instance.
#pragma once
#include <memory>

#include "backends/backend.h"

namespace eeb {

// Holds the model's matrices in place (views into its memory mappings, which it keeps alive) or,
// for opt.dtype f32|bf16|f16, converted once; `model` need not outlive the backend, but the
// mapped files must not change while it lives (Model::check_files_unchanged).
// Throws Error for an unknown dtype, negative thread counts or tensors whose shape or type does
// not fit, naming the tensor and its file.
std::unique_ptr<Backend> make_cpu_backend(const Model& model, const BackendOptions& opt);

}  // namespace eeb
