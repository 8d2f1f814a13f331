// Device plumbing for the CUDA backend (host C++, no kernels): the per-backend context (device,
// stream, cuBLAS handle) and stream-ordered device buffers.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <utility>

#include "backends/cuda/cuda_check.h"

namespace eeb::cuda {

// One device, one non-blocking stream, one cuBLAS handle bound to it. Everything the backend hands
// out (hidden states, caches, timers) holds a shared_ptr to it, so their memory can still be freed
// on the stream after the backend itself is gone. All work is ordered on this one stream.
class Context {
 public:
  explicit Context(int device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t blas() const { return blas_; }
  int sm_count() const { return sm_count_; }
  // Whether the device has stream-ordered memory pools (else plain cudaMalloc / cudaFree).
  bool pools() const { return pools_; }
  // Makes this context's device current for the calling thread (cheap when it already is).
  void activate() const { EEB_CUDA_CHECK(cudaSetDevice(device_)); }
  void sync() const { EEB_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  int device_ = 0, sm_count_ = 1;
  bool pools_ = false;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
};
using ContextPtr = std::shared_ptr<Context>;

// Device memory from the device's stream-ordered pool (cudaMallocAsync on the context's stream;
// cudaMalloc where the device has no pools). Move-only; the destructor frees in stream order and
// never throws.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(ContextPtr ctx, size_t bytes) { reset(std::move(ctx), bytes); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      swap(o);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return p_; }
  template <class T>
  T* as() const { return static_cast<T*>(p_); }
  size_t bytes() const { return bytes_; }
  // Frees the old memory and allocates `bytes` (nullptr for 0); contents are not kept.
  void reset(ContextPtr ctx, size_t bytes);
  // Grows to at least `bytes` (by reset, with 25% headroom); contents are not kept.
  void ensure(const ContextPtr& ctx, size_t bytes) {
    if (bytes > bytes_) reset(ctx, bytes + bytes / 4);
  }

 private:
  void release() noexcept;
  void swap(DeviceBuffer& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bytes_, o.bytes_);
    std::swap(ctx_, o.ctx_);
  }
  void* p_ = nullptr;
  size_t bytes_ = 0;
  ContextPtr ctx_;
};

}  // namespace eeb::cuda
