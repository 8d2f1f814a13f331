// oneDNN bf16 matmul and float32 sgemm (see typed_kernels.h). Creating a primitive JIT-compiles its kernel (~ms), so
// primitives are cached per shape for the life of the process; a model has a handful of shapes.
// oneDNN here is built on the OpenMP runtime and sizes its parallelism from omp_get_max_threads(),
// which we set for the calling thread only (an ICV of its implicit task) to the caller's thread count,
// both when a primitive is created (its blocking is planned for that many threads; the thread count
// is part of the cache key) and when it runs: so a result depends only on the shape and the thread
// count. With 1 it can run inside the caller's own OpenMP partition. The scratchpad is ours (user
// mode), one per calling thread, so one primitive can run on several threads at once.
#include <omp.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "backends/cpu/typed_kernels.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace eeb::cpu::detail {
namespace {

using dt = dnnl::memory::data_type;
using Key = std::tuple<int, int, int, int, int, uint32_t, int>;  // n, m, k, ldw, ldy, beta bits, threads

struct Prim {
  dnnl::memory::desc src, wei, dst, prim_desc_scratch;
  dnnl::matmul prim;
  size_t scratch_bytes = 0;
  std::string impl;
};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// `n` threads for oneDNN in this scope (the calling thread's ICV; restored on exit).
struct Threads {
  int before = omp_get_max_threads();
  explicit Threads(int n) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(before); }
};

// Prompts of many lengths make many shapes: creation is cheap (~0.1-0.4 ms, oneDNN also caches
// its kernels), so the cache is simply emptied past kMaxCached entries; callers hold a shared_ptr,
// so a primitive in use on another thread outlives its eviction.
constexpr size_t kMaxCached = 256;

std::shared_ptr<const Prim> primitive(int n, int m, int k, int ldw, int ldy, float beta, int threads) {
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<Prim>> cache;
  uint32_t bb;
  std::memcpy(&bb, &beta, 4);
  const Key key{n, m, k, ldw, ldy, bb, threads};
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() >= kMaxCached) cache.clear();
  auto p = std::make_shared<Prim>();
  using dims = dnnl::memory::dims;
  p->src = dnnl::memory::desc(dims{n, k}, dt::bf16, dims{k, 1});
  // W is [m, k] row-major: as the [k, m] weights operand its strides are (1, ldw).
  p->wei = dnnl::memory::desc(dims{k, m}, dt::bf16, dims{1, ldw});
  p->dst = dnnl::memory::desc(dims{n, m}, dt::f32, dims{ldy, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(beta);
    attr.set_post_ops(po);
  }
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(p->src, p->wei, p->dst), attr, engine());
  p->prim = dnnl::matmul(pd);
  p->prim_desc_scratch = pd.scratchpad_desc();
  p->scratch_bytes = p->prim_desc_scratch.get_size();
  p->impl = pd.impl_info_str();
  cache[key] = p;
  return p;
}

}  // namespace

void dnnl_gemm_bf16(const uint16_t* Xb, int n, int k, const uint16_t* Wb, int ldw, int m, float* Y, int ldy,
                    float beta, int threads) {
  Threads use(threads);
  const std::shared_ptr<const Prim> keep = primitive(n, m, k, ldw, ldy, beta, threads);
  const Prim& p = *keep;
  thread_local std::vector<uint8_t> scratch;
  thread_local dnnl::stream stream(engine());
  if (scratch.size() < p.scratch_bytes) scratch.resize(p.scratch_bytes);
  auto& e = engine();
  dnnl::memory src(p.src, e, const_cast<uint16_t*>(Xb)), wei(p.wei, e, const_cast<uint16_t*>(Wb)),
      dst(p.dst, e, Y);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  if (p.scratch_bytes)
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(p.prim_desc_scratch, e, scratch.data()));
  p.prim.execute(stream, args);
  stream.wait();
}

void sgemm(bool trans_b, int n, int m, int k, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc) {
  Threads use(1);
  const dnnl_status_t st =
      dnnl_sgemm('N', trans_b ? 'T' : 'N', n, m, k, alpha, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) throw std::runtime_error("oneDNN sgemm failed (status " + std::to_string(st) + ")");
}

std::string dnnl_impl_name(int n, int m, int k, int threads) {
  Threads use(threads);
  return primitive(n, m, k, k, m, 0.0f, threads)->impl;
}

}  // namespace eeb::cpu::detail
