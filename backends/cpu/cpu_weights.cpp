// The CPU backend's weights as stored (cpu_weights.h): views into the mappings, conversions for
// --dtype f32|bf16|f16, and the byte count the resources check uses.
#include "backends/cpu/cpu_weights.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "model/architecture.h"
#include "model/loaders.h"  // shape_str

namespace eeb::cpu {
namespace {

// float32 -> bfloat16 / IEEE half, round to nearest even (NaN stays NaN).
uint16_t to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fffu + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

uint16_t to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | 0x7e00;   // NaN
  if (ax >= 0x477ff000u) return sign | 0x7c00;  // rounds to infinity (refused by the caller)
  if (ax < 0x38800000u)                          // subnormal half: units of 2^-24
    return sign | static_cast<uint16_t>(std::nearbyint(std::fabs(static_cast<double>(f)) * 16777216.0));
  uint32_t h = (((ax >> 23) - 112) << 10) | ((ax & 0x7fffff) >> 13);
  const uint32_t rem = ax & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return sign | static_cast<uint16_t>(h);
}

bool is_matrix(const TensorInfo& t) { return t.shape.size() == 2; }

// The type a matrix is held in, and whether that needs an owned buffer: a conversion, or a
// mapping pointer not aligned to the element size (the kernels load whole elements).
struct Plan {
  DType held;
  bool owned;
};
Plan plan(const TensorInfo& t, std::optional<DType> want) {
  const DType held = want ? *want : t.dtype;
  const size_t align = t.dtype == DType::F32 ? 4 : t.dtype == DType::Q8_0 ? 1 : 2;
  const bool misaligned = reinterpret_cast<uintptr_t>(t.data) % align != 0;
  return {held, held != t.dtype || misaligned};
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

std::optional<DType> parse_weight_dtype(const std::string& d) {
  if (d.empty() || d == "auto") return std::nullopt;
  if (d == "f32" || d == "fp32") return DType::F32;
  if (d == "bf16") return DType::BF16;
  if (d == "f16" || d == "fp16") return DType::F16;
  throw Error("backend cpu: dtype '" + d + "' is not supported (auto: as stored, f32, bf16 or f16)");
}

std::string held_type_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::Q8_0: return "q8_0";
  }
  return "?";
}

HeldBytes held_bytes(const Model& m, const std::string& dtype) {
  const std::optional<DType> want = parse_weight_dtype(dtype);
  HeldBytes b;
  b.mapped = m.stored_bytes();
  const std::string lm_head = tensor_name(m.cfg, Role::LmHead);
  for (const auto& [name, t] : m.tensors) {
    if (m.cfg.tied_embeddings && name == lm_head) continue;  // the embedding serves as LM head
    if (!is_matrix(t)) {
      b.owned += t.numel() * sizeof(float);
      continue;
    }
    const Plan p = plan(t, want);
    if (p.owned) b.owned += dtype_bytes(p.held, t.numel());
  }
  return b;
}

WeightHolder::WeightHolder(const Model& m, const std::string& dtype) : m_(m), want_(parse_weight_dtype(dtype)) {
  for (const auto& f : m.files) keep_.push_back(f);
  for (const auto& k : m.keepalive) keep_.push_back(k);
}

