// Shared by the libFuzzer targets (fuzz/fuzz_*.cpp, built by cmake/fuzz.cmake, run by scripts/fuzz.sh).
//
// Each target writes the fuzzer's bytes to a file in a private scratch folder and runs the real
// loader on it, exactly as `eebench run` would. eeb::Error is the expected answer to bad input and
// is swallowed; everything else is a finding that libFuzzer reports: another exception (uncaught,
// so std::terminate aborts), a crash, an ASan/UBSan report, a hang (-timeout) or a huge allocation
// (-rss_limit_mb / -malloc_limit_mb).
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "model/model.h"
#include "core/error.h"

namespace eeb::fuzz {

// The fixed model every fixed companion file (config.json, model.safetensors) describes; the seed
// corpus (fuzz/make_corpus.cpp) writes its valid models with it too.
inline ModelConfig tiny_config() {
  ModelConfig c;
  c.dim = 16, c.hidden_dim = 32, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 8;
  c.vocab_size = 32, c.max_seq_len = 64, c.rope_theta = 10000.f, c.norm_eps = 1e-5f;
  return c;
}

// A scratch folder for this process, created once (the fuzzer runs inputs one at a time).
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path d = [] {
    auto p = std::filesystem::temp_directory_path() / ("eeb_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p;
  }();
  return d;
}

inline std::string write_file(const std::filesystem::path& p, const uint8_t* data, size_t size) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) std::abort();  // the harness itself failed, not the code under test
  return p.string();
}
inline std::string write_file(const std::filesystem::path& p, const std::string& s) {
  return write_file(p, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Runs f; an eeb::Error is the expected outcome for bad input (its message must be one line).
template <class F> void expect_only_errors(F&& f) {
  try {
    f();
  } catch (const eeb::Error& e) {
    const std::string msg = e.what();
    if (msg.empty() || msg.find('\n') != std::string::npos) {
      std::fprintf(stderr, "eeb::Error message is not one line: [%s]\n", msg.c_str());
      std::abort();
    }
  }
}

// What a backend does with a loaded model: every tensor dequantised to float32.
inline void touch_all_tensors(const Model& m) {
  for (const auto& [name, t] : m.tensors) (void)m.load_f32(name);
}

}  // namespace eeb::fuzz
