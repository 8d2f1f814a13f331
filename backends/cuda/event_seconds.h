// Device time of work issued on the legacy default stream, measured with a pair of CUDA events
// (benchmarks and backends/ceilings.h). CUDA builds only.
#pragma once
#include <cuda_runtime_api.h>

#include "backends/cuda/cuda_check.h"

namespace eeb {

template <class F>
double cuda_event_seconds(F&& f) {
  cudaEvent_t a, b;
  EEB_CUDA_CHECK(cudaEventCreate(&a));
  EEB_CUDA_CHECK(cudaEventCreate(&b));
  EEB_CUDA_CHECK(cudaEventRecord(a, 0));
  f();
  EEB_CUDA_CHECK(cudaEventRecord(b, 0));
  EEB_CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  EEB_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  EEB_CUDA_CHECK(cudaEventDestroy(a));
  EEB_CUDA_CHECK(cudaEventDestroy(b));
  return ms * 1e-3;
}

}  // namespace eeb
