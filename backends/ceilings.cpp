#include "backends/ceilings.h"

#include <cblas.h>
#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "backends/cpu/weight_matrix.h"
#include "oneapi/dnnl/dnnl.h"
#include "core/error.h"

namespace eeb {
namespace {

template <class F>
double best_seconds(int reps, F&& f) {
  f();  // warm-up: page faults, thread pool
  double best = 1e30;
  for (int i = 0; i < std::max(1, reps); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

int thread_count(int threads) {
  return threads > 0 ? threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// A GEMM to time: `prepare` allocates the operands of one shape and returns the call.
struct CpuTypedGemm {
  std::string what;
  std::function<std::function<void()>(const GemmShape& shape, int threads)> prepare;
};

// OpenBLAS threads for the duration of one measurement (the CPU backend runs OpenBLAS on one thread
// inside its own OpenMP pool; the ceiling is the library's own best on the same cores).
struct BlasThreads {
  int before;
  explicit BlasThreads(int t) : before(openblas_get_num_threads()) { openblas_set_num_threads(t); }
  ~BlasThreads() { openblas_set_num_threads(before); }
};

// The float32 operands of one shape: X[M, K], W[N, K], Y[M, N].
struct F32Operands {
  std::shared_ptr<std::vector<float>> a, w, y;
  explicit F32Operands(const GemmShape& s)
      : a(std::make_shared<std::vector<float>>(size_t(s.M) * s.K, 0.01f)),
        w(std::make_shared<std::vector<float>>(size_t(s.N) * s.K, 0.02f)),
        y(std::make_shared<std::vector<float>>(size_t(s.M) * s.N)) {}
};

// Y[M, N] = X[M, K] · W[N, K]ᵀ, as the CPU backend multiplies activations by weights.
std::function<void()> prepare_sgemm(const GemmShape& s, int) {
  const F32Operands o(s);  // captured whole: clang < 16 cannot capture structured bindings
  return [=] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.M, s.N, s.K, 1.0f, o.a->data(), s.K, o.w->data(), s.K,
                0.0f, o.y->data(), s.N);
  };
}

// oneDNN's sgemm on `threads` OpenMP threads of its own (it sizes them from omp_get_max_threads):
// the f32 GEMM the CPU backend calls (one single-threaded call per thread, backends/cpu/cpu_kernels.h).
std::function<void()> prepare_dnnl_sgemm(const GemmShape& s, int threads) {
  const F32Operands o(s);
  return [=] {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    dnnl_sgemm('N', 'T', s.M, s.N, s.K, 1.0f, o.a->data(), s.K, o.w->data(), s.K, 0.0f, o.y->data(), s.N);
    omp_set_num_threads(before);
  };
}

// OpenBLAS's bf16 GEMM exists only in builds with BUILD_BFLOAT16 (Debian 12's 0.3.21 has none), so
// it is looked up at run time: with an OpenBLAS that has it, bf16 gets its own ceiling.
using SbgemmFn = void (*)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                          float, const bfloat16*, blasint, const bfloat16*, blasint, float, float*, blasint);
SbgemmFn find_sbgemm() {
  static const SbgemmFn f = reinterpret_cast<SbgemmFn>(dlsym(RTLD_DEFAULT, "cblas_sbgemm"));
  return f;
}

// sbgemm takes both operands in bf16 (activations converted once per GEMM by a backend using it).
std::function<void()> prepare_sbgemm(const GemmShape& s, int) {
  const SbgemmFn sbgemm = find_sbgemm();
  auto a = std::make_shared<std::vector<bfloat16>>(size_t(s.M) * s.K, bfloat16(0x3c24));  // 0.01
  auto w = std::make_shared<std::vector<bfloat16>>(size_t(s.N) * s.K, bfloat16(0x3ca4));  // 0.02
  auto y = std::make_shared<std::vector<float>>(size_t(s.M) * s.N);
  return [=] {
    sbgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.M, s.N, s.K, 1.0f, a->data(), s.K, w->data(), s.K, 0.0f,
                 y->data(), s.N);
  };
}

// The bf16 library GEMM the CPU backend multiplies typed weights with (backends/cpu/weight_matrix.h:
// oneDNN): BF16 weights, float32 activations rounded to bf16 once per call (O(M·K), negligible beside
// the O(M·N·K) product), float32 accumulation. It is also the ceiling for F16 and Q8_0 weights, which
// the backend computes as bf16 tiles: no CPU library multiplies those types natively here.
std::function<void()> prepare_bf16_matmul(const GemmShape& s, int threads) {
  auto a = std::make_shared<std::vector<float>>(size_t(s.M) * s.K, 0.01f);
  auto w = std::make_shared<std::vector<uint16_t>>(size_t(s.N) * s.K, uint16_t(0x3ca4));  // bf16 0.02
  auto y = std::make_shared<std::vector<float>>(size_t(s.M) * s.N);
  cpu::WeightMatrix W{DType::BF16, reinterpret_cast<const uint8_t*>(w->data()), s.N, s.K};
  // w is captured explicitly: W only points into it.
  return [=, w = std::move(w)] { cpu::matmul(a->data(), s.M, s.K, s.K, W, y->data(), s.N, 0.0f, threads); };
}

std::string bf16_matmul_what(int M, int threads) {
  static const uint16_t w[64 * 64] = {};
  return cpu::matmul_method(cpu::WeightMatrix{DType::BF16, reinterpret_cast<const uint8_t*>(w), 64, 64}, M, threads);
}

std::string shapes_str(const std::vector<GemmShape>& shapes) {
  if (shapes.size() == 1)
    return std::to_string(shapes[0].M) + "x" + std::to_string(shapes[0].N) + "x" + std::to_string(shapes[0].K);
  return std::to_string(shapes.size()) + " shapes at M=" + std::to_string(shapes[0].M);
}

// Sum of FLOPs over the sum of the best time per shape (TFLOP/s).
double gemm_rate(const CpuTypedGemm& g, const std::vector<GemmShape>& shapes, int reps, int threads) {
  BlasThreads bt(threads);
  double flops = 0, secs = 0;
  for (const auto& s : shapes) {
    auto run = g.prepare(s, threads);
    secs += best_seconds(reps, run);
    flops += 2.0 * s.M * s.N * s.K;
  }
  return flops * 1e-12 / secs;
}

// A read-only pass over the buffer, split over the threads: the access pattern of decode's weight
// stream (the copy figure also writes, which a decode step does not).
double read_gbs(int reps, int threads) {
  const size_t n = (size_t(512) << 20) / sizeof(uint64_t);
  std::vector<uint64_t> buf(n, 1);
  volatile uint64_t sink = 0;
  const double s = best_seconds(reps, [&] {
    uint64_t total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
    for (size_t i = 0; i < n; ++i) total += buf[i];
    sink = total;
  });
  (void)sink;
  return double(n * sizeof(uint64_t)) * 1e-9 / s;
}

}  // namespace

