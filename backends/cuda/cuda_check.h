// Status checks for every CUDA runtime and cuBLAS call: a failure throws eeb::Error with the call
// site and the library's own description. Plain C++17 (included by .cu and .cpp files alike).
#pragma once
#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include <cstring>
#include <string>

#include "core/error.h"

namespace eeb::cuda {

// "backends/cuda/x.cu" from a compiler-supplied absolute path (messages stay short and stable).
inline const char* short_path(const char* file) {
  const char* p = std::strstr(file, "backends/cuda/");
  return p ? p : file;
}

// Also clears the runtime's last-error state, so a later launch check does not report this error again
// (sticky errors - a kernel fault - stay, as they must).
[[noreturn]] inline void throw_cuda(cudaError_t e, const char* what, const char* file, int line) {
  (void)cudaGetLastError();
  throw Error("CUDA error at " + std::string(short_path(file)) + ":" + std::to_string(line) + ": " +
              cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + " from " + what + ")");
}

inline const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
  }
}

[[noreturn]] inline void throw_cublas(cublasStatus_t s, const char* what, const char* file,
                                      int line) {
  throw Error("cuBLAS error at " + std::string(short_path(file)) + ":" + std::to_string(line) +
              ": " + cublas_status_name(s) + " (" + std::to_string(static_cast<int>(s)) +
              ") from " + what);
}

}  // namespace eeb::cuda

#define EEB_CUDA_CHECK(call)                                                  \
  do {                                                                        \
    const cudaError_t eeb_e_ = (call);                                        \
    if (eeb_e_ != cudaSuccess) ::eeb::cuda::throw_cuda(eeb_e_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, execution errors at the next
// synchronizing call.
#define EEB_CUDA_CHECK_LAUNCH() EEB_CUDA_CHECK(cudaGetLastError())

#define EEB_CUBLAS_CHECK(call)                                                \
  do {                                                                        \
    const cublasStatus_t eeb_s_ = (call);                                     \
    if (eeb_s_ != CUBLAS_STATUS_SUCCESS)                                      \
      ::eeb::cuda::throw_cublas(eeb_s_, #call, __FILE__, __LINE__);           \
  } while (0)
