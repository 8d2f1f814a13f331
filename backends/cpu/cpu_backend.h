// The CPU reference backend ("cpu"): float32 weights, OpenBLAS sgemm for every projection, OpenMP
// for element-wise work. Deterministic run to run. Not safe for concurrent calls on one instance.
#pragma once
#include <memory>

#include "backends/backend.h"

namespace eeb {

// Converts the model's weights once (Model::load_f32); `model` need not outlive the backend.
// Throws Error for dtype other than "f32", negative thread counts or inconsistent tensor shapes.
std::unique_ptr<Backend> make_cpu_backend(const Model& model, const BackendOptions& opt);

}  // namespace eeb