Ceilings measure_cpu_ceilings(const std::string& dtype, const std::vector<GemmShape>& shapes, int reps, int threads) {
  if (shapes.empty()) throw Error("ceilings: no GEMM shape given");
  const int t = thread_count(threads);
  Ceilings c;
  {
    const size_t bytes = size_t(512) << 20;
    std::vector<char> src(bytes, 1), dst(bytes, 0);
    const double s = best_seconds(reps, [&] { std::memcpy(dst.data(), src.data(), bytes); });
    c.copy_gbs = 2.0 * bytes * 1e-9 / s;
    c.copy_what = "memcpy, 512 MiB";
  }
  c.read_gbs = read_gbs(reps, t);
  c.read_what = "read-only sum of 512 MiB, " + std::to_string(t) + " threads";

  // The f32 ceiling: the faster of the two libraries on these shapes (OpenBLAS names the kernel set
  // it picked for this CPU: Debian's 0.3.21 takes Zen 4/5 for Haswell, AVX2 only).
  const CpuTypedGemm openblas{std::string("OpenBLAS sgemm (") + openblas_get_corename() + " kernels)", prepare_sgemm};
  const CpuTypedGemm onednn{"oneDNN sgemm", prepare_dnnl_sgemm};
  const std::string dims = shapes_str(shapes);
  const double r_openblas = gemm_rate(openblas, shapes, reps, t), r_onednn = gemm_rate(onednn, shapes, reps, t);
  const CpuTypedGemm& sgemm = r_onednn >= r_openblas ? onednn : openblas;
  c.gemm_f32_tflops = std::max(r_openblas, r_onednn);
  c.gemm_f32_what = sgemm.what + " " + dims;
  CpuTypedGemm typed;
  if (dtype == "bf16" || dtype == "f16" || dtype == "q8_0")
    typed = {bf16_matmul_what(shapes[0].M, t) + (dtype == "bf16" ? "" : " (" + dtype + " weights run as bf16)"),
             prepare_bf16_matmul};
  CpuTypedGemm sbgemm{"OpenBLAS sbgemm (bf16 x bf16 -> f32)", prepare_sbgemm};
  if (typed.prepare && find_sbgemm()) {  // an OpenBLAS with sbgemm: the faster of the two is the ceiling
    const double a = gemm_rate(typed, shapes, reps, t), b = gemm_rate(sbgemm, shapes, reps, t);
    if (b > a) typed = sbgemm;
  }
  if (typed.prepare) {
    c.gemm_tflops = gemm_rate(typed, shapes, reps, t);
    c.gemm_what = typed.what + " " + dims;
  } else {  // f32, or a type without a GEMM of its own: the f32 library rate, named as such
    c.gemm_tflops = c.gemm_f32_tflops;
    c.gemm_what = c.gemm_f32_what;
    if (dtype != "f32") c.gemm_what += " (no " + dtype + " GEMM: f32 rate)";
  }
  return c;
}

Ceilings measure_cpu_ceilings(int M, int N, int K, int reps, int threads) {
  return measure_cpu_ceilings("f32", {{M, N, K}}, reps, threads);
}

}  // namespace eeb