WeightMatrix WeightHolder::matrix(const std::string& name, int rows, int cols) {
  const TensorInfo& t = m_.tensor(name);
  auto bad = [&](const std::string& why) { return Error(t.file, "tensor " + name + ": " + why); };
  if (t.shape != std::vector<int64_t>{rows, cols})
    throw bad("shape " + shape_str(t.shape) + ", the config implies [" + std::to_string(rows) + ", " +
              std::to_string(cols) + "]");
  if (t.dtype == DType::Q8_0 && cols % 32 != 0)
    throw bad("Q8_0 rows of " + std::to_string(cols) + " values are not a whole number of 32-value blocks");
  if (!t.data || t.nbytes != dtype_bytes(t.dtype, t.numel()))
    throw bad(std::to_string(t.nbytes) + " bytes of data, its shape needs " +
              std::to_string(dtype_bytes(t.dtype, t.numel())));
  const Plan p = plan(t, want_);
  WeightMatrix w{p.held, t.data, rows, cols};
  if (p.owned) {
    const size_t bytes = w.bytes();
    // 64-byte aligned (a cache line) for the kernels; aligned_alloc needs a multiple of it.
    std::shared_ptr<void> buf(std::aligned_alloc(64, (bytes + 63) / 64 * 64), FreeDeleter{});
    if (!buf) throw bad("out of memory converting to " + held_type_name(p.held));
    uint8_t* dst = static_cast<uint8_t*>(buf.get());
    const WeightMatrix src{t.dtype, t.data, rows, cols};
    if (p.held == t.dtype) {
      std::memcpy(dst, t.data, bytes);  // misaligned in the file: the same bytes, aligned
    } else {
      bool overflow = false;
#pragma omp parallel reduction(|| : overflow)
      {
        std::vector<float> f(static_cast<size_t>(cols));
#pragma omp for schedule(static)
        for (int r = 0; r < rows; ++r) {
          dequantize(src.type, src.row(r), static_cast<uint64_t>(cols), f.data());
          uint8_t* out = dst + static_cast<size_t>(r) * w.row_bytes();
          if (p.held == DType::F32) {
            std::memcpy(out, f.data(), f.size() * 4);
            continue;
          }
          for (int i = 0; i < cols; ++i) {
            const uint16_t h = p.held == DType::BF16 ? to_bf16(f[i]) : to_f16(f[i]);
            if (p.held == DType::F16 && (h & 0x7c00) == 0x7c00 && std::isfinite(f[i])) overflow = true;
            std::memcpy(out + 2 * i, &h, 2);
          }
        }
      }
      if (overflow) throw bad("values beyond the F16 range (65504); hold it as bf16 or f32");
    }
    w.data = dst;
    keep_.push_back(std::move(buf));
  }
  HeldWeights& h = held_[held_type_name(w.type)];
  h.tensors += 1;
  h.bytes += w.bytes();
  return w;
}

std::vector<float> WeightHolder::vector(const std::string& name, size_t n, int interleave_heads) {
  const TensorInfo& t = m_.tensor(name);
  if (t.numel() != n)
    throw Error(t.file, "tensor " + name + " has " + std::to_string(t.numel()) + " values, the config implies " +
                            std::to_string(n));
  if (t.dtype == DType::Q8_0 && n % 32 != 0)
    throw Error(t.file, "Q8_0 tensor " + name + " has " + std::to_string(n) + " values, not a multiple of 32");
  if (!t.data || t.nbytes != dtype_bytes(t.dtype, n))
    throw Error(t.file, "tensor " + name + " has " + std::to_string(t.nbytes) + " bytes of data, its shape needs " +
                            std::to_string(dtype_bytes(t.dtype, n)));
  std::vector<float> v(n);
  dequantize(t.dtype, t.data, n, v.data());
  const size_t hd = static_cast<size_t>(interleave_heads);
  if (hd == 0) return v;
  // HF element i < hd/2 of a head pairs with hd/2 + i; in interleaved order they sit at 2i, 2i + 1.
  std::vector<float> o(n);
  for (size_t h0 = 0; h0 + hd <= n; h0 += hd)
    for (size_t i = 0; i < hd / 2; ++i) o[h0 + 2 * i] = v[h0 + i], o[h0 + 2 * i + 1] = v[h0 + hd / 2 + i];
  return o;
}

std::string WeightHolder::dtype_string() const {
  std::vector<std::pair<uint64_t, std::string>> by_bytes;
  for (const auto& [type, h] : held_) by_bytes.push_back({h.bytes, type});
  std::sort(by_bytes.begin(), by_bytes.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::string s;
  for (const auto& [bytes, type] : by_bytes) s += (s.empty() ? "" : "+") + type;
  return s.empty() ? "f32" : s;
}

}  // namespace eeb::cpu
