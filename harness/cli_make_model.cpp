#include "harness/cli_make_model.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "model/gguf_writer.h"

namespace eeb {

CLI::App* add_make_model_command(CLI::App& app, MakeModelArgs& a) {
  auto* m = app.add_subcommand("make-model", "write a random-weight Llama model of a given shape and type as GGUF");
  m->add_option("--shape", a.shape, "tinyllama-1.1b | llama-2-7b | dim,hidden,layers,heads,kv_heads,vocab")->required();
  m->add_option("--dtype", a.dtype, "type of the 2-D weights: f32 | bf16 | f16 | q8_0 (norms stay f32)");
  m->add_option("--seed", a.seed, "random seed (the same seed, shape and type give the same file)");
  m->add_option("--out,-o", a.out, "output .gguf file")->required();
  m->add_option("--threads", a.threads, "generator threads (0 = all cores)")->check(CLI::Range(0, 1024));
  m->add_flag("--force", a.force, "overwrite an existing file");
  m->add_flag("--quiet,-q", a.quiet, "no summary line");
  return m;
}

int cmd_make_model(const MakeModelArgs& a) {
  DType type;
  if (a.dtype == "f32") type = DType::F32;
  else if (a.dtype == "bf16") type = DType::BF16;
  else if (a.dtype == "f16") type = DType::F16;
  else if (a.dtype == "q8_0") type = DType::Q8_0;
  else throw Error("--dtype '" + a.dtype + "' is not one of f32, bf16, f16, q8_0");
  const RandomModelShape s = random_model_shape(a.shape);
  random_model_tensors(s, type);  // shape/type errors before touching the file system
  std::error_code ec;
  if (!a.force && std::filesystem::exists(a.out, ec))
    throw Error(a.out, "exists (use --force to overwrite)");
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t bytes = write_random_gguf(a.out, s, type, a.seed, a.threads);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.quiet)
    std::printf("wrote %s: %s, %d layers, dim %d, hidden %d, %d/%d heads, vocab %d, weights %s, seed %llu: "
                "%.2f GB in %.1f s\n",
                a.out.c_str(), s.name.c_str(), s.n_layers, s.dim, s.hidden_dim, s.n_heads, s.n_kv_heads,
                s.vocab_size, a.dtype.c_str(), static_cast<unsigned long long>(a.seed), bytes * 1e-9, secs);
  return 0;
}

}  // namespace eeb
