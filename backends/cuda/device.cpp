// Context, DeviceBuffer and the device queries (cuda_device_available, cuda_device_info).
#include "backends/cuda/device.h"

#include <dlfcn.h>
#include <library_types.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "backends/cuda/cuda_backend.h"

namespace eeb {
namespace cuda {

Context::Context(int device) : device_(device) {
  EEB_CUDA_CHECK(cudaSetDevice(device));
  EEB_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device));
  int pools = 0;
  EEB_CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device));
  pools_ = pools != 0;
  if (pools_) {
    // Keep freed pool memory reserved (the default threshold returns it at every synchronization).
    cudaMemPool_t pool = nullptr;
    EEB_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
    uint64_t keep = UINT64_MAX;
    EEB_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
  }
  EEB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  try {
    EEB_CUBLAS_CHECK(cublasCreate(&blas_));
    EEB_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
    // Plain FP32 math for f32 weights (no TF32): the f32 mode exists for parity checks.
    EEB_CUBLAS_CHECK(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));
  } catch (...) {
    if (blas_) cublasDestroy(blas_);
    cudaStreamDestroy(stream_);
    throw;
  }
}

Context::~Context() {
  // Errors are ignored: at process exit the runtime may already be unloading.
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  cublasDestroy(blas_);
  cudaStreamDestroy(stream_);
  (void)cudaGetLastError();
}

void DeviceBuffer::reset(ContextPtr ctx, size_t bytes) {
  release();
  ctx_ = std::move(ctx);
  if (bytes == 0) return;
  ctx_->activate();
  void* p = nullptr;
  if (ctx_->pools())
    EEB_CUDA_CHECK(cudaMallocAsync(&p, bytes, ctx_->stream()));
  else
    EEB_CUDA_CHECK(cudaMalloc(&p, bytes));
  p_ = p;
  bytes_ = bytes;
}

void DeviceBuffer::release() noexcept {
  if (p_ && ctx_) {
    cudaSetDevice(ctx_->device());
    if (ctx_->pools())
      cudaFreeAsync(p_, ctx_->stream());
    else
      cudaFree(p_);  // synchronizes the device: pending work on p_ finishes first
    (void)cudaGetLastError();  // an error here (process exit) must not resurface in a later check
  }
  p_ = nullptr;
  bytes_ = 0;
}

}  // namespace cuda

bool cuda_device_available(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    if (why) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    return false;
  }
  if (n <= 0) {
    if (why) *why = "cudaGetDeviceCount found no device";
    return false;
  }
  return true;
}

namespace {

std::string version_string(int v) {  // 12040 -> "12.4"
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

// The NVIDIA driver version (e.g. "550.54.15") through NVML, loaded at run time so the build does
// not need it; empty when unavailable.
std::string nvml_driver_version() {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return "";
  using Init = int (*)();
  using Version = int (*)(char*, unsigned);
  auto init = reinterpret_cast<Init>(dlsym(lib, "nvmlInit_v2"));
  auto version = reinterpret_cast<Version>(dlsym(lib, "nvmlSystemGetDriverVersion"));
  auto shutdown = reinterpret_cast<Init>(dlsym(lib, "nvmlShutdown"));
  std::string out;
  if (init && version && init() == 0) {
    char buf[96] = {};
    if (version(buf, sizeof buf - 1) == 0) out = buf;
    if (shutdown) shutdown();
  }
  dlclose(lib);
  return out;
}

}  // namespace

CudaDeviceInfo cuda_device_info(int device) {
  int count = 0;
  EEB_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (device < 0 || device >= count)
    throw Error("backend cuda: device " + std::to_string(device) + " outside the " +
                std::to_string(count) + " CUDA device(s) found");
  CudaDeviceInfo info;
  cudaDeviceProp p{};
  EEB_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  info.name = p.name;
  info.sm = p.major * 10 + p.minor;
  char uuid[64];
  const auto* u = reinterpret_cast<const unsigned char*>(p.uuid.bytes);
  std::snprintf(uuid, sizeof uuid,
                "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                u[14], u[15]);
  info.uuid = uuid;
  int drv = 0, rt = 0;
  EEB_CUDA_CHECK(cudaDriverGetVersion(&drv));
  EEB_CUDA_CHECK(cudaRuntimeGetVersion(&rt));
  const std::string nvml = nvml_driver_version();
  info.driver = (nvml.empty() ? "" : nvml + ", ") + "CUDA driver API " + version_string(drv);
  info.runtime = version_string(rt);
  int major = 0, minor = 0, patch = 0;
  EEB_CUBLAS_CHECK(cublasGetProperty(MAJOR_VERSION, &major));
  EEB_CUBLAS_CHECK(cublasGetProperty(MINOR_VERSION, &minor));
  EEB_CUBLAS_CHECK(cublasGetProperty(PATCH_LEVEL, &patch));
  info.cublas = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  int prev = 0;
  EEB_CUDA_CHECK(cudaGetDevice(&prev));
  EEB_CUDA_CHECK(cudaSetDevice(device));
  const cudaError_t e = cudaMemGetInfo(&info.free_mem, &info.total_mem);
  cudaSetDevice(prev);
  EEB_CUDA_CHECK(e);
  return info;
}

}  // namespace eeb
